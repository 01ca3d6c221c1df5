#include "engine/file_io.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <random>

namespace tftp::engine {

namespace {

// Reads ahead in small chunks: a 512-byte block then costs a copy instead of a read(2)
// (a lockstep download made one per block). Reads of a chunk or more (large blocks) go
// straight into the caller's buffer.
class FdSource : public ByteSource {
 public:
  FdSource(int fd, uint64_t size) : fd_(fd), size_(size) {}
  ~FdSource() override { ::close(fd_); }
  Result<size_t> read(std::span<uint8_t> out) override {
    size_t got = 0;
    while (got < out.size()) {
      if (pos_ == len_) {  // nothing read ahead
        if (out.size() - got >= kChunk) {
          auto n = read_some(out.subspan(got));
          if (!n) return tl::unexpected(n.error());
          if (*n == 0) break;
          got += *n;
          continue;
        }
        if (!ahead_) ahead_ = std::make_unique_for_overwrite<uint8_t[]>(kChunk);
        auto n = read_some(std::span<uint8_t>(ahead_.get(), kChunk));
        if (!n) return tl::unexpected(n.error());
        if (*n == 0) break;
        pos_ = 0;
        len_ = *n;
      }
      const size_t take = std::min(out.size() - got, len_ - pos_);
      std::memcpy(out.data() + got, ahead_.get() + pos_, take);
      pos_ += take;
      got += take;
    }
    return got;
  }
  std::optional<uint64_t> size() const override { return size_; }

 private:
  static constexpr size_t kChunk = 16 << 10;
  Result<size_t> read_some(std::span<uint8_t> into) {
    for (;;) {
      const ssize_t n = ::read(fd_, into.data(), into.size());
      if (n >= 0) return static_cast<size_t>(n);
      if (errno != EINTR) return make_error("tftp.io.read_failed", std::strerror(errno));
    }
  }
  int fd_;
  uint64_t size_;
  std::unique_ptr<uint8_t[]> ahead_;  // read but not yet handed out: [pos_, len_)
  size_t pos_ = 0;
  size_t len_ = 0;
};

// Writes to a file with no name (O_TMPFILE) in the target's directory; commit() makes the
// data durable (fsync) and only then gives it its name (linkat), so a crash at any moment
// leaves either nothing or the whole file under the final name, and never a stray
// temporary file. Replacing an existing file (overwrite) needs a rename, which linkat cannot
// do: the file is linked under a temporary name and renamed over the target at once (a
// crash between those two calls is the one moment a temporary name can remain). Where the
// filesystem has no O_TMPFILE the sink falls back to a named temporary file from the start
// (".NAME.tftpspec-N"), which a crash mid-transfer leaves behind.
class TempFileSink : public ByteSink {
 public:
  // `temp_name` empty: `fd` is an O_TMPFILE file.
  TempFileSink(int dir_fd, std::string temp_name, std::string final_name, int fd, uint64_t max_size, bool overwrite)
      : dir_fd_(dir_fd), temp_(std::move(temp_name)), final_(std::move(final_name)), fd_(fd), max_size_(max_size),
        overwrite_(overwrite) {}
  ~TempFileSink() override {
    TempFileSink::abort();
    ::close(dir_fd_);
  }
  Result<void> write(std::span<const uint8_t> bytes) override {
    if (written_ + bytes.size() > max_size_) {
      return make_error("tftp.io.too_large", "upload exceeds the limit of " + std::to_string(max_size_) + " bytes");
    }
    size_t done = 0;
    while (done < bytes.size()) {
      const ssize_t n = ::write(fd_, bytes.data() + done, bytes.size() - done);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return errno_error("tftp.io.write_failed", errno);
      done += static_cast<size_t>(n);
    }
    written_ += bytes.size();
    return {};
  }
  Result<void> commit() override {
    // Durable before visible: a crash after the name appears must not leave a name on
    // blocks that never reached the disk (ENOSPC and EIO of delayed writes surface here).
    if (::fsync(fd_) != 0) {
      const int err = errno;
      abort();
      return errno_error("tftp.io.write_failed", err);
    }
    auto named = temp_.empty() ? link_anonymous() : rename_named();
    abort();  // closes the descriptor; a temporary name left by a failure is removed
    if (!named) return named;
    ::fsync(dir_fd_);  // the new directory entry itself (best effort: the data is safe)
    return {};
  }
  void abort() override {
    if (fd_ < 0) return;
    ::close(fd_);
    fd_ = -1;
    if (!temp_.empty()) ::unlinkat(dir_fd_, temp_.c_str(), 0);
  }

 private:
  static tl::unexpected<Error> errno_error(const char* id, int err) {
    // The id tells the transfer which TFTP error code to send (engine/transfer.cc).
    if (err == EEXIST) return make_error("tftp.io.exists", std::strerror(err));
    if (err == EACCES || err == EPERM || err == EROFS) return make_error("tftp.io.access", std::strerror(err));
    return make_error(id, std::strerror(err));
  }
  // Gives the O_TMPFILE file a name. /proc/self/fd/N works unprivileged; AT_EMPTY_PATH
  // (which needs CAP_DAC_READ_SEARCH) is the way without /proc.
  int link_fd_at(const char* name) {
    const std::string proc = "/proc/self/fd/" + std::to_string(fd_);
    if (::linkat(AT_FDCWD, proc.c_str(), dir_fd_, name, AT_SYMLINK_FOLLOW) == 0) return 0;
    if (errno != ENOENT) return errno;
    if (::linkat(fd_, "", dir_fd_, name, AT_EMPTY_PATH) == 0) return 0;
    return errno;
  }
  Result<void> link_anonymous() {
    if (!overwrite_) {
      // linkat never replaces: a file that appeared meanwhile is kept (RFC 1350 ERROR 6).
      if (const int err = link_fd_at(final_.c_str()); err != 0) return errno_error("tftp.io.rename_failed", err);
      return {};
    }
    std::mt19937_64 rng(std::random_device{}());
    for (int attempt = 0; attempt < 16; ++attempt) {
      temp_ = "." + final_ + ".tftpspec-" + std::to_string(rng() % 1000000000);
      const int err = link_fd_at(temp_.c_str());
      if (err == 0) return rename_named();
      temp_.clear();
      if (err != EEXIST) return errno_error("tftp.io.rename_failed", err);
    }
    return errno_error("tftp.io.rename_failed", EEXIST);
  }
  Result<void> rename_named() {
    // Without overwrite, RENAME_NOREPLACE keeps a file that appeared meanwhile.
    const unsigned flags = overwrite_ ? 0 : RENAME_NOREPLACE;
    if (::renameat2(dir_fd_, temp_.c_str(), dir_fd_, final_.c_str(), flags) != 0) {
      return errno_error("tftp.io.rename_failed", errno);  // abort() removes the temporary name
    }
    temp_.clear();  // it is the final name now
    return {};
  }

  int dir_fd_;
  std::string temp_;
  std::string final_;
  int fd_;
  uint64_t max_size_;
  bool overwrite_;
  uint64_t written_ = 0;
};

}  // namespace

std::unique_ptr<ByteSource> fd_source(int fd, uint64_t size) { return std::make_unique<FdSource>(fd, size); }

tl::expected<std::unique_ptr<ByteSink>, int> atomic_file_sink(int dir_fd, const std::string& name, uint64_t max_size,
                                                              bool overwrite, bool named_temporary) {
  if (!named_temporary) {
    const int fd = ::openat(dir_fd, ".", O_WRONLY | O_TMPFILE | O_CLOEXEC, 0644);
    if (fd >= 0) return std::make_unique<TempFileSink>(dir_fd, std::string(), name, fd, max_size, overwrite);
    // EOPNOTSUPP (the filesystem), EISDIR or EINVAL (a kernel before 3.11): the named
    // fallback. Anything else (EACCES, ENOSPC, EROFS) is the answer.
    if (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL) {
      const int err = errno;
      ::close(dir_fd);
      return tl::unexpected(err);
    }
  }
  std::mt19937_64 rng(std::random_device{}());
  std::string temp;
  int fd = -1;
  for (int attempt = 0; attempt < 16 && fd < 0; ++attempt) {
    temp = "." + name + ".tftpspec-" + std::to_string(rng() % 1000000000);
    fd = ::openat(dir_fd, temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (fd < 0 && errno != EEXIST) break;
  }
  if (fd < 0) {
    const int err = errno;
    ::close(dir_fd);
    return tl::unexpected(err);
  }
  return std::make_unique<TempFileSink>(dir_fd, temp, name, fd, max_size, overwrite);
}

Result<std::unique_ptr<ByteSource>> open_file_source(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return make_error("tftp.io.open_failed", "cannot read " + path + ": " + std::strerror(errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return make_error("tftp.io.open_failed", path + " is not a regular file");
  }
  return fd_source(fd, static_cast<uint64_t>(st.st_size));
}

Result<std::unique_ptr<ByteSink>> open_file_sink(const std::string& path, bool overwrite) {
  const std::filesystem::path p(path);
  const std::string dir = p.has_parent_path() ? p.parent_path().string() : ".";
  const int dir_fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd < 0) return make_error("tftp.io.open_failed", "cannot open directory " + dir + ": " + std::strerror(errno));
  auto sink = atomic_file_sink(dir_fd, p.filename().string(), UINT64_MAX, overwrite);
  if (!sink) return make_error("tftp.io.open_failed", "cannot write " + path + ": " + std::strerror(sink.error()));
  return std::move(*sink);
}

}  // namespace tftp::engine
