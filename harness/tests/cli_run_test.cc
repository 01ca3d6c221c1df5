// `tftpspec run` as a CI sees it: exit codes, where the output goes, interrupts.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "common/time.h"
#include "net/udp_socket.h"
#include "tests/support/process.h"

extern char** environ;

namespace tftp {
namespace {

using namespace std::chrono_literals;
using testing::run_command;
using testing::TempDir;

std::string read_file(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// tftpspec with stdout and stderr in separate files, so a test can tell them apart.
class Tftpspec {
 public:
  Tftpspec(const std::vector<std::string>& args, const TempDir& dir)
      : out_(dir.path() / "stdout"), err_(dir.path() / "stderr") {
    std::vector<std::string> argv = {TFTPSPEC_BINARY};
    argv.insert(argv.end(), args.begin(), args.end());
    std::vector<char*> cargv;
    for (auto& a : argv) cargv.push_back(a.data());
    cargv.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 1, out_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_addopen(&actions, 2, err_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    const int rc = posix_spawn(&pid_, cargv[0], &actions, nullptr, cargv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    if (rc != 0) throw std::runtime_error("cannot spawn " + argv[0]);
    pidfd_ = static_cast<int>(::syscall(SYS_pidfd_open, pid_, 0));
  }
  ~Tftpspec() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
    if (pidfd_ >= 0) ::close(pidfd_);
  }
  void signal(int sig) { ::kill(pid_, sig); }
  // The exit status (128 + signal if killed), or -1 if it is still running after `timeout`.
  int wait(Duration timeout) {
    pollfd p{pidfd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(std::chrono::ceil<std::chrono::milliseconds>(timeout).count())) <= 0) return -1;
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }
  // Waits until stderr or stdout contains `text` (or the process exits, or `timeout`).
  bool wait_for_output(const std::string& text, Duration timeout) {
    const Instant end = real_now() + timeout;
    while (real_now() < end) {
      if (out().find(text) != std::string::npos || err().find(text) != std::string::npos) return true;
      pollfd p{pidfd_, POLLIN, 0};
      if (::poll(&p, 1, 20) > 0) return false;  // exited
    }
    return false;
  }
  std::string out() const { return read_file(out_); }
  std::string err() const { return read_file(err_); }

 private:
  std::filesystem::path out_, err_;
  pid_t pid_ = -1;
  int pidfd_ = -1;
};

TEST(CliRun, SelectionMatchingNothingExitsTwoNamingTheGlobs) {
  auto r = run_command({TFTPSPEC_BINARY, "run", "--scenario", "no.such.*", "--exclude", "rfc1350.*"}, 60s);
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("no scenario matches"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("no.such.*"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("rfc1350.*"), std::string::npos) << r.output;
  EXPECT_EQ(r.output.find("pass"), std::string::npos) << "something ran: " << r.output;
}

TEST(CliRun, UnwritableReportPathExitsTwoBeforeAnyScenarioRan) {
  auto r = run_command({TFTPSPEC_BINARY, "run", "--json", "/nonexistent/r.json"}, 60s);
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("/nonexistent"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("does not exist"), std::string::npos) << r.output;
  EXPECT_EQ(r.output.find("scenarios against"), std::string::npos) << "the run started: " << r.output;
}

TEST(CliRun, JsonToStdoutLeavesStdoutPureJson) {
  TempDir dir;
  Tftpspec run({"run", "--scenario", "rfc1350.*", "--json", "-", "--seed", "7"}, dir);
  ASSERT_EQ(run.wait(120s), 0) << run.err();
  nlohmann::json report;
  ASSERT_NO_THROW(report = nlohmann::json::parse(run.out())) << run.out();
  EXPECT_FALSE(report["interrupted"].get<bool>());
  const auto& s = report["summary"];
  EXPECT_GT(s["pass"].get<int>(), 0);
  EXPECT_EQ(s["fail"].get<int>(), 0);
  EXPECT_EQ(s["error"].get<int>(), 0);
  EXPECT_NE(run.err().find("summary:"), std::string::npos) << "the progress goes to stderr";
}

TEST(CliRun, ListPrintsAlignedColumnsWithGroupNeedsAndTags) {
  TempDir dir;
  Tftpspec list({"run", "--list", "--slow", "--scenario", "rfc1350.rollover.*", "--scenario", "security.traversal.dotdot-relative",
                 "--scenario", "rfc2349.timeout.min-1"},
                dir);
  ASSERT_EQ(list.wait(60s), 0) << list.err();
  const std::string out = list.out();
  EXPECT_EQ(out.rfind("ID ", 0), 0u) << out;
  for (const char* want : {"GROUP", "NEEDS", "TAGS", "options,timeout", "security", "3 scenarios"}) {
    EXPECT_NE(out.find(want), std::string::npos) << want << " missing from:\n" << out;
  }
  // Aligned: the LEVEL column starts at the same offset on every row.
  std::istringstream lines(out);
  std::string line;
  std::set<size_t> level_columns;
  while (std::getline(lines, line)) {
    for (const char* level : {" LEVEL ", " MUST ", " SHOULD ", " MAY "}) {
      const size_t at = line.find(level);
      if (at != std::string::npos) level_columns.insert(line.find_first_not_of(' ', at));
    }
  }
  EXPECT_EQ(level_columns.size(), 1u) << out;
}

TEST(CliRun, ListJsonPrintsTheSelectionAsJson) {
  TempDir dir;
  Tftpspec list({"run", "--list", "--json", "--scenario", "rfc1350.end.*"}, dir);
  ASSERT_EQ(list.wait(60s), 0) << list.err();
  nlohmann::json selection;
  ASSERT_NO_THROW(selection = nlohmann::json::parse(list.out())) << list.out();
  ASSERT_TRUE(selection.is_array());
  ASSERT_GT(selection.size(), 2u);
  for (const auto& s : selection) {
    EXPECT_EQ(s["id"].get<std::string>().rfind("rfc1350.end.", 0), 0u);
    EXPECT_TRUE(s.contains("requirements") && s.contains("needs") && s.contains("tags") && s.contains("fixtures"));
    EXPECT_EQ(s["group"], "default");
  }
}

TEST(CliRun, UnknownCommandsAndFlagsSuggestTheNearestValidOne) {
  auto command = run_command({TFTPSPEC_BINARY, "rnu"}, 60s);
  EXPECT_EQ(command.exit_code, 2) << command.output;
  EXPECT_NE(command.output.find("did you mean 'run'"), std::string::npos) << command.output;
  auto flag = run_command({TFTPSPEC_BINARY, "run", "--scenaro", "x"}, 60s);
  EXPECT_EQ(flag.exit_code, 2) << flag.output;
  EXPECT_NE(flag.output.find("did you mean '--scenario'"), std::string::npos) << flag.output;
  auto far = run_command({TFTPSPEC_BINARY, "run", "--zzzzzzzzzz"}, 60s);
  EXPECT_EQ(far.exit_code, 2) << far.output;
  EXPECT_EQ(far.output.find("did you mean"), std::string::npos) << "no guess for nothing alike: " << far.output;
}

// A terminal gets a live status line and coloured verdicts; NO_COLOR keeps the status line
// but no colour; a pipe gets neither. `script` (util-linux) gives the run a pseudo-terminal.
TEST(CliRun, ProgressAndColourOnlyOnATerminalAndNeverWithNoColor) {
  const std::string run = std::string(TFTPSPEC_BINARY) + " run --seed 1 --scenario 'rfc1350.end.*'";
  auto tty = run_command({"script", "-qec", run, "/dev/null"}, 120s);
  ASSERT_EQ(tty.exit_code, 0) << tty.output;
  EXPECT_NE(tty.output.find("[1/8]"), std::string::npos) << tty.output;
  EXPECT_NE(tty.output.find("\033[32mpass"), std::string::npos) << tty.output;
  auto plain = run_command({"script", "-qec", "env NO_COLOR=1 " + run, "/dev/null"}, 120s);
  ASSERT_EQ(plain.exit_code, 0) << plain.output;
  EXPECT_NE(plain.output.find("[1/8]"), std::string::npos) << plain.output;
  EXPECT_EQ(plain.output.find("\033[3"), std::string::npos) << "colour despite NO_COLOR";
  auto piped = run_command({TFTPSPEC_BINARY, "run", "--seed", "1", "--scenario", "rfc1350.end.*"}, 120s);
  ASSERT_EQ(piped.exit_code, 0) << piped.output;
  EXPECT_EQ(piped.output.find("\033["), std::string::npos) << "escape codes into a pipe";
  EXPECT_EQ(piped.output.find("[1/8]"), std::string::npos) << "a status line into a pipe";
}

TEST(CliRun, VerbosePrintsTheLadderOfEachNonPass) {
  auto r = run_command({TFTPSPEC_BINARY, "run", "--seed", "1", "--reference-fault", "resend_on_duplicate_ack", "--scenario",
                        "rfc1123.sas.duplicate-ack-1", "-v"},
                       120s);
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("harness"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("|-- RRQ \"f1024.bin\""), std::string::npos) << r.output;
  EXPECT_NE(r.output.find(" DATA block=2 size=512 --|"), std::string::npos) << r.output;
  const size_t ladder_lines = std::count(r.output.begin(), r.output.end(), '|') / 2;
  EXPECT_EQ(ladder_lines, 6u) << "one arrow per datagram of the failing scenario only:\n" << r.output;
}

TEST(CliRun, JsonWithoutFileOutsideListIsAUsageError) {
  auto r = run_command({TFTPSPEC_BINARY, "run", "--json"}, 60s);
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("--json needs FILE"), std::string::npos) << r.output;
}

// A target that never answers: a bound socket nobody reads (the kernel queues, then drops).
struct SilentTarget {
  net::UdpSocket socket = *net::UdpSocket::bind(Address::loopback_v4(0));
  std::string address() const { return "127.0.0.1:" + std::to_string(socket.local_address().port()); }
};

void expect_interrupt_ends_run(int sig, int expected_code) {
  SilentTarget target;
  TempDir dir;
  const auto json = dir.path() / "r.json";
  const auto junit = dir.path() / "r.xml";
  const auto html = dir.path() / "r.html";
  Tftpspec run({"run", "--target", target.address(), "--json", json.string(), "--junit", junit.string(), "--html",
                html.string()},
               dir);
  ASSERT_TRUE(run.wait_for_output("scenarios against", 30s)) << run.err() << run.out();
  const Instant signalled = real_now();
  run.signal(sig);
  // The unfixed run took about 11 s to end; the requirement is 1 s.
  const int code = run.wait(8s);
  ASSERT_NE(code, -1) << "still running 8 s after the signal";
  EXPECT_LT(real_now() - signalled, 8s);
  EXPECT_EQ(code, expected_code) << run.out() << run.err();
  ASSERT_TRUE(std::filesystem::exists(json)) << run.out() << run.err();
  auto report = nlohmann::json::parse(read_file(json));
  EXPECT_TRUE(report["interrupted"].get<bool>());
  EXPECT_NE(read_file(junit).find("<property name=\"tftpspec.interrupted\" value=\"true\"/>"), std::string::npos)
      << read_file(junit);
  ASSERT_TRUE(std::filesystem::exists(html)) << "the page is written like the JSON";
  EXPECT_NE(read_file(html).find("Interrupted: the report holds what finished."), std::string::npos);
}

TEST(CliRun, SigintEndsTheRunWithAPartialReportAndStatus130) { expect_interrupt_ends_run(SIGINT, 130); }

TEST(CliRun, SigtermEndsTheRunWithAPartialReportAndStatus143) { expect_interrupt_ends_run(SIGTERM, 143); }

TEST(CliRun, SecondSigintExitsAtOnce) {
  SilentTarget target;
  TempDir dir;
  Tftpspec run({"run", "--target", target.address()}, dir);
  ASSERT_TRUE(run.wait_for_output("scenarios against", 30s)) << run.err() << run.out();
  run.signal(SIGINT);
  run.signal(SIGINT);
  EXPECT_EQ(run.wait(8s), 130);
}

}  // namespace
}  // namespace tftp

namespace tftp {
namespace {

// `run --root` plants the traversal canary beside the root (scenario/fixtures.h) for the
// canary scenarios, over real UDP against `tftpspec serve`, and takes it away afterwards; a
// foreign file of its name is left alone, and the canary scenarios skip saying why.
TEST(CliRun, RootPlantsTheCanaryBesideTheRootForTheRunOnly) {
  TempDir dir("tftpspec-canary-run-");
  const auto root = dir.path() / "root";
  std::filesystem::create_directory(root);
  const uint16_t port = testing::free_udp_port();
  testing::ChildProcess serve({TFTPSPEC_BINARY, "serve", "--root", root.string(), "--listen", "127.0.0.1:" + std::to_string(port), "-q"},
                              (dir.path() / "serve.log").string());
  ASSERT_TRUE(testing::wait_udp_bound(port, 10s, &serve)) << serve.log_text();
  const auto json = dir.path() / "r.json";
  const std::vector<std::string> argv = {TFTPSPEC_BINARY, "run", "--target", "127.0.0.1:" + std::to_string(port), "--root",
                                         root.string(), "--scenario", "security.traversal.canary*", "--json", json.string()};
  auto r = run_command(argv, 120s);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  auto report = nlohmann::json::parse(read_file(json));
  ASSERT_EQ(report["results"].size(), 5u) << report.dump(2);  // 3 + the sanity scenario twice
  for (const auto& s : report["results"]) EXPECT_EQ(s["verdict"], "pass") << s.dump(2);
  const auto& caps = report["target"]["capabilities"];
  EXPECT_NE(std::find(caps.begin(), caps.end(), "canary"), caps.end()) << caps.dump();
  EXPECT_FALSE(std::filesystem::exists(dir.path() / "tftpspec-canary.bin")) << "the canary outlived the run";

  std::ofstream(dir.path() / "tftpspec-canary.bin") << "the operator's own file";
  r = run_command(argv, 120s);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("not tftpspec's canary"), std::string::npos) << r.output;
  report = nlohmann::json::parse(read_file(json));
  size_t skipped = 0;
  for (const auto& s : report["results"]) {
    if (s["verdict"] != "skip") continue;
    ++skipped;
    EXPECT_NE(s["reason"].get<std::string>().find("'canary'"), std::string::npos) << s.dump(2);
  }
  EXPECT_EQ(skipped, 3u) << report.dump(2);
  EXPECT_EQ(read_file(dir.path() / "tftpspec-canary.bin"), "the operator's own file");
  serve.stop();
}

}  // namespace
}  // namespace tftp
