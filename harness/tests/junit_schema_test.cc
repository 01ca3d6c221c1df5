// The JUnit report against its schema (reports/tftpspec-junit.xsd) with xmllint
// (libxml2-utils, from scripts/setup.sh): real runs of the catalogue, a report full of
// hostile text, and a broken report the schema must reject (so the check can fail).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "report/junit_report.h"
#include "tests/support/process.h"

namespace tftp {
namespace {

using namespace std::chrono_literals;
using namespace std::string_literals;
using testing::run_command;
using testing::TempDir;

const std::string kSchema = std::string(TFTPSPEC_SOURCE_DIR) + "/reports/tftpspec-junit.xsd";

testing::CommandResult xmllint(const std::filesystem::path& file) {
  return run_command({"xmllint", "--schema", kSchema, "--noout", file.string()}, 60s);
}

std::filesystem::path write(const TempDir& dir, const std::string& name, const std::string& text) {
  const auto path = dir.path() / name;
  std::ofstream(path, std::ios::binary) << text;
  return path;
}

std::string read(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// Every field a target can influence, filled with what breaks naive XML writers.
report::RunReport hostile_run() {
  const std::string hostile = "]]><x a=\"&\x01\x1b\xff\xc0\xaf\xef\xbf\xbe\r\n\x00</testcase>"s;
  report::RunReport run;
  run.command = hostile;
  run.started = hostile;
  run.target.address = hostile;
  for (auto verdict : {report::Verdict::kPass, report::Verdict::kNote, report::Verdict::kWarn, report::Verdict::kFail,
                       report::Verdict::kSkip, report::Verdict::kError}) {
    report::ScenarioResult r;
    r.id = "rfc1350." + std::string(report::verdict_name(verdict)) + hostile;
    r.verdict = verdict;
    r.reason = r.expected = r.observed = r.title = r.citation = hostile;
    r.evidence.push_back({0, 1.5, "received", hostile, hostile, "ERROR code=0 msg=" + hostile, 30, "", ""});
    run.results.push_back(r);
  }
  report::RunFinding f;
  f.finding.id = hostile;
  f.finding.message = hostile;
  f.finding.level = hostile;
  f.verdict = report::Verdict::kFail;
  run.findings.push_back(f);
  return run;
}

TEST(JUnitSchema, AReportOfHostileTextValidates) {
  TempDir dir;
  auto r = xmllint(write(dir, "hostile.xml", report::render_junit(hostile_run())));
  EXPECT_EQ(r.exit_code, 0) << r.output;
}

// The check above can fail: the same report without a required attribute does not validate.
TEST(JUnitSchema, ABrokenReportIsRejected) {
  TempDir dir;
  std::string xml = report::render_junit(hostile_run());
  const size_t at = xml.find(" classname=");
  ASSERT_NE(at, std::string::npos);
  xml.replace(at, 11, " klassname=");
  auto r = xmllint(write(dir, "broken.xml", xml));
  EXPECT_NE(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("classname"), std::string::npos) << r.output;
}

TEST(JUnitSchema, RunsOfTheCatalogueValidate) {
  TempDir dir;
  const auto clean = dir.path() / "clean.xml";
  auto r = run_command({TFTPSPEC_BINARY, "run", "--seed", "1", "--junit", clean.string()}, 240s);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("junit report: " + clean.string()), std::string::npos) << r.output;
  auto valid = xmllint(clean);
  EXPECT_EQ(valid.exit_code, 0) << valid.output;
  EXPECT_NE(read(clean).find("<testsuite name=\"tftpspec.rfc1350\""), std::string::npos);

  // Faults make fails, warns, notes and run-wide findings: the exit status is 1 by design.
  const auto faults = dir.path() / "faults.xml";
  r = run_command({TFTPSPEC_BINARY, "run", "--seed", "2", "--reference-fault", "answer_from_listen_port", "--reference-fault",
                   "resend_on_duplicate_ack", "--reference-fault", "allow_traversal", "--junit", faults.string()},
                  240s);
  ASSERT_EQ(r.exit_code, 1) << r.output;
  valid = xmllint(faults);
  EXPECT_EQ(valid.exit_code, 0) << valid.output;
  const std::string xml = read(faults);
  EXPECT_NE(xml.find("<failure "), std::string::npos);
  EXPECT_NE(xml.find("<testsuite name=\"tftpspec.findings\""), std::string::npos);
}

TEST(JUnitSchema, UnwritableJunitPathExitsTwoBeforeAnyScenarioRan) {
  auto r = run_command({TFTPSPEC_BINARY, "run", "--junit", "/nonexistent/j.xml"}, 60s);
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("--junit /nonexistent/j.xml: directory /nonexistent does not exist"), std::string::npos) << r.output;
  EXPECT_EQ(r.output.find("scenarios against"), std::string::npos) << "the run started: " << r.output;
}

}  // namespace
}  // namespace tftp
