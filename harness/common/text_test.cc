#include "common/text.h"

#include <gtest/gtest.h>

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

}  // namespace
}  // namespace tftp
