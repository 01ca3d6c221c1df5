// The JSON of `tftpspec load`: its shape (reports/tftpspec-load.schema.json is checked
// against real output by the integration test) and the figures derived in it.
#include "report/load_report.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace tftp::report {
namespace {

using std::chrono::milliseconds;

LoadReport sample_report() {
  LoadReport r;
  r.version = "0.1.0";
  r.target = "127.0.0.1:6969";
  r.file = "f.bin";
  r.started = "2026-11-26T06:00:00Z";
  r.clients = 4;
  r.rounds = 1;
  r.seed = 9;
  LoadStep step;
  step.clients = 4;
  step.run.elapsed = std::chrono::seconds(2);
  auto& t = step.run.tally;
  t.started = 4;
  t.succeeded = 3;
  t.failed = 1;
  t.verified = 3;
  t.bytes = 3 << 20;
  t.request_retransmissions = 2;
  t.duplicates_received = 5;
  t.failures["timed out: no reply"] = 1;
  t.latencies = {milliseconds(10), milliseconds(30), milliseconds(20)};
  step.run.reference_digest = 0xabcdef;
  r.steps.push_back(step);
  r.first_failure_clients = 4;
  r.peak_rss_kib = 1234;
  return r;
}

TEST(LoadReport, JsonCarriesEveryFigureOfAStep) {
  const auto doc = nlohmann::json::parse(load_report_json(sample_report()));
  EXPECT_EQ(doc["$schema"], kLoadSchemaId);
  EXPECT_EQ(doc["direction"], "download");
  EXPECT_EQ(doc["settings"]["rounds"], 1);
  EXPECT_TRUE(doc["settings"]["duration_s"].is_null());
  EXPECT_TRUE(doc["settings"]["blksize"].is_null());
  ASSERT_EQ(doc["steps"].size(), 1u);
  const auto& s = doc["steps"][0];
  EXPECT_EQ(s["transfers"]["succeeded"], 3);
  EXPECT_EQ(s["transfers"]["failed"], 1);
  EXPECT_DOUBLE_EQ(s["throughput_mib_s"].get<double>(), 1.5);  // 3 MiB in 2 s
  EXPECT_DOUBLE_EQ(s["latency_ms"]["p50"].get<double>(), 20.0);
  EXPECT_DOUBLE_EQ(s["latency_ms"]["max"].get<double>(), 30.0);
  EXPECT_EQ(s["retransmissions"]["requests"], 2);
  EXPECT_EQ(s["retransmissions"]["duplicates_received"], 5);
  ASSERT_EQ(s["failures"].size(), 1u);
  EXPECT_EQ(s["failures"][0]["cause"], "timed out: no reply");
  EXPECT_EQ(s["reference_digest"], "0000000000abcdef");
  EXPECT_EQ(doc["first_failure_clients"], 4);
  EXPECT_TRUE(doc["last_good_clients"].is_null());
  EXPECT_EQ(doc["peak_rss_kib"], 1234);
}

TEST(LoadReport, ThroughputOfAnEmptyRunIsZero) {
  EXPECT_EQ(throughput_mib_s(1 << 20, Duration::zero()), 0.0);
  EXPECT_DOUBLE_EQ(throughput_mib_s(1 << 20, std::chrono::milliseconds(500)), 2.0);
}

}  // namespace
}  // namespace tftp::report
