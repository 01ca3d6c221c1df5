// Proves the peer harness itself: each real server starts, serves and accepts files, and each
// client command line built by peers.h really transfers data.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <stdexcept>
#include <thread>
#include <tuple>

#include "tests/support/peers.h"
#include "tests/support/process.h"

namespace tftp::testing {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

constexpr auto kClientTimeout = 20s;

std::string pattern(size_t size, unsigned seed) {
  std::string data(size, '\0');
  for (size_t i = 0; i < size; ++i)
    data[i] = static_cast<char>((i * 131 + seed * 7 + i / 256) & 0xff);
  return data;
}

void write_file(const fs::path& path, const std::string& data) {
  std::ofstream(path, std::ios::binary) << data;
}

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// A server may still be flushing when the client has its last ACK; give it a moment.
bool eventually_equals(const fs::path& path, const std::string& expected) {
  const auto deadline = std::chrono::steady_clock::now() + 2s;
  while (read_file(path) != expected) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(5ms);
  }
  return true;
}

bool on_path(const std::string& program) {
  return run_command({"sh", "-c", "command -v \"$0\"", program}, 5s).exit_code == 0;
}

TEST(ProcessTest, RunCommandCapturesOutputAndExitCode) {
  auto result = run_command({"sh", "-c", "echo out; echo err >&2; exit 3"}, 5s);
  EXPECT_FALSE(result.timed_out);
  EXPECT_EQ(result.exit_code, 3);
  EXPECT_NE(result.output.find("out"), std::string::npos);
  EXPECT_NE(result.output.find("err"), std::string::npos);
}

TEST(ProcessTest, RunCommandFeedsStdinAndHonoursCwd) {
  TempDir dir;
  auto result = run_command({"sh", "-c", "cat; pwd"}, 5s, "hello\n", dir.str());
  EXPECT_EQ(result.exit_code, 0);
  EXPECT_EQ(result.output, "hello\n" + fs::canonical(dir.path()).string() + "\n");
}

TEST(ProcessTest, RunCommandKillsOnTimeout) {
  auto start = std::chrono::steady_clock::now();
  auto result = run_command({"sleep", "30"}, 200ms);
  EXPECT_TRUE(result.timed_out);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 2s);
}

TEST(ProcessTest, RunCommandDoesNotWaitForGrandchildHoldingThePipe) {
  auto start = std::chrono::steady_clock::now();
  auto result = run_command({"sh", "-c", "sleep 30 & echo started"}, 10s);
  EXPECT_FALSE(result.timed_out);
  EXPECT_EQ(result.exit_code, 0);
  EXPECT_EQ(result.output, "started\n");
  EXPECT_LT(std::chrono::steady_clock::now() - start, 2s);
}

TEST(ProcessTest, StopEscalatesToSigkill) {
  TempDir dir;
  ChildProcess child({"sh", "-c", "trap '' TERM; echo ready; sleep 30"},
                     (dir.path() / "log").string());
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  while (child.log_text().empty() && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(5ms);
  ASSERT_TRUE(child.running());
  pid_t pid = child.pid();
  child.stop();
  EXPECT_FALSE(child.running());
  EXPECT_NE(kill(pid, 0), 0);
  EXPECT_EQ(child.log_text(), "ready\n");
}

TEST(ProcessTest, WaitUdpBoundSeesOurSocket) {
  uint16_t port = free_udp_port();
  EXPECT_FALSE(wait_udp_bound(port, 20ms));
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  EXPECT_TRUE(wait_udp_bound(port, 1s));
  auto sockets = bound_udp_sockets(port);
  ASSERT_EQ(sockets.size(), 1u);
  EXPECT_EQ(sockets[0].address, "127.0.0.1");
  close(fd);
}

class PeersTest : public ::testing::Test {
 protected:
  void SetUp() override { write_file(root_.path() / "file.bin", content_); }

  // Fetches file.bin with the tftp-hpa client and checks every byte.
  void expect_download(const PeerServer& server) {
    fs::path local = work_.path() / ("from-" + server.name);
    auto result =
        run_command(tftp_hpa_get(server.host, server.port, "file.bin", local), kClientTimeout);
    EXPECT_EQ(result.exit_code, 0) << result.output;
    EXPECT_EQ(read_file(local), content_) << result.output << server.process.log_text();
  }

  void expect_upload(const PeerServer& server) {
    const std::string data = pattern(1000, 2);
    fs::path local = work_.path() / "upload.bin";
    write_file(local, data);
    auto result =
        run_command(tftp_hpa_put(server.host, server.port, "new.bin", local), kClientTimeout);
    EXPECT_EQ(result.exit_code, 0) << result.output;
    EXPECT_TRUE(eventually_equals(root_.path() / "new.bin", data))
        << result.output << server.process.log_text();
  }

  TempDir root_{"tftpspec-root-"};
  TempDir work_{"tftpspec-work-"};
  const std::string content_ = pattern(1000, 1);
};

TEST_F(PeersTest, TftpdHpaServesAndAcceptsUploads) {
  auto server = start_tftpd_hpa(root_.str(), /*writable=*/true);
  if (!server) GTEST_SKIP() << "in.tftpd not installed";
  EXPECT_TRUE(server->process.running());
  expect_download(*server);
  expect_upload(*server);
}

TEST_F(PeersTest, TftpdHpaReadOnlyRefusesNewFilesButClientExitsZero) {
  auto server = start_tftpd_hpa(root_.str(), /*writable=*/false);
  if (!server) GTEST_SKIP() << "in.tftpd not installed";
  expect_download(*server);
  fs::path local = work_.path() / "upload.bin";
  write_file(local, "x");
  auto result =
      run_command(tftp_hpa_put(server->host, server->port, "new.bin", local), kClientTimeout);
  EXPECT_EQ(result.exit_code, 0);
  EXPECT_NE(result.output.find("Error code"), std::string::npos) << result.output;
  EXPECT_FALSE(fs::exists(root_.path() / "new.bin"));
}

TEST_F(PeersTest, AtftpdServesAndAcceptsUploads) {
  auto server = start_atftpd(root_.str());
  if (!server) GTEST_SKIP() << "atftpd not found at " << atftpd_path();
  expect_download(*server);
  expect_upload(*server);
  EXPECT_NE(server->process.log_text().find("Serving file.bin"), std::string::npos);
}

TEST_F(PeersTest, DnsmasqServesOnItsOwnAddresses) {
  auto first = start_dnsmasq(root_.str());
  if (!first) GTEST_SKIP() << "dnsmasq not installed";
  auto second = start_dnsmasq(root_.str());
  ASSERT_TRUE(second);
  EXPECT_EQ(first->port, 69);
  EXPECT_NE(first->host, second->host);
  EXPECT_NE(first->host, "127.0.0.1");
  expect_download(*first);
  expect_download(*second);
}

// Each daemon must honour SIGTERM (no 2 s SIGKILL fallback) and release its port.
TEST_F(PeersTest, ServersStopPromptlyAndReleaseTheirPort) {
  std::vector<PeerServer> servers;
  auto keep = [&](std::optional<PeerServer> server) {
    if (server) servers.push_back(std::move(*server));
  };
  keep(start_tftpd_hpa(root_.str(), false));
  keep(start_atftpd(root_.str()));
  keep(start_dnsmasq(root_.str()));
  if (servers.empty()) GTEST_SKIP() << "no server installed";
  for (auto& server : servers) {
    auto start = std::chrono::steady_clock::now();
    server.process.stop();
    EXPECT_LT(std::chrono::steady_clock::now() - start, 1s) << server.name;
    for (const auto& socket : bound_udp_sockets(server.port))
      EXPECT_NE(socket.address, server.host) << server.name;
  }
}

// Every client helper against each server that accepts uploads, with the options the client
// can send, on files that span several blocks.
using ClientCommand = std::vector<std::string> (*)(const std::string&, uint16_t, const std::string&,
                                                   const std::string&, const ClientOptions&);

struct ClientCase {
  std::string name;
  std::string program;
  ClientCommand get;
  ClientCommand put;
  ClientOptions options;
};

std::vector<ClientCase> client_cases() {
  // tftp-hpa cannot send options, so its helpers take none; adapt them to the common shape.
  ClientCommand hpa_get = [](const std::string& host, uint16_t port, const std::string& remote,
                             const std::string& local, const ClientOptions&) {
    return tftp_hpa_get(host, port, remote, local);
  };
  ClientCommand hpa_put = [](const std::string& host, uint16_t port, const std::string& remote,
                             const std::string& local, const ClientOptions&) {
    return tftp_hpa_put(host, port, remote, local);
  };
  const ClientOptions all{.blksize = 1024, .windowsize = 4, .tsize = true};
  const ClientOptions no_window{.blksize = 1024, .windowsize = {}, .tsize = true};
  return {{"tftp_hpa", "tftp", hpa_get, hpa_put, {}},
          {"atftp", "atftp", atftp_get, atftp_put, all},
          {"curl", "curl", curl_get, curl_put, no_window},
          {"busybox", "busybox", busybox_get, busybox_put, no_window}};
}

class ClientMatrixTest : public ::testing::TestWithParam<std::tuple<std::string, ClientCase>> {};

TEST_P(ClientMatrixTest, GetAndPut) {
  const auto& [server_name, client] = GetParam();
  if (!on_path(client.program)) GTEST_SKIP() << client.program << " not installed";
  TempDir root{"tftpspec-root-"}, work{"tftpspec-work-"};
  const std::string big = pattern(5000, 3), upload = pattern(4100, 4);
  write_file(root.path() / "big.bin", big);
  write_file(work.path() / "up.bin", upload);
  auto server =
      server_name == "atftpd" ? start_atftpd(root.str()) : start_tftpd_hpa(root.str(), true);
  if (!server) GTEST_SKIP() << server_name << " not available";

  auto got = run_command(
      client.get(server->host, server->port, "big.bin", work.path() / "got.bin", client.options),
      kClientTimeout);
  EXPECT_EQ(got.exit_code, 0) << got.output;
  EXPECT_EQ(read_file(work.path() / "got.bin"), big) << got.output << server->process.log_text();

  auto put = run_command(
      client.put(server->host, server->port, "put.bin", work.path() / "up.bin", client.options),
      kClientTimeout);
  EXPECT_EQ(put.exit_code, 0) << put.output;
  EXPECT_TRUE(eventually_equals(root.path() / "put.bin", upload))
      << put.output << server->process.log_text();
  // atftpd logs what it negotiated, which shows the options really went on the wire.
  if (server_name == "atftpd" && client.options.blksize) {
    const std::string log = server->process.log_text();
    EXPECT_NE(log.find("blksize option -> 1024"), std::string::npos) << log;
    EXPECT_NE(log.find("tsize option -> 5000"), std::string::npos) << log;
    if (client.options.windowsize) {
      EXPECT_NE(log.find("windowsize option -> 4"), std::string::npos) << log;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Peers, ClientMatrixTest,
                         ::testing::Combine(::testing::Values("tftpd_hpa", "atftpd"),
                                            ::testing::ValuesIn(client_cases())),
                         [](const auto& info) {
                           return std::get<0>(info.param) + "_" + std::get<1>(info.param).name;
                         });

TEST(ClientOptionsTest, UnsupportedOptionsThrow) {
  ClientOptions window{.blksize = {}, .windowsize = 8, .tsize = false};
  EXPECT_THROW(curl_get("127.0.0.1", 1, "a", "b", window), std::invalid_argument);
  EXPECT_THROW(busybox_put("127.0.0.1", 1, "a", "b", window), std::invalid_argument);
  EXPECT_NO_THROW(atftp_get("127.0.0.1", 1, "a", "b", window));
}

TEST(ClientOptionsTest, CurlEscapesRemoteNamesAndBracketsIpv6) {
  auto argv = curl_get("::1", 6969, "dir/a b%.bin", "out");
  EXPECT_EQ(argv.back(), "tftp://[::1]:6969/dir/a%20b%25.bin");
  EXPECT_NE(std::find(argv.begin(), argv.end(), "--tftp-no-options"), argv.end());
}

}  // namespace
}  // namespace tftp::testing
