// Files as transfer sources and sinks, shared by the server (beneath its root) and the
// client (local paths). A sink writes a temporary file and renames it into place on
// commit, so an aborted transfer never leaves a partial file under the final name.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include <tl/expected.hpp>

#include "engine/io.h"

namespace tftp::engine {

// Takes ownership of `fd`, an open regular file of `size` bytes.
std::unique_ptr<ByteSource> fd_source(int fd, uint64_t size);

// A sink for `name` inside the directory `dir_fd` (taken over). Fails with an errno.
tl::expected<std::unique_ptr<ByteSink>, int> atomic_file_sink(int dir_fd, const std::string& name, uint64_t max_size,
                                                              bool overwrite);

// Convenience for local paths (the client): errors are messages naming the path.
Result<std::unique_ptr<ByteSource>> open_file_source(const std::string& path);
Result<std::unique_ptr<ByteSink>> open_file_sink(const std::string& path, bool overwrite);

}  // namespace tftp::engine
