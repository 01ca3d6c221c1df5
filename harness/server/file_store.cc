#include "server/file_store.h"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "engine/file_io.h"
#include "proto/packet.h"

namespace tftp::server {

using proto::ErrorCode;

namespace {

Refusal refuse(ErrorCode code, std::string message) { return {static_cast<uint16_t>(code), std::move(message)}; }

Refusal refusal_from_errno(int err, std::string_view name) {
  switch (err) {
    case ENOENT:
    case ENOTDIR:
    case ENAMETOOLONG: return refuse(ErrorCode::kFileNotFound, "File not found");  // no such name can exist
    case EACCES:
    case EPERM:
    case EXDEV:  // RESOLVE_BENEATH: the path leads out of the root
    case ELOOP: return refuse(ErrorCode::kAccessViolation, "Access violation");
    case EEXIST: return refuse(ErrorCode::kFileExists, "File already exists");
    case ENOSPC:
    case EDQUOT:
    case EFBIG: return refuse(ErrorCode::kDiskFull, "Disk full or allocation exceeded");
    default: return refuse(ErrorCode::kNotDefined, std::string(name) + ": " + std::strerror(err));
  }
}

int open_beneath(int root_fd, const std::string& path, int flags, mode_t mode = 0) {
  open_how how{};
  how.flags = static_cast<uint64_t>(flags | O_CLOEXEC);
  how.mode = (flags & O_CREAT) ? mode : 0;
  how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
  return static_cast<int>(::syscall(SYS_openat2, root_fd, path.c_str(), &how, sizeof how));
}

class SizeLimitedMemorySink : public engine::ByteSink {
 public:
  SizeLimitedMemorySink(MemoryFileStore* store, std::string name, uint64_t max)
      : store_(store), name_(std::move(name)), max_(max) {}
  Result<void> write(std::span<const uint8_t> bytes) override {
    if (bytes_.size() + bytes.size() > max_) return make_error("tftp.io.too_large", "upload exceeds the size limit");
    bytes_.insert(bytes_.end(), bytes.begin(), bytes.end());
    return {};
  }
  Result<void> commit() override {
    store_->put(name_, std::move(bytes_));
    return {};
  }
  void abort() override { bytes_.clear(); }

 private:
  MemoryFileStore* store_;
  std::string name_;
  uint64_t max_;
  std::vector<uint8_t> bytes_;
};

}  // namespace

tl::expected<std::string, Refusal> confine_filename(std::string_view filename) {
  size_t i = 0;
  while (i < filename.size() && filename[i] == '/') ++i;  // "/x" is "x" beneath the root
  std::string_view rest = filename.substr(i);
  // A NUL inside would end the name at the system call and name something else than what
  // was judged here (the wire format cannot carry one, but a caller's string can).
  if (rest.find('\0') != std::string_view::npos) {
    return tl::unexpected(refuse(ErrorCode::kAccessViolation, "Access violation"));
  }
  // A backslash is a character of the name on this host, but a Windows-minded client means
  // a separator by it (and a "..\\" by it is the classic traversal): refused, not guessed.
  if (rest.empty() || rest.find('\\') != std::string_view::npos) {
    return tl::unexpected(refuse(ErrorCode::kAccessViolation, "Access violation"));
  }
  // Lexical normalisation: "a/../x" is "x" and stays served; a ".." that climbs above the
  // root is refused. (RESOLVE_BENEATH still judges symbolic links on a real root.)
  std::vector<std::string_view> parts;
  size_t start = 0;
  while (start <= rest.size()) {
    size_t end = rest.find('/', start);
    if (end == std::string_view::npos) end = rest.size();
    const auto part = rest.substr(start, end - start);
    if (part == "..") {
      if (parts.empty()) return tl::unexpected(refuse(ErrorCode::kAccessViolation, "Access violation"));
      parts.pop_back();
    } else if (part != "." || end == rest.size()) {
      parts.push_back(part);  // a final "." or "" stays: "dir/" and "." name directories
    }
    start = end + 1;
  }
  std::string path;
  for (size_t k = 0; k < parts.size(); ++k) {
    if (k) path += '/';
    path += parts[k];
  }
  if (path.empty()) return tl::unexpected(refuse(ErrorCode::kAccessViolation, "Access violation"));
  return path;
}

tl::expected<std::unique_ptr<RootDirectory>, std::string> RootDirectory::open(const std::filesystem::path& root,
                                                                               RootPolicy policy) {
  const int fd = ::open(root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return tl::unexpected("cannot open root directory " + root.string() + ": " + std::strerror(errno));
  return std::unique_ptr<RootDirectory>(new RootDirectory(fd, policy));
}

RootDirectory::~RootDirectory() { ::close(root_fd_); }

tl::expected<std::unique_ptr<engine::ByteSource>, Refusal> RootDirectory::open_read(std::string_view filename) {
  auto path = confine_filename(filename);
  if (!path) return tl::unexpected(path.error());
  // Looked at before it is opened: opening a device or a FIFO can have effects of its own
  // (a tape rewinds, a FIFO blocks), so only a regular file is ever opened for reading.
  const int path_fd = open_beneath(root_fd_, *path, O_PATH);
  if (path_fd < 0) return tl::unexpected(refusal_from_errno(errno, filename));
  struct stat st {};
  if (::fstat(path_fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(path_fd);
    return tl::unexpected(refuse(ErrorCode::kAccessViolation, "Access violation"));
  }
  // Reopened through the descriptor, not the name: the same inode that was judged, even if
  // the name is swapped for a symbolic link meanwhile.
  const std::string proc = "/proc/self/fd/" + std::to_string(path_fd);
  int fd = ::open(proc.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0 && errno == ENOENT) {  // no /proc: by name again, and judged again
    fd = open_beneath(root_fd_, *path, O_RDONLY | O_NONBLOCK);
    struct stat again {};
    if (fd >= 0 && (::fstat(fd, &again) != 0 || again.st_ino != st.st_ino || again.st_dev != st.st_dev)) {
      ::close(fd);
      fd = -1;
      errno = EACCES;
    }
  }
  const int err = errno;
  ::close(path_fd);
  if (fd < 0) return tl::unexpected(refusal_from_errno(err, filename));
  ::fcntl(fd, F_SETFL, 0);  // O_NONBLOCK only guarded against FIFOs at open
  ::posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
  return engine::fd_source(fd, static_cast<uint64_t>(st.st_size));
}

tl::expected<std::unique_ptr<engine::ByteSink>, Refusal> RootDirectory::open_write(std::string_view filename) {
  if (!policy_.writable) return tl::unexpected(refuse(ErrorCode::kAccessViolation, "Access violation"));
  auto path = confine_filename(filename);
  if (!path) return tl::unexpected(path.error());
  const auto slash = path->rfind('/');
  const std::string dir = slash == std::string::npos ? "." : path->substr(0, slash);
  const std::string base = slash == std::string::npos ? *path : path->substr(slash + 1);
  if (base.empty() || base == "." ) return tl::unexpected(refuse(ErrorCode::kAccessViolation, "Access violation"));
  const int dir_fd = open_beneath(root_fd_, dir, O_RDONLY | O_DIRECTORY);
  if (dir_fd < 0) return tl::unexpected(refusal_from_errno(errno, filename));
  struct stat st {};
  if (::fstatat(dir_fd, base.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0) {
    if (!policy_.allow_overwrite || !S_ISREG(st.st_mode)) {
      ::close(dir_fd);
      return tl::unexpected(refuse(ErrorCode::kFileExists, "File already exists"));
    }
  }
  auto sink =
      engine::atomic_file_sink(dir_fd, base, policy_.max_file_size, policy_.allow_overwrite, policy_.named_temporary);
  if (!sink) return tl::unexpected(refusal_from_errno(sink.error(), filename));
  return std::move(*sink);
}

void MemoryFileStore::put(std::string name, std::vector<uint8_t> bytes) {
  std::lock_guard lock(mutex_);
  files_[std::move(name)] = std::make_shared<const std::vector<uint8_t>>(std::move(bytes));
}

void MemoryFileStore::put(std::string name, std::shared_ptr<const std::vector<uint8_t>> bytes) {
  std::lock_guard lock(mutex_);
  files_[std::move(name)] = std::move(bytes);
}

std::optional<std::vector<uint8_t>> MemoryFileStore::get(const std::string& name) const {
  std::lock_guard lock(mutex_);
  auto it = files_.find(name);
  if (it == files_.end()) return std::nullopt;
  return *it->second;
}

tl::expected<std::unique_ptr<engine::ByteSource>, Refusal> MemoryFileStore::open_read(std::string_view filename) {
  auto path = confine_filename(filename);
  if (!path) return tl::unexpected(path.error());
  std::lock_guard lock(mutex_);
  auto it = files_.find(*path);
  if (it == files_.end()) return tl::unexpected(refuse(ErrorCode::kFileNotFound, "File not found"));
  return std::make_unique<engine::MemorySource>(it->second);
}

tl::expected<std::unique_ptr<engine::ByteSink>, Refusal> MemoryFileStore::open_write(std::string_view filename) {
  if (!policy_.writable) return tl::unexpected(refuse(ErrorCode::kAccessViolation, "Access violation"));
  auto path = confine_filename(filename);
  if (!path) return tl::unexpected(path.error());
  std::lock_guard lock(mutex_);
  if (!policy_.allow_overwrite && files_.count(*path) != 0) {
    return tl::unexpected(refuse(ErrorCode::kFileExists, "File already exists"));
  }
  return std::make_unique<SizeLimitedMemorySink>(this, *path, policy_.max_file_size);
}

}  // namespace tftp::server
