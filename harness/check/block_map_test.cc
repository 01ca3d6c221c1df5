#include "check/block_map.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <map>
#include <random>

namespace tftp::check {
namespace {

template <class Key>
void expect_same(const BlockMap<Key, int>& flat, const std::map<Key, int>& oracle) {
  ASSERT_EQ(flat.size(), oracle.size());
  auto f = flat.begin();
  for (const auto& [k, v] : oracle) {
    ASSERT_EQ(f->first, k);
    ASSERT_EQ(f->second, v);
    ++f;
  }
}

TEST(BlockMap, AppendsInOrderAndFindsByKey) {
  BlockMap<uint64_t, int> m;
  EXPECT_TRUE(m.empty());
  for (uint64_t b = 1; b <= 10; ++b) m[b] = static_cast<int>(b * 10);
  EXPECT_EQ(m.size(), 10u);
  EXPECT_EQ(m.count(4), 1u);
  EXPECT_EQ(m.count(11), 0u);
  EXPECT_EQ(m.find(7)->second, 70);
  EXPECT_EQ(m.find(0), m.end());
  EXPECT_EQ(m.lower_bound(0)->first, 1u);
  EXPECT_EQ(m.lower_bound(11), m.end());
  m[3] += 1;  // an existing key is not inserted again
  EXPECT_EQ(m.size(), 10u);
  EXPECT_EQ(m.find(3)->second, 31);
}

TEST(BlockMap, ShrinkingToFitKeepsTheEntriesAndGivesBackTheRest) {
  BlockMap<uint64_t, int> m;
  for (uint64_t b = 1; b <= 100; ++b) m[b] = static_cast<int>(b);
  for (int i = 0; i < 20; ++i) m.erase(m.begin());  // erased, not yet reclaimed (head_ < 32)
  std::map<uint64_t, int> oracle;
  for (uint64_t b = 21; b <= 100; ++b) oracle[b] = static_cast<int>(b);
  const size_t before = m.bytes();
  m.shrink_to_fit();
  expect_same(m, oracle);
  EXPECT_EQ(m.bytes(), 80 * sizeof(BlockMap<uint64_t, int>::value_type));
  EXPECT_LT(m.bytes(), before);
  m[101] = 101;  // and it grows again
  oracle[101] = 101;
  expect_same(m, oracle);
}

TEST(BlockMap, ErasingTheFrontReclaimsTheSpace) {
  BlockMap<uint64_t, int> m;
  for (uint64_t b = 1; b <= 100000; ++b) {
    m[b] = 1;
    while (m.size() > 40) m.erase(m.begin());
  }
  EXPECT_EQ(m.size(), 40u);
  EXPECT_EQ(m.begin()->first, 99961u);
  // A window of 40 never holds more than a few windows' worth of memory, however long the transfer.
  EXPECT_LE(m.bytes(), 4 * 64 * sizeof(std::pair<uint64_t, int>));
}

TEST(BlockMap, KeepOnlyAndReleaseGiveBackMemory) {
  BlockMap<uint16_t, int> m;
  for (uint16_t b = 0; b < 300; ++b) m[b] = b;
  m.keep_only(7);
  ASSERT_EQ(m.size(), 1u);
  EXPECT_EQ(m.begin()->second, 7);
  m.keep_only(8);  // absent: nothing kept
  EXPECT_TRUE(m.empty());
  m[1] = 1;
  m.release();
  EXPECT_TRUE(m.empty());
  EXPECT_EQ(m.bytes(), 0u);
}

// The same answers as std::map under a random mix of the operations the rules use: inserts
// mostly at the end, some in the middle (wrapped wire numbers), erases at the front and in
// the middle (prune_oldest).
TEST(BlockMap, BehavesLikeStdMap) {
  std::mt19937 rng(1234);
  BlockMap<uint16_t, int> flat;
  std::map<uint16_t, int> oracle;
  uint16_t next = 0;
  for (int step = 0; step < 20000; ++step) {
    const int op = static_cast<int>(rng() % 10);
    if (op < 5) {
      const uint16_t k = next++;
      flat[k] += step;
      oracle[k] += step;
    } else if (op < 7) {
      const auto k = static_cast<uint16_t>(rng() % 70000);
      flat[k] += 1;
      oracle[k] += 1;
    } else if (op < 8 && !oracle.empty()) {
      flat.erase(flat.begin());
      oracle.erase(oracle.begin());
    } else if (op < 9 && !oracle.empty()) {
      auto it = oracle.lower_bound(static_cast<uint16_t>(rng()));
      if (it == oracle.end()) continue;
      auto f = flat.find(it->first);
      ASSERT_NE(f, flat.end());
      flat.erase(f);
      oracle.erase(it);
    } else {
      const auto k = static_cast<uint16_t>(rng());
      const auto o = oracle.lower_bound(k);
      const auto f = flat.lower_bound(k);
      ASSERT_EQ(o == oracle.end(), f == flat.end());
      if (o != oracle.end()) {
        ASSERT_EQ(o->first, f->first);
      }
      ASSERT_EQ(flat.count(k), oracle.count(k));
    }
    if (step % 997 == 0) expect_same(flat, oracle);
  }
  expect_same(flat, oracle);
}

}  // namespace
}  // namespace tftp::check
