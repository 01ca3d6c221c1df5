// Where the server's files live, and the policy of what a request may reach.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include <tl/expected.hpp>

#include "engine/io.h"
#include "engine/negotiation.h"

namespace tftp::server {

using engine::Refusal;

class FileStore {
 public:
  virtual ~FileStore() = default;
  virtual tl::expected<std::unique_ptr<engine::ByteSource>, Refusal> open_read(std::string_view filename) = 0;
  virtual tl::expected<std::unique_ptr<engine::ByteSink>, Refusal> open_write(std::string_view filename) = 0;
};

struct RootPolicy {
  bool writable = false;         // WRQ allowed at all
  bool allow_overwrite = false;  // WRQ onto an existing file (else ERROR 6)
  uint64_t max_file_size = uint64_t{1} << 32;
  // Uploads go to a hidden named temporary file rather than an unnamed one (O_TMPFILE); the
  // fallback where the filesystem lacks O_TMPFILE, forced here (serve --no-tmpfile, tests).
  bool named_temporary = false;
};

// A directory on disk. Requests are confined beneath it: a leading '/' means the root
// (as tftpd-hpa -s does), any ".." component is refused, and symlinks may not lead out
// (openat2 RESOLVE_BENEATH); only regular files are read (never a device, FIFO or
// directory). Uploads go to an unnamed file (O_TMPFILE) fsync'ed and linked under their
// name only when the transfer completes, so an aborted or killed upload leaves nothing
// under the final name and no temporary file (engine/file_io.h).
class RootDirectory : public FileStore {
 public:
  static tl::expected<std::unique_ptr<RootDirectory>, std::string> open(const std::filesystem::path& root,
                                                                        RootPolicy policy);
  ~RootDirectory() override;
  tl::expected<std::unique_ptr<engine::ByteSource>, Refusal> open_read(std::string_view filename) override;
  tl::expected<std::unique_ptr<engine::ByteSink>, Refusal> open_write(std::string_view filename) override;

 private:
  RootDirectory(int root_fd, RootPolicy policy) : root_fd_(root_fd), policy_(policy) {}
  int root_fd_;
  RootPolicy policy_;
};

// Files in memory: the embedded target and the tests use it. Thread-safe.
class MemoryFileStore : public FileStore {
 public:
  explicit MemoryFileStore(RootPolicy policy = {}) : policy_(policy) {}
  void put(std::string name, std::vector<uint8_t> bytes);
  void put(std::string name, std::shared_ptr<const std::vector<uint8_t>> bytes);  // shares, no copy
  std::optional<std::vector<uint8_t>> get(const std::string& name) const;
  tl::expected<std::unique_ptr<engine::ByteSource>, Refusal> open_read(std::string_view filename) override;
  tl::expected<std::unique_ptr<engine::ByteSink>, Refusal> open_write(std::string_view filename) override;

 private:
  RootPolicy policy_;
  mutable std::mutex mutex_;
  std::map<std::string, std::shared_ptr<const std::vector<uint8_t>>, std::less<>> files_;
};

// Splits a request's filename into path components beneath the root, or refuses it
// (ERROR 2) when it would climb out: "..", backslash tricks, empty names.
tl::expected<std::string, Refusal> confine_filename(std::string_view filename);

}  // namespace tftp::server
