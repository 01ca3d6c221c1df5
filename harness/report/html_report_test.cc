// The HTML page's structure, from reports built in code: self-contained, escaped, filters
// that work without JS, a ladder for every non-pass, the findings, links that land.
#include "report/html_report.h"

#include <gtest/gtest.h>

#include <regex>
#include <set>

namespace tftp::report {
namespace {

// What a hostile server might put in an ERROR message or a filename.
const std::string kHostile = "<script>alert(1)</script><img src=x onerror=alert(2)>\"'&amp;</pre>";

size_t count(const std::string& haystack, const std::string& needle) {
  size_t n = 0;
  for (size_t at = haystack.find(needle); at != std::string::npos; at = haystack.find(needle, at + 1)) ++n;
  return n;
}

EvidenceLine line(size_t index, double t, bool sent, std::string packet, std::string mark = "", std::string hex = "") {
  return EvidenceLine{index,
                      t,
                      sent ? "sent" : "received",
                      sent ? "127.0.0.1:40000" : "127.0.0.1:50000",
                      sent ? "127.0.0.1:50000" : "127.0.0.1:40000",
                      std::move(packet),
                      4,
                      std::move(mark),
                      std::move(hex)};
}

ScenarioResult scenario(std::string id, Verdict v, std::string level = "MUST") {
  ScenarioResult s;
  s.id = std::move(id);
  s.title = "title of " + s.id;
  s.citation = "RFC 1350 §4";
  s.requirement = "R1350-TID";
  s.requirements = {"R1350-TID"};
  s.level = std::move(level);
  s.summary = "what " + s.id + " checks";
  s.file = "scenarios/x.yaml:1";
  s.verdict = v;
  if (v != Verdict::kPass) s.reason = "reason of " + s.id;
  s.evidence = {line(0, 0, true, "RRQ \"f1.bin\" octet"), line(1, 1.5, false, "DATA block=1 size=512")};
  return s;
}

FindingRecord finding(std::string id, std::vector<size_t> evidence) {
  FindingRecord f;
  f.id = std::move(id);
  f.requirement = "R1123-SAS";
  f.citation = "RFC 1123 §4.2.3.1";
  f.level = "MUST";
  f.cause = "resends DATA on a duplicate ACK";
  f.message = "DATA 2 sent twice";
  f.evidence = std::move(evidence);
  return f;
}

// One of each verdict in two groups, a failing scenario with every kind of mark and a
// hostile ERROR, and one run-wide finding seen by two scenarios.
RunReport sample() {
  RunReport r;
  r.tool_version = "0.1.0";
  r.catalogue_version = "5-scenarios-0123456789abcdef";
  r.command = "tftpspec run --seed 7 --html out.html";
  r.seed = 7;
  r.started = "2026-11-26T02:00:00Z";
  r.finished = "2026-11-26T02:00:03Z";
  r.duration_ms = 3000;
  r.target.address = "127.0.0.1:6969";
  r.target.description = "tftpd under test";
  r.target.alive = true;
  r.results.push_back(scenario("rfc1350.a.pass", Verdict::kPass));
  r.results.push_back(scenario("rfc1350.b.note", Verdict::kNote, "MAY"));
  r.results.push_back(scenario("rfc2347.c.warn", Verdict::kWarn, "SHOULD"));
  r.results.push_back(scenario("rfc2347.d.skip", Verdict::kSkip));
  r.results.push_back(scenario("sanity#first", Verdict::kError));
  auto fail = scenario("rfc1350.e.fail", Verdict::kFail);
  fail.evidence = {line(0, 0, true, "RRQ \"f1.bin\" octet"),
                   line(1, 1.25, false, "DATA block=1 size=512"),
                   line(2, 2, true, "ACK block=1", std::string(kMarkWithheld), "00 04 00 01"),
                   line(2, 3, true, "ACK block=1"),
                   line(3, 3.5, true, "ACK block=1", std::string(kMarkDuplicate)),
                   line(4, 4, false, "ERROR code=1 message=" + kHostile, "", "00 05 00 01 3c 73")};
  fail.findings = {finding("tftp.rule.error_text", {4})};
  fail.reason = "the target said " + kHostile;
  fail.expected = "DATA 2";
  fail.observed = "ERROR " + kHostile;
  fail.see_also = {"tftp.rule.sas|resends DATA on a duplicate ACK"};
  r.results.push_back(fail);
  RunFinding rf;
  rf.finding = finding("tftp.rule.sas", {1});
  rf.finding.datagrams = {line(1, 1.25, false, "DATA block=1 size=512", "", "00 03 00 01")};
  rf.verdict = Verdict::kFail;
  rf.first_seen_in = "rfc1350.e.fail";
  rf.scenarios = {"rfc1350.e.fail", "rfc2347.c.warn"};
  rf.sightings = 3;
  r.findings = {rf};
  order_and_summarize(r);
  return r;
}

std::set<std::string> captures(const std::string& page, const std::string& pattern) {
  std::set<std::string> out;
  const std::regex re(pattern);
  for (auto it = std::sregex_iterator(page.begin(), page.end(), re); it != std::sregex_iterator(); ++it) out.insert((*it)[1]);
  return out;
}

// Every in-page link (but the #only= filter links) names an element id of the page.
void expect_links_land(const std::string& page) {
  const auto ids = captures(page, "id=\"([^\"]+)\"");
  const auto links = captures(page, "href=\"#([^\"]+)\"");
  size_t checked = 0;
  for (const auto& l : links) {
    if (l.rfind("only=", 0) == 0) continue;
    EXPECT_TRUE(ids.count(l)) << "#" << l << " has no target";
    ++checked;
  }
  EXPECT_GT(checked, 0u);
}

TEST(HtmlReport, IsOneSelfContainedPage) {
  const auto page = render_html(sample());
  EXPECT_EQ(page.rfind("<!DOCTYPE html>", 0), 0u);
  EXPECT_NE(page.find("</html>"), std::string::npos);
  for (const char* outside : {"http:", "https:", "<link", "@import", "url(", "src=\"", "//fonts"}) {
    EXPECT_EQ(page.find(outside), std::string::npos) << outside;
  }
  EXPECT_NE(page.find("default-src 'none'"), std::string::npos) << "the page's policy forbids fetches";
}

TEST(HtmlReport, HeaderNamesToolTargetSeedCommandAndCatalogue) {
  const auto page = render_html(sample());
  for (const char* s : {"tftpspec 0.1.0", "127.0.0.1:6969", "tftpd under test", "2026-11-26T02:00:00Z", "3.00 s",
                        "<dd>7</dd>", "tftpspec run --seed 7 --html out.html", "5-scenarios-0123456789abcdef"}) {
    EXPECT_NE(page.find(s), std::string::npos) << s;
  }
}

TEST(HtmlReport, EscapesEverythingTheTargetSaid) {
  const auto page = render_html(sample());
  EXPECT_EQ(count(page, "<script"), 1u) << "only the page's own script";
  EXPECT_EQ(page.find("<img"), std::string::npos);
  EXPECT_EQ(page.find("alert(1)</script>"), std::string::npos);
  EXPECT_NE(page.find("&lt;script&gt;alert(1)&lt;/script&gt;&lt;img src=x onerror=alert(2)&gt;&quot;&#39;&amp;amp;&lt;/pre&gt;"),
            std::string::npos);
  // In the ladder, the reason and expected-vs-observed alike.
  EXPECT_GE(count(page, "&lt;script&gt;alert(1)"), 3u);
}

TEST(HtmlReport, HtmlEscapeCoversTextAndBothAttributeQuotes) {
  EXPECT_EQ(html_escape("a<b>&\"'c"), "a&lt;b&gt;&amp;&quot;&#39;c");
  EXPECT_EQ(html_escape(""), "");
}

TEST(HtmlReport, SummarizesByRfcGroupAndByLevel) {
  const auto page = render_html(sample());
  // pass note warn fail skip error total
  EXPECT_NE(page.find("<tr><th>rfc1350</th><td class=\"n c-pass\">1</td><td class=\"n c-note\">1</td><td class=\"n z\">0</td>"
                      "<td class=\"n c-fail\">1</td><td class=\"n z\">0</td><td class=\"n z\">0</td><td class=\"n\">3</td></tr>"),
            std::string::npos);
  EXPECT_NE(page.find("<tr><th>sanity</th>"), std::string::npos);
  EXPECT_NE(page.find("<tr><th>all</th>"), std::string::npos);
  const auto must = page.find("<tr><th>MUST</th>");
  const auto should = page.find("<tr><th>SHOULD</th>");
  const auto may = page.find("<tr><th>MAY</th>");
  ASSERT_NE(must, std::string::npos);
  EXPECT_LT(must, should);
  EXPECT_LT(should, may);
  EXPECT_NE(page.find("<td class=\"n c-error\">1</td><td class=\"n\">4</td></tr>", must), std::string::npos)
      << "MUST: pass, fail, skip, error";
}

TEST(HtmlReport, EveryScenarioIsShownWithItsRequirementAndEveryNonPassWithALadder) {
  const auto r = sample();
  const auto page = render_html(r);
  for (const auto& s : r.results) {
    const auto at = page.find("id=\"" + html_anchor("", s.id) + "\"");
    ASSERT_NE(at, std::string::npos) << s.id;
    const auto end = page.find("</details>", at);
    const auto section = page.substr(at, end - at);
    EXPECT_NE(section.find("class=\"badge b-" + std::string(verdict_name(s.verdict))), std::string::npos) << s.id;
    EXPECT_NE(section.find("R1350-TID"), std::string::npos) << s.id;
    EXPECT_NE(section.find(html_escape(s.citation)), std::string::npos) << s.id;
    EXPECT_NE(section.find(s.title), std::string::npos) << s.id;
    EXPECT_NE(section.find(s.summary), std::string::npos) << s.id;
    const bool pass = s.verdict == Verdict::kPass;
    EXPECT_EQ(section.find("class=\"lad\"") != std::string::npos, !pass) << s.id;
    EXPECT_EQ(section.find(" open>") != std::string::npos, !pass) << "non-passes are open: " << s.id;
  }
  EXPECT_NE(page.find("<b>expected</b><pre>DATA 2</pre>"), std::string::npos);
}

TEST(HtmlReport, LadderMarksWithheldDuplicatedAndCitedDatagrams) {
  const auto page = render_html(sample());
  const auto at = page.find("id=\"s-rfc1350.e.fail\"");
  const auto section = page.substr(at, page.find("</details>", at) - at);
  EXPECT_EQ(count(section, "<span class=\"mark m-withheld\">withheld</span>"), 1u);
  EXPECT_EQ(count(section, "<span class=\"mark m-duplicate\">duplicate</span>"), 1u);
  EXPECT_EQ(count(section, "<span class=\"mark m-cited\">cited</span>"), 1u) << "datagram 4, not the withheld one before 2";
  EXPECT_NE(section.find("<code class=\"hex\">00 05 00 01 3c 73</code>"), std::string::npos);
  EXPECT_NE(section.find("<code class=\"hex\">00 04 00 01</code>"), std::string::npos) << "the withheld ACK's bytes";
  EXPECT_NE(section.find("class=\"a recv offending\""), std::string::npos);
  EXPECT_NE(section.find("class=\"a sent withheld\""), std::string::npos);
  // Harness on the left, target on the right, whatever the direction.
  EXPECT_NE(section.find("<div class=\"recv offending\">127.0.0.1:40000</div><div class=\"a recv offending\">"),
            std::string::npos);
}

TEST(HtmlReport, LongEvidenceIsCutButKeepsWhatItCites) {
  auto r = sample();
  auto& s = r.results.back();
  ASSERT_EQ(s.id, "sanity#first");
  s.evidence.clear();
  for (size_t i = 0; i < 500; ++i) s.evidence.push_back(line(i, static_cast<double>(i), i % 2 == 0, "DATA block=" + std::to_string(i)));
  s.evidence_elided = 1000;
  s.evidence[250].hex = "00 03 00 fa";
  s.findings = {finding("tftp.rule.x", {250})};
  const auto page = render_html(r);
  const auto at = page.find("id=\"" + html_anchor("", s.id) + "\"");
  const auto section = page.substr(at, page.find("</details>", at) - at);
  EXPECT_NE(section.find("DATA block=250"), std::string::npos);
  EXPECT_NE(section.find("00 03 00 fa"), std::string::npos);
  EXPECT_EQ(section.find("DATA block=100 <span"), std::string::npos);
  EXPECT_EQ(count(section, "more in the JSON report"), 2u) << "before and after the cited datagram";
  EXPECT_LT(section.size(), 40'000u);
}

TEST(HtmlReport, VerdictFiltersAreCheckboxesThatWorkWithoutScript) {
  const auto page = render_html(sample());
  const auto main = page.find("<main>");
  ASSERT_NE(main, std::string::npos);
  for (Verdict v : kAllVerdicts) {
    const std::string n(verdict_name(v));
    const auto box = page.find("<input type=\"checkbox\" class=\"flt\" id=\"show-" + n + "\" data-v=\"" + n + "\" checked>");
    ASSERT_NE(box, std::string::npos) << n;
    EXPECT_LT(box, main) << "a sibling before <main>, for the ~ selector";
    EXPECT_LT(box, page.find("<div class=\"filters\">")) << "not inside the bar: <main>'s sibling";
    EXPECT_GT(box, page.find("<body>"));
    EXPECT_NE(page.find("<label for=\"show-" + n + "\">"), std::string::npos);
    const auto rule = page.find("#show-" + n + ":not(:checked)~main .v-" + n + "{display:none}");
    EXPECT_LT(rule, page.find("</head>")) << n;
  }
  EXPECT_NE(page.find("href=\"#only=fail,error,warn\""), std::string::npos);
  EXPECT_NE(page.find("class=\"scenario v-fail\""), std::string::npos);
  EXPECT_NE(page.find("class=\"scenario finding v-fail\""), std::string::npos);
}

TEST(HtmlReport, RunWideFindingsListTheScenariosThatSawThem) {
  const auto page = render_html(sample());
  const auto at = page.find("id=\"finding-0\"");
  ASSERT_NE(at, std::string::npos);
  const auto section = page.substr(at, page.find("</details>", at) - at);
  for (const char* s : {"tftp.rule.sas", "resends DATA on a duplicate ACK", "RFC 1123 §4.2.3.1", "MUST", "DATA 2 sent twice",
                        "href=\"#s-rfc1350.e.fail\"", "href=\"#s-rfc2347.c.warn\"", "3 sightings", "00 03 00 01"}) {
    EXPECT_NE(section.find(s), std::string::npos) << s;
  }
  EXPECT_NE(page.find("href=\"#finding-0\""), std::string::npos) << "the scenario links back to it";
  EXPECT_LT(page.find("id=\"findings\""), page.find("id=\"scenarios\""));
}

TEST(HtmlReport, InPageLinksLand) { expect_links_land(render_html(sample())); }

TEST(HtmlReport, AnchorsOfDifferentIdsNeverCollide) {
  EXPECT_EQ(html_anchor("r1-", "rfc1350.a-b"), "r1-s-rfc1350.a-b");
  EXPECT_NE(html_anchor("", "sanity#first"), html_anchor("", "sanity_23first"));
  EXPECT_EQ(html_anchor("", "a\"<b"), "s-a_22_3cb");
}

TEST(HtmlMatrix, ServersAreColumnsAndEachNonPassCellLinksToItsEvidence) {
  auto a = sample();
  auto b = sample();
  b.target.address = "127.0.0.1:7070";
  b.target.description = "other <server>";
  b.results.erase(b.results.begin());  // rfc1350.a.pass missing from b
  for (auto& s : b.results) s.verdict = Verdict::kPass;
  order_and_summarize(b);
  const auto page = render_matrix_html({a, b});
  EXPECT_NE(page.find("<th>tftpd under test (127.0.0.1:6969)</th><th>other &lt;server&gt; (127.0.0.1:7070)</th>"),
            std::string::npos);
  EXPECT_NE(page.find("<tr><td class=\"id\">rfc1350.e.fail</td><td class=\"c-fail\"><span class=\"v-fail\">"
                      "<a href=\"#r1-s-rfc1350.e.fail\">fail</a></span></td><td class=\"c-pass\"><span class=\"v-pass\">pass</span></td></tr>"),
            std::string::npos);
  EXPECT_NE(page.find("<tr><td class=\"id\">rfc1350.a.pass</td><td class=\"c-pass\"><span class=\"v-pass\">pass</span></td>"
                      "<td class=\"z\">&mdash;</td></tr>"),
            std::string::npos);
  EXPECT_NE(page.find("id=\"r1-finding-0\""), std::string::npos);
  EXPECT_NE(page.find("id=\"r2-finding-0\""), std::string::npos);
  EXPECT_EQ(page.find("id=\"r1-s-rfc1350.a.pass\""), std::string::npos) << "passes have no evidence section";
  EXPECT_EQ(count(page, "<script"), 1u);
  expect_links_land(page);
}

TEST(HtmlMatrix, RunsAgainstTheSameTargetAreToldApart) {
  auto a = sample();
  auto b = sample();
  auto c = sample();
  b.started = "2026-11-27T00:00:00Z";
  const auto page = render_matrix_html({a, b, c});
  EXPECT_NE(page.find("<th>tftpd under test (127.0.0.1:6969) 2026-11-26T02:00:00Z #1</th>"
                      "<th>tftpd under test (127.0.0.1:6969) 2026-11-27T00:00:00Z</th>"
                      "<th>tftpd under test (127.0.0.1:6969) 2026-11-26T02:00:00Z #2</th>"),
            std::string::npos);
  expect_links_land(page);
}

}  // namespace
}  // namespace tftp::report
