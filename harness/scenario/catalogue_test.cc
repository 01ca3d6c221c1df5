// The catalogue itself: it loads, the embedded reference server passes all of it, and
// every scenario can fail — each fault switch of the reference server must be caught by
// the scenarios meant to catch it, and every scenario must catch some fault.
#include <gtest/gtest.h>

#include <functional>
#include <map>
#include <set>

#include "scenario/loader.h"
#include "scenario/reference_faults.h"
#include "scenario/runner.h"

namespace tftp::scenario {
namespace {

const std::string kScenarios = std::string(TFTPSPEC_SOURCE_DIR) + "/scenarios";

const std::vector<Scenario>& catalogue() {
  static const std::vector<Scenario> c = [] {
    auto loaded = load_catalogue(kScenarios);
    if (!loaded) throw std::runtime_error(loaded.error().to_string());
    return std::move(*loaded);
  }();
  return c;
}

report::RunReport run_embedded(const server::ServerConfig& config, bool slow = true) {
  EmbeddedTarget target(config);
  RunOptions options;
  options.jobs = 2;
  options.seed = 11;
  options.include_slow = slow;
  return run_catalogue(catalogue(), target, options);
}

std::string non_passes(const report::RunReport& r) {
  std::string out;
  for (const auto& s : r.results) {
    if (s.verdict != report::Verdict::kPass) {
      out += "  " + std::string(report::verdict_name(s.verdict)) + " " + s.id + ": " + s.reason + "\n";
    }
  }
  return out;
}

TEST(Catalogue, LoadsWithUniqueIdsAndAtLeastSixtyScenarios) {
  EXPECT_GE(catalogue().size(), 60u);
  for (const auto& s : catalogue()) {
    EXPECT_FALSE(s.citation.empty()) << s.id;
    EXPECT_FALSE(s.summary.empty()) << s.id;
  }
}

TEST(Catalogue, EmbeddedReferenceServerPassesEveryScenario) {
  const auto report = run_embedded(EmbeddedTarget::default_config());
  // A note is a pass that says something worth knowing (the rollover value, the timer).
  EXPECT_EQ(report.summary.pass + report.summary.note, static_cast<int>(report.results.size())) << non_passes(report);
  EXPECT_EQ(report.summary.findings_fail + report.summary.findings_warn, 0) << non_passes(report);
}

const Scenario* scenario_named(const std::string& id) {
  for (const auto& s : catalogue()) {
    if (s.id == id) return &s;
  }
  return nullptr;
}

// A scenario catches a fault only by a non-pass for one of its own requirements: a fail or
// warn, or a note for a MAY scenario. An incidental finding of another rule, or an error of
// the harness, proves nothing about the scenario's own check.
bool catches(const report::ScenarioResult& r) {
  const Scenario* s = scenario_named(r.id);
  if (s == nullptr) return false;
  const bool own = std::find(s->requirements.begin(), s->requirements.end(), r.decided_by) != s->requirements.end();
  const bool non_pass = r.verdict == report::Verdict::kFail || r.verdict == report::Verdict::kWarn ||
                        (r.verdict == report::Verdict::kNote && s->level == Level::kMay);
  return own && non_pass;
}

// The scenarios each fault switch (scenario/reference_faults.cc) must not pass.
const std::map<std::string, std::vector<const char*>>& caught_by() {
  static const std::map<std::string, std::vector<const char*>> kMap = {
      {"no_final_empty_block", {"rfc1350.end.zero-length-final-512", "rfc1350.end.empty-file", "rfc2348.end.zero-length-final-1024-at-512"}},
      {"corrupt_data", {"rfc1350.end.one-over-513", "rfc1350.end.short-final-block-3000", "rfc1350.rtx.download-duplicate-acks"}},
      {"resend_on_duplicate_ack", {"rfc1123.sas.duplicate-ack-1", "rfc1123.sas.duplicate-ack-middle", "rfc1350.rtx.download-duplicate-acks",
                                   "rfc2347.rrq.ack0-repeated-after-data1"}},
      {"resend_on_stale_ack", {"rfc1350.ack.older-block-mid-transfer"}},
      {"accept_stray_tid", {"rfc1350.tid.stray-ack-during-rrq"}},
      {"no_error_to_stray_tid", {"rfc1350.tid.stray-ack-during-rrq"}},
      {"no_retransmission", {"rfc1350.rtx.lost-ack-first-block", "rfc1350.rtx.lost-ack-middle-block", "rfc1350.rtx.lost-ack-last-block"}},
      {"fixed_retransmit_timer", {"rfc1123.rto.schedule-first-block", "rfc1123.rto.schedule-middle-block",
                                  "rfc1123.rto.give-up-request-answer", "rfc1123.rto.give-up-first-block",
                                  "rfc1123.rto.give-up-middle-block", "rfc1123.rto.give-up-last-block"}},
      // The first resend comes at the 1 s start, the next at the 10 ms floor: shrinking gaps.
      {"no_backoff", {"rfc1123.rto.retransmission-backoff"}},
      {"no_dally", {"rfc1350.dally.final-data-reacked"}},
      {"ignore_peer_error", {"rfc1350.error.client-error-ends-rrq", "rfc2347.rrq.error8-ends-transfer"}},
      {"unsolicited_window", {"rfc1350.lockstep.no-data-before-ack"}},
      {"data_before_oack_ack", {"rfc2347.rrq.data-waits-for-ack0"}},
      {"window_as_lockstep", {"rfc7440.window.four-blocks-before-ack"}},
      {"no_rewind", {"rfc7440.window.partial-ack-rewinds"}},
      {"ignore_window_loss_ack", {"rfc7440.window.first-block-lost-prompt"}},
      {"window_past_loss", {"rfc7440.window.first-block-lost-restart"}},
      {"no_gap_ack", {"rfc7440.wrq.first-block-lost-upload"}},
      {"rollover_to_1", {}},  // a choice the RFCs leave open: see RolloverToOneIsANoteNotAFailure
      {"answer_from_listen_port", {"rfc1350.tid.rrq-reply-from-new-port", "rfc1350.tid.wrq-reply-from-new-port"}},
      {"wrong_error_codes", {"rfc1350.request.file-not-found", "rfc2347.rrq.options-file-missing"}},
      {"error_retransmitted", {"rfc1350.error.server-error-not-retransmitted"}},
      {"oack_unrequested_option", {"rfc2347.oack.only-requested"}},
      {"oack_off_by_one", {"rfc2348.blksize.1024", "rfc2349.timeout.min-1", "rfc2349.tsize.rrq-file-size", "rfc7440.windowsize.four"}},
      {"echo_any_option", {"rfc2347.oack.unknown-option-alone", "rfc2348.blksize.below-min-7", "rfc2349.timeout.zero", "rfc7440.windowsize.zero", "rfc2348.blksize.empty-value"}},
      {"ignore_options", {}},
      {"accept_mail_mode", {"rfc1123.mode.mail-refused"}},
      {"allow_traversal", {"security.traversal.dotdot-relative", "security.traversal.percent-encoded", "security.traversal.wrq-dotdot",
                           "security.traversal.canary-parent", "security.traversal.canary-through-subdirectory",
                           "security.traversal.canary-backslash"}},
      {"silent_on_malformed", {"rfc1350.request.mode-binary-refused", "rfc1350.malformed.ack-to-listen-port"}},
      {"mode_case_sensitive", {"rfc1350.request.mode-octet-any-case"}},
      {"options_case_sensitive", {"rfc2347.request.name-case-insensitive"}},
      {"netascii_as_octet", {"rfc1350.netascii.block-boundaries", "rfc1350.netascii.upload-stored-as-text"}},
      {"overwrite_existing", {"rfc1350.request.wrq-existing-file-refused", "rfc1350.request.wrq-world-writable-existing"}},
      {"truncate_uploads", {"rfc1350.rtx.upload-lost-data", "rfc7440.wrq.window-upload", "rfc1350.wrq.upload-1",
                            "rfc1350.wrq.upload-511", "rfc1350.wrq.upload-512", "rfc1350.wrq.upload-513",
                            "rfc1350.wrq.upload-1024", "rfc2348.wrq.upload-3000-at-1024",
                            "rfc2348.wrq.upload-1024-at-512-options", "rfc1350.netascii.upload-stored-as-text"}},
      {"drop_empty_uploads", {"rfc1350.wrq.upload-0"}},
      {"serve_directories", {"rfc1350.request.rrq-directory-refused"}},
      {"serve_long_names", {"rfc1350.malformed.long-filename"}},
      {"data_after_short_final", {"rfc1350.end.short-511"}},
      {"wrq_acked_with_1", {"rfc1350.request.wrq-answered-by-ack-0"}},
      {"duplicate_data_advances", {"rfc1350.rtx.duplicate-data-during-wrq"}},
      {"jump_on_future_ack", {"rfc1350.ack.future-block-lockstep", "rfc1350.ack.future-block-download",
                              "rfc7440.window.future-ack-ignored"}},
      {"oack_window_zero", {"rfc7440.windowsize.max-65535"}},
      {"one_session_per_host", {"rfc1350.concurrency.twenty-downloads", "rfc1350.concurrency.two-hundred-downloads"}},
      // Leading slash and backslash are MAY: refused or served, a note says which.
      {"no_subdirectories", {"rfc1350.path.subdirectory", "rfc1350.path.inner-dotdot", "rfc1350.path.leading-slash",
                             "rfc1350.path.backslash"}},
  };
  return kMap;
}

// One run per fault, computed on first use: CTest runs each test in its own process, so
// a parameterised test must compute only the fault it judges.
const report::RunReport& fault_run(const ReferenceFault& fault) {
  static std::map<std::string, report::RunReport> runs;
  auto it = runs.find(fault.name);
  if (it == runs.end()) {
    auto config = EmbeddedTarget::default_config();
    fault.apply(config);
    it = runs.emplace(fault.name, run_embedded(config)).first;
  }
  return it->second;
}

class FaultSwitch : public ::testing::TestWithParam<ReferenceFault> {};

}  // namespace
// gtest prints a parameter with every test's name (and CTest shows it): the fault, not its bytes.
void PrintTo(const ReferenceFault& fault, std::ostream* os) { *os << fault.name << " (" << fault.breaks << ")"; }
namespace {

TEST_P(FaultSwitch, IsCaughtByTheScenariosMeantToCatchIt) {
  const auto& run = fault_run(GetParam());
  ASSERT_TRUE(caught_by().count(GetParam().name)) << "add " << GetParam().name << " to caught_by()";
  for (const char* id : caught_by().at(GetParam().name)) {
    auto it = std::find_if(run.results.begin(), run.results.end(), [&](const auto& r) { return r.id == id; });
    ASSERT_NE(it, run.results.end()) << id << " is not in the catalogue";
    EXPECT_TRUE(catches(*it)) << id << " should catch " << GetParam().name << " for its own requirement but is "
                              << report::verdict_name(it->verdict) << " (decided by '" << it->decided_by
                              << "'): " << it->reason;
  }
  if (!caught_by().at(GetParam().name).empty()) {
    EXPECT_GT(run.summary.fail + run.summary.warn, 0) << GetParam().name << " goes unnoticed";
  }
}

// Issue 7 item 6: a server that wraps from 65535 to 1 is not wrong; the report says which.
TEST(Catalogue, RolloverToOneIsANoteNotAFailure) {
  const auto* fault = find_reference_fault("rollover_to_1");
  ASSERT_NE(fault, nullptr);
  const auto& run = fault_run(*fault);
  auto it = std::find_if(run.results.begin(), run.results.end(), [](const auto& r) { return r.id == "rfc1350.rollover.blksize-8"; });
  ASSERT_NE(it, run.results.end());
  EXPECT_EQ(it->verdict, report::Verdict::kNote) << it->reason;
  EXPECT_NE(it->reason.find("continued with block 1"), std::string::npos) << it->reason;
}

// A timer taken from the round trip but never backed off adapts (RFC 1123 §4.2.3.2 "MUST use
// an adaptive timeout"), short of what the IMPLEMENTATION text calls necessary: a note, and
// the report keeps the flat curve.
TEST(Catalogue, ARoundTripTimerWithoutBackoffIsANoteNotAFailure) {
  const auto* fault = find_reference_fault("no_backoff");
  ASSERT_NE(fault, nullptr);
  const auto& run = fault_run(*fault);
  auto it = std::find_if(run.results.begin(), run.results.end(),
                         [](const auto& r) { return r.id == "rfc1123.rto.schedule-middle-block"; });
  ASSERT_NE(it, run.results.end());
  EXPECT_EQ(it->verdict, report::Verdict::kNote) << it->reason;
  EXPECT_NE(it->reason.find("does not back off"), std::string::npos) << it->reason;
  ASSERT_EQ(it->retransmissions.size(), 1u);
  EXPECT_EQ(it->retransmissions[0].gaps_ms.size(), 3u);
  EXPECT_EQ(it->retransmissions[0].judgement, "constant after a start taken from the round trip");
}

INSTANTIATE_TEST_SUITE_P(Reference, FaultSwitch, ::testing::ValuesIn(reference_faults()),
                         [](const auto& info) { return info.param.name; });

TEST(Catalogue, EveryScenarioFailsUnderSomeFaultSwitch) {
  std::set<std::string> caught;
  for (const auto& fault : reference_faults()) {
    for (const auto& r : fault_run(fault).results) {
      if (catches(r)) caught.insert(r.id);
    }
  }
  std::string uncaught;
  for (const auto& s : catalogue()) {
    if (!s.sanity && !caught.count(s.id)) uncaught += "  " + s.id + "\n";
  }
  EXPECT_TRUE(uncaught.empty()) << "scenarios no fault switch can make fail:\n" << uncaught;
}

TEST(ScenarioLoader, NamesFileAndLineOfAnUnknownKey) {
  auto r = load_text("id: a.b\ntitle: t\ncitation: RFC 1350 §4\nlevel: MUST\nsummary: s\nsteps:\n  - send: RRQ\n    file: f1.bin\n    colour: blue\n",
                     "x.yaml");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().where.line, 9);
  EXPECT_NE(r.error().message.find("colour"), std::string::npos) << r.error().message;
}

// The canary lies outside the root only when the harness planted it: a scenario comparing
// with it must say so, or its absence (ERROR 1) would pass where nothing was tested.
TEST(ScenarioLoader, ComparingWithTheCanaryNeedsTheCanaryCapability) {
  const std::string head = "id: a.b\ntitle: t\ncitation: RFC 1123 §4.2.3.4\nrequirement: T1123-ACL\nlevel: SHOULD\nsummary: s\n";
  const std::string steps =
      "steps:\n  - send: RRQ\n    file: ../tftpspec-canary.bin\n  - expect: ANY\n    any:\n      - op: ERROR\n"
      "      - op: DATA\n        content: tftpspec-canary.bin\n        verdict: fail\n";
  auto without = load_text(head + steps, "c.yaml");
  ASSERT_FALSE(without);
  EXPECT_NE(without.error().message.find("needs: [canary]"), std::string::npos) << without.error().message;
  auto with = load_text(head + "needs: [canary]\n" + steps, "c.yaml");
  ASSERT_TRUE(with) << with.error().message;
  EXPECT_TRUE((*with)[0].fixtures.empty());  // not a fixture: nothing to check in the root
}

TEST(ScenarioLoader, RejectsAScenarioWithoutCitation) {
  auto r = load_text("id: a.b\ntitle: t\nlevel: MUST\nsummary: s\nsteps:\n  - wait: 1s\n", "y.yaml");
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("citation"), std::string::npos);
}

TEST(ScenarioLoader, ReportsYamlSyntaxErrorsWithTheLine) {
  auto r = load_text("id: a.b\ntitle: [unclosed\n", "z.yaml");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().where.file, "z.yaml");
  EXPECT_GE(r.error().where.line, 2);
}

TEST(ScenarioLoader, ParsesDurations) {
  EXPECT_DOUBLE_EQ(parse_wait("250ms")->seconds, 0.25);
  EXPECT_DOUBLE_EQ(parse_wait("2rto")->rto_multiple, 2);
  auto w = parse_wait("1rto+0.5s");
  ASSERT_TRUE(w);
  EXPECT_DOUBLE_EQ(w->seconds, 0.5);
  EXPECT_DOUBLE_EQ(w->rto_multiple, 1);
  auto s = parse_wait("0.5srto+1rto");
  ASSERT_TRUE(s);
  EXPECT_DOUBLE_EQ(s->srto_multiple, 0.5);
  EXPECT_EQ(s->resolve(std::chrono::seconds(1), std::chrono::milliseconds(10)), std::chrono::milliseconds(1005));
  EXPECT_FALSE(parse_wait("2 minutes"));
  EXPECT_FALSE(parse_wait(""));
}

}  // namespace
}  // namespace tftp::scenario
