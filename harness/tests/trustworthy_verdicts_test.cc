// Issue 7 over real UDP: problems of the set-up or a dead target are errors, never the
// target's fail, and a target answering with garbage is judged on what it sent.
#include <gtest/gtest.h>

#include <sys/resource.h>

#include <fstream>
#include <functional>
#include <mutex>
#include <set>
#include <thread>

#include "net/udp_socket.h"
#include "scenario/fixtures.h"
#include "scenario/loader.h"
#include "scenario/runner.h"
#include "server/udp_server.h"
#include "tests/support/process.h"
#include "tests/support/reference_server.h"
#include "tests/support/scripted_target.h"

namespace tftp {
namespace {

const std::string kScenarios = std::string(TFTPSPEC_SOURCE_DIR) + "/scenarios";

const std::vector<scenario::Scenario>& catalogue() {
  static const std::vector<scenario::Scenario> c = [] {
    auto loaded = scenario::load_catalogue(kScenarios);
    if (!loaded) throw std::runtime_error(loaded.error().to_string());
    return std::move(*loaded);
  }();
  return c;
}

std::string listing(const report::RunReport& r) {
  std::string out;
  for (const auto& s : r.results) out += "  " + std::string(report::verdict_name(s.verdict)) + " " + s.id + ": " + s.reason + "\n";
  return out;
}

using testing::ScriptedTarget;

report::RunReport run_selection(const Address& target_address, std::vector<std::string> include, int jobs, uint64_t seed) {
  scenario::UdpTarget target(target_address, /*fixtures_written=*/true);
  scenario::RunOptions options;
  options.jobs = jobs;
  options.seed = seed;
  options.include = std::move(include);
  return scenario::run_catalogue(catalogue(), target, options);
}

// DATA 1 of f1.bin, the answer a sane target gives to a plain RRQ f1.bin.
std::vector<uint8_t> f1_data_1() {
  const auto f1 = *scenario::fixture_bytes("f1.bin");
  std::vector<uint8_t> data(proto::kDataHeaderSize + f1.size());
  data.resize(*proto::write_data(data, 1, f1));
  return data;
}

TEST(TrustworthyVerdicts, AFixtureOneByteOffIsASetupErrorNamingTheFixAndNeverAFail) {
  testing::TempDir root("tftpspec-stale-");
  ASSERT_TRUE(scenario::write_fixtures(root.path()));
  {
    std::fstream f(root.path() / "f3000.bin", std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(1500);
    f.put('\x5a');  // the fixture differs in one byte from what `tftpspec fixtures` writes
  }
  testing::ReferenceServerThread server(root.path());
  scenario::UdpTarget target(server.address(), /*fixtures_written=*/false);  // the user installed them
  scenario::RunOptions options;
  options.jobs = 8;
  options.seed = 2;
  options.include = {"rfc1350.*"};
  const auto run = scenario::run_catalogue(catalogue(), target, options);
  EXPECT_EQ(run.summary.fail, 0) << listing(run);
  EXPECT_EQ(run.summary.warn, 0) << listing(run);
  int errors_naming_it = 0;
  for (const auto& r : run.results) {
    if (r.verdict != report::Verdict::kError) continue;
    EXPECT_NE(r.reason.find("f3000.bin"), std::string::npos) << r.id << ": " << r.reason;
    EXPECT_NE(r.reason.find("tftpspec fixtures"), std::string::npos) << r.reason;
    ++errors_naming_it;
  }
  EXPECT_GE(errors_naming_it, 3) << listing(run);
  auto f3000 = std::find_if(run.target.fixtures.begin(), run.target.fixtures.end(), [](const auto& f) { return f.name == "f3000.bin"; });
  ASSERT_NE(f3000, run.target.fixtures.end());
  EXPECT_EQ(f3000->status, "different");
  EXPECT_NE(f3000->detail.find("byte 1500"), std::string::npos) << f3000->detail;
}

TEST(TrustworthyVerdicts, ATargetKilledMidRunGivesErrorsNotFailsAndIsNotAlive) {
  testing::TempDir root("tftpspec-killed-");
  ASSERT_TRUE(scenario::write_fixtures(root.path()));
  testing::ReferenceServerThread server(root.path());
  scenario::UdpTarget target(server.address(), true);
  scenario::RunOptions options;
  options.jobs = 4;
  options.seed = 4;
  options.include = {"rfc1350.*", "rfc2348.*"};
  std::atomic<int> delivered{0};
  options.on_result = [&](const report::ScenarioResult&) {
    if (++delivered == 6) server.stop();  // the target dies after a few scenarios
  };
  const auto run = scenario::run_catalogue(catalogue(), target, options);
  EXPECT_FALSE(run.target.alive);
  ASSERT_TRUE(run.target_died_after.has_value());
  EXPECT_EQ(run.summary.fail, 0) << listing(run);
  EXPECT_EQ(run.summary.warn, 0) << listing(run);
  EXPECT_GT(run.summary.error, 10) << listing(run);
  for (const auto& r : run.results) {
    if (r.verdict == report::Verdict::kError) {
      EXPECT_NE(r.reason.find("stopped answering"), std::string::npos) << r.id << ": " << r.reason;
    }
  }
}

// A target whose answer the parser refuses is alive and judged on what it sent.
TEST(TrustworthyVerdicts, AnUnparseableAnswerToDiscoveryIsJudgedNotCalledSilence) {
  const uint8_t garbage[] = {0x00, 0x09, 0x41, 0x42};  // opcode 9: no TFTP packet
  report::RunReport run;
  {
    ScriptedTarget target([&](net::UdpSocket& socket, const Address& from, std::span<const uint8_t>) {
      (void)socket.send_to(from, garbage);
    });
    run = run_selection(target.address(), {"rfc1350.end.*"}, 2, 6);
  }
  EXPECT_TRUE(run.target.alive);
  bool noted = false;
  for (const auto& n : run.target.notes) noted = noted || n.find("not DATA 1") != std::string::npos;
  EXPECT_TRUE(noted);
  auto sanity = std::find_if(run.results.begin(), run.results.end(), [](const auto& r) { return r.id == "sanity.rrq-small-file#first"; });
  ASSERT_NE(sanity, run.results.end());
  EXPECT_EQ(sanity->verdict, report::Verdict::kFail) << sanity->reason;
  bool evidence = false;
  for (const auto& e : sanity->evidence) evidence = evidence || (e.direction == "received" && e.size == 4);
  EXPECT_TRUE(evidence) << "the datagram it sent is the evidence";
  for (const auto& r : run.results) {
    if (r.id.rfind("sanity", 0) == 0) continue;
    EXPECT_EQ(r.reason.find("did not answer"), std::string::npos) << r.reason;
  }
}

// Issue 7: an empty OACK could never match the alternative written for it, because the
// parser refused it even in lenient mode. A server that answers options it does not know
// with an empty OACK now gets that alternative's verdict, and the rule engine one finding.
TEST(TrustworthyVerdicts, AnEmptyOackMatchesTheAlternativeWrittenForIt) {
  const auto data = f1_data_1();
  report::RunReport run;
  {
    ScriptedTarget target([&](net::UdpSocket& socket, const Address& from, std::span<const uint8_t> bytes) {
      auto request = proto::parse(bytes, proto::Strictness::kLenient);
      const auto* rrq = request ? std::get_if<proto::Request>(&*request) : nullptr;
      if (rrq == nullptr) return;
      const uint8_t empty_oack[] = {0x00, 0x06};
      if (!rrq->options.empty()) {
        (void)socket.send_to(from, empty_oack);
      } else {
        (void)socket.send_to(from, data);
      }
    });
    run = run_selection(target.address(), {"rfc2347.oack.unknown-option-alone"}, 1, 8);
  }
  auto it = std::find_if(run.results.begin(), run.results.end(), [](const auto& r) { return r.id == "rfc2347.oack.unknown-option-alone"; });
  ASSERT_NE(it, run.results.end());
  EXPECT_EQ(it->verdict, report::Verdict::kWarn) << it->reason;
  EXPECT_NE(it->reason.find("empty OACK"), std::string::npos) << it->reason;
  int empty_oack_findings = 0;
  for (const auto& f : it->findings) empty_oack_findings += f.id == "tftp.rule.oack_empty";
  for (const auto& f : run.findings) empty_oack_findings += f.finding.id == "tftp.rule.oack_empty";
  EXPECT_EQ(empty_oack_findings, 1) << "one bug, one finding";
}

// Issue 7 item 7: a target that answers requests and floods every client port it has seen
// with 64 KiB datagrams as fast as it can. Every scenario ends by its deadline, the
// verdicts are fail or error with reasons, and the process stays under 300 MB.
TEST(TrustworthyVerdicts, AFloodOf64KiBDatagramsIsBoundedInTimeAndMemory) {
  auto flood = net::UdpSocket::bind(Address::loopback_v4(0));
  ASSERT_TRUE(flood);
  std::atomic<bool> stop{false};
  std::mutex mutex;
  std::set<Address> victims;
  const auto data = f1_data_1();
  ScriptedTarget answering([&](net::UdpSocket& socket, const Address& from, std::span<const uint8_t>) {
    (void)socket.send_to(from, data);
    std::lock_guard lock(mutex);
    victims.insert(from);
  });
  std::thread flooding([&] {
    std::vector<uint8_t> garbage(65000, 0xa5);
    garbage[0] = 0;
    garbage[1] = 3;  // a DATA far larger than any block size
    std::vector<Address> targets;
    while (!stop) {
      {
        std::lock_guard lock(mutex);
        targets.assign(victims.begin(), victims.end());
      }
      if (targets.empty()) std::this_thread::yield();
      for (const auto& t : targets) (void)flood->send_to(t, garbage);
    }
  });
  const auto run = run_selection(answering.address(), {"rfc1350.*", "rfc2347.*"}, 16, 9);
  stop = true;
  flooding.join();
  std::map<std::string, const scenario::Scenario*> by_id;
  for (const auto& s : catalogue()) by_id[s.id] = &s;
  size_t dropped = 0;
  for (const auto& r : run.results) {
    if (r.id.rfind("sanity.", 0) == 0) continue;  // its DATA 1 may beat the flood: a fair pass
    EXPECT_NE(r.verdict, report::Verdict::kPass) << r.id << " passed against a flooding target";
    EXPECT_FALSE(r.reason.empty()) << r.id;
    dropped += r.datagrams_dropped;
    auto s = by_id.find(r.id);
    if (s != by_id.end()) {
      EXPECT_LE(r.duration_ms, to_ms(s->second->deadline) + 2000) << r.id;
    }
  }
  rusage usage{};
  ::getrusage(RUSAGE_SELF, &usage);
  const double peak_mb = static_cast<double>(usage.ru_maxrss) / 1024.0;
  std::printf("flood: %zu results, %zu datagrams dropped unread, peak RSS %.0f MB\n", run.results.size(), dropped, peak_mb);
  EXPECT_LT(peak_mb, 300.0);
}

}  // namespace
}  // namespace tftp
