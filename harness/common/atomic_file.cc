#include "common/atomic_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <utility>

namespace tftp {

namespace {

std::string errno_text() { return std::strerror(errno); }

std::filesystem::path directory_of(const std::filesystem::path& path) {
  return path.has_parent_path() ? path.parent_path() : std::filesystem::path(".");
}

// ".NAME.tmp-PID-N-T" beside `path`: unique within the process (N) and across processes (PID, T).
std::string temp_name(const std::filesystem::path& path) {
  static std::atomic<unsigned> counter{0};
  const auto t = static_cast<unsigned long long>(std::chrono::steady_clock::now().time_since_epoch().count() & 0xffffff);
  return (directory_of(path) / ("." + path.filename().string() + ".tmp-" + std::to_string(::getpid()) + "-" +
                                std::to_string(counter.fetch_add(1)) + "-" + std::to_string(t)))
      .string();
}

// Gives the nameless file behind `fd` a fresh temporary name beside `path`.
Result<std::string> link_tmpfile(int fd, const std::filesystem::path& path) {
  const std::string proc = "/proc/self/fd/" + std::to_string(fd);
  for (int attempt = 0; attempt < 16; ++attempt) {
    std::string name = temp_name(path);
    if (::linkat(AT_FDCWD, proc.c_str(), AT_FDCWD, name.c_str(), AT_SYMLINK_FOLLOW) == 0) return name;
    if (errno != EEXIST) return make_error("tftp.io.write_failed", "cannot name the new " + path.string() + ": " + errno_text());
  }
  return make_error("tftp.io.write_failed", "cannot name the new " + path.string() + ": every temporary name is taken");
}

void sync_directory(const std::filesystem::path& path) {
  // Best effort: the rename is done; some filesystems refuse fsync on a directory.
  const int dir = ::open(directory_of(path).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir < 0) return;
  (void)::fsync(dir);
  ::close(dir);
}

}  // namespace

Result<AtomicFile> AtomicFile::create(const std::filesystem::path& path) {
  AtomicFile f;
  f.path_ = path;
  // 0666: the process's umask applies, as for any file it creates.
  int fd = ::open(directory_of(path).c_str(), O_TMPFILE | O_WRONLY | O_CLOEXEC, 0666);
  if (fd < 0 && (errno == EOPNOTSUPP || errno == EISDIR || errno == EINVAL)) {
    // No O_TMPFILE here: a named temporary, removed on every path but a kill.
    for (int attempt = 0; attempt < 16 && fd < 0; ++attempt) {
      f.temp_ = temp_name(path);
      fd = ::open(f.temp_.c_str(), O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0666);
      if (fd < 0 && errno != EEXIST) break;
    }
    if (fd < 0) f.temp_.clear();
  }
  if (fd < 0) return make_error("tftp.io.write_failed", "cannot create a file in " + directory_of(path).string() + ": " + errno_text());
  f.stream_ = ::fdopen(fd, "wb");
  if (f.stream_ == nullptr) {
    ::close(fd);
    f.discard();
    return make_error("tftp.io.write_failed", "cannot write " + path.string() + ": " + errno_text());
  }
  return f;
}

AtomicFile::AtomicFile(AtomicFile&& other) noexcept
    : path_(std::move(other.path_)), temp_(std::exchange(other.temp_, {})), stream_(std::exchange(other.stream_, nullptr)) {}

AtomicFile& AtomicFile::operator=(AtomicFile&& other) noexcept {
  if (this != &other) {
    discard();
    path_ = std::move(other.path_);
    temp_ = std::exchange(other.temp_, {});
    stream_ = std::exchange(other.stream_, nullptr);
  }
  return *this;
}

AtomicFile::~AtomicFile() { discard(); }

void AtomicFile::discard() {
  if (stream_ != nullptr) std::fclose(stream_);
  stream_ = nullptr;
  if (!temp_.empty()) ::unlink(temp_.c_str());
  temp_.clear();
}

Result<void> AtomicFile::write(std::string_view bytes) {
  if (stream_ == nullptr) return make_error("tftp.io.write_failed", path_.string() + " is already closed");
  if (std::fwrite(bytes.data(), 1, bytes.size(), stream_) != bytes.size()) {
    return make_error("tftp.io.write_failed", "cannot write " + path_.string() + ": " + errno_text());
  }
  return {};
}

Result<void> AtomicFile::commit() {
  if (stream_ == nullptr) return make_error("tftp.io.write_failed", path_.string() + " is already closed");
  auto fail = [&](const std::string& what) -> Result<void> {
    const std::string why = errno_text();
    discard();
    return make_error("tftp.io.write_failed", what + " " + path_.string() + ": " + why);
  };
  // The data reaches the disk before the name does: after a crash the target holds the old
  // file or the whole new one.
  if (std::fflush(stream_) != 0 || std::ferror(stream_) != 0) return fail("cannot write");
  const int fd = ::fileno(stream_);
  if (::fsync(fd) != 0) return fail("cannot flush");
  if (temp_.empty()) {
    auto named = link_tmpfile(fd, path_);
    if (!named) {
      discard();
      return tl::unexpected(named.error());
    }
    temp_ = *named;
  }
  if (std::fclose(std::exchange(stream_, nullptr)) != 0) return fail("cannot write");
  if (::rename(temp_.c_str(), path_.c_str()) != 0) return fail("cannot rename into");
  temp_.clear();
  sync_directory(path_);
  return {};
}

Result<void> write_file_atomic(const std::filesystem::path& path, std::string_view contents) {
  auto file = AtomicFile::create(path);
  if (!file) return tl::unexpected(file.error());
  if (auto w = file->write(contents); !w) return w;
  return file->commit();
}

}  // namespace tftp
