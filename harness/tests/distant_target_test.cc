// Issue 7 item 9: a target 20-30 ms away gets the same verdicts as on loopback. The
// reference server runs the whole catalogue twice over real UDP: directly, then behind the
// delay proxy (tests/support/delay_proxy.h) at 12 ms one way plus 0-3 ms of jitter. Every
// scenario must get the same verdict both times; a skip for cost ("about N round trips")
// counts as a difference unless loopback skipped it too.
#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <thread>

#include "scenario/fixtures.h"
#include "scenario/loader.h"
#include "scenario/runner.h"
#include "server/udp_server.h"
#include "tests/support/delay_proxy.h"
#include "tests/support/reference_server.h"
#include "tests/support/process.h"

namespace tftp {
namespace {

using namespace std::chrono_literals;

std::vector<scenario::Scenario> catalogue() {
  auto c = scenario::load_catalogue(std::string(TFTPSPEC_SOURCE_DIR) + "/scenarios");
  if (!c) throw std::runtime_error(c.error().to_string());
  return std::move(*c);
}

report::RunReport run_against(const std::vector<scenario::Scenario>& scenarios, const Address& address) {
  scenario::UdpTarget target(address, /*fixtures_written=*/true);
  scenario::RunOptions options;
  options.jobs = 16;
  options.seed = 7;
  return scenario::run_catalogue(scenarios, target, options);
}

std::string verdict_of(const report::ScenarioResult& r) { return std::string(report::verdict_name(r.verdict)); }

std::string summary_line(const char* name, const report::RunReport& r, double wall_s) {
  char text[256];
  std::snprintf(text, sizeof text,
                "%s: %zu scenarios in %.1f s, rtt %.2f ms (jitter %.2f ms), pass %d note %d warn %d fail %d skip %d error %d",
                name, r.results.size(), wall_s, r.target.path.rtt_ms, r.target.path.jitter_ms, r.summary.pass,
                r.summary.note, r.summary.warn, r.summary.fail, r.summary.skip, r.summary.error);
  return text;
}

// The reference server over real UDP on its own fixture root, in a thread. Each run gets a
// fresh one, so no file an earlier run uploaded can change what a later one sees.
struct FreshReferenceServer {
  FreshReferenceServer() : root("tftpspec-distant-"), server((write(root), root.path())) {}
  static void write(const testing::TempDir& dir) {
    if (!scenario::write_fixtures(dir.path())) throw std::runtime_error("cannot write fixtures");
  }
  Address address() const { return server.address(); }
  testing::TempDir root;
  testing::ReferenceServerThread server;
};

TEST(DistantTarget, CatalogueVerdictsAt20To30MsRoundTripEqualThoseOnLoopback) {
  const auto scenarios = catalogue();

  Instant t0 = real_now();
  report::RunReport near;
  {
    FreshReferenceServer server;
    near = run_against(scenarios, server.address());
  }
  const double near_s = to_seconds(real_now() - t0);

  FreshReferenceServer server;
  testing::DelayProxyConfig config;
  config.server = server.address();
  config.delay = 12ms;
  config.jitter = 3ms;
  config.seed = 7;
  auto proxy = testing::DelayProxy::start(config);
  ASSERT_TRUE(proxy) << proxy.error().to_string();
  t0 = real_now();
  const auto far = run_against(scenarios, (*proxy)->address());
  const double far_s = to_seconds(real_now() - t0);
  const auto proxy_stats = (*proxy)->stats();
  (*proxy)->stop();

  std::printf("%s\n%s\n", summary_line("loopback", near, near_s).c_str(), summary_line("distant ", far, far_s).c_str());
  std::printf("proxy: %llu to server, %llu to client, %llu dropped, %llu sockets (%llu evicted)\n",
              static_cast<unsigned long long>(proxy_stats.to_server),
              static_cast<unsigned long long>(proxy_stats.to_client),
              static_cast<unsigned long long>(proxy_stats.dropped),
              static_cast<unsigned long long>(proxy_stats.endpoints),
              static_cast<unsigned long long>(proxy_stats.evicted));
  RecordProperty("distant_rtt_ms", std::to_string(far.target.path.rtt_ms));
  RecordProperty("distant_wall_seconds", std::to_string(far_s));

  // The proxy did put the target 20-30 ms away (discovery's median of several samples).
  EXPECT_GE(far.target.path.rtt_ms, 24 - 1);
  EXPECT_TRUE(near.target.alive);
  EXPECT_TRUE(far.target.alive);

  std::map<std::string, const report::ScenarioResult*> near_by_id;
  for (const auto& r : near.results) near_by_id[r.id] = &r;
  std::string differences;
  size_t compared = 0;
  for (const auto& r : far.results) {
    auto it = near_by_id.find(r.id);
    if (it == near_by_id.end()) {
      differences += "  " + r.id + ": ran only at a distance (" + verdict_of(r) + ")\n";
      continue;
    }
    ++compared;
    const auto& n = *it->second;
    near_by_id.erase(it);
    if (n.verdict == r.verdict) continue;
    differences += "  " + r.id + ": loopback " + verdict_of(n) + (n.reason.empty() ? "" : " (" + n.reason + ")") +
                   ", distant " + verdict_of(r) + (r.reason.empty() ? "" : " (" + r.reason + ")") +
                   (r.observed.empty() ? "" : " [observed: " + r.observed + "]") + "\n";
  }
  for (const auto& [id, n] : near_by_id) differences += "  " + id + ": ran only on loopback (" + verdict_of(*n) + ")\n";
  if (!differences.empty()) std::printf("differences:\n%s", differences.c_str());
  EXPECT_GT(compared, 3u);
  EXPECT_TRUE(differences.empty()) << "verdicts at " << far.target.path.rtt_ms
                                   << " ms differ from loopback:\n" << differences;
}

}  // namespace
}  // namespace tftp
