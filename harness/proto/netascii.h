// netascii (RFC 1350 §1, RFC 764): on the wire a newline is CR LF and a bare CR is CR NUL.
// Both converters are streaming: a CR may end one block and its LF/NUL begin the next
// (the FreeBSD PR 178055 bug class), so state is carried between calls.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

namespace tftp::proto {

// Local text (LF newlines) to wire netascii.
class NetasciiEncoder {
 public:
  struct Progress {
    size_t consumed;  // bytes taken from `in`
    size_t produced;  // bytes written to `out`
  };
  // Encodes as much of `in` as fits in `out`. A two-byte sequence cut by the end of
  // `out` is completed at the start of the next call.
  Progress encode(std::span<const uint8_t> in, std::span<uint8_t> out);
  bool has_pending() const { return pending_.has_value(); }

 private:
  std::optional<uint8_t> pending_;
};

// Wire netascii to local text.
class NetasciiDecoder {
 public:
  void decode(std::span<const uint8_t> in, std::vector<uint8_t>& out);
  // Ends the stream: a CR that was the very last byte is kept as a CR.
  void finish(std::vector<uint8_t>& out);
  // CRs followed by something other than LF or NUL: not valid netascii (kept as is).
  size_t stray_cr_count() const { return stray_cr_; }

 private:
  bool pending_cr_ = false;
  size_t stray_cr_ = 0;
};

std::vector<uint8_t> netascii_encode(std::span<const uint8_t> local);
std::vector<uint8_t> netascii_decode(std::span<const uint8_t> wire);
uint64_t netascii_encoded_size(std::span<const uint8_t> local);

}  // namespace tftp::proto
