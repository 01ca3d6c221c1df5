// A capture file read one frame at a time through libpcap (pcap and pcapng alike): memory
// holds one frame, whatever the file's size.
#pragma once

#include <cstdint>
#include <cstdio>
#include <memory>
#include <optional>
#include <span>
#include <string>

#include "common/result.h"
#include "pcap/decode.h"

namespace tftp::pcap {

class CaptureReader {
 public:
  // Errors: tftp.pcap.open_failed (missing, unreadable, not a capture).
  static Result<CaptureReader> open(const std::string& path);
  // A capture held in memory (tests); `bytes` must outlive the reader.
  static Result<CaptureReader> open_memory(std::span<const uint8_t> bytes);
  ~CaptureReader();
  CaptureReader(CaptureReader&&) noexcept;
  CaptureReader& operator=(CaptureReader&&) noexcept;

  // The next frame (viewing libpcap's buffer until the next call); nullopt at the end.
  // tftp.pcap.truncated_file: the file ends inside a record (or is otherwise damaged after
  // its header); the frames before it were read, and reading stops.
  Result<std::optional<Frame>> next();

  int linktype() const;
  uint32_t snaplen() const;

 private:
  struct Handle;
  // Takes `file` and its stdio `buffer` (may be null) over: closed with the reader, or on
  // failure unless it is stdin.
  static Result<CaptureReader> open_file(std::FILE* file, const std::string& name, std::unique_ptr<char[]> buffer);
  explicit CaptureReader(std::unique_ptr<Handle> h);
  std::unique_ptr<Handle> h_;
};

}  // namespace tftp::pcap
