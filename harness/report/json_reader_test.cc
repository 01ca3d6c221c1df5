#include "report/json_reader.h"

#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <variant>

#include "report/json_report.h"

namespace tftp::report {
namespace {

EvidenceLine line(size_t index, const char* direction) {
  return {index, 1.25 * static_cast<double>(index), direction, "127.0.0.1:40000", "127.0.0.1:69", "DATA block=1 size=512", 516,
          std::string(kMarkWithheld), "00 03 00 01"};
}

// Every field of the model set to something other than its default, so a field the writer
// writes and the reader forgets (or the other way round) makes the round trip unequal.
RunReport full_report() {
  RunReport r;
  r.tool_version = "9.8.7";
  r.catalogue_version = "3-scenarios-0123456789abcdef";
  r.command = "tftpspec run --target 127.0.0.1:6969 --seed 42";
  r.seed = 18446744073709551557ull;  // above 2^63: stays an unsigned integer in JSON
  r.started = "2026-11-26T02:50:41Z";
  r.finished = "2026-11-26T02:51:00Z";
  r.duration_ms = 19000.5;
  r.target.address = "127.0.0.1:6969";
  r.target.description = "tftpd-hpa";
  r.target.alive = true;
  r.target.capabilities = {"write", "options", "blksize"};
  r.target.rto_ms = 1000;
  r.target.srto_ms = 0.3;
  r.target.path = {5, 0.071, 0.012};
  r.target.fixtures = {{"f1.bin", "ok", ""}, {"f3000.bin", "different", "byte 17 differs"}};
  r.target.notes = {"ignores the timeout option"};
  r.selection = {"rfc1350.*", "!rfc1350.slow.*", "group:slow"};
  r.summary = {1, 2, 3, 4, 5, 6, 7, 8, 9};

  ScenarioResult s;
  s.id = "rfc1350.tid.stray-source";
  s.title = "A stray TID gets ERROR 5";
  s.citation = "RFC 1350 §4";
  s.requirement = "T1350-TID";
  s.requirements = {"T1350-TID", "T1350-ERR"};
  s.level = "MUST";
  s.summary = "the summary";
  s.file = "scenarios/rfc1350/tid.yaml:3";
  s.tags = {"tid", "security"};
  s.verdict = Verdict::kFail;
  s.reason = "no ERROR 5";
  s.decided_by = "T1350-TID";
  s.expected = "ERROR 5";
  s.observed = "nothing";
  s.duration_ms = 12.5;
  s.evidence = {line(0, "sent"), line(7, "received")};
  s.evidence_elided = 5;
  s.datagrams_dropped = 2;
  s.category = "security";
  FindingRecord f;
  f.id = "tftp.rule.tid";
  f.requirement = "T1350-TID";
  f.citation = "RFC 1350 §4";
  f.level = "MUST";
  f.cause = "answers a stray TID";
  f.category = "security";
  f.message = "DATA 2 went to the stray port";
  f.evidence = {0, 7};
  f.datagrams = {line(7, "received")};
  s.findings = {f};
  s.see_also = {"tftp.rule.x|cause"};
  s.retransmissions = {{"DATA block=1 size=512", {1000.5, 2001.25, 4000}, "gave up silently", "backs off (adaptive)"}};
  r.results.push_back(s);
  ScenarioResult pass;
  pass.id = "rfc1350.sanity#first";
  pass.level = "MUST";
  r.results.push_back(pass);

  RunFinding rf;
  rf.finding = f;
  rf.verdict = Verdict::kWarn;
  rf.first_seen_in = s.id;
  rf.scenarios = {s.id, "rfc1350.other"};
  rf.sightings = 3;
  r.findings.push_back(rf);
  r.interrupted = true;
  r.target_died_after = "rfc1350.other";

  RunSettings settings;
  settings.target = "127.0.0.1:6969";
  settings.root = "/srv/tftp";
  settings.upload_fixtures = true;
  settings.include = {"rfc1350.*"};
  settings.exclude = {"rfc1350.slow.*"};
  settings.slow = true;
  settings.jobs = 4;
  settings.reference_faults = {"corrupt_data"};
  settings.scenarios = "/tmp/catalogue";
  r.run = settings;

  BaselineComparison b;
  b.file = "old.json";
  b.kind = BaselineKind::kExpectations;
  b.description = "tftpd-hpa 5.2";
  b.not_selected = 4;
  b.changes.push_back({ChangeKind::kNewFail, s.id, Verdict::kPass, Verdict::kFail, "no ERROR 5", "why", true});
  b.changes.push_back({ChangeKind::kFindingGone, "tftp.rule.x|cause", Verdict::kNote, std::nullopt, "", "", false});
  r.baseline = b;
  return r;
}

Result<RunReport, ReadError> read_text(const std::string& text) {
  return parse_json(text).and_then([](const nlohmann::json& doc) { return read_report(doc); });
}

TEST(ReportReader, ReadsBackEverythingTheWriterWrites) {
  const RunReport original = full_report();
  const std::string text = to_json(original).dump(2);
  auto read = read_text(text);
  ASSERT_TRUE(read) << read.error().to_string();
  EXPECT_EQ(*read, original);
  EXPECT_EQ(to_json(*read), to_json(original));
}

TEST(ReportReader, ReadsAReportWithoutTheOptionalSections) {
  RunReport original = full_report();
  original.run.reset();
  original.baseline.reset();
  original.target_died_after.reset();
  auto read = read_text(to_json(original).dump());
  ASSERT_TRUE(read) << read.error().to_string();
  EXPECT_EQ(*read, original);
}

TEST(ReportReader, TruncatedFileSaysSoAndWhere) {
  const std::string text = to_json(full_report()).dump(2);
  auto read = read_text(text.substr(0, text.size() / 2));
  ASSERT_FALSE(read);
  EXPECT_EQ(read.error().code, ReadErrc::kTruncated);
  EXPECT_EQ(read.error().id(), "tftp.report.truncated");
  EXPECT_NE(read.error().where.find("line "), std::string::npos) << read.error().to_string();
  EXPECT_NE(read.error().detail.find("cut short"), std::string::npos) << read.error().to_string();

  auto empty = read_text("  \n");
  ASSERT_FALSE(empty);
  EXPECT_EQ(empty.error().code, ReadErrc::kTruncated);
}

TEST(ReportReader, SyntaxErrorNamesLineAndColumn) {
  auto read = read_text("{\n  \"results\": tru,\n  \"x\": 1\n}");
  ASSERT_FALSE(read);
  EXPECT_EQ(read.error().code, ReadErrc::kInvalidJson);
  EXPECT_NE(read.error().where.find("line 2"), std::string::npos) << read.error().to_string();
}

TEST(ReportReader, ForeignFilesSayWhatTheyLookLike) {
  const auto foreign = [](const std::string& text) {
    auto read = read_text(text);
    EXPECT_FALSE(read) << text;
    if (read) return std::string();
    EXPECT_EQ(read.error().code, ReadErrc::kForeign) << read.error().to_string();
    return read.error().detail;
  };
  EXPECT_NE(foreign("<?xml version=\"1.0\"?><testsuites/>").find("not JSON: it begins with '<?xml"), std::string::npos);
  EXPECT_NE(foreign("{\"name\": \"x\", \"version\": 1}").find("a JSON object with keys name, version"), std::string::npos);
  EXPECT_NE(foreign("[{\"id\": \"a\", \"level\": \"MUST\", \"group\": \"default\"}]").find("tftpspec run --list --json"),
            std::string::npos);
  EXPECT_NE(foreign("{\"$schema\": \"https://json-schema.org/draft/2020-12/schema\", \"title\": \"T\"}").find("a JSON Schema (T)"),
            std::string::npos);
  EXPECT_NE(foreign("{\"$schema\": \"https://tftpspec.dev/schema/matrix-1.json\"}").find("matrix"), std::string::npos);
  EXPECT_NE(foreign("{\"server\": \"s\", \"expectations\": {}}").find("expectations file, not a tftpspec run report"),
            std::string::npos);
  EXPECT_NE(foreign("42").find("a JSON number"), std::string::npos);
}

TEST(ReportReader, NewerFormatNamesBothVersions) {
  auto doc = to_json(full_report());
  doc["$schema"] = "https://tftpspec.dev/schema/report-3.json";
  auto read = read_report(doc);
  ASSERT_FALSE(read);
  EXPECT_EQ(read.error().code, ReadErrc::kNewerVersion);
  EXPECT_NE(read.error().detail.find("report-3"), std::string::npos) << read.error().to_string();
  EXPECT_NE(read.error().detail.find("reads up to report-2"), std::string::npos) << read.error().to_string();
}

TEST(ReportReader, WrongFieldIsNamedByItsPointer) {
  auto doc = to_json(full_report());
  doc["results"][0]["verdict"] = "fial";
  auto read = read_report(doc);
  ASSERT_FALSE(read);
  EXPECT_EQ(read.error().code, ReadErrc::kMalformed);
  EXPECT_EQ(read.error().where, "/results/0/verdict");
  EXPECT_NE(read.error().detail.find("'fial' is not a verdict"), std::string::npos);

  doc = to_json(full_report());
  doc.erase("results");
  read = read_report(doc);
  ASSERT_FALSE(read);
  EXPECT_EQ(read.error().where, "/results");
}

TEST(ExpectationsReader, ReadsTheCataloguesExpectationFiles) {
  for (const char* server : {"tftpd-hpa", "atftpd", "dnsmasq"}) {
    auto read = read_expectations_file(std::string(TFTPSPEC_SOURCE_DIR) + "/scenarios/expectations/" + server + ".json");
    ASSERT_TRUE(read) << server << ": " << read.error().to_string();
    EXPECT_FALSE(read->server.empty());
    EXPECT_FALSE(read->scenarios.empty()) << server;
    EXPECT_FALSE(read->findings.empty()) << server;
  }
}

TEST(ExpectationsReader, EveryEntryNeedsAWhy) {
  auto read = parse_json(R"({"server": "s", "expectations": {"a.b": {"verdict": "warn", "why": ""}}})")
                  .and_then([](const nlohmann::json& doc) { return read_expectations(doc); });
  ASSERT_FALSE(read);
  EXPECT_EQ(read.error().code, ReadErrc::kMalformed);
  EXPECT_EQ(read.error().where, "/expectations/a.b/why");
}

TEST(ExpectationsReader, AcceptsCommentsAndNoSchemaLine) {
  auto read = parse_json("// known deviations of our server\n"
                         R"({"server": "s", "expectations": {"a.b": {"verdict": "fail", "why": "known"}},)"
                         R"( "findings": {"r|c": {"verdict": "note", "why": "timer"}}})")
                  .and_then([](const nlohmann::json& doc) { return read_expectations(doc); });
  ASSERT_TRUE(read) << read.error().to_string();
  EXPECT_EQ(read->scenarios.at("a.b"), (Expectation{Verdict::kFail, "known"}));
  EXPECT_EQ(read->findings.at("r|c").verdict, Verdict::kNote);
}

TEST(BaselineReader, TellsReportsFromExpectationsByContent) {
  const auto dir = std::filesystem::temp_directory_path() / ("tftpspec-reader-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "r.json") << to_json(full_report()).dump();
  std::ofstream(dir / "e.json") << R"({"server": "s", "expectations": {}})";
  std::ofstream(dir / "m.json") << R"({"$schema": "https://tftpspec.dev/schema/matrix-1.json", "columns": []})";
  auto report = read_baseline_file(dir / "r.json");
  ASSERT_TRUE(report) << report.error().to_string();
  EXPECT_TRUE(std::holds_alternative<RunReport>(*report));
  auto expectations = read_baseline_file(dir / "e.json");
  ASSERT_TRUE(expectations) << expectations.error().to_string();
  EXPECT_TRUE(std::holds_alternative<Expectations>(*expectations));
  auto matrix = read_baseline_file(dir / "m.json");
  ASSERT_FALSE(matrix);
  EXPECT_NE(matrix.error().detail.find("not a run report or an expectations file"), std::string::npos);
  auto missing = read_baseline_file(dir / "none.json");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, ReadErrc::kUnreadable);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace tftp::report
