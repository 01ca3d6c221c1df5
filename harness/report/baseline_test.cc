#include "report/baseline.h"

#include <gtest/gtest.h>

namespace tftp::report {
namespace {

ScenarioResult result(const std::string& id, Verdict v) {
  ScenarioResult r;
  r.id = id;
  r.verdict = v;
  r.reason = v == Verdict::kPass ? "" : "why " + id;
  return r;
}

RunFinding finding(const std::string& id, Verdict v, std::vector<std::string> scenarios) {
  RunFinding f;
  f.finding.id = id;
  f.finding.cause = "a cause";
  f.finding.message = "seen";
  f.verdict = v;
  f.scenarios = std::move(scenarios);
  f.sightings = 1;
  return f;
}

RunReport report(std::vector<ScenarioResult> results, std::vector<RunFinding> findings = {}) {
  RunReport r;
  r.results = std::move(results);
  r.findings = std::move(findings);
  return r;
}

const std::set<std::string> kCatalogue = {"a", "b", "c", "d", "sanity"};

std::vector<std::pair<std::string, ChangeKind>> kinds(const BaselineComparison& c) {
  std::vector<std::pair<std::string, ChangeKind>> out;
  for (const auto& x : c.changes) out.emplace_back(x.id, x.kind);
  return out;
}

TEST(BaselineClassify, NamesEachDirectionOfChange) {
  EXPECT_EQ(classify(Verdict::kPass, Verdict::kFail), ChangeKind::kNewFail);
  EXPECT_EQ(classify(Verdict::kWarn, Verdict::kFail), ChangeKind::kNewFail);
  EXPECT_EQ(classify(Verdict::kPass, Verdict::kWarn), ChangeKind::kNewWarn);
  EXPECT_EQ(classify(Verdict::kSkip, Verdict::kWarn), ChangeKind::kNewWarn);
  EXPECT_EQ(classify(Verdict::kFail, Verdict::kWarn), ChangeKind::kImproved);
  EXPECT_EQ(classify(Verdict::kPass, Verdict::kError), ChangeKind::kNewError);
  EXPECT_EQ(classify(Verdict::kFail, Verdict::kSkip), ChangeKind::kNewlySkipped);
  EXPECT_EQ(classify(Verdict::kFail, Verdict::kPass), ChangeKind::kFixed);
  EXPECT_EQ(classify(Verdict::kWarn, Verdict::kNote), ChangeKind::kFixed);
  EXPECT_EQ(classify(Verdict::kPass, Verdict::kNote), ChangeKind::kChanged);
  EXPECT_EQ(classify(Verdict::kError, Verdict::kPass), ChangeKind::kChanged);
}

TEST(Baseline, TheSameRunHasNoChange) {
  const auto r = report({result("a", Verdict::kPass), result("b", Verdict::kFail), result("c", Verdict::kError)},
                        {finding("tftp.rule.x", Verdict::kFail, {"b"})});
  const auto c = compare(r, r, kCatalogue);
  EXPECT_TRUE(c.changes.empty());
  EXPECT_FALSE(c.regression());
}

TEST(Baseline, OnlyNewFailsWarnsAndErrorsAreRegressions) {
  const auto before = report({result("a", Verdict::kPass), result("b", Verdict::kFail), result("c", Verdict::kPass),
                              result("d", Verdict::kPass)});
  const auto after = report({result("a", Verdict::kFail), result("b", Verdict::kPass), result("c", Verdict::kSkip),
                             result("d", Verdict::kPass)});
  const auto c = compare(before, after, kCatalogue);
  EXPECT_EQ(kinds(c), (std::vector<std::pair<std::string, ChangeKind>>{
                          {"a", ChangeKind::kNewFail}, {"b", ChangeKind::kFixed}, {"c", ChangeKind::kNewlySkipped}}));
  EXPECT_TRUE(c.changes[0].regression);
  EXPECT_EQ(c.changes[0].before, Verdict::kPass);
  EXPECT_EQ(c.changes[0].after, Verdict::kFail);
  EXPECT_EQ(c.changes[0].reason, "why a");
  EXPECT_FALSE(c.changes[1].regression);
  EXPECT_FALSE(c.changes[2].regression);
  EXPECT_TRUE(c.regression());
}

TEST(Baseline, ScenarioOutsideTheSelectionIsNotRemoved) {
  const auto before = report({result("a", Verdict::kPass), result("b", Verdict::kPass), result("gone", Verdict::kFail)});
  const auto after = report({result("a", Verdict::kPass), result("new", Verdict::kFail)});
  const auto c = compare(before, after, kCatalogue);
  EXPECT_EQ(kinds(c), (std::vector<std::pair<std::string, ChangeKind>>{{"new", ChangeKind::kAdded},
                                                                       {"gone", ChangeKind::kRemoved}}));
  EXPECT_EQ(c.not_selected, 1u);  // "b" is still in the catalogue
  EXPECT_FALSE(c.regression()) << "a scenario new to the catalogue has no earlier verdict to regress from";
}

TEST(Baseline, ANewMustFindingIsARegressionAShouldOneIsNot) {
  const auto before = report({result("a", Verdict::kPass), result("b", Verdict::kPass)},
                             {finding("tftp.rule.gone", Verdict::kWarn, {"a"}), finding("tftp.rule.unseen", Verdict::kFail, {"d"}),
                              finding("tftp.rule.worse", Verdict::kWarn, {"a"})});
  const auto after = report({result("a", Verdict::kPass), result("b", Verdict::kPass)},
                            {finding("tftp.rule.must", Verdict::kFail, {"a"}), finding("tftp.rule.should", Verdict::kWarn, {"b"}),
                             finding("tftp.rule.worse", Verdict::kFail, {"a"})});
  const auto c = compare(before, after, kCatalogue);
  EXPECT_EQ(kinds(c), (std::vector<std::pair<std::string, ChangeKind>>{
                          {"tftp.rule.must|a cause", ChangeKind::kNewFinding},
                          {"tftp.rule.should|a cause", ChangeKind::kNewFinding},
                          {"tftp.rule.worse|a cause", ChangeKind::kFindingChanged},
                          {"tftp.rule.gone|a cause", ChangeKind::kFindingGone}}))
      << "tftp.rule.unseen was seen by d, which did not run: not gone";
  EXPECT_TRUE(c.changes[0].regression);
  EXPECT_FALSE(c.changes[1].regression);
  EXPECT_TRUE(c.changes[2].regression);
  EXPECT_FALSE(c.changes[3].regression);
}

TEST(BaselineExpectations, AScenarioNotListedIsExpectedToPass) {
  Expectations e;
  e.server = "our server";
  e.scenarios["b"] = {Verdict::kFail, "known SAS bug"};
  e.scenarios["c"] = {Verdict::kWarn, "no ERROR 5"};
  e.scenarios["d"] = {Verdict::kWarn, "known"};
  e.findings["tftp.rule.known|a cause"] = {Verdict::kNote, "timer"};
  const auto run = report({result("a", Verdict::kWarn), result("b", Verdict::kPass), result("c", Verdict::kFail),
                           result("d", Verdict::kWarn)},
                          {finding("tftp.rule.known", Verdict::kNote, {"a"})});
  const auto c = compare(e, run, kCatalogue);
  EXPECT_EQ(c.kind, BaselineKind::kExpectations);
  EXPECT_EQ(c.description, "our server");
  EXPECT_EQ(kinds(c), (std::vector<std::pair<std::string, ChangeKind>>{
                          {"a", ChangeKind::kNewWarn}, {"b", ChangeKind::kFixed}, {"c", ChangeKind::kNewFail}}));
  EXPECT_TRUE(c.changes[0].regression);
  EXPECT_EQ(c.changes[0].before, Verdict::kPass);
  EXPECT_FALSE(c.changes[1].regression) << "an expected fail now passing: update the expectations";
  EXPECT_EQ(c.changes[1].why, "known SAS bug");
  EXPECT_TRUE(c.changes[2].regression);
}

TEST(BaselineExpectations, ListedFindingNotSeenAndUnlistedFindingSeen) {
  Expectations e;
  e.findings["tftp.rule.known|a cause"] = {Verdict::kFail, "known"};
  e.scenarios["nowhere"] = {Verdict::kWarn, "a scenario since deleted"};
  const auto run = report({result("a", Verdict::kPass)}, {finding("tftp.rule.new", Verdict::kFail, {"a"})});
  const auto c = compare(e, run, kCatalogue);
  EXPECT_EQ(kinds(c), (std::vector<std::pair<std::string, ChangeKind>>{{"nowhere", ChangeKind::kRemoved},
                                                                       {"tftp.rule.new|a cause", ChangeKind::kNewFinding},
                                                                       {"tftp.rule.known|a cause", ChangeKind::kFindingGone}}));
  EXPECT_TRUE(c.regression());
}

TEST(Baseline, ChangeKindNamesReadBack) {
  for (int k = 0; k <= static_cast<int>(ChangeKind::kFindingChanged); ++k) {
    const auto kind = static_cast<ChangeKind>(k);
    EXPECT_EQ(change_kind_from_name(change_kind_name(kind)), kind) << change_kind_name(kind);
  }
}

}  // namespace
}  // namespace tftp::report
