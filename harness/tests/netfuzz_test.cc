// `tftpspec fuzz` against real servers on loopback: it finds, shrinks and saves the death
// planted in planted_tftpd (harness/tests/planted_tftpd.cc), `tftpspec run` replays the
// reproducer to the same death and passes it against the healthy reference server; and a
// campaign against the healthy reference server reports nothing.
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "scenario/fixtures.h"
#include "tests/support/process.h"
#include "tests/support/reference_server.h"

namespace tftp {
namespace {

using namespace std::chrono_literals;
using testing::run_command;
using testing::TempDir;

nlohmann::json read_json(const std::filesystem::path& p) {
  std::ifstream in(p);
  return nlohmann::json::parse(in);
}

// A planted_tftpd daemon on a free loopback port, restartable by a shell command.
class PlantedServer {
 public:
  PlantedServer(const std::filesystem::path& root, const TempDir& dir, const std::string& trigger)
      : pidfile_(dir.path() / "planted.pid") {
    port_ = testing::free_udp_port();
    restart_cmd_ = std::string(TFTPSPEC_PLANTED_TFTPD) + " --daemon --listen 127.0.0.1:" + std::to_string(port_) +
                   " --root " + root.string() + " --trigger " + trigger + " --pidfile " + pidfile_.string();
  }
  ~PlantedServer() {
    std::ifstream in(pidfile_);
    long pid = 0;
    if (in >> pid && pid > 1) ::kill(static_cast<pid_t>(pid), SIGKILL);  // ours: the pidfile's process only
  }
  // Kills the running one (if any) and starts a fresh one.
  void restart() const {
    const auto r = run_command({"sh", "-c", restart_cmd_}, 10s);
    ASSERT_EQ(r.exit_code, 0) << r.output;
  }
  std::string target() const { return "127.0.0.1:" + std::to_string(port_); }
  const std::string& restart_cmd() const { return restart_cmd_; }

 private:
  std::filesystem::path pidfile_;
  uint16_t port_ = 0;
  std::string restart_cmd_;
};

std::vector<std::string> fuzz_args(const std::string& target, const std::filesystem::path& out, const std::string& seed,
                                   const std::string& cases) {
  return {TFTPSPEC_BINARY, "fuzz", "--target", target, "--seed", seed, "--cases", cases, "--out", out.string(),
          "--quiet", "--liveness-timeout", "0.3", "--reply-timeout", "0.05"};
}

TEST(NetworkFuzzer, FindsShrinksAndSavesAPlantedDeathThatRunReplays) {
  TempDir dir("tftpspec-netfuzz-");
  const auto root = dir.path() / "root";
  ASSERT_TRUE(scenario::write_fixtures(root));
  PlantedServer planted(root, dir, "blksize-digits");
  planted.restart();

  const auto out = dir.path() / "out";
  auto args = fuzz_args(planted.target(), out, "1", "600");
  args.insert(args.end(), {"--restart-cmd", planted.restart_cmd(), "--max-findings", "1", "--no-writes"});
  const auto fuzz = run_command(args, 240s);
  ASSERT_EQ(fuzz.exit_code, 1) << fuzz.output;
  EXPECT_NE(fuzz.output.find("FINDING 1: the target stopped answering"), std::string::npos) << fuzz.output;

  const auto report = read_json(out / "fuzz-report.json");
  ASSERT_EQ(report["findings"].size(), 1u) << report.dump(2);
  const auto& finding = report["findings"][0];
  EXPECT_TRUE(finding["reproduced"].get<bool>()) << finding.dump(2);
  EXPECT_TRUE(finding["shrunk"].get<bool>()) << finding.dump(2);
  // Minimal: one case of one datagram, an RRQ with a long blksize value.
  ASSERT_EQ(finding["reproducer"].size(), 1u) << finding.dump(2);
  const auto& datagrams = finding["reproducer"][0]["datagrams"];
  ASSERT_EQ(datagrams.size(), 1u) << finding.dump(2);
  EXPECT_EQ(datagrams[0]["to"], "listen");
  EXPECT_NE(datagrams[0]["packet"].get<std::string>().find("RRQ"), std::string::npos) << datagrams.dump(2);
  const auto finding_dir = out / "finding-1";
  ASSERT_TRUE(std::filesystem::exists(finding_dir / "reproducer.yaml"));
  ASSERT_GT(std::filesystem::file_size(finding_dir / "reproducer.pcap"), 24u);

  // The reproducer kills a fresh planted server: by the runner's verdict model the scenario
  // after which the target died is an error naming it (exit 2), with the datagrams as evidence.
  planted.restart();
  const auto json = dir.path() / "replay.json";
  const auto replay = run_command({TFTPSPEC_BINARY, "run", "--target", planted.target(), "--scenarios", finding_dir.string(),
                                   "--root", root.string(), "--json", json.string()},
                                  120s);
  EXPECT_EQ(replay.exit_code, 2) << replay.output;
  const auto run_report = read_json(json);
  ASSERT_EQ(run_report["results"].size(), 1u) << run_report.dump(2);
  const auto& result = run_report["results"][0];
  EXPECT_EQ(result["verdict"], "error") << result.dump(2);
  EXPECT_NE(result["reason"].get<std::string>().find("the target stopped answering"), std::string::npos) << result.dump(2);
  EXPECT_EQ(run_report["target_died_after"], finding["scenario_id"]);
  EXPECT_FALSE(run_report["target"]["alive"].get<bool>());
  EXPECT_GE(result["evidence"].size(), 2u);  // the fuzz datagram and the unanswered RRQ

  // The healthy reference server survives the same datagrams: the scenario passes.
  testing::ReferenceServerThread healthy(root);
  const auto healthy_json = dir.path() / "healthy.json";
  const auto pass = run_command({TFTPSPEC_BINARY, "run", "--target", healthy.address().to_string(), "--scenarios",
                                 finding_dir.string(), "--root", root.string(), "--json", healthy_json.string()},
                                120s);
  EXPECT_EQ(pass.exit_code, 0) << pass.output;
  EXPECT_EQ(read_json(healthy_json)["results"][0]["verdict"], "pass");
}

TEST(NetworkFuzzer, WithoutARestartCommandSavesTheBatchUnshrunk) {
  TempDir dir("tftpspec-netfuzz-");
  const auto root = dir.path() / "root";
  ASSERT_TRUE(scenario::write_fixtures(root));
  PlantedServer planted(root, dir, "short-data");
  planted.restart();
  const auto out = dir.path() / "out";
  auto args = fuzz_args(planted.target(), out, "2", "3000");
  args.insert(args.end(), {"--batch", "20"});
  const auto fuzz = run_command(args, 240s);
  ASSERT_EQ(fuzz.exit_code, 1) << fuzz.output;
  const auto report = read_json(out / "fuzz-report.json");
  ASSERT_EQ(report["findings"].size(), 1u);
  const auto& finding = report["findings"][0];
  EXPECT_FALSE(finding["shrunk"].get<bool>());
  EXPECT_NE(finding["note"].get<std::string>().find("without --restart-cmd"), std::string::npos);
  EXPECT_GE(finding["reproducer"].size(), 1u);
  EXPECT_LE(finding["reproducer"].size(), 20u);
  EXPECT_TRUE(std::filesystem::exists(out / "finding-1" / "reproducer.yaml"));
}

TEST(NetworkFuzzer, TheHealthyReferenceServerSurvivesACampaign) {
  TempDir dir("tftpspec-netfuzz-");
  const auto root = dir.path() / "root";
  ASSERT_TRUE(scenario::write_fixtures(root));
  testing::ReferenceServerThread healthy(root);
  const auto out = dir.path() / "out";
  const auto fuzz = run_command(fuzz_args(healthy.address().to_string(), out, "3", "400"), 240s);
  ASSERT_EQ(fuzz.exit_code, 0) << fuzz.output;
  const auto report = read_json(out / "fuzz-report.json");
  EXPECT_EQ(report["summary"]["cases"], 400);
  EXPECT_EQ(report["findings"].size(), 0u);
  EXPECT_EQ(report["seed"], 3);
}

TEST(NetworkFuzzer, ATargetThatNeverAnsweredIsAUsageErrorNotAFinding) {
  TempDir dir("tftpspec-netfuzz-");
  const uint16_t port = testing::free_udp_port();
  const auto fuzz = run_command(fuzz_args("127.0.0.1:" + std::to_string(port), dir.path() / "out", "1", "10"), 60s);
  EXPECT_EQ(fuzz.exit_code, 2) << fuzz.output;
  EXPECT_NE(fuzz.output.find("did not answer"), std::string::npos) << fuzz.output;
}

}  // namespace
}  // namespace tftp
