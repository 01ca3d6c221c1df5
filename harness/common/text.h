// Text shown to people: the one home for quoting bytes that may not be printable.
#pragma once

#include <string>
#include <string_view>

namespace tftp {

// `s` in double quotes; bytes outside printable ASCII, '"' and '\' as \xNN, so a filename
// or an ERROR message from a target shows exactly what was on the wire.
inline std::string quote(std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out = "\"";
  for (unsigned char c : s) {
    if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') {
      out += static_cast<char>(c);
    } else {
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 0xf];
    }
  }
  return out + "\"";
}

}  // namespace tftp
