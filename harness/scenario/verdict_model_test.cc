// The verdict and finding model (issue 7): a scenario's verdict comes from its own
// requirements, other rules' findings are listed once per run, set-up problems are errors.
#include <gtest/gtest.h>

#include "report/model.h"
#include "scenario/loader.h"
#include "scenario/reference_faults.h"
#include "scenario/runner.h"

namespace tftp::scenario {
namespace {

const std::string kScenarios = std::string(TFTPSPEC_SOURCE_DIR) + "/scenarios";

std::vector<Scenario> load(const std::string& yaml) {
  auto loaded = load_text(yaml, "test.yaml");
  if (!loaded) throw std::runtime_error(loaded.error().to_string());
  return std::move(*loaded);
}

report::ScenarioResult run_one(const Scenario& s, const char* fault) {
  auto config = EmbeddedTarget::default_config();
  if (fault != nullptr) find_reference_fault(fault)->apply(config);
  EmbeddedTarget target(config);
  auto wire = target.open(5);
  TargetProfile profile;  // as discovery measures the reference server
  profile.rto = std::chrono::seconds(1);
  profile.srto = std::chrono::milliseconds(10);
  profile.capabilities = {"options", "blksize", "write"};
  return run_scenario(s, **wire, profile, "t");
}

const char* kHeader = "id: t.x\ntitle: t\ncitation: RFC 1350 §4\nlevel: MUST\nsummary: s\n";

TEST(ScenarioLoader, AStepNamingAnUnknownFixtureIsALoadErrorWithItsLine) {
  auto r = load_text(std::string(kHeader) + "steps:\n  - wait: 1s\n  - download: f3001.bin\n", "x.yaml");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().where.line, 8);
  EXPECT_NE(r.error().message.find("unknown fixture 'f3001.bin'"), std::string::npos) << r.error().message;
  auto upload = load_text(std::string(kHeader) + "steps:\n  - send: WRQ\n    file: new:nope.bin\n", "y.yaml");
  ASSERT_FALSE(upload);
  EXPECT_NE(upload.error().message.find("nope.bin"), std::string::npos) << upload.error().message;
  auto content = load_text(std::string(kHeader) + "steps:\n  - send: RRQ\n    file: missing.bin\n  - expect: DATA\n    content: true\n",
                           "z.yaml");
  ASSERT_FALSE(content);
  EXPECT_EQ(content.error().where.line, 9);
}

TEST(ScenarioLoader, RecordsTheFixturesTheTargetMustServe) {
  auto s = load(std::string(kHeader) +
                "steps:\n  - send: RRQ\n    file: f512.bin\n  - send: RRQ\n    file: ../../etc/passwd\n  - download: f1m.bin\n"
                "  - upload: f1024.bin\n");
  EXPECT_EQ(s.front().fixtures, (std::vector<std::string>{"f1m.bin", "f512.bin"}));
}

// A name spelled another way (/sub/f511.bin) is compared with the fixture it should reach.
TEST(ScenarioLoader, ContentNamingAFixtureComparesWithItAndNeedsIt) {
  auto s = load(std::string(kHeader) + "steps:\n  - send: RRQ\n    file: /sub/f511.bin\n  - expect: DATA\n    content: sub/f511.bin\n");
  EXPECT_EQ(s.front().fixtures, (std::vector<std::string>{"sub/f511.bin"}));
  auto bad = load_text(std::string(kHeader) + "steps:\n  - send: RRQ\n    file: f1.bin\n  - expect: DATA\n    content: nope.bin\n",
                       "c.yaml");
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find("unknown fixture 'nope.bin'"), std::string::npos) << bad.error().message;
}

TEST(ScenarioLoader, ARequirementListSetsEveryRequirement) {
  auto s = load("id: t.x\ntitle: t\ncitation: c\nrequirement: [T1350-RTX, T1123-SAS]\nlevel: MUST\nsummary: s\nsteps:\n  - wait: 1s\n");
  EXPECT_EQ(s.front().requirement, "T1350-RTX");
  EXPECT_EQ(s.front().requirements, (std::vector<std::string>{"T1350-RTX", "T1123-SAS"}));
}

// A MUST finding of the scenario's own requirement is not hidden by a later skip.
TEST(VerdictModel, ALaterSkipKeepsAMustFinding) {
  const auto s = load(
      "id: t.sas\ntitle: t\ncitation: RFC 1123 §4.2.3.1\nrequirement: T1123-SAS\nlevel: MUST\nsummary: s\nsteps:\n"
      "  - send: RRQ\n    file: f1024.bin\n  - expect: DATA\n    block: 1\n  - send: ACK\n    block: 1\n    count: 2\n"
      "  - expect: DATA\n    block: 2\n"
      "  - expect: ERROR\n    within: 1ms\n    otherwise: skip\n    reason: no capability\n");
  const auto clean = run_one(s.front(), nullptr);
  EXPECT_EQ(clean.verdict, report::Verdict::kSkip) << clean.reason;
  const auto sas = run_one(s.front(), "resend_on_duplicate_ack");
  EXPECT_EQ(sas.verdict, report::Verdict::kFail) << sas.reason;
  EXPECT_EQ(sas.decided_by, "T1123-SAS");
}

// One bug, one finding: a server answering from its listening port is seen by nearly
// every scenario, yet it is one run-wide finding and the other scenarios pass.
TEST(VerdictModel, OneBugIsOneFindingListedWithTheScenariosThatSawIt) {
  auto catalogue = load_catalogue(kScenarios);
  ASSERT_TRUE(catalogue) << catalogue.error().to_string();
  auto config = EmbeddedTarget::default_config();
  find_reference_fault("answer_from_listen_port")->apply(config);
  EmbeddedTarget target(config);
  RunOptions options;
  options.jobs = 2;
  options.seed = 3;
  const auto run = run_catalogue(*catalogue, target, options);
  int listed = 0;
  for (const auto& f : run.findings) {
    if (f.finding.requirement != "T1350-TID-NEW") continue;
    ++listed;
    EXPECT_GT(f.scenarios.size(), 20u);
    EXPECT_EQ(f.sightings, f.scenarios.size());
  }
  EXPECT_EQ(listed, 1);
  for (const auto& r : run.results) {
    // The stray-TID scenarios depend on the server's own TID, which this fault takes away.
    const bool own = r.requirement.rfind("T1350-TID-", 0) == 0;
    if (r.requirement == "T1350-TID-NEW") {
      EXPECT_NE(r.verdict, report::Verdict::kPass) << r.id;
    } else if (!own) {
      EXPECT_TRUE(r.verdict == report::Verdict::kPass || r.verdict == report::Verdict::kNote) << r.id << ": " << r.reason;
    }
  }
}

TEST(VerdictModel, CollectFindingsMergesByRuleAndCauseAndSortsWorstFirst) {
  std::vector<report::ScenarioResult> results(3);
  results[0].id = "a";
  results[1].id = "b";
  results[2].id = "c";
  report::FindingRecord note{"tftp.rule.x", "R1", "c", "NOTE", "cause x", "", "m", {}, {}};
  report::FindingRecord must{"tftp.rule.y", "R2", "c", "MUST", "cause y", "", "m", {}, {}};
  report::FindingRecord must_other{"tftp.rule.y", "R2", "c", "MUST", "another cause", "", "m", {}, {}};
  results[0].incidental = {note, must};
  results[1].incidental = {must};
  results[2].incidental = {must_other, must};
  std::vector<report::RunFinding> findings;
  report::collect_findings(results, findings);
  ASSERT_EQ(findings.size(), 3u);
  EXPECT_EQ(findings[0].verdict, report::Verdict::kFail);
  EXPECT_EQ(findings[2].verdict, report::Verdict::kNote);
  const auto& y = findings[0].finding.cause == "cause y" ? findings[0] : findings[1];
  EXPECT_EQ(y.scenarios, (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(y.first_seen_in, "a");
  EXPECT_TRUE(results[1].incidental.empty());
  EXPECT_EQ(results[1].see_also, (std::vector<std::string>{"tftp.rule.y|cause y"}));
  const auto summary = report::summarize(results, findings);
  EXPECT_EQ(summary.findings_fail, 2);
  EXPECT_EQ(summary.findings_note, 1);
}

TEST(VerdictModel, SeverityPutsNoteBetweenPassAndWarnAndFailAboveSkip) {
  using report::severity;
  using report::Verdict;
  EXPECT_LT(severity(Verdict::kPass), severity(Verdict::kNote));
  EXPECT_LT(severity(Verdict::kNote), severity(Verdict::kWarn));
  EXPECT_LT(severity(Verdict::kSkip), severity(Verdict::kFail));
  EXPECT_EQ(report::verdict_for_level("SHOULD"), Verdict::kWarn);
  EXPECT_EQ(report::verdict_for_level("NOTE"), Verdict::kNote);
  EXPECT_EQ(report::verdict_from_name("note"), Verdict::kNote);
}

}  // namespace
}  // namespace tftp::scenario
