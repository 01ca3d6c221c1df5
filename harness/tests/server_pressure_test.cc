// The reference server on real sockets under pressure and crashes (issue 12 items 2 and 3):
// replies from the address asked, a request flood that cannot starve a transfer, and an
// upload killed with SIGKILL that leaves nothing behind.
#include <signal.h>
#include <sys/socket.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <algorithm>
#include <condition_variable>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>

#include "client/client.h"
#include "engine/io.h"
#include "net/udp_socket.h"
#include "server/udp_server.h"
#include "tests/support/packets.h"
#include "tests/support/process.h"

namespace tftp {
namespace {

namespace fs = std::filesystem;
using Bytes = std::vector<uint8_t>;
using testing::TempDir;

Bytes pattern(size_t n) {
  Bytes v(n);
  for (size_t i = 0; i < n; ++i) v[i] = static_cast<uint8_t>(i * 13 + i / 509);
  return v;
}

void write_file(const fs::path& p, const Bytes& b) {
  std::ofstream(p, std::ios::binary).write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
}

// The reference server on `listen` in a thread of this process.
class ServerThread {
 public:
  ServerThread(const fs::path& root, std::vector<Address> listen, server::ServerConfig config = {},
               server::UdpServer::InboundTap tap = {}) {
    auto files = server::RootDirectory::open(root, server::RootPolicy{true, false});
    if (!files) throw std::runtime_error(files.error());
    files_ = std::move(*files);
    auto s = server::UdpServer::start(listen, std::move(config), *files_);
    if (!s) throw std::runtime_error(s.error().message);
    server_ = std::move(*s);
    if (tap) server_->set_inbound_tap(std::move(tap));
    thread_ = std::thread([this] { (void)server_->run(stop_); });
  }
  ~ServerThread() {
    stop_ = true;
    thread_.join();
  }
  uint16_t port(size_t i = 0) const { return server_->listening().at(i).port(); }

 private:
  std::unique_ptr<server::RootDirectory> files_;
  std::unique_ptr<server::UdpServer> server_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

Address addr(const std::string& text) {
  auto a = Address::parse(text, 0);
  if (!a) throw std::runtime_error(text);
  return *a;
}

// Sends `request` from `s` to `to` until a reply comes (UDP: a lost datagram is asked
// again), and returns where it came from: the server's TID for a transfer it opened.
std::optional<Address> first_reply_from(net::UdpSocket& s, const Address& to, const Bytes& request) {
  Bytes buf(proto::kMaxDatagramSize);
  for (int attempt = 0; attempt < 5; ++attempt) {
    (void)s.send_to(to, request);
    auto got = s.receive_wait(buf, std::chrono::seconds(2));
    if (got && *got) return (*got)->from;
  }
  return std::nullopt;
}

// Sends `request` to `to` from a fresh socket and returns where the first reply came from.
std::optional<Address> reply_source(const Address& to, const Bytes& request) {
  auto s = net::UdpSocket::ephemeral_for(to);
  if (!s) return std::nullopt;
  return first_reply_from(*s, to, request);
}

// Issue 12 item 3: on a wildcard address, every reply (a session's DATA, a refusal's ERROR)
// leaves from the address the request was sent to, not the one the kernel would pick.
TEST(ServerPressure, RepliesLeaveFromTheAddressTheRequestWasSentTo) {
  TempDir root{"tftpspec-pktinfo-"};
  write_file(fs::path(root.path()) / "f.bin", pattern(100));
  ServerThread v4(root.path(), {addr("0.0.0.0:0")});
  for (const char* host : {"127.0.0.2", "127.0.0.1", "127.0.0.3"}) {
    SCOPED_TRACE(host);
    const Address to = Address::parse(host, v4.port()).value();
    for (const auto& req : {testing::request(proto::Opcode::kRrq, "f.bin"),
                            testing::request(proto::Opcode::kRrq, "missing.bin")}) {
      auto from = reply_source(to, req);
      ASSERT_TRUE(from.has_value()) << "no reply";
      EXPECT_EQ(from->host_string(), host);
      EXPECT_NE(from->port(), v4.port());  // a new TID (RFC 1350 §4)
    }
  }
  // IPv6: one loopback address only, so this shows that [::] serves and answers from ::1.
  std::unique_ptr<ServerThread> v6;
  try {
    v6 = std::make_unique<ServerThread>(root.path(), std::vector<Address>{addr("[::]:0")});
  } catch (const std::exception& e) {
    GTEST_SKIP() << "no IPv6: " << e.what();
  }
  auto from = reply_source(Address::parse("::1", v6->port()).value(), testing::request(proto::Opcode::kRrq, "f.bin"));
  ASSERT_TRUE(from.has_value());
  EXPECT_EQ(from->host_string(), "::1");
}

// A sink that, on the first block, lets the flood start and waits until it is on: the
// rest of the download then runs under it.
class FloodGateSink : public engine::ByteSink {
 public:
  FloodGateSink(std::atomic<bool>& open, const std::atomic<uint64_t>& flooded) : open_(open), flooded_(flooded) {}
  Result<void> write(std::span<const uint8_t> bytes) override {
    if (!open_.exchange(true)) {
      for (const Instant until = real_now() + std::chrono::seconds(10); flooded_ < 1000 && real_now() < until;) {
        std::this_thread::yield();
      }
    }
    return inner_.write(bytes);
  }
  Result<void> commit() override { return inner_.commit(); }
  void abort() override { inner_.abort(); }
  std::shared_ptr<const engine::MemorySink::Contents> contents() const { return inner_.contents(); }

 private:
  std::atomic<bool>& open_;
  const std::atomic<uint64_t>& flooded_;
  engine::MemorySink inner_;
};

// Issue 12 item 3: while one socket floods the listening port with requests, a download in
// progress still completes with the right bytes (the listener is read in bounded batches).
// The flood starts once DATA 1 has arrived: a request sent into a listener the flood keeps
// full is dropped by the kernel before the server sees it, which no server can help, and is
// not what "a transfer in progress" means.
TEST(ServerPressure, ARequestFloodDoesNotStarveATransferInProgress) {
  TempDir root{"tftpspec-flood-"};
  const Bytes file = pattern(80000);
  write_file(fs::path(root.path()) / "f.bin", file);
  ServerThread server(root.path(), {addr("127.0.0.1:0")});
  const Address listen = Address::loopback_v4(server.port());
  std::atomic<bool> stop{false}, in_progress{false};
  std::atomic<uint64_t> flooded{0};
  std::thread flood([&] {
    auto s = net::UdpSocket::ephemeral_for(listen);
    if (!s) return;
    while (!in_progress && !stop) std::this_thread::yield();
    // Requests the server must each parse and refuse (ERROR 1 from a new socket), as fast
    // as one thread can send them; the replies are never read.
    const Bytes rrq = testing::request(proto::Opcode::kRrq, "missing.bin");
    while (!stop) {
      const ssize_t n = ::sendto(s->fd(), rrq.data(), rrq.size(), MSG_DONTWAIT, listen.sockaddr_ptr(), listen.sockaddr_len());
      if (n > 0) ++flooded;
    }
  });
  client::Request request;
  request.server = listen;
  request.remote = "f.bin";
  request.transfer.dally = Duration::zero();
  auto sink = std::make_unique<FloodGateSink>(in_progress, flooded);
  auto contents = sink->contents();
  auto report = client::download(request, std::move(sink));
  stop = true;
  flood.join();
  ASSERT_TRUE(report.has_value()) << report.error().message;
  EXPECT_TRUE(report->outcome.ok()) << report->outcome.to_string() << " after " << flooded << " flooding requests";
  EXPECT_EQ(contents->bytes, file);
  EXPECT_GE(flooded.load(), 1000u) << "the flood never got going";
  std::printf("download of %zu bytes completed during a flood of %llu requests\n", file.size(),
              static_cast<unsigned long long>(flooded.load()));
}

// Issue 12 item 3, the bound itself. The server is held still (in its inbound tap) while
// requests queue at the listener and an ACK at a running session's socket; once let go, it
// must serve the ACK after at most two batches of requests (the rest of the batch it was in,
// and one more if epoll lists the listener first), not after the whole queue, as a listener
// read until EAGAIN would. No timing is judged: only the order the server handled them in.
TEST(ServerPressure, AQueuedAckIsServedAfterAtMostTwoBatchesOfQueuedRequests) {
  constexpr size_t kQueued = 120;  // well over two batches, well under the listener's buffer
  TempDir root{"tftpspec-batch-"};
  write_file(fs::path(root.path()) / "f.bin", pattern(3000));
  const Bytes hold = testing::request(proto::Opcode::kRrq, "hold-the-server");
  std::mutex m;
  std::condition_variable cv;
  bool held = false, released = false;
  std::vector<bool> order;  // each datagram the server handled after release: true at the listener
  auto tap = [&](std::span<const uint8_t> bytes, bool at_listener) {
    std::unique_lock<std::mutex> lock(m);
    if (at_listener && std::ranges::equal(bytes, hold)) {
      held = true;
      cv.notify_all();
      cv.wait(lock, [&] { return released; });
      return false;
    }
    if (released) order.push_back(at_listener);
    return true;
  };
  ServerThread server(root.path(), {addr("127.0.0.1:0")}, {}, tap);
  const Address listen = Address::loopback_v4(server.port());
  auto client = net::UdpSocket::ephemeral_for(listen);
  auto flood = net::UdpSocket::ephemeral_for(listen);
  ASSERT_TRUE(client && flood);
  Bytes buf(proto::kMaxDatagramSize);
  const Address tid = first_reply_from(*client, listen, testing::request(proto::Opcode::kRrq, "f.bin")).value_or(Address());
  ASSERT_TRUE(tid.is_specified()) << "no DATA 1";
  (void)flood->send_to(listen, hold);
  {
    std::unique_lock<std::mutex> lock(m);
    ASSERT_TRUE(cv.wait_for(lock, std::chrono::seconds(30), [&] { return held; })) << "the server never read the hold request";
  }
  // Loopback delivers before sendto returns: all of it is queued when the server resumes.
  const Bytes refused = testing::request(proto::Opcode::kRrq, "missing.bin");
  for (size_t i = 0; i < kQueued; ++i) (void)flood->send_to(listen, refused);
  (void)client->send_to(tid, testing::ack(1));
  {
    std::lock_guard<std::mutex> lock(m);
    released = true;
  }
  cv.notify_all();
  auto data2 = client->receive_wait(buf, std::chrono::seconds(10));
  ASSERT_TRUE(data2 && *data2) << "no DATA 2 after ACK 1";
  // The queued requests may still be being served: wait for them (their ERRORs, each from a
  // new port, come to the flood socket), up to a bound that only a lost request reaches.
  for (const Instant until = real_now() + std::chrono::seconds(20); real_now() < until;) {
    {
      std::lock_guard<std::mutex> lock(m);
      if (std::count(order.begin(), order.end(), true) >= static_cast<long>(kQueued)) break;
    }
    (void)flood->receive_wait(buf, std::chrono::milliseconds(100));
  }
  std::lock_guard<std::mutex> lock(m);
  const auto ack_at = std::find(order.begin(), order.end(), false);
  ASSERT_NE(ack_at, order.end()) << "the ACK was never handled";
  const auto requests_before = std::count(order.begin(), ack_at, true);
  EXPECT_LE(requests_before, static_cast<long>(2 * server::UdpServer::kListenBatch));
  EXPECT_EQ(std::count(order.begin(), order.end(), true), static_cast<long>(kQueued)) << "not every queued request arrived";
  std::printf("the ACK was served after %ld of %zu queued requests\n", static_cast<long>(requests_before), kQueued);
}

std::set<std::string> entries(const fs::path& dir) {
  std::set<std::string> out;
  for (const auto& e : fs::directory_iterator(dir)) out.insert(e.path().filename().string());
  return out;
}

// Starts a WRQ for "up.bin" on a separate `tftpspec serve`, sends 20 blocks, then kills the
// server with SIGKILL mid-transfer. Returns what is left in its root.
std::set<std::string> upload_killed_midway(const fs::path& root, const std::vector<std::string>& extra_flags) {
  const uint16_t port = testing::free_udp_port();
  std::vector<std::string> argv = {TFTPSPEC_BINARY, "serve", "--root", root.string(), "--listen",
                                   "127.0.0.1:" + std::to_string(port), "--writable", "-q"};
  argv.insert(argv.end(), extra_flags.begin(), extra_flags.end());
  testing::ChildProcess serve(argv, (root.parent_path() / (root.filename().string() + ".log")).string());
  if (!testing::wait_udp_bound(port, std::chrono::seconds(20), &serve)) {
    ADD_FAILURE() << "serve did not start: " << serve.log_text();
    return {"?"};
  }
  const Address listen = Address::loopback_v4(port);
  auto s = net::UdpSocket::ephemeral_for(listen);
  Bytes buf(proto::kMaxDatagramSize);
  const Address tid = first_reply_from(*s, listen, testing::request(proto::Opcode::kWrq, "up.bin")).value_or(Address());
  EXPECT_TRUE(tid.is_specified()) << "no ACK 0";
  const Bytes block = pattern(512);
  for (uint16_t n = 1; n <= 20 && tid.is_specified(); ++n) {
    bool acked = false;
    for (int attempt = 0; attempt < 5 && !acked; ++attempt) {
      (void)s->send_to(tid, testing::data(n, block));
      auto got = s->receive_wait(buf, std::chrono::seconds(2));
      acked = got && *got && (*got)->size == 4 && buf[1] == 4 && ((buf[2] << 8) | buf[3]) == n;
    }
    EXPECT_TRUE(acked) << "block " << n;
  }
  // 10 KiB written, the transfer open: the server dies without a chance to clean up.
  ::kill(serve.pid(), SIGKILL);
  serve.stop();
  return entries(root);
}

// Issue 12 item 2: an upload whose server is killed with SIGKILL midway leaves nothing
// under the final name and no temporary file (O_TMPFILE: the data never had a name).
TEST(ServerPressure, AnUploadKilledWithSigkillLeavesNothingBehind) {
  TempDir base{"tftpspec-sigkill-"};
  const fs::path root = fs::path(base.path()) / "root";
  fs::create_directories(root);
  EXPECT_EQ(upload_killed_midway(root, {}), std::set<std::string>{});
  // The check sees a stray file: the named-temporary fallback leaves its hidden file behind.
  const auto left = upload_killed_midway(root, {"--no-tmpfile"});
  ASSERT_EQ(left.size(), 1u);
  EXPECT_EQ(left.begin()->rfind(".up.bin.tftpspec-", 0), 0u) << *left.begin();
  EXPECT_FALSE(fs::exists(root / "up.bin"));
}

}  // namespace
}  // namespace tftp

namespace tftp {
namespace {

// The durability log of harness/tests/preload/durability_log.cc: what a name given to a file
// (a link of /proc/self/fd/N, a rename of a temporary) lacks, or "" when each naming of
// `name` came after an fsync of the file it names: issue 12 item 2, "data is fsynced before
// it becomes visible".
std::string durability_violation(const std::vector<std::string>& log, const std::string& name) {
  std::set<std::string> synced_fds, synced_paths;
  int named = 0;
  for (const auto& line : log) {
    std::istringstream in(line);
    std::string call;
    in >> call;
    const auto last_space = line.rfind(' ');
    if (call == "fsync") {
      synced_fds.insert(line.substr(last_space + 1));
      synced_paths.insert(line.substr(6, last_space - 6));
      continue;
    }
    std::string from, to;
    in >> from >> to;
    if (to != name) continue;
    ++named;
    const std::string proc = "/proc/self/fd/";
    const bool ok = call == "link" && from.rfind(proc, 0) == 0
                        ? synced_fds.count(from.substr(proc.size())) > 0
                        : std::any_of(synced_paths.begin(), synced_paths.end(), [&](const std::string& p) {
                            return p.size() >= from.size() + 1 && p.compare(p.size() - from.size() - 1, std::string::npos, "/" + from) == 0;
                          });
    if (!ok) return "'" + line + "' names a file no fsync made durable first";
  }
  return named > 0 ? "" : "no link or rename to " + name + " in the log";
}

TEST(ServerDurability, TheCheckSeesANameGivenBeforeTheFsync) {
  EXPECT_EQ(durability_violation({"fsync /r/#12 (deleted) 7", "link /proc/self/fd/7 up.bin 5"}, "up.bin"), "");
  EXPECT_NE(durability_violation({"link /proc/self/fd/7 up.bin 5", "fsync /r/#12 (deleted) 7"}, "up.bin"), "");
  EXPECT_NE(durability_violation({"fsync /r/#12 (deleted) 8", "link /proc/self/fd/7 up.bin 5"}, "up.bin"), "");
  EXPECT_EQ(durability_violation({"fsync /r/.up.bin.tftpspec-4 7", "rename .up.bin.tftpspec-4 up.bin 0"}, "up.bin"), "");
  EXPECT_NE(durability_violation({"rename .up.bin.tftpspec-4 up.bin 0", "fsync /r/.up.bin.tftpspec-4 7"}, "up.bin"), "");
  EXPECT_NE(durability_violation({"fsync /r/f 7"}, "up.bin"), "");
}

// A real `tftpspec serve` with the durability log preloaded: an upload, by O_TMPFILE and
// linkat and by the named fallback and rename, is fsynced before it gets its name.
TEST(ServerDurability, AnUploadIsFsyncedBeforeItGetsItsName) {
  for (const std::vector<std::string>& extra : {std::vector<std::string>{}, std::vector<std::string>{"--no-tmpfile"}}) {
    SCOPED_TRACE(extra.empty() ? "O_TMPFILE" : "--no-tmpfile");
    TempDir base{"tftpspec-durable-"};
    const fs::path root = fs::path(base.path()) / "root";
    fs::create_directories(root);
    const fs::path log = fs::path(base.path()) / "durability.log";
    const uint16_t port = testing::free_udp_port();
    std::vector<std::string> argv = {TFTPSPEC_BINARY, "serve", "--root", root.string(), "--listen",
                                     "127.0.0.1:" + std::to_string(port), "--writable", "-q"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    testing::ChildProcess serve(argv, (base.path() / "serve.log").string(),
                                {{"LD_PRELOAD", TFTPSPEC_DURABILITY_LOG_SO}, {"TFTPSPEC_DURABILITY_LOG", log.string()}});
    ASSERT_TRUE(testing::wait_udp_bound(port, std::chrono::seconds(20), &serve)) << serve.log_text();
    const fs::path local = fs::path(base.path()) / "local.bin";
    const Bytes content = pattern(3000);
    std::ofstream(local, std::ios::binary).write(reinterpret_cast<const char*>(content.data()), static_cast<std::streamsize>(content.size()));
    auto put = testing::run_command({TFTPSPEC_BINARY, "put", "127.0.0.1:" + std::to_string(port), "up.bin", local.string()},
                                    std::chrono::seconds(60));
    ASSERT_EQ(put.exit_code, 0) << put.output;
    serve.stop();
    ASSERT_TRUE(fs::exists(root / "up.bin"));
    std::ifstream in(log);
    std::vector<std::string> lines;
    for (std::string line; std::getline(in, line);) lines.push_back(line);
    ASSERT_FALSE(lines.empty()) << "the shim logged nothing: was it preloaded?";
    EXPECT_EQ(durability_violation(lines, "up.bin"), "") << ::testing::PrintToString(lines);
  }
}

}  // namespace
}  // namespace tftp
