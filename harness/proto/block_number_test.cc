#include "proto/block_number.h"

#include <gtest/gtest.h>

#include <optional>
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

// The unwrapper as first written: walking one block at a time to the wire number, up to
// half the circle. The closed form must place every block where this walk did.
class WalkingUnwrapper {
 public:
  uint64_t unwrap(uint16_t wire) {
    if (!any_) {
      any_ = true;
      highest_ = wire;
      return wire;
    }
    const uint16_t top = wire_block(highest_, wrap_to_.value_or(0));
    if (!wrap_to_ && highest_ >= kLastBlockBeforeWrap) {
      if (auto w = wrap_value(top, wire)) {
        wrap_to_ = *w;
        return ++highest_;
      }
    }
    const uint16_t period_wrap = wrap_to_.value_or(0);
    uint64_t abs = highest_;
    if (wire_ahead(top, wire)) {
      while (wire_block(abs, period_wrap) != wire && abs - highest_ < 0x8000) ++abs;
      highest_ = abs;
      return abs;
    }
    while (wire_block(abs, period_wrap) != wire && abs > 0 && highest_ - abs < 0x8000) --abs;
    return abs;
  }

 private:
  bool any_ = false;
  uint64_t highest_ = 0;
  std::optional<uint16_t> wrap_to_;
};

TEST(BlockNumber, UnwrapperPlacesEveryBlockWhereAWalkWould) {
  // 30 runs of 300 steps: every case of the switch below many times over, in about a
  // second at -O0 (the walk costs up to 32767 steps a block).
  // Random jumps of every size, around both wraps, including the wire 0 a wrap to 1 never
  // sends and jumps of exactly half the circle.
  uint64_t seed = 12345;
  const auto next = [&] {
    seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
    return static_cast<uint32_t>(seed >> 33);
  };
  for (int run = 0; run < 30; ++run) {
    BlockUnwrapper fast;
    WalkingUnwrapper walk;
    const uint16_t wrap_to = static_cast<uint16_t>(run & 1);
    uint64_t abs = 65535 - next() % 64;
    // Through the first wrap block by block, as a transfer goes, in most runs: the wrap is
    // learned, and later wraps (every 65535 or 65536 blocks) are crossed by jumps.
    const uint64_t stepped = run % 4 == 0 ? 0 : abs + 70;
    for (; abs < stepped; ++abs) ASSERT_EQ(fast.unwrap(wire_block(abs, wrap_to)), walk.unwrap(wire_block(abs, wrap_to)));
    for (int i = 0; i < 300; ++i) {
      uint16_t wire = 0;
      switch (next() % 7) {
        case 0: wire = static_cast<uint16_t>(next()); break;  // anywhere: ahead or behind
        case 1: wire = static_cast<uint16_t>(wire_block(abs, wrap_to) + 0x8000); break;  // half the circle
        case 2: wire = 0; break;  // never sent after a wrap to 1
        case 3: wire = wire_block(abs - next() % 0x8000, wrap_to); break;  // an old block
        case 4: abs += 1 + next() % 0x7fff; wire = wire_block(abs, wrap_to); break;  // a long jump
        default: abs += next() % 40; wire = wire_block(abs, wrap_to); break;  // onwards
      }
      ASSERT_EQ(fast.unwrap(wire), walk.unwrap(wire)) << "run " << run << " step " << i << " wire " << wire;
    }
  }
}

}  // namespace
}  // namespace tftp::proto
