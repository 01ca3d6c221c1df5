// Files as transfer sources and sinks, shared by the server (beneath its root) and the
// client (local paths). A sink writes an unnamed file and names it on commit, so an
// aborted or crashed transfer never leaves a partial file under the final name.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include <tl/expected.hpp>

#include "engine/io.h"

namespace tftp::engine {

// Takes ownership of `fd`, an open regular file of `size` bytes.
std::unique_ptr<ByteSource> fd_source(int fd, uint64_t size);

// A sink for `name` inside the directory `dir_fd` (taken over). Fails with an errno. The
// data is written to an unnamed file (O_TMPFILE), fsync'ed on commit and only then linked
// under `name`: a crash leaves no partial file and no temporary file. `named_temporary`
// forces the fallback used where O_TMPFILE is missing (a hidden ".NAME.tftpspec-N" file
// renamed on commit, which a crash mid-transfer leaves behind); tests use it.
// Write and commit errors carry an id the transfer maps to a TFTP error code:
// tftp.io.exists (6), tftp.io.access (2), anything else (3, disk full).
tl::expected<std::unique_ptr<ByteSink>, int> atomic_file_sink(int dir_fd, const std::string& name, uint64_t max_size,
                                                              bool overwrite, bool named_temporary = false);

// Convenience for local paths (the client): errors are messages naming the path.
Result<std::unique_ptr<ByteSource>> open_file_source(const std::string& path);
Result<std::unique_ptr<ByteSink>> open_file_sink(const std::string& path, bool overwrite);

}  // namespace tftp::engine
