#include "common/hash.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <vector>

namespace tftp {
namespace {

// XXH3-64 of the empty input and of "a", from xxHash's own test vectors (seed 0): the
// dispatching entry points must give the digest the plain ones give.
TEST(ContentDigest, MatchesXxh3TestVectors) {
  EXPECT_EQ(content_digest({}), 0x2D06800538D394C2ull);
  const uint8_t a[] = {'a'};
  EXPECT_EQ(content_digest(a), 0xE6C632B61E964E1Full);
}

TEST(ContentDigest, PiecesGiveTheDigestOfTheWhole) {
  std::vector<uint8_t> bytes(70000);
  for (size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<uint8_t>(i * 31 + i / 251);
  ContentDigest pieces;
  size_t at = 0;
  for (size_t size : {0u, 1u, 511u, 512u, 4096u, 65000u}) {
    const size_t n = std::min(size, bytes.size() - at);
    pieces.update(std::span(bytes).subspan(at, n));
    at += n;
  }
  pieces.update(std::span(bytes).subspan(at));
  EXPECT_EQ(pieces.digest(), content_digest(bytes));
}

TEST(ContentDigest, DiffersWhenOneByteDoes) {
  std::vector<uint8_t> a(100000, 7);
  auto b = a;
  b[77777] ^= 1;
  EXPECT_EQ(content_digest(a), content_digest(a));
  EXPECT_NE(content_digest(a), content_digest(b));
}

}  // namespace
}  // namespace tftp
