#include "report/matrix.h"

#include <gtest/gtest.h>

namespace tftp::report {
namespace {

NamedReport named(const std::string& name, std::vector<std::pair<std::string, Verdict>> verdicts, std::string catalogue,
                  std::vector<RunFinding> findings = {}) {
  NamedReport n{name, name + ".json", {}};
  for (const auto& entry : verdicts) {  // not a structured binding: kept simple for clang 14
    ScenarioResult r;
    r.id = entry.first;
    r.level = "MUST";
    r.verdict = entry.second;
    r.reason = entry.second == Verdict::kPass ? "" : "because";
    n.report.results.push_back(r);
  }
  n.report.findings = std::move(findings);
  n.report.catalogue_version = std::move(catalogue);
  n.report.summary = summarize(n.report.results, n.report.findings);
  return n;
}

TEST(Matrix, OneRowPerScenarioOfAnyReportOneCellPerReport) {
  RunFinding f;
  f.finding.id = "tftp.rule.sas";
  f.finding.cause = "resends";
  f.verdict = Verdict::kFail;
  const auto m = build_matrix({named("hpa", {{"b", Verdict::kPass}, {"a", Verdict::kPass}}, "v1"),
                               named("atftpd", {{"a", Verdict::kPass}, {"b", Verdict::kFail}, {"c", Verdict::kWarn}}, "v1", {f})});
  ASSERT_EQ(m.columns.size(), 2u);
  EXPECT_EQ(m.columns[1].name, "atftpd");
  EXPECT_EQ(m.columns[1].summary.fail, 1);
  ASSERT_EQ(m.rows.size(), 3u);
  EXPECT_EQ(m.rows[0].id, "a");
  EXPECT_FALSE(m.rows[0].differs());
  EXPECT_EQ(m.rows[1].id, "b");
  EXPECT_TRUE(m.rows[1].differs());
  ASSERT_TRUE(m.rows[1].cells[1]);
  EXPECT_EQ(m.rows[1].cells[1]->verdict, Verdict::kFail);
  EXPECT_EQ(m.rows[1].cells[1]->reason, "because");
  EXPECT_FALSE(m.rows[2].cells[0]) << "c is not in the first report";
  EXPECT_TRUE(m.rows[2].differs());
  ASSERT_EQ(m.findings.size(), 1u);
  EXPECT_EQ(m.findings[0].key, "tftp.rule.sas|resends");
  EXPECT_FALSE(m.findings[0].cells[0]);
  EXPECT_EQ(m.findings[0].cells[1], Verdict::kFail);
  EXPECT_FALSE(m.catalogues_differ);
}

TEST(Matrix, JsonHasNullForAbsentCellsAndFlagsCatalogueMismatch) {
  const auto m = build_matrix({named("x", {{"a", Verdict::kPass}}, "v1"), named("y", {{"b", Verdict::kSkip}}, "v2")});
  const auto j = to_json(m);
  EXPECT_EQ(j["$schema"], "https://tftpspec.dev/schema/matrix-1.json");
  EXPECT_TRUE(j["catalogues_differ"].get<bool>());
  EXPECT_TRUE(j["scenarios"][0]["cells"][1].is_null());
  EXPECT_EQ(j["scenarios"][1]["cells"][1]["verdict"], "skip");
  EXPECT_TRUE(j["scenarios"][1]["differs"].get<bool>());
  EXPECT_EQ(j["columns"][0]["summary"]["pass"], 1);
}

}  // namespace
}  // namespace tftp::report
