// One bounds-checked reader over a captured frame: every header field is read through it, so
// a short or lying header ends decoding with an error at an offset, never a read past the end.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

namespace tftp::pcap {

class ByteReader {
 public:
  explicit ByteReader(std::span<const uint8_t> bytes) : bytes_(bytes) {}

  size_t offset() const { return at_; }
  size_t remaining() const { return bytes_.size() - at_; }
  bool has(size_t n) const { return remaining() >= n; }
  std::span<const uint8_t> rest() const { return bytes_.subspan(at_); }

  std::optional<uint8_t> u8() {
    if (!has(1)) return std::nullopt;
    return bytes_[at_++];
  }
  std::optional<uint16_t> be16() {
    if (!has(2)) return std::nullopt;
    const uint16_t v = static_cast<uint16_t>(bytes_[at_] << 8 | bytes_[at_ + 1]);
    at_ += 2;
    return v;
  }
  std::optional<uint32_t> be32() {
    if (!has(4)) return std::nullopt;
    const uint32_t v = uint32_t{bytes_[at_]} << 24 | uint32_t{bytes_[at_ + 1]} << 16 | uint32_t{bytes_[at_ + 2]} << 8 |
                       uint32_t{bytes_[at_ + 3]};
    at_ += 4;
    return v;
  }
  std::optional<uint32_t> le32() {
    if (!has(4)) return std::nullopt;
    const uint32_t v = uint32_t{bytes_[at_ + 3]} << 24 | uint32_t{bytes_[at_ + 2]} << 16 |
                       uint32_t{bytes_[at_ + 1]} << 8 | uint32_t{bytes_[at_]};
    at_ += 4;
    return v;
  }
  std::optional<std::span<const uint8_t>> take(size_t n) {
    if (!has(n)) return std::nullopt;
    auto out = bytes_.subspan(at_, n);
    at_ += n;
    return out;
  }
  bool skip(size_t n) {
    if (!has(n)) return false;
    at_ += n;
    return true;
  }

 private:
  std::span<const uint8_t> bytes_;
  size_t at_ = 0;
};

}  // namespace tftp::pcap
