// Text shown to people: the one home for quoting bytes that may not be printable.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace tftp {

inline constexpr char kHexDigits[] = "0123456789abcdef";

// `s` in double quotes; bytes outside printable ASCII, '"' and '\' as \xNN, so a filename
// or an ERROR message from a target shows exactly what was on the wire.
inline std::string quote(std::string_view s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') {
      out += static_cast<char>(c);
    } else {
      out += "\\x";
      out += kHexDigits[c >> 4];
      out += kHexDigits[c & 0xf];
    }
  }
  return out + "\"";
}

// A datagram's bytes as people read them in a report: "00 05 00 01 ..." (lower-case pairs,
// spaced), at most `max` bytes, then " ..." when there were more.
inline constexpr size_t kHexShown = 128;
inline std::string hex_bytes(std::span<const uint8_t> bytes, size_t max = kHexShown) {
  std::string out;
  const size_t n = std::min(bytes.size(), max);
  out.reserve(n * 3 + 4);
  for (size_t i = 0; i < n; ++i) {
    if (i > 0) out += ' ';
    out += kHexDigits[bytes[i] >> 4];
    out += kHexDigits[bytes[i] & 0xf];
  }
  if (bytes.size() > n) out += " ...";
  return out;
}

}  // namespace tftp
