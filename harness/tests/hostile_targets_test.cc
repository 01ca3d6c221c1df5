// Issue 12 item 1: `tftpspec run` against hostile targets (tests/support/hostile_server.h),
// one misbehaviour each. Against every one the run ends (an external watchdog, never a
// duration assertion), the process neither crashes nor outgrows the memory bound the README
// states, every verdict that is not a pass says why, no scenario passes whose requirement
// the misbehaviour breaks, and the misbehaviour is one run-wide finding, not one per scenario.
#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "report/json_reader.h"
#include "tests/support/hostile_server.h"
#include "tests/support/process.h"

namespace tftp {
namespace {

using namespace std::chrono_literals;
using testing::Hostility;

// README "Limits": the bound the tests hold the harness to.
constexpr double kMemoryBoundMb = 300;
// Generous: a run that needs this long hangs (the runs take seconds to tens of seconds).
constexpr auto kWatchdog = 300s;

using Verdict = report::Verdict;

// What a mode's run must show. `findings`: the rule ids the misbehaviour must raise, each
// exactly once among the run-wide findings (one bug, one finding) unless a scenario's own
// requirement is that rule (then it is that scenario's verdict). `may_pass`: the scenarios
// that may pass although the target misbehaves, because they never meet the misbehaviour
// or their requirement does not see it (`why_pass` says which and why); every other
// scenario must end fail or error, or skip with a reason.
struct Case {
  Hostility mode;
  std::vector<std::string> select;  // --scenario globs; empty: the whole default catalogue
  std::string why_select;
  std::vector<std::string> findings;
  bool (*may_pass)(const report::ScenarioResult&);
  std::string why_pass;
};

bool starts_with(const std::string& s, const std::string& prefix) { return s.rfind(prefix, 0) == 0; }

// The design charges a misbehaviour that is not a scenario's own requirement once per run, as
// a run-wide finding (README "Verdicts": one bug, one finding), and judges each scenario on its
// own requirement: such a mode may leave passes, as long as the finding is there, once.
bool charged_run_wide(const report::ScenarioResult&) { return true; }
bool never(const report::ScenarioResult&) { return false; }
// A scenario that received at most one datagram from the target cannot have seen a
// misbehaviour that needs a second one (a later datagram from another port).
bool saw_one_datagram(const report::ScenarioResult& r) {
  return std::count_if(r.evidence.begin(), r.evidence.end(), [](const auto& e) { return e.direction == "received"; }) <= 1;
}

// A scenario that downloaded no DATA 2, or ended the transfer itself with an ERROR after the
// blocks it judges, never waited for a file's end.
bool read_no_second_block(const report::ScenarioResult& r) {
  const bool ended_it = std::any_of(r.evidence.begin(), r.evidence.end(),
                                    [](const auto& e) { return e.direction == "sent" && starts_with(e.packet, "ERROR"); });
  return ended_it || std::none_of(r.evidence.begin(), r.evidence.end(), [](const auto& e) {
           return e.direction == "received" && starts_with(e.packet, "DATA block=2 ");
         });
}

// The whole default catalogue where it runs in seconds; a subset where the misbehaviour
// makes every exchange wait for a deadline (each scenario then costs its full budget, and
// more of them would prove only the same bound again).
const std::vector<Case>& cases() {
  static const std::vector<Case> all = {
      {Hostility::kFlood, {}, "", {"tftp.rule.malformed_packet"}, charged_run_wide,
       "the flood's garbage is malformed_packet, charged run-wide"},
      {Hostility::kGarbage, {}, "", {"tftp.rule.malformed_packet"}, charged_run_wide,
       "the garbage after each datagram is malformed_packet, charged run-wide"},
      {Hostility::kHugeDatagrams, {}, "", {"tftp.rule.data_datagram_too_long"}, charged_run_wide,
       "the 64 KiB DATA after each datagram is data_datagram_too_long, charged run-wide"},
      {Hostility::kRandomPorts, {"rfc1350.tid.*"},
       "every multi-block exchange stalls until its deadline; the TID scenarios are the ones about ports", {},
       [](const report::ScenarioResult& r) { return saw_one_datagram(r) || r.id.find(".tid.") != std::string::npos; },
       "a datagram from another port is a stranger's to the client (RFC 1350 §4), answered ERROR 5 and ignored: an "
       "exchange of one datagram, and a TID scenario judging the first reply's port, hold"},
      {Hostility::kEndless, {}, "", {}, read_no_second_block,
       "f1.bin ends (the sanity gate); uploads, refusals and one-block reads never meet a download that does not end"},
      {Hostility::kRetransmitForever, {}, "", {}, charged_run_wide,
       "the resends the harness is still listening for are judged by the rules (ack_for_error, sent_after_error, "
       "the retransmission intervals); those after a transfer's end reach no one"},
      {Hostility::kDrip, {"rfc1350.e*"}, "a slow target is a distant one (distant_target_test covers the catalogue)", {},
       charged_run_wide, "300 ms late is slow, not wrong: every verdict may pass"},
      {Hostility::kOversizeData, {}, "", {"tftp.rule.oversize_data"}, charged_run_wide,
       "an oversized DATA is oversize_data, charged run-wide"},
      {Hostility::kUnaskedOack, {}, "", {"tftp.rule.oack_unrequested_option"}, charged_run_wide,
       "the unasked option is oack_unrequested_option, charged run-wide; requests without options get no OACK"},
      {Hostility::kErrorWithoutNul, {}, "", {"tftp.rule.malformed_error"}, charged_run_wide,
       "the ERROR without its NUL is malformed_error, charged run-wide"},
      {Hostility::kOtherAddress, {}, "", {}, never, "nothing answers from the address asked: every scenario is an error"},
  };
  return all;
}

std::string listing(const report::RunReport& r) {
  std::string out;
  for (const auto& s : r.results) out += "  " + std::string(report::verdict_name(s.verdict)) + " " + s.id + ": " + s.reason + "\n";
  for (const auto& f : r.findings) {
    out += "  finding " + f.finding.id + " (" + std::string(report::verdict_name(f.verdict)) + ") in " +
           std::to_string(f.scenarios.size()) + " scenarios: " + f.finding.message + "\n";
  }
  return out;
}

class HostileTarget : public ::testing::TestWithParam<Hostility> {};

TEST_P(HostileTarget, TheRunEndsBoundedAndJudgesTheMisbehaviour) {
  const auto mode = GetParam();
  const auto c = std::find_if(cases().begin(), cases().end(), [&](const Case& x) { return x.mode == mode; });
  ASSERT_NE(c, cases().end()) << "no expectations for " << testing::hostility_name(mode);
  testing::HostileServer server(mode);
  testing::TempDir dir("tftpspec-hostile-");
  const auto json = (dir.path() / "report.json").string();
  std::vector<std::string> argv = {TFTPSPEC_BINARY, "run", "--target", server.address().to_string(), "--json", json,
                                   "--jobs", "16", "--seed", "12"};
  for (const auto& g : c->select) {
    argv.push_back("--scenario");
    argv.push_back(g);
  }
  const auto run = testing::run_command(argv, kWatchdog);
  const double peak_mb = static_cast<double>(run.peak_rss_kb) / 1024.0;
  std::printf("%s: exit %d, peak RSS %.0f MB, %llu datagrams sent by the target\n",
              std::string(testing::hostility_name(mode)).c_str(), run.exit_code, peak_mb,
              static_cast<unsigned long long>(server.sent()));
  ASSERT_FALSE(run.timed_out) << "the run hung: " << run.output.substr(run.output.size() > 4000 ? run.output.size() - 4000 : 0);
  ASSERT_TRUE(run.exit_code >= 0 && run.exit_code <= 2) << "exit " << run.exit_code << " (a crash is 128 + signal)\n"
                                                         << run.output.substr(run.output.size() > 4000 ? run.output.size() - 4000 : 0);
  // A target the harness can see misbehave never makes a clean run.
  if (!c->findings.empty() || c->may_pass == never) {
    EXPECT_NE(run.exit_code, 0);
  }
  EXPECT_LT(peak_mb, kMemoryBoundMb);
  auto report = report::read_report_file(json);
  ASSERT_TRUE(report) << report.error().to_string();
  std::printf("%s", listing(*report).c_str());
  EXPECT_FALSE(report->results.empty());
  for (const auto& r : report->results) {
    if (r.verdict == Verdict::kPass || r.verdict == Verdict::kNote) {
      EXPECT_TRUE(c->may_pass(r)) << r.id << " passed against the " << testing::hostility_name(mode) << " target";
    } else {
      EXPECT_FALSE(r.reason.empty()) << r.id << " is " << report::verdict_name(r.verdict) << " without a reason";
    }
  }
  if (mode == Hostility::kOtherAddress) {
    for (const auto& r : report->results) EXPECT_NE(r.reason.find("another address"), std::string::npos) << r.id << ": " << r.reason;
  }
  for (const auto& id : c->findings) {
    const auto n = std::count_if(report->findings.begin(), report->findings.end(), [&](const auto& f) { return f.finding.id == id; });
    EXPECT_EQ(n, 1) << id << ": one bug, one finding";
  }
}

INSTANTIATE_TEST_SUITE_P(Modes, HostileTarget, ::testing::ValuesIn(testing::all_hostilities()),
                         [](const auto& info) { return std::string(testing::hostility_name(info.param)); });

}  // namespace
}  // namespace tftp
