// The catalogue over real UDP: the reference server must pass every scenario, and the
// verdicts for tftpd-hpa, atftpd and dnsmasq must equal scenarios/expectations/<server>.json,
// where every non-pass is explained against the RFC text.
#include <gtest/gtest.h>

#include <fstream>
#include <set>
#include <thread>

#include "report/baseline.h"
#include "report/json_reader.h"
#include "report/json_report.h"
#include "scenario/fixtures.h"
#include "scenario/loader.h"
#include "scenario/runner.h"
#include "server/udp_server.h"
#include "tests/support/peers.h"
#include "tests/support/process.h"

namespace tftp {
namespace {

const std::string kScenarios = std::string(TFTPSPEC_SOURCE_DIR) + "/scenarios";

std::vector<scenario::Scenario> catalogue() {
  auto c = scenario::load_catalogue(kScenarios);
  if (!c) throw std::runtime_error(c.error().to_string());
  return std::move(*c);
}

// A server's root with the fixtures, inside a private directory that also holds the canary
// beside the root (scenario/fixtures.h), so parallel tests never share a canary.
struct ServedRoot {
  explicit ServedRoot(const char* prefix) : dir(prefix), path(dir.path() / "root") {
    auto written = scenario::write_fixtures(path);
    if (!written) throw std::runtime_error(written.error().message);
    auto planted = scenario::plant_canary(path);
    if (!planted) throw std::runtime_error(planted.error().message);
    canary = std::move(*planted);
  }
  testing::TempDir dir;
  std::filesystem::path path;
  std::unique_ptr<scenario::PlantedCanary> canary;
};

report::RunReport run_against(const Address& address) {
  scenario::UdpTarget target(address, /*fixtures_written=*/true, /*canary_planted=*/true);
  scenario::RunOptions options;
  options.jobs = 16;
  options.seed = 7;
  return scenario::run_catalogue(catalogue(), target, options);
}

std::string describe_failures(const report::RunReport& r) {
  std::string out;
  for (const auto& s : r.results) {
    if (s.verdict == report::Verdict::kPass || s.verdict == report::Verdict::kNote) continue;
    out += "  " + std::string(report::verdict_name(s.verdict)) + " " + s.id + ": " + s.reason;
    if (!s.observed.empty()) out += " [observed: " + s.observed + "]";
    out += "\n";
  }
  for (const auto& f : r.findings) {
    out += "  finding " + std::string(report::verdict_name(f.verdict)) + " " + f.finding.key() + " in " +
           std::to_string(f.scenarios.size()) + " scenarios: " + f.finding.message + "\n";
  }
  return out;
}

// TFTPSPEC_CONFORMANCE_REPORTS=DIR keeps each server's report: to update the expectations
// from, and for CI to merge into one matrix.
void keep_report(const report::RunReport& report, const std::string& name) {
  if (const char* dir = std::getenv("TFTPSPEC_CONFORMANCE_REPORTS")) {
    std::ofstream(std::string(dir) + "/" + name + ".json") << report::to_json(report).dump(2) << "\n";
  }
}

TEST(Conformance, ReferenceServerPassesEveryScenarioOverRealUdp) {
  ServedRoot root("tftpspec-ref-");
  server::RootPolicy policy;
  policy.writable = true;
  auto files = server::RootDirectory::open(root.path, policy);
  ASSERT_TRUE(files) << files.error();
  server::ServerConfig config;
  auto server = server::UdpServer::start({Address::loopback_v4(0)}, config, **files);
  ASSERT_TRUE(server) << server.error().message;
  std::atomic<bool> stop{false};
  std::thread thread([&] { (void)(*server)->run(stop); });
  const auto report = run_against((*server)->listening().front());
  stop = true;
  thread.join();
  keep_report(report, "reference");
  EXPECT_TRUE(report.target.alive);
  EXPECT_EQ(report.summary.fail + report.summary.warn + report.summary.error + report.summary.skip, 0)
      << describe_failures(report);
  EXPECT_EQ(report.summary.findings_fail + report.summary.findings_warn, 0) << describe_failures(report);
  EXPECT_GE(report.results.size(), 3u);
}

// Compares a run with scenarios/expectations/<name>.json, as `run --baseline` does: a
// scenario not listed must pass, a listed one must have its recorded verdict (the reader
// insists on a why for each), every run-wide finding must be listed and every listed one
// seen. Any change at all is a mismatch here, better or worse.
void expect_matches(const report::RunReport& report, const std::string& name) {
  keep_report(report, name);
  const std::string path = kScenarios + "/expectations/" + name + ".json";
  auto expected = report::read_expectations_file(path);
  ASSERT_TRUE(expected) << path << ": " << expected.error().to_string();
  std::set<std::string> ids;
  for (const auto& s : catalogue()) ids.insert(s.id);
  const auto comparison = report::compare(*expected, report, ids);
  std::string mismatches;
  for (const auto& c : comparison.changes) {
    const auto verdict = [](const std::optional<report::Verdict>& v) {
      return v ? std::string(report::verdict_name(*v)) : std::string("not seen");
    };
    mismatches += "  " + std::string(report::change_kind_name(c.kind)) + " " + c.id + ": expected " + verdict(c.before) +
                  ", got " + verdict(c.after) + (c.reason.empty() ? "" : " — " + c.reason) + "\n";
  }
  // Every listed scenario must have run: one left out would go unchecked.
  EXPECT_EQ(comparison.not_selected, 0u) << path << " lists scenarios this run did not select";
  EXPECT_TRUE(mismatches.empty()) << name << " verdicts differ from " << path << ":\n" << mismatches;
}

TEST(Conformance, TftpdHpaVerdictsMatchExpectations) {
  ServedRoot root("tftpspec-hpa-");
  auto server = testing::start_tftpd_hpa(root.path, /*writable=*/true);
  if (!server) GTEST_SKIP() << "in.tftpd not installed";
  const Instant t0 = real_now();
  const auto report = run_against(Address::parse(server->host + ":" + std::to_string(server->port), 69).value());
  RecordProperty("wall_seconds", std::to_string(to_seconds(real_now() - t0)));
  std::printf("tftpd-hpa: catalogue in %.2f s wall\n", to_seconds(real_now() - t0));
  expect_matches(report, "tftpd-hpa");
}

TEST(Conformance, AtftpdVerdictsMatchExpectations) {
  ServedRoot root("tftpspec-atftpd-");
  auto server = testing::start_atftpd(root.path);
  if (!server) GTEST_SKIP() << "atftpd not unpacked (scripts/setup.sh)";
  const auto report = run_against(Address::parse(server->host + ":" + std::to_string(server->port), 69).value());
  expect_matches(report, "atftpd");
}

TEST(Conformance, DnsmasqVerdictsMatchExpectations) {
  ServedRoot root("tftpspec-dnsmasq-");
  auto server = testing::start_dnsmasq(root.path, "");
  if (!server) GTEST_SKIP() << "dnsmasq not installed";
  const auto report = run_against(Address::parse(server->host + ":" + std::to_string(server->port), 69).value());
  expect_matches(report, "dnsmasq");
}

}  // namespace
}  // namespace tftp
