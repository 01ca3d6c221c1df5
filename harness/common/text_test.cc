#include "common/text.h"

#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <string>
#include <vector>

namespace tftp {
namespace {

TEST(Text, HexBytesAreSpacedLowerCasePairs) {
  const std::vector<uint8_t> ack = {0x00, 0x04, 0xab, 0xff};
  EXPECT_EQ(hex_bytes(ack), "00 04 ab ff");
  EXPECT_EQ(hex_bytes({}), "");
}

TEST(Text, HexBytesSayWhenTheyAreCut) {
  const std::vector<uint8_t> data(600, 0x41);
  const auto hex = hex_bytes(data);
  EXPECT_EQ(hex.size(), kHexShown * 3 - 1 + 4);
  EXPECT_EQ(hex.substr(hex.size() - 9), "41 41 ...");
  EXPECT_EQ(hex_bytes(data, 2), "41 41 ...");
}

// The byte-at-a-time definition quote() must agree with: printable ASCII but '"' and '\' as
// itself, every other byte as \xNN.
std::string quote_by_byte(std::string_view s) {
  std::string out = "\"";
  for (const char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') {
      out += ch;
    } else {
      out += "\\x";
      out += kHexDigits[c >> 4];
      out += kHexDigits[c & 0xf];
    }
  }
  return out + "\"";
}

TEST(Text, QuoteEscapesExactlyTheBytesThatAreNotPlain) {
  EXPECT_EQ(quote(""), "\"\"");
  EXPECT_EQ(quote(std::string_view("a\"b\\c\0d\x7f\x80", 9)), "\"a\\x22b\\x5cc\\x00d\\x7f\\x80\"");
  // Every byte value at every position of the words quote() tests eight at a time, and in
  // the bytes after the last whole word.
  for (size_t length : {8, 13, 16, 21}) {
    for (size_t at = 0; at < length; ++at) {
      for (int c = 0; c < 256; ++c) {
        std::string s(length, 'm');
        s[at] = static_cast<char>(c);
        ASSERT_EQ(quote(s), quote_by_byte(s)) << "byte " << c << " at " << at << " of " << length;
      }
    }
  }
  // Random strings, mostly plain with some bytes to escape (the mix of both paths).
  std::mt19937 rng(7);
  for (int i = 0; i < 2000; ++i) {
    std::string s(rng() % 40, '\0');
    for (auto& ch : s) ch = static_cast<char>(rng() % 4 == 0 ? rng() % 256 : 0x20 + rng() % 95);
    ASSERT_EQ(quote(s), quote_by_byte(s)) << "random string " << i;
  }
}

TEST(Text, AllPlainAgreesWithTheTableOnEveryByteInEveryLane) {
  std::mt19937_64 rng(11);
  for (int i = 0; i < 200; ++i) {
    uint8_t bytes[8];
    for (auto& b : bytes) b = static_cast<uint8_t>(0x20 + rng() % 95);  // plain but quotes, backslashes
    for (int lane = 0; lane < 8; ++lane) {
      for (int c = 0; c < 256; ++c) {
        uint8_t word_bytes[8];
        std::memcpy(word_bytes, bytes, 8);
        word_bytes[lane] = static_cast<uint8_t>(c);
        uint64_t word;
        std::memcpy(&word, word_bytes, 8);
        bool expected = true;
        for (const uint8_t b : word_bytes) expected = expected && kPlainQuoted[b];
        ASSERT_EQ(all_plain(word), expected) << "byte " << c << " in lane " << lane;
      }
    }
  }
}

}  // namespace
}  // namespace tftp
