// Shared by the fuzz targets: the property check and a reader that turns the fuzzer's
// bytes into a script of steps (datagrams, timer ticks) for the stateful targets.
//
// Script layout (fuzz/make_seeds.py writes it): a sequence of steps, each an op byte
// followed by its operands. A datagram operand is a length then the bytes: one length
// byte L < 255 means L bytes; L == 255 is followed by a big-endian u16 length. Reads past
// the end yield zeros and empty datagrams, so every byte string is a valid script.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <span>

// A property violation: trap, so libFuzzer (and the CTest replay) report the input.
#define FUZZ_CHECK(cond)           \
  do {                             \
    if (!(cond)) __builtin_trap(); \
  } while (0)

namespace tftp::fuzz {

class ScriptReader {
 public:
  ScriptReader(const uint8_t* data, size_t size) : data_(data), size_(size) {}

  bool done() const { return at_ >= size_; }
  uint8_t byte() { return at_ < size_ ? data_[at_++] : 0; }
  uint16_t u16() {
    const uint16_t hi = byte();
    return static_cast<uint16_t>(hi << 8 | byte());
  }
  std::span<const uint8_t> bytes(size_t n) {
    n = std::min(n, size_ - std::min(at_, size_));
    const std::span<const uint8_t> out(data_ + at_, n);
    at_ += n;
    return out;
  }
  // A datagram operand (see the layout above).
  std::span<const uint8_t> datagram() {
    size_t n = byte();
    if (n == 255) n = u16();
    return bytes(n);
  }

 private:
  const uint8_t* data_;
  size_t size_;
  size_t at_ = 0;
};

}  // namespace tftp::fuzz
