// `tftpspec load` against `tftpspec serve` on loopback: every transfer of a crowd verified,
// the JSON report valid against its schema, a corrupt copy caught, and a crowd larger than
// the server's session limit served in full (load beyond it is shed in a way clients recover
// from, issue 12). No test here judges throughput or time.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "tests/support/process.h"

namespace tftp {
namespace {

using namespace std::chrono_literals;
using testing::ChildProcess;
using testing::run_command;
using testing::TempDir;

void write_pattern(const std::filesystem::path& p, size_t n, uint8_t salt) {
  std::ofstream out(p, std::ios::binary);
  for (size_t i = 0; i < n; ++i) out.put(static_cast<char>(i * 31 + i / 509 + salt));
}

nlohmann::json read_json(const std::filesystem::path& p) {
  std::ifstream in(p);
  return nlohmann::json::parse(in);
}

// `tftpspec serve` on a free loopback port, serving `root`.
class Server {
 public:
  Server(const TempDir& dir, const std::vector<std::string>& extra) {
    port_ = testing::free_udp_port();
    std::vector<std::string> argv = {TFTPSPEC_BINARY, "serve", "--root", (dir.path() / "root").string(), "--listen",
                                     "127.0.0.1:" + std::to_string(port_), "-q"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    process_ = ChildProcess(argv, (dir.path() / "serve.log").string());
    if (!testing::wait_udp_bound(port_, 10s, &process_)) throw std::runtime_error("serve did not start: " + process_.log_text());
  }
  ~Server() { process_.stop(); }
  std::string target() const { return "127.0.0.1:" + std::to_string(port_); }
  std::string log() const { return process_.log_text(); }

 private:
  uint16_t port_ = 0;
  ChildProcess process_;
};

class LoadCommand : public ::testing::Test {
 protected:
  void SetUp() override {
    std::filesystem::create_directory(dir_.path() / "root");
    write_pattern(dir_.path() / "root" / "f.bin", 40000, 1);
  }
  std::string root() const { return (dir_.path() / "root").string(); }
  std::filesystem::path json() const { return dir_.path() / "load.json"; }
  TempDir dir_{"tftpspec-load-"};
};

TEST_F(LoadCommand, FiftyClientsAllVerifiedAndTheReportValidates) {
  Server server(dir_, {});
  auto r = run_command({TFTPSPEC_BINARY, "load", "--target", server.target(), "--clients", "50", "--file", "f.bin",
                        "--root", root(), "--blksize", "1428", "--dally", "0.2", "--json", json().string()},
                       120s);
  ASSERT_EQ(r.exit_code, 0) << r.output << server.log();
  EXPECT_NE(r.output.find("50 clients: 50 transfers, 50 verified ok, 0 failed"), std::string::npos) << r.output;
  const auto doc = read_json(json());
  ASSERT_EQ(doc["steps"].size(), 1u);
  const auto& step = doc["steps"][0];
  EXPECT_EQ(step["clients"], 50);
  EXPECT_EQ(step["transfers"]["succeeded"], 50);
  EXPECT_EQ(step["transfers"]["verified"], 50);
  EXPECT_EQ(step["transfers"]["failed"], 0);
  EXPECT_EQ(step["bytes"], 50 * 40000);
  EXPECT_EQ(step["latency_ms"]["count"], 50);
  EXPECT_LE(step["latency_ms"]["p50"].get<double>(), step["latency_ms"]["p99"].get<double>());
  EXPECT_LE(step["latency_ms"]["p99"].get<double>(), step["latency_ms"]["max"].get<double>());
  EXPECT_GT(doc["peak_rss_kib"].get<uint64_t>(), 0u);
  auto valid = run_command({"/usr/bin/python3", std::string(TFTPSPEC_SOURCE_DIR) + "/reports/validate.py", json().string()}, 60s);
  EXPECT_EQ(valid.exit_code, 0) << valid.output;
}

// The check can fail: a local copy that differs from what the server serves.
TEST_F(LoadCommand, ACopyThatDiffersFromTheReferenceFails) {
  write_pattern(dir_.path() / "other.bin", 40000, 2);
  Server server(dir_, {});
  auto r = run_command({TFTPSPEC_BINARY, "load", "--target", server.target(), "--clients", "3", "--file", "f.bin",
                        "--local", (dir_.path() / "other.bin").string(), "--dally", "0", "--json", json().string()},
                       60s);
  EXPECT_EQ(r.exit_code, 1) << r.output;
  const auto doc = read_json(json());
  const auto& step = doc["steps"][0];
  EXPECT_EQ(step["transfers"]["failed"], 3);
  ASSERT_EQ(step["failures"].size(), 1u);
  EXPECT_NE(step["failures"][0]["cause"].get<std::string>().find("digest mismatch"), std::string::npos);
}

// Ten clients at once against four session slots: the requests beyond the limit go
// unanswered, the clients retransmit them, and every transfer completes.
TEST_F(LoadCommand, ClientsBeyondTheSessionLimitRecover) {
  Server server(dir_, {"--max-sessions", "4"});
  auto r = run_command({TFTPSPEC_BINARY, "load", "--target", server.target(), "--clients", "10", "--file", "f.bin",
                        "--root", root(), "--dally", "0", "--retries", "8", "--json", json().string()},
                       120s);
  ASSERT_EQ(r.exit_code, 0) << r.output << server.log();
  const auto doc = read_json(json());
  const auto& step = doc["steps"][0];
  EXPECT_EQ(step["transfers"]["succeeded"], 10);
  EXPECT_EQ(step["transfers"]["failed"], 0);
  // Proof that the limit was reached: some requests had to be sent again.
  EXPECT_GT(step["retransmissions"]["requests"].get<uint64_t>(), 0u);
}

TEST_F(LoadCommand, UploadsAreReadBackFromTheRoot) {
  Server server(dir_, {"--writable"});
  auto r = run_command({TFTPSPEC_BINARY, "load", "--target", server.target(), "--clients", "5", "--file", "f.bin",
                        "--root", root(), "--upload", "--json", json().string()},
                       60s);
  ASSERT_EQ(r.exit_code, 0) << r.output << server.log();
  const auto doc = read_json(json());
  const auto& step = doc["steps"][0];
  EXPECT_EQ(step["transfers"]["verified"], 5);
  EXPECT_TRUE(std::filesystem::exists(dir_.path() / "root" / "f.bin.4"));
}

TEST_F(LoadCommand, UsageErrorsSayWhatToDo) {
  auto both = run_command({TFTPSPEC_BINARY, "load", "--target", "127.0.0.1:9", "--file", "f", "--rounds", "2",
                           "--duration", "3"},
                          30s);
  EXPECT_EQ(both.exit_code, 2) << both.output;
  auto upload = run_command({TFTPSPEC_BINARY, "load", "--target", "127.0.0.1:9", "--file", "f", "--upload"}, 30s);
  EXPECT_EQ(upload.exit_code, 2);
  EXPECT_NE(upload.output.find("--local FILE or --root DIR"), std::string::npos) << upload.output;
}

}  // namespace
}  // namespace tftp
