// Text shown to people: the one home for quoting bytes that may not be printable.
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <string_view>

namespace tftp {

inline constexpr char kHexDigits[] = "0123456789abcdef";

// Bytes that quote() shows as themselves: printable ASCII but '"' and '\'.
inline constexpr auto kPlainQuoted = [] {
  std::array<bool, 256> plain{};
  for (int c = 0x20; c < 0x7f; ++c) plain[c] = c != '"' && c != '\\';
  return plain;
}();

// True when none of the eight bytes of `w` needs escaping (see kPlainQuoted): every byte
// at least 0x20, below 0x7f, and neither '"' nor '\'. The word tests are the exact
// "has a byte less than / more than / equal to" tests of bit twiddling (each carry or borrow
// they let through lands only above a byte that already failed), so the answer is exact.
inline bool all_plain(uint64_t w) {
  constexpr uint64_t kOnes = 0x0101010101010101;
  constexpr uint64_t kHighs = 0x8080808080808080;
  const auto has_zero = [](uint64_t v) { return (v - kOnes) & ~v & kHighs; };
  const uint64_t below_space = (w - kOnes * 0x20) & ~w & kHighs;
  const uint64_t above_tilde = ((w + kOnes) | w) & kHighs;
  return (below_space | above_tilde | has_zero(w ^ (kOnes * '"')) | has_zero(w ^ (kOnes * '\\'))) == 0;
}

// Appends `s` in double quotes to `out`; bytes outside printable ASCII, '"' and '\' as
// \xNN, so a filename or an ERROR message from a target shows exactly what was on the wire.
// Runs of plain bytes are copied whole, found eight bytes at a time (all_plain) and by table
// near the bytes to escape: reports and the rule engine quote every datagram, and the fuzz
// build traces each comparison, so a per-byte loop cost most of a fuzz target's time.
inline void append_quoted(std::string& out, std::string_view s) {
  out.reserve(out.size() + s.size() + 2);
  out += '"';
  const char* plain_from = s.data();
  const char* const end = s.data() + s.size();
  for (const char* p = plain_from; p != end;) {
    if (end - p >= 8) {
      uint64_t word;
      std::memcpy(&word, p, sizeof word);
      if (all_plain(word)) {
        p += 8;
        continue;
      }
    }
    const auto c = static_cast<unsigned char>(*p);
    if (kPlainQuoted[c]) {
      ++p;
      continue;
    }
    out.append(plain_from, p);
    const char escaped[4] = {'\\', 'x', kHexDigits[c >> 4], kHexDigits[c & 0xf]};
    out.append(escaped, sizeof escaped);
    plain_from = ++p;
  }
  out.append(plain_from, end);
  out += '"';
}

inline std::string quote(std::string_view s) {
  std::string out;
  append_quoted(out, s);
  return out;
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
