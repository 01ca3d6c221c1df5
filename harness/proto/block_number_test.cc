#include "proto/block_number.h"

#include <gtest/gtest.h>

#include <vector>

namespace tftp::proto {
namespace {

TEST(BlockNumber, WireBlockWrapsToZeroOrOne) {
  EXPECT_EQ(wire_block(65535), 65535);
  EXPECT_EQ(wire_block(65536), 0);
  EXPECT_EQ(wire_block(65537), 1);
  EXPECT_EQ(wire_block(65536, 1), 1);
  EXPECT_EQ(wire_block(65536 + 65534, 1), 65535);
  EXPECT_EQ(wire_block(65536 + 65535, 1), 1);  // the second cycle of 1..65535
}

TEST(BlockNumber, AheadIsHalfTheCircle) {
  EXPECT_TRUE(wire_ahead(65535, 0));
  EXPECT_TRUE(wire_ahead(3, 4));
  EXPECT_FALSE(wire_ahead(4, 4));
  EXPECT_FALSE(wire_ahead(4, 3));
  EXPECT_EQ(wrap_value(65535, 1), std::optional<uint16_t>(1));
  EXPECT_EQ(wrap_value(65535, 2), std::nullopt);
  EXPECT_EQ(wrap_value(65534, 0), std::nullopt);
}

void follow(uint16_t wrap_to) {
  BlockUnwrapper u;
  for (uint64_t abs = 0; abs < 3 * 65536; ++abs) {
    const uint16_t wire = wire_block(abs, wrap_to);
    ASSERT_EQ(u.unwrap(wire), abs) << "wrap to " << wrap_to;
    if (abs > 10 && abs % 1000 == 0) {
      ASSERT_EQ(u.unwrap(wire_block(abs - 3, wrap_to)), abs - 3);  // a repeat
    }
  }
  EXPECT_EQ(u.wrap_to(), std::optional<uint16_t>(wrap_to));
}

TEST(BlockNumber, UnwrapperFollowsEitherWrapAcrossSeveralCycles) {
  follow(0);
  follow(1);
}

TEST(BlockNumber, UnwrapperPlacesAJumpAheadAndAnOldBlockBehind) {
  BlockUnwrapper u;
  EXPECT_EQ(u.unwrap(1), 1u);
  EXPECT_EQ(u.unwrap(5), 5u);  // a jump forward moves the highest
  EXPECT_EQ(u.unwrap(2), 2u);
  EXPECT_EQ(u.highest(), 5u);
}

}  // namespace
}  // namespace tftp::proto
