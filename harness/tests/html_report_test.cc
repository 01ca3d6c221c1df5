// `tftpspec run --html` as a person sees it: the page the real binary writes is opened in
// headless Chromium, with JavaScript on and off, and the test reads what the browser shows:
// the DOM after its scripts ran (--dump-dom) and the visible text (the page printed to PDF,
// read back with pdftotext: hidden elements are not printed). Nothing is timed.
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "net/udp_socket.h"
#include "proto/packet.h"
#include "tests/support/process.h"
#include "tests/support/scripted_target.h"

namespace tftp {
namespace {

using namespace std::chrono_literals;
using testing::run_command;
using testing::TempDir;

constexpr const char* kChromium = "/usr/bin/chromium";
constexpr const char* kPdfToText = "/usr/bin/pdftotext";
// A cold Chromium start on a busy two-core machine takes seconds; this only bounds a hang.
constexpr auto kBrowserTimeout = 120s;

std::string read_file(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// Text with every space and line break removed: a PDF breaks lines where the layout does.
std::string squeeze(const std::string& text) {
  std::string out;
  for (unsigned char c : text) {
    if (!std::isspace(c)) out += static_cast<char>(c);
  }
  return out;
}

struct Shown {
  std::string dom;   // serialised after the page's scripts ran
  std::string text;  // what a reader sees, squeezed
};

// Opens `page` + `fragment` in a fresh headless Chromium profile. JavaScript off is the
// profile's content setting: Chromium 156's --blink-settings=scriptEnabled=false also stops
// --dump-dom and --print-to-pdf from producing anything.
Shown open_in_chromium(const std::filesystem::path& page, const std::string& fragment, bool javascript) {
  TempDir profile("tftpspec-chromium-");
  if (!javascript) {
    std::filesystem::create_directories(profile.path() / "Default");
    std::ofstream(profile.path() / "Default" / "Preferences")
        << R"({"profile":{"default_content_setting_values":{"javascript":2}}})";
  }
  const std::string url = "file://" + std::filesystem::absolute(page).string() + fragment;
  const auto pdf = profile.path() / "page.pdf";
  const auto chromium = [&](const std::string& action) {
    return std::vector<std::string>{"env", "HOME=" + profile.str(), kChromium, "--headless", "--no-sandbox", "--disable-gpu",
                                    "--no-first-run", "--user-data-dir=" + profile.str(), "--no-pdf-header-footer", action, url};
  };
  Shown shown;
  auto dom = run_command(chromium("--dump-dom"), kBrowserTimeout);
  EXPECT_FALSE(dom.timed_out) << "chromium --dump-dom did not finish";
  const auto at = dom.output.find("<html");
  shown.dom = at == std::string::npos ? dom.output : dom.output.substr(at);  // stderr chatter (dbus) comes first
  auto printed = run_command(chromium("--print-to-pdf=" + pdf.string()), kBrowserTimeout);
  EXPECT_FALSE(printed.timed_out) << "chromium --print-to-pdf did not finish";
  auto text = run_command({kPdfToText, pdf.string(), "-"}, 60s);
  EXPECT_EQ(text.exit_code, 0) << text.output << printed.output;
  shown.text = squeeze(text.output);
  return shown;
}

#define SKIP_WITHOUT_BROWSER()                                                                              \
  do {                                                                                                      \
    if (!std::filesystem::exists(kChromium) || !std::filesystem::exists(kPdfToText)) {                      \
      GTEST_SKIP() << "needs " << kChromium << " and " << kPdfToText                                        \
                   << " (Debian chromium, poppler-utils: scripts/setup.sh installs them)";                  \
    }                                                                                                       \
  } while (0)

// One real run against the embedded reference server with a fault switch, so there are
// fails, a run-wide finding and duplicated datagrams: its page and its JSON, made once.
struct FaultyRun {
  TempDir dir{"tftpspec-html-"};
  std::filesystem::path html = dir.path() / "report.html";
  nlohmann::json json;
  std::string output;
};

const FaultyRun& faulty_run() {
  static FaultyRun* run = [] {
    auto* r = new FaultyRun;
    const auto json = r->dir.path() / "report.json";
    auto out = run_command({TFTPSPEC_BINARY, "run", "--seed", "3", "--reference-fault", "resend_on_duplicate_ack", "--json",
                            json.string(), "--html", r->html.string()},
                           300s);
    r->output = out.output;
    if (out.exit_code == 1 && std::filesystem::exists(json)) r->json = nlohmann::json::parse(read_file(json));
    return r;
  }();
  return *run;
}

std::string first_with_verdict(const nlohmann::json& report, const std::string& verdict) {
  for (const auto& r : report["results"]) {
    if (r["verdict"] == verdict) return r["id"].get<std::string>();
  }
  return {};
}

TEST(HtmlReportInBrowser, WithoutJavaScriptShowsSummaryFailLadderAndFindings) {
  SKIP_WITHOUT_BROWSER();
  const auto& run = faulty_run();
  ASSERT_FALSE(run.json.is_null()) << run.output;
  ASSERT_TRUE(std::filesystem::exists(run.html)) << run.output;
  EXPECT_NE(run.output.find("html report: " + run.html.string()), std::string::npos) << run.output;
  const auto fail = first_with_verdict(run.json, "fail");
  const auto pass = first_with_verdict(run.json, "pass");
  ASSERT_FALSE(fail.empty());
  ASSERT_FALSE(run.json["findings"].empty()) << "the fault is also seen by scenarios about other rules";

  // The hash asks for failures only, but without JavaScript nothing reads it: all is shown.
  const auto shown = open_in_chromium(run.html, "#only=fail", /*javascript=*/false);
  EXPECT_NE(shown.text.find("tftpspecreport"), std::string::npos) << shown.text.substr(0, 2000);
  // The summary's last row: every verdict's count and the total, as the JSON has them.
  const auto& s = run.json["summary"];
  std::string counts;
  int total = 0;
  for (const char* v : {"pass", "note", "warn", "fail", "skip", "error"}) {
    counts += std::to_string(s[v].get<int>());
    total += s[v].get<int>();
  }
  counts += std::to_string(total);
  // pdftotext puts a row's label before or after its cells depending on where the page breaks.
  const bool row_shown = shown.text.find("all" + counts) != std::string::npos ||
                         shown.text.find(counts + "all") != std::string::npos;
  EXPECT_TRUE(row_shown) << "all " << counts << " in\n" << shown.text.substr(0, 3000);
  EXPECT_NE(shown.text.find("MUST"), std::string::npos);
  // The command, word by word: pdftotext may wrap a long path and interleave the header's
  // other column between its lines, so only words short enough not to wrap are looked for.
  {
    std::istringstream words(run.json["command"].get<std::string>());
    for (std::string word; words >> word;) {
      if (word.size() <= 30) {
        EXPECT_NE(shown.text.find(word), std::string::npos) << word;
      }
    }
  }
  EXPECT_NE(shown.text.find(run.json["catalogue_version"].get<std::string>()), std::string::npos);
  // The failing scenario, open, with its ladder: both columns, arrows labelled, marks, bytes.
  EXPECT_NE(shown.text.find(fail), std::string::npos);
  EXPECT_NE(shown.text.find("t(ms)harness"), std::string::npos) << "the ladder's column heads";
  EXPECT_NE(shown.text.find("DUPLICATE"), std::string::npos) << "the harness's duplicated ACKs are marked";
  EXPECT_NE(shown.text.find("CITED"), std::string::npos) << "the datagram the finding cites";
  EXPECT_NE(shown.text.find("000300"), std::string::npos) << "a DATA's bytes in hex";
  // The run-wide findings, by rule id.
  EXPECT_NE(shown.text.find("Run-widefindings"), std::string::npos);
  EXPECT_NE(shown.text.find(run.json["findings"][0]["id"].get<std::string>()), std::string::npos);
  // Passes are listed too (a scenario's line: verdict, id, title).
  ASSERT_FALSE(pass.empty());
  EXPECT_NE(shown.text.find("pass" + pass + "—"), std::string::npos);
  // The DOM: no script ran (the page's own would have applied the hash), ladders are there.
  EXPECT_NE(shown.dom.find("class=\"lad\""), std::string::npos);
  EXPECT_NE(shown.dom.find("id=\"show-pass\" data-v=\"pass\" checked"), std::string::npos);
}

TEST(HtmlReportInBrowser, WithJavaScriptTheOnlyFailHashHidesThePasses) {
  SKIP_WITHOUT_BROWSER();
  const auto& run = faulty_run();
  ASSERT_FALSE(run.json.is_null()) << run.output;
  const auto fail = first_with_verdict(run.json, "fail");
  const auto pass = first_with_verdict(run.json, "pass");
  // A scenario's line reads: verdict, id, title (a finding's "seen in" list names ids too).
  const auto line_of = [](const std::string& verdict, const std::string& id) { return verdict + id + "—"; };
  const auto everything = open_in_chromium(run.html, "", /*javascript=*/true);
  EXPECT_NE(everything.text.find(line_of("pass", pass)), std::string::npos);
  const auto only_fail = open_in_chromium(run.html, "#only=fail", /*javascript=*/true);
  EXPECT_NE(only_fail.text.find(line_of("fail", fail)), std::string::npos);
  EXPECT_EQ(only_fail.text.find(line_of("pass", pass)), std::string::npos) << pass << " is still shown";
  EXPECT_NE(only_fail.text.find("Summary"), std::string::npos) << "the filters hide scenarios, not the summary";
}

// A hostile server answers every request with an ERROR whose text is markup. The browser,
// scripts on, must show the text and build none of it: no element, no script run.
TEST(HtmlReportInBrowser, AHostileErrorTextIsShownNotInterpreted) {
  SKIP_WITHOUT_BROWSER();
  const std::string hostile = "<img src=x id=injected><script>document.title='owned'</script><b id=bold>x</b>";
  testing::ScriptedTarget target([&](net::UdpSocket& socket, const Address& from, std::span<const uint8_t>) {
    std::vector<uint8_t> error(1024);
    if (auto n = proto::write_error(error, 1, hostile)) (void)socket.send_to(from, std::span<const uint8_t>(error).first(*n));
  });
  TempDir dir("tftpspec-html-");
  const auto html = dir.path() / "hostile.html";
  auto out = run_command({TFTPSPEC_BINARY, "run", "--seed", "4", "--target", target.address().to_string(), "--scenario",
                          "rfc1350.error.*", "--html", html.string()},
                         300s);
  ASSERT_TRUE(std::filesystem::exists(html)) << out.output;
  const std::string page = read_file(html);
  ASSERT_NE(page.find("&lt;script&gt;document.title="), std::string::npos) << "the ERROR text is in the report";
  const auto shown = open_in_chromium(html, "", /*javascript=*/true);
  EXPECT_EQ(shown.dom.find("id=\"injected\""), std::string::npos) << "an <img> from the target was built";
  EXPECT_EQ(shown.dom.find("id=\"bold\""), std::string::npos);
  EXPECT_EQ(shown.dom.find("<title>owned"), std::string::npos);
  EXPECT_NE(shown.dom.find("<title>tftpspec"), std::string::npos);
  EXPECT_NE(shown.text.find(squeeze("<script>document.title='owned'</script>")), std::string::npos)
      << "the text is shown as text";
}

TEST(HtmlReportCli, AnUnwritableHtmlPathExitsTwoBeforeAnyScenarioRan) {
  auto r = run_command({TFTPSPEC_BINARY, "run", "--html", "/nonexistent/r.html"}, 60s);
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("--html /nonexistent/r.html"), std::string::npos) << r.output;
  EXPECT_EQ(r.output.find("scenarios against"), std::string::npos) << "the run started: " << r.output;
}

}  // namespace
}  // namespace tftp
