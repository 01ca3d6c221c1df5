// Reports used again, through the real binary: `run --baseline` (an earlier report or an
// expectations file), `report merge` and `rerun`. Runs are against the embedded reference
// server in virtual time; regressions come from its fault switches (--reference-fault).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "report/json_reader.h"
#include "report/json_report.h"
#include "tests/support/process.h"

namespace tftp {
namespace {

using namespace std::chrono_literals;
using testing::CommandResult;
using testing::TempDir;

// A small, fast selection. The fault below makes one of its scenarios warn (a SHOULD) and
// another fail (a MUST): a run with it exits 1.
const std::vector<std::string> kSelection = {"--scenario", "rfc1123.mode.*", "--scenario", "rfc1350.request.*", "--seed", "11"};
const char* kFault = "accept_mail_mode";
const char* kBrokenScenario = "rfc1123.mode.mail-refused";
const char* kFailingScenario = "rfc1350.request.mail-mode-rrq-refused";

CommandResult tftpspec(std::vector<std::string> args) {
  args.insert(args.begin(), TFTPSPEC_BINARY);
  return testing::run_command(args, 120s);
}

CommandResult run(std::vector<std::string> extra) {
  std::vector<std::string> args = {"run"};
  args.insert(args.end(), kSelection.begin(), kSelection.end());
  args.insert(args.end(), extra.begin(), extra.end());
  return tftpspec(args);
}

nlohmann::json read_json(const std::filesystem::path& p) {
  std::ifstream in(p);
  return nlohmann::json::parse(in);
}

std::string slurp(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::set<std::string> result_ids(const nlohmann::json& report) {
  std::set<std::string> ids;
  for (const auto& r : report["results"]) ids.insert(r["id"].get<std::string>());
  return ids;
}

class CliReport : public ::testing::Test {
 protected:
  TempDir dir{"tftpspec-cli-report-"};
  std::string path(const std::string& name) const { return (dir.path() / name).string(); }
  // A clean run's report, the baseline of most tests.
  std::string clean_report() {
    const auto r = run({"--json", path("clean.json")});
    EXPECT_EQ(r.exit_code, 0) << r.output;
    return path("clean.json");
  }
};

TEST_F(CliReport, RealReportReadsBackToTheSameJson) {
  const auto file = clean_report();
  auto read = report::read_report_file(file);
  ASSERT_TRUE(read) << read.error().to_string();
  EXPECT_EQ(report::to_json(*read), read_json(file)) << "the reader lost or changed a field the writer wrote";
  ASSERT_TRUE(read->run);
  EXPECT_EQ(read->run->include, (std::vector<std::string>{"rfc1123.mode.*", "rfc1350.request.*"}));
  EXPECT_EQ(read->seed, 11u);
  EXPECT_FALSE(read->catalogue_version.empty());
  EXPECT_FALSE(read->tool_version.empty());
  EXPECT_NE(read->command.find("--seed 11"), std::string::npos) << read->command;
  EXPECT_EQ(read->target.address, "embedded");
}

TEST_F(CliReport, BaselineOfTheSameRunExitsZero) {
  const auto baseline = clean_report();
  const auto r = run({"--baseline", baseline, "--json", path("again.json")});
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("no regression against the baseline"), std::string::npos) << r.output;
  const auto again = read_json(path("again.json"));
  EXPECT_EQ(again["baseline"]["kind"], "report");
  EXPECT_EQ(again["baseline"]["file"], baseline);
  EXPECT_FALSE(again["baseline"]["regression"].get<bool>());
  EXPECT_TRUE(again["baseline"]["changes"].empty()) << again["baseline"].dump(2);
}

TEST_F(CliReport, RegressionAgainstTheBaselineExitsOneAndNamesIt) {
  const auto baseline = clean_report();
  const auto r = run({"--reference-fault", kFault, "--baseline", baseline, "--json", path("broken.json")});
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("new warn"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find(std::string("REGRESSION ") + kBrokenScenario + ": pass -> warn"), std::string::npos) << r.output;
  const auto broken = read_json(path("broken.json"));
  EXPECT_TRUE(broken["baseline"]["regression"].get<bool>());
  bool named = false;
  for (const auto& c : broken["baseline"]["changes"]) {
    if (c["id"] == kBrokenScenario) {
      named = true;
      EXPECT_EQ(c["kind"], "new_warn");
      EXPECT_EQ(c["before"], "pass");
      EXPECT_EQ(c["after"], "warn");
      EXPECT_TRUE(c["regression"].get<bool>());
    }
  }
  EXPECT_TRUE(named) << broken["baseline"].dump(2);

  // The fixed server against the broken run's report: fixed, exit 0.
  const auto fixed = run({"--baseline", path("broken.json")});
  EXPECT_EQ(fixed.exit_code, 0) << fixed.output;
  EXPECT_NE(fixed.output.find("fixed"), std::string::npos) << fixed.output;
  EXPECT_NE(fixed.output.find(std::string(kBrokenScenario) + ": warn -> pass"), std::string::npos) << fixed.output;
}

TEST_F(CliReport, KnownFailuresInTheBaselineDoNotFailTheRun) {
  // corrupt_data breaks MUSTs: without a baseline the run exits 1; against its own report, 0.
  const auto first = run({"--reference-fault", "corrupt_data", "--json", path("known.json")});
  ASSERT_EQ(first.exit_code, 1) << first.output;
  const auto again = run({"--reference-fault", "corrupt_data", "--baseline", path("known.json")});
  EXPECT_EQ(again.exit_code, 0) << again.output;
  EXPECT_NE(again.output.find("no regression"), std::string::npos) << again.output;
}

TEST_F(CliReport, ExpectationsFileAsBaseline) {
  std::ofstream(path("ours.json")) << R"({
  "$schema": "https://tftpspec.dev/schema/expectations-1.json",
  "server": "our build with mail mode on",
  "expectations": {
    "rfc1123.mode.mail-refused": {"verdict": "warn", "why": "RFC 1123 §4.2.2.1: we keep mail mode for a legacy client"},
    "rfc1350.request.mail-mode-rrq-refused": {"verdict": "fail", "why": "RFC 1350 §5: the same legacy client reads in mail mode"}
  }
})";
  // The deviations the file records, a fail among them: exit 0.
  const auto known = run({"--reference-fault", kFault, "--baseline", path("ours.json"), "--json", path("known.json")});
  EXPECT_EQ(known.exit_code, 0) << known.output;
  EXPECT_NE(known.output.find("compared with expectations"), std::string::npos) << known.output;
  EXPECT_EQ(read_json(path("known.json"))["baseline"]["kind"], "expectations");

  // The deviations gone: expectations no longer met, the better way; exit 0.
  const auto better = run({"--baseline", path("ours.json")});
  EXPECT_EQ(better.exit_code, 0) << better.output;
  EXPECT_NE(better.output.find("expectation no longer met, better: fixed, update your expectations"), std::string::npos)
      << better.output;
  EXPECT_NE(better.output.find("expected warn, now pass"), std::string::npos) << better.output;
  EXPECT_NE(better.output.find("why expected: RFC 1123"), std::string::npos) << better.output;

  // A scenario not listed is expected to pass: the worse way, exit 1.
  std::ofstream(path("none.json")) << R"({"server": "s", "expectations": {}})";
  const auto worse = run({"--reference-fault", kFault, "--baseline", path("none.json")});
  EXPECT_EQ(worse.exit_code, 1) << worse.output;
  EXPECT_NE(worse.output.find("expectation no longer met, worse: now warn"), std::string::npos) << worse.output;
}

TEST_F(CliReport, BadBaselineExitsTwoBeforeTheRun) {
  const auto baseline = clean_report();
  const std::string text = slurp(baseline);
  std::ofstream(path("truncated.json")) << text.substr(0, text.size() / 3);
  std::ofstream(path("newer.json")) << R"({"$schema": "https://tftpspec.dev/schema/report-99.json", "results": []})";
  std::ofstream(path("junit.xml")) << "<?xml version=\"1.0\"?>\n<testsuites/>\n";
  const std::vector<std::pair<std::string, std::string>> cases = {
      {path("truncated.json"), "tftp.report.truncated"},
      {path("newer.json"), "newer tftpspec"},
      {path("junit.xml"), "not JSON"},
      {std::string(TFTPSPEC_SOURCE_DIR) + "/reports/tftpspec-report.schema.json", "a JSON Schema"},
      {path("missing.json"), "cannot open"},
  };
  for (const auto& c : cases) {
    const auto r = run({"--baseline", c.first});
    EXPECT_EQ(r.exit_code, 2) << c.first << ": " << r.output;
    EXPECT_NE(r.output.find(c.second), std::string::npos) << c.first << ": " << r.output;
    EXPECT_NE(r.output.find("nothing was run"), std::string::npos) << r.output;
    EXPECT_EQ(r.output.find("scenarios against"), std::string::npos) << "the run started: " << r.output;
  }
}

TEST_F(CliReport, MergeShowsServersByScenarios) {
  const auto clean = clean_report();
  ASSERT_EQ(run({"--reference-fault", kFault, "--json", path("broken.json")}).exit_code, 1);
  const auto r = tftpspec({"report", "merge", "good=" + clean, path("broken.json"), "--json", path("matrix.json")});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  // A header row with both columns, and the scenario that differs with both verdicts, aligned.
  std::istringstream lines(r.output);
  std::string line, header, row;
  while (std::getline(lines, line)) {
    if (line.rfind("SCENARIO", 0) == 0) header = line;
    if (line.rfind(kBrokenScenario, 0) == 0) row = line;
  }
  ASSERT_FALSE(header.empty()) << r.output;
  ASSERT_FALSE(row.empty()) << r.output;
  EXPECT_NE(header.find("good"), std::string::npos) << header;
  EXPECT_NE(header.find("broken"), std::string::npos) << header;
  EXPECT_EQ(row.find("pass"), header.find("good")) << "cells line up under their column\n" << header << "\n" << row;
  EXPECT_EQ(row.find("warn"), header.find("broken")) << header << "\n" << row;

  const auto m = read_json(path("matrix.json"));
  EXPECT_EQ(m["$schema"], "https://tftpspec.dev/schema/matrix-1.json");
  ASSERT_EQ(m["columns"].size(), 2u);
  EXPECT_EQ(m["columns"][0]["name"], "good");
  EXPECT_EQ(m["columns"][1]["name"], "broken");
  size_t differing = 0;
  for (const auto& s : m["scenarios"]) differing += s["differs"].get<bool>() ? 1 : 0;
  EXPECT_GE(differing, 1u);

  // --differences: only the rows that differ.
  const auto d = tftpspec({"report", "merge", clean, path("broken.json"), "--differences"});
  ASSERT_EQ(d.exit_code, 0) << d.output;
  EXPECT_NE(d.output.find(kBrokenScenario), std::string::npos) << d.output;
  EXPECT_EQ(d.output.find("rfc1350.request.file-not-found"), std::string::npos) << "a row without differences: " << d.output;
}

// The matrix as a page: columns named as on the command line, and the non-pass cell links to
// that run's evidence, embedded in the same page (the reports were read back from JSON).
TEST_F(CliReport, MergeHtmlLinksEachNonPassCellToItsEvidence) {
  const auto clean = clean_report();
  ASSERT_EQ(run({"--reference-fault", kFault, "--json", path("broken.json")}).exit_code, 1);
  const auto r = tftpspec({"report", "merge", "good=" + clean, "bad=" + path("broken.json"), "--html", path("m.html")});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const std::string page = slurp(path("m.html"));
  EXPECT_NE(page.find(">good<"), std::string::npos);
  EXPECT_NE(page.find(">bad<"), std::string::npos);
  // Every in-page link lands on an element with that id; at least one goes to the broken
  // scenario's evidence.
  std::set<std::string> ids, targets;
  for (size_t at = page.find("id=\""); at != std::string::npos; at = page.find("id=\"", at + 4)) {
    ids.insert(page.substr(at + 4, page.find('"', at + 4) - at - 4));
  }
  for (size_t at = page.find("href=\"#"); at != std::string::npos; at = page.find("href=\"#", at + 7)) {
    targets.insert(page.substr(at + 7, page.find('"', at + 7) - at - 7));
  }
  bool to_broken = false;
  for (const auto& t : targets) {
    if (t.empty() || t.rfind("only=", 0) == 0) continue;
    EXPECT_TRUE(ids.count(t)) << "a link to #" << t << " lands nowhere";
    if (t.find(kBrokenScenario) != std::string::npos) to_broken = true;
  }
  EXPECT_TRUE(to_broken) << "no link to the evidence of " << kBrokenScenario;
  const auto bad = tftpspec({"report", "merge", clean, "--html", "/nonexistent-dir/m.html"});
  EXPECT_EQ(bad.exit_code, 2) << bad.output;
}

// A stored JSON report rendered later gives what `run --html` and `run --junit` wrote.
TEST_F(CliReport, RenderWritesThePageAndJunitARunWouldHaveWritten) {
  ASSERT_EQ(run({"--reference-fault", kFault, "--json", path("broken.json"), "--html", path("run.html"), "--junit",
                 path("run.xml")})
                .exit_code,
            1);
  const auto r = tftpspec({"report", "render", path("broken.json"), "--html", path("later.html"), "--junit", path("later.xml")});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  // The same page, but for the script nonce of its Content-Security-Policy, new on every render.
  const auto without_nonce = [](const std::string& page) {
    return std::regex_replace(page, std::regex("nonce[-=]\"?[0-9a-f]+"), "nonce");
  };
  EXPECT_TRUE(without_nonce(slurp(path("later.html"))) == without_nonce(slurp(path("run.html"))))
      << "the rendered page differs from the one the run wrote";
  EXPECT_EQ(slurp(path("later.xml")), slurp(path("run.xml")));
  EXPECT_EQ(tftpspec({"report", "render", path("broken.json")}).exit_code, 2) << "no output asked for";
  std::ofstream(path("cut.json")) << slurp(path("broken.json")).substr(0, 100);
  const auto cut = tftpspec({"report", "render", path("cut.json"), "--html", path("x.html")});
  EXPECT_EQ(cut.exit_code, 2);
  EXPECT_NE(cut.output.find("cut.json"), std::string::npos) << cut.output;
  EXPECT_FALSE(std::filesystem::exists(path("x.html")));
}

TEST_F(CliReport, MergeOfAnUnreadableReportExitsTwoNamingIt) {
  const auto clean = clean_report();
  std::ofstream(path("cut.json")) << slurp(clean).substr(0, 100);
  std::ofstream(path("expectations.json")) << R"({"server": "s", "expectations": {}})";
  const auto r = tftpspec({"report", "merge", clean, path("cut.json"), path("expectations.json")});
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find(path("cut.json") + ": tftp.report.truncated"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find(path("expectations.json") + ": tftp.report.foreign"), std::string::npos) << r.output;
}

TEST_F(CliReport, RerunRepeatsTheRunWithItsSettingsAndSeed) {
  ASSERT_EQ(run({"--reference-fault", kFault, "--json", path("first.json")}).exit_code, 1);
  const auto r = tftpspec({"rerun", path("first.json"), "--json", path("second.json")});
  ASSERT_EQ(r.exit_code, 1) << r.output;
  const auto first = read_json(path("first.json"));
  const auto second = read_json(path("second.json"));
  EXPECT_EQ(second["run"], first["run"]);
  EXPECT_EQ(second["seed"], first["seed"]);
  EXPECT_EQ(second["catalogue_version"], first["catalogue_version"]);
  EXPECT_EQ(result_ids(second), result_ids(first));
  for (size_t i = 0; i < first["results"].size(); ++i) {
    EXPECT_EQ(second["results"][i]["verdict"], first["results"][i]["verdict"]) << first["results"][i]["id"];
  }
  EXPECT_EQ(r.output.find("catalogue"), std::string::npos) << "no catalogue warning for the same catalogue: " << r.output;
}

TEST_F(CliReport, RerunFailedRepeatsOnlyWhatDidNotPass) {
  ASSERT_EQ(run({"--reference-fault", kFault, "--json", path("first.json")}).exit_code, 1);
  const auto r = tftpspec({"rerun", path("first.json"), "--failed", "--json", path("failed.json")});
  ASSERT_EQ(r.exit_code, 1) << r.output;
  std::set<std::string> expected;
  const auto first = read_json(path("first.json"));
  for (const auto& x : first["results"]) {
    const std::string id = x["id"];
    const std::string v = x["verdict"];
    if (id.find('#') == std::string::npos && (v == "fail" || v == "warn" || v == "error")) expected.insert(id);
  }
  ASSERT_FALSE(expected.empty());
  std::set<std::string> ran;
  for (const auto& id : result_ids(read_json(path("failed.json")))) {
    if (id.find('#') == std::string::npos) ran.insert(id);  // the sanity scenario runs first and last in every run
  }
  EXPECT_EQ(ran, expected);
  EXPECT_TRUE(ran.count(kBrokenScenario));
  EXPECT_TRUE(ran.count(kFailingScenario));
}

TEST_F(CliReport, RerunWarnsWhenTheCatalogueChanged) {
  namespace fs = std::filesystem;
  fs::copy(std::string(TFTPSPEC_SOURCE_DIR) + "/scenarios", path("catalogue"), fs::copy_options::recursive);
  const auto first = run({"--scenarios", path("catalogue"), "--json", path("first.json")});
  ASSERT_EQ(first.exit_code, 0) << first.output;
  std::string yaml;
  for (const auto& e : fs::recursive_directory_iterator(path("catalogue"))) {
    if (e.path().extension() == ".yaml") yaml = e.path().string();
  }
  ASSERT_FALSE(yaml.empty());
  std::ofstream(yaml, std::ios::app) << "\n# edited after the first run\n";
  const auto r = tftpspec({"rerun", path("first.json")});
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("warning: the catalogue in " + path("catalogue")), std::string::npos) << r.output;
}

TEST_F(CliReport, RerunOfAnUnreadableReportExitsTwo) {
  std::ofstream(path("x.json")) << R"({"hello": "world"})";
  const auto r = tftpspec({"rerun", path("x.json")});
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("not a tftpspec file: a JSON object with keys hello"), std::string::npos) << r.output;
}

TEST_F(CliReport, HelpTeachesTheNewCommandsAndFlags) {
  const auto run_help = tftpspec({"run", "--help"});
  EXPECT_NE(run_help.output.find("--baseline"), std::string::npos) << run_help.output;
  const auto rerun_help = tftpspec({"rerun", "--help"});
  EXPECT_NE(rerun_help.output.find("--failed"), std::string::npos) << rerun_help.output;
  const auto merge_help = tftpspec({"report", "merge", "--help"});
  EXPECT_NE(merge_help.output.find("--differences"), std::string::npos) << merge_help.output;
  const auto typo = tftpspec({"report", "merge", "a.json", "--diferences"});
  EXPECT_EQ(typo.exit_code, 2);
  EXPECT_NE(typo.output.find("did you mean '--differences'"), std::string::npos) << typo.output;
}

}  // namespace
}  // namespace tftp
