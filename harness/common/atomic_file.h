// Output files that appear whole or not at all: every report, matrix, analysis and fixture
// tftpspec writes goes through here. The bytes go to a file in the target's directory that
// has no name yet (O_TMPFILE; where the filesystem lacks it, a uniquely named temporary),
// are flushed to disk (fsync), then get a name and are renamed over the target, and the
// directory is synced so the rename survives a crash. A reader never sees half a file; a
// failure, an interrupted or a killed process leaves the old file as it was and, with
// O_TMPFILE, nothing else (the named fallback is removed on every failure and exit path
// the process survives).
#pragma once

#include <cstdio>
#include <filesystem>
#include <span>
#include <string>
#include <string_view>

#include "common/result.h"

namespace tftp {

class AtomicFile {
 public:
  // Opens the nameless file beside `path`; nothing is visible until commit().
  static Result<AtomicFile> create(const std::filesystem::path& path);
  AtomicFile(AtomicFile&& other) noexcept;
  AtomicFile& operator=(AtomicFile&& other) noexcept;
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;
  // Without commit(): the file is discarded and `path` untouched.
  ~AtomicFile();

  // For formatted writers (fprintf); errors surface in commit().
  std::FILE* stream() { return stream_; }
  Result<void> write(std::string_view bytes);
  // Flush, fsync, name, rename over the target, fsync the directory. Once only.
  Result<void> commit();

 private:
  AtomicFile() = default;
  void discard();

  std::filesystem::path path_;
  std::string temp_;  // the named temporary, when O_TMPFILE was not available (or after linking)
  std::FILE* stream_ = nullptr;
};

// The whole of `contents` as `path`, through an AtomicFile.
Result<void> write_file_atomic(const std::filesystem::path& path, std::string_view contents);
inline Result<void> write_file_atomic(const std::filesystem::path& path, std::span<const uint8_t> contents) {
  return write_file_atomic(path, std::string_view(reinterpret_cast<const char*>(contents.data()), contents.size()));
}

}  // namespace tftp
