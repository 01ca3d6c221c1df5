// Issue 12 item 4: a run stopped by SIGTERM or SIGINT exits 143 or 130 and keeps every
// verdict it had printed in every report it was asked for (JSON, HTML, JUnit), each one whole
// and valid, with no temporary file left beside them. The target drips (every datagram
// 300 ms late), so the run is still going when the first verdicts are in; the test waits for
// those verdicts on the run's output, never for a time.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>
#include <unistd.h>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <sstream>
#include <string>

#include "report/json_reader.h"
#include "tests/support/hostile_server.h"
#include "tests/support/process.h"

namespace tftp {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

const std::string kSource = TFTPSPEC_SOURCE_DIR;

std::string read_file(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// The verdict lines `run` prints as scenarios finish ("  fail  rfc1350.x   12.0 ms"), by id.
std::map<std::string, std::string> printed_verdicts(const std::string& output) {
  static const std::regex line(R"(^  (pass|note|warn|fail|skip|error) +(\S+) +[0-9.]+ ms$)");
  std::map<std::string, std::string> out;
  std::istringstream in(output);
  for (std::string l; std::getline(in, l);) {
    std::smatch m;
    if (std::regex_match(l, m, line)) out[m[2]] = m[1];
  }
  return out;
}

// Appends what the pipe has within `timeout`; false at end of file (the writer exited).
bool read_some(int fd, std::string& out, std::chrono::milliseconds timeout) {
  pollfd p{fd, POLLIN, 0};
  if (::poll(&p, 1, static_cast<int>(timeout.count())) <= 0) return true;
  char buf[4096];
  const ssize_t n = ::read(fd, buf, sizeof buf);
  if (n > 0) out.append(buf, static_cast<size_t>(n));
  return n != 0;
}

class InterruptedRun : public ::testing::TestWithParam<int> {};

TEST_P(InterruptedRun, KeepsEveryFinishedVerdictInEveryReport) {
  const int sig = GetParam();
  testing::HostileServer target(testing::Hostility::kDrip);
  testing::TempDir dir("tftpspec-interrupted-");
  const auto json = dir.path() / "run.json";
  const auto html = dir.path() / "run.html";
  const auto junit = dir.path() / "run.xml";
  // The run's output through a FIFO: read as it comes, so the test waits on verdicts.
  const auto fifo = dir.path() / "output";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  const int out = ::open(fifo.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  ASSERT_GE(out, 0);
  testing::ChildProcess run({TFTPSPEC_BINARY, "run", "--target", target.address().to_string(), "--scenario", "rfc1350.request.*",
                             "--jobs", "1", "--seed", "5", "--json", json.string(), "--html", html.string(), "--junit",
                             junit.string()},
                            fifo.string());
  std::string output;
  const auto give_up = Clock::now() + 240s;
  bool open = true;
  while (open && printed_verdicts(output).size() < 4 && Clock::now() < give_up) open = read_some(out, output, 1000ms);
  const auto before = printed_verdicts(output);
  ASSERT_GE(before.size(), 4u) << "no verdicts to keep; the run said:\n" << output;
  run.signal(sig);
  while (open && Clock::now() < give_up) open = read_some(out, output, 1000ms);
  ::close(out);
  const auto code = run.wait(30s);
  ASSERT_TRUE(code.has_value()) << "the run did not end after the signal:\n" << output;
  EXPECT_EQ(*code, 128 + sig) << output;
  // Verdicts printed after the signal (those that finished within the grace) count too.
  const auto printed = printed_verdicts(output);

  // JSON: valid against its schema, interrupted, every printed verdict kept.
  const auto validate = testing::run_command({"/usr/bin/python3", kSource + "/reports/validate.py", json.string()}, 60s);
  EXPECT_EQ(validate.exit_code, 0) << validate.output;
  auto report = report::read_report_file(json);
  ASSERT_TRUE(report) << report.error().to_string();
  EXPECT_TRUE(report->interrupted);
  std::map<std::string, std::string> stored;
  for (const auto& r : report->results) stored[r.id] = std::string(report::verdict_name(r.verdict));
  for (const auto& [id, verdict] : printed) {
    ASSERT_TRUE(stored.count(id)) << id << " was printed but is not in the JSON report";
    EXPECT_EQ(stored[id], verdict) << id;
  }
  // JUnit: valid against its schema, a testcase for each.
  const auto xmllint = testing::run_command(
      {"xmllint", "--schema", kSource + "/reports/tftpspec-junit.xsd", "--noout", junit.string()}, 60s);
  EXPECT_EQ(xmllint.exit_code, 0) << xmllint.output;
  const std::string xml = read_file(junit);
  // HTML: the whole page, a section for each.
  const std::string page = read_file(html);
  EXPECT_NE(page.find("</html>"), std::string::npos);
  for (const auto& [id, verdict] : printed) {
    const std::string bare = id.substr(0, id.find('#'));  // the sanity scenario's "#first"
    EXPECT_NE(xml.find("name=\"" + id + "\""), std::string::npos) << id << " is not in the JUnit report";
    EXPECT_NE(page.find(bare), std::string::npos) << id << " is not in the HTML report";
  }
  // Nothing else beside them: no temporary file survived.
  std::set<std::string> files;
  for (const auto& e : std::filesystem::directory_iterator(dir.path())) files.insert(e.path().filename().string());
  EXPECT_EQ(files, (std::set<std::string>{"output", "run.html", "run.json", "run.xml"}));
  std::printf("%zu verdicts printed before the signal, %zu in all; %zu results in the report\n", before.size(), printed.size(),
              report->results.size());
}

INSTANTIATE_TEST_SUITE_P(Signals, InterruptedRun, ::testing::Values(SIGTERM, SIGINT),
                         [](const auto& info) { return std::string(info.param == SIGTERM ? "SIGTERM" : "SIGINT"); });

}  // namespace
}  // namespace tftp
