#include "report/junit_report.h"

#include <gtest/gtest.h>

#include <string>

namespace tftp::report {
namespace {

ScenarioResult result(const std::string& id, Verdict verdict, const std::string& reason = "") {
  ScenarioResult r;
  r.id = id;
  r.title = "title of " + id;
  r.citation = "RFC 1350 §6";
  r.requirement = "rfc1350.req";
  r.requirements = {"rfc1350.req"};
  r.level = "MUST";
  r.file = "scenarios/x.yaml:1";
  r.verdict = verdict;
  r.reason = reason;
  r.duration_ms = 12;
  return r;
}

EvidenceLine datagram(const std::string& direction, const std::string& packet) {
  return {0, 1.25, direction, "127.0.0.1:40000", "127.0.0.1:69", packet, 20, "", ""};
}

RunReport sample_run() {
  RunReport run;
  run.tool_version = "0.1.0";
  run.started = "2026-01-01T00:00:00Z";
  run.duration_ms = 1500;
  run.target.address = "embedded";
  run.target.alive = true;
  run.results = {result("rfc1350.a", Verdict::kPass), result("rfc1350.b", Verdict::kFail, "DATA 2 sent twice"),
                 result("rfc1350.c", Verdict::kWarn, "no dally"), result("rfc2347.d", Verdict::kSkip, "no options"),
                 result("sanity.e", Verdict::kError, "fixture missing"), result("rfc1350.f", Verdict::kNote, "rolled over to 0")};
  auto& failed = run.results[1];
  failed.decided_by = "rfc1123.sas";
  failed.expected = "one DATA 2";
  failed.observed = "two DATA 2";
  failed.evidence = {datagram("sent", "RRQ \"f1024.bin\" octet"), datagram("received", "DATA block=1 size=512")};
  return run;
}

size_t count(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

TEST(JUnitReport, OneSuitePerGroupWithItsCounts) {
  const std::string xml = render_junit(sample_run());
  EXPECT_EQ(xml.rfind("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"tftpspec\" tests=\"6\" failures=\"1\" "
                      "errors=\"1\" time=\"1.500\">",
                      0),
            0u)
      << xml;
  EXPECT_NE(xml.find("<testsuite name=\"tftpspec.rfc1350\" tests=\"4\" failures=\"1\" errors=\"0\" skipped=\"0\" time=\"0.048\""),
            std::string::npos)
      << xml;
  EXPECT_NE(xml.find("<testsuite name=\"tftpspec.rfc2347\" tests=\"1\" failures=\"0\" errors=\"0\" skipped=\"1\""), std::string::npos);
  EXPECT_NE(xml.find("<testsuite name=\"tftpspec.sanity\" tests=\"1\" failures=\"0\" errors=\"1\" skipped=\"0\""), std::string::npos);
  EXPECT_EQ(count(xml, "<testsuite "), 3u);
  EXPECT_EQ(count(xml, "<testcase "), 6u);
  EXPECT_NE(xml.find("<testcase classname=\"tftpspec.rfc1350\" name=\"rfc1350.a\" time=\"0.012\"/>"), std::string::npos) << xml;
}

TEST(JUnitReport, FailureCarriesRequirementExpectedObservedAndTheDatagrams) {
  const std::string xml = render_junit(sample_run());
  const size_t at = xml.find("<failure message=\"[rfc1123.sas] DATA 2 sent twice\" type=\"MUST\">");
  ASSERT_NE(at, std::string::npos) << xml;
  const std::string body = xml.substr(at, xml.find("</failure>", at) - at);
  for (const char* want : {"requirements: rfc1350.req\nlevel: MUST", "citation: RFC 1350 §6", "expected: one DATA 2",
                           "observed: two DATA 2", "scenario: scenarios/x.yaml:1", "-- RRQ &quot;f1024.bin&quot; octet",
                           "DATA block=1 size=512 --|"}) {
    EXPECT_NE(body.find(want), std::string::npos) << want << " missing from\n" << body;
  }
}

TEST(JUnitReport, SkipAndErrorGetTheirElements) {
  const std::string xml = render_junit(sample_run());
  EXPECT_NE(xml.find("<skipped message=\"no options\"/>"), std::string::npos) << xml;
  EXPECT_NE(xml.find("<error message=\"fixture missing\" type=\"harness\">"), std::string::npos) << xml;
}

// A SHOULD broken exits 0: JUnit shows it as a pass, with the warning in its output.
TEST(JUnitReport, WarnAndNotePassButStayVisible) {
  const std::string xml = render_junit(sample_run());
  const size_t warn = xml.find("name=\"rfc1350.c\"");
  ASSERT_NE(warn, std::string::npos);
  const std::string warn_case = xml.substr(warn, xml.find("</testcase>", warn) - warn);
  EXPECT_NE(warn_case.find("<system-out>WARN: no dally"), std::string::npos) << warn_case;
  EXPECT_EQ(warn_case.find("<failure"), std::string::npos) << warn_case;
  EXPECT_NE(xml.find("<system-out>NOTE: rolled over to 0"), std::string::npos) << xml;
  EXPECT_NE(xml.find("<property name=\"tftpspec.warn\" value=\"1\"/>"), std::string::npos) << xml;
  EXPECT_NE(xml.find("<property name=\"tftpspec.note\" value=\"1\"/>"), std::string::npos) << xml;
}

// A MUST among the run-wide findings makes the run exit 1: CI must see it as a failure.
TEST(JUnitReport, RunWideMustFindingIsAFailureOfTheFindingsSuite) {
  auto run = sample_run();
  RunFinding must;
  must.finding = {"tftp.tid.wrong_source", "rfc1350.tid", "RFC 1350 §4", "MUST", "answered from port 69", "",
                  "DATA 1 came from the listening port", {0}, {datagram("received", "DATA block=1 size=512")}};
  must.verdict = Verdict::kFail;
  must.first_seen_in = "rfc1350.a";
  must.scenarios = {"rfc1350.a", "rfc1350.b"};
  must.sightings = 2;
  RunFinding should = must;
  should.finding.id = "tftp.other";
  should.finding.level = "SHOULD";
  should.verdict = Verdict::kWarn;
  run.findings = {must, should};
  const std::string xml = render_junit(run);
  EXPECT_NE(xml.find("<testsuite name=\"tftpspec.findings\" tests=\"2\" failures=\"1\" errors=\"0\" skipped=\"0\""),
            std::string::npos)
      << xml;
  EXPECT_NE(xml.find("<testsuites name=\"tftpspec\" tests=\"8\" failures=\"2\" errors=\"1\""), std::string::npos) << xml;
  const size_t at = xml.find("name=\"tftp.tid.wrong_source|answered from port 69\"");
  ASSERT_NE(at, std::string::npos) << xml;
  const std::string body = xml.substr(at, xml.find("</testcase>", at) - at);
  EXPECT_NE(body.find("<failure message=\"[rfc1350.tid] DATA 1 came from the listening port\" type=\"MUST\">"), std::string::npos)
      << body;
  EXPECT_NE(body.find("first in rfc1350.a: rfc1350.a, rfc1350.b"), std::string::npos) << body;
  EXPECT_NE(xml.find("<system-out>WARN: [rfc1350.tid]"), std::string::npos) << xml;
}

TEST(JUnitReport, NoFindingsNoFindingsSuite) {
  EXPECT_EQ(render_junit(sample_run()).find("tftpspec.findings"), std::string::npos);
}

TEST(XmlEscape, EscapesMarkupAndTheCdataEnd) {
  EXPECT_EQ(xml_escape("a<b>&\"c\"]]>"), "a&lt;b&gt;&amp;&quot;c&quot;]]&gt;");
}

TEST(XmlEscape, KeepsWellFormedUtf8) {
  EXPECT_EQ(xml_escape("RFC 1350 §6 — 日本 \xF0\x9F\x98\x80"), "RFC 1350 §6 — 日本 \xF0\x9F\x98\x80");
}

// XML 1.0 §2.2: only tab, newline and return below U+0020; no U+FFFE, U+FFFF; no surrogates.
TEST(XmlEscape, WritesWhatXml10CannotCarryAsVisibleEscapes) {
  EXPECT_EQ(xml_escape(std::string("\x00\x01\x1b[31m\x7f", 8)), "\\x00\\x01\\x1B[31m\x7f");
  EXPECT_EQ(xml_escape("\xEF\xBF\xBE\xEF\xBF\xBF"), "\\uFFFE\\uFFFF");
  EXPECT_EQ(xml_escape("\xFF\xFE"), "\\xFF\\xFE");                 // not UTF-8 at all
  EXPECT_EQ(xml_escape("\xC0\xAF"), "\\xC0\\xAF");                 // overlong '/'
  EXPECT_EQ(xml_escape("\xED\xA0\x80"), "\\xED\\xA0\\x80");        // a surrogate
  EXPECT_EQ(xml_escape("\xF4\x90\x80\x80"), "\\xF4\\x90\\x80\\x80");  // above U+10FFFF
  EXPECT_EQ(xml_escape("ok\xE2\x82"), "ok\\xE2\\x82");             // cut short
}

TEST(XmlEscape, AttributesKeepTabsAndLineBreaksAsReferences) {
  EXPECT_EQ(xml_escape("a\tb\nc\rd", true), "a&#9;b&#10;c&#13;d");
  EXPECT_EQ(xml_escape("a\tb\nc\rd"), "a\tb\nc&#13;d");
}

// Target-controlled text (a file name, an error message) reaches ids, reasons and
// evidence: nothing of it may break the document.
TEST(JUnitReport, HostileTextCannotBreakTheDocument) {
  const std::string hostile = "]]><x a=\"&\x01\x1b\xff\xc0\xaf\xef\xbf\xbe\r\n</testcase>";
  auto run = sample_run();
  for (auto& r : run.results) {
    r.id += hostile;
    r.reason += hostile;
    r.observed = hostile;
  }
  run.results[1].evidence[0].packet = "RRQ " + hostile;
  run.command = hostile;
  const std::string xml = render_junit(run);
  EXPECT_EQ(count(xml, "]]>"), 0u);
  EXPECT_EQ(count(xml, "<x "), 0u);
  EXPECT_EQ(count(xml, "</testcase>"), 5u) << "one per testcase with content, none from the text";
  for (char c : xml) {
    const auto u = static_cast<unsigned char>(c);
    EXPECT_TRUE(u >= 0x20 || c == '\n' || c == '\t') << "raw control byte " << int(u);
    EXPECT_NE(u, 0xFF);
  }
}

}  // namespace
}  // namespace tftp::report
