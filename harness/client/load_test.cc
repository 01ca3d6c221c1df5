// The arithmetic of a load run's report: nearest-rank percentiles and the latency summary.
#include "client/load.h"

#include <gtest/gtest.h>

namespace tftp::client {
namespace {

using std::chrono::milliseconds;

std::vector<Duration> ms_list(std::initializer_list<int> values) {
  std::vector<Duration> out;
  for (int v : values) out.push_back(milliseconds(v));
  return out;
}

TEST(LoadPercentile, NearestRankOfOneToHundred) {
  std::vector<Duration> sample;
  for (int i = 100; i >= 1; --i) sample.push_back(milliseconds(i));  // any order
  EXPECT_EQ(percentile(sample, 0.50), milliseconds(50));
  EXPECT_EQ(percentile(sample, 0.95), milliseconds(95));
  EXPECT_EQ(percentile(sample, 0.99), milliseconds(99));
  EXPECT_EQ(percentile(sample, 1.0), milliseconds(100));
  EXPECT_EQ(percentile(sample, 0.001), milliseconds(1));
}

TEST(LoadPercentile, SmallSamplesRoundTheRankUp) {
  auto sample = ms_list({30, 10, 20});
  EXPECT_EQ(percentile(sample, 0.50), milliseconds(20));  // rank ceil(1.5) = 2
  EXPECT_EQ(percentile(sample, 0.99), milliseconds(30));  // rank 3: the slowest of three
  auto one = ms_list({7});
  EXPECT_EQ(percentile(one, 0.5), milliseconds(7));
  std::vector<Duration> none;
  EXPECT_EQ(percentile(none, 0.5), Duration::zero());
}

TEST(LoadPercentile, TheTailIsNotAveragedAway) {
  // 98 fast transfers and two slow ones: p99 must show the slow ones, p50 must not.
  std::vector<Duration> sample(98, milliseconds(5));
  sample.push_back(milliseconds(3000));
  sample.push_back(milliseconds(4000));
  const LatencySummary s = summarize(sample);
  EXPECT_EQ(s.count, 100u);
  EXPECT_EQ(s.p50, milliseconds(5));
  EXPECT_EQ(s.p95, milliseconds(5));
  EXPECT_EQ(s.p99, milliseconds(3000));
  EXPECT_EQ(s.max, milliseconds(4000));
  EXPECT_EQ(s.mean, std::chrono::microseconds(74900));  // (98 x 5 + 7000) / 100 ms
}

TEST(LoadPercentile, EmptySummaryIsZero) {
  const LatencySummary s = summarize({});
  EXPECT_EQ(s.count, 0u);
  EXPECT_EQ(s.max, Duration::zero());
  EXPECT_EQ(s.p99, Duration::zero());
}

}  // namespace
}  // namespace tftp::client
