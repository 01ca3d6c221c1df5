#include "netfuzz/shrink.h"

#include <gtest/gtest.h>

#include <algorithm>

namespace tftp::netfuzz {
namespace {

bool has(const std::vector<int>& v, int x) { return std::find(v.begin(), v.end(), x) != v.end(); }

TEST(NetfuzzShrink, DdminFindsTheTwoItemsThatTogetherFail) {
  std::vector<int> items;
  for (int i = 1; i <= 40; ++i) items.push_back(i);
  size_t calls = 0;
  const std::function<bool(const std::vector<int>&)> fails = [&](const std::vector<int>& v) {
    ++calls;
    return has(v, 3) && has(v, 29);
  };
  ShrinkBudget budget{1000, 0};
  EXPECT_EQ(ddmin(items, fails, budget), (std::vector<int>{3, 29}));
  EXPECT_EQ(calls, budget.attempts_made);
}

TEST(NetfuzzShrink, DdminKeepsOrderAndAOneItemCause) {
  std::vector<int> items = {5, 9, 2, 7};
  const std::function<bool(const std::vector<int>&)> fails = [](const std::vector<int>& v) { return has(v, 2); };
  ShrinkBudget budget{100, 0};
  EXPECT_EQ(ddmin(items, fails, budget), (std::vector<int>{2}));
}

TEST(NetfuzzShrink, DdminStopsAtItsBudgetWithAFailingInput) {
  std::vector<int> items;
  for (int i = 0; i < 64; ++i) items.push_back(i);
  const std::function<bool(const std::vector<int>&)> fails = [](const std::vector<int>& v) { return has(v, 40) && has(v, 60); };
  ShrinkBudget budget{3, 0};
  const auto out = ddmin(items, fails, budget);
  EXPECT_EQ(budget.attempts_made, 3u);
  EXPECT_TRUE(fails(out));
  EXPECT_LT(out.size(), items.size());
}

TEST(NetfuzzShrink, DdminOfAnInputThatNoLongerFailsReturnsItUnchanged) {
  // A flaky death: nothing smaller fails, so nothing is removed.
  std::vector<int> items = {1, 2, 3};
  const std::function<bool(const std::vector<int>&)> fails = [](const std::vector<int>& v) { return v.size() == 3; };
  ShrinkBudget budget{100, 0};
  EXPECT_EQ(ddmin(items, fails, budget), items);
}

TEST(NetfuzzShrink, ShortestFailingPrefix) {
  std::vector<uint8_t> bytes(100, 'a');
  bytes[37] = 'x';
  const std::function<bool(const std::vector<uint8_t>&)> fails = [](const std::vector<uint8_t>& b) {
    return b.size() >= 38 && b[37] == 'x';
  };
  ShrinkBudget budget{100, 0};
  EXPECT_EQ(shortest_failing_prefix(bytes, fails, budget).size(), 38u);
  EXPECT_LE(budget.attempts_made, 8u);  // bisection
}

}  // namespace
}  // namespace tftp::netfuzz
