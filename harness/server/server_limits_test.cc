// The reference server under pressure (issue 12 item 3), in virtual time: what a spoofed
// request can make it send, the per-client session limit and the memory budget.
#include <gtest/gtest.h>

#include "net/simulation.h"
#include "server/server_core.h"
#include "server/server_node.h"
#include "tests/support/packets.h"

namespace tftp::server {
namespace {

using Bytes = std::vector<uint8_t>;
using proto::Opcode;
const Instant kT0{std::chrono::seconds(1000)};

struct Sent {
  size_t packets = 0;
  size_t bytes = 0;
  size_t largest = 0;
  size_t data_packets = 0;
};

// Everything the server sends to `victim`, whose address was forged on one request and
// which never answers, until the server has given up on it.
Sent amplification(const Bytes& request, int retries, uint16_t max_windowsize = 64) {
  MemoryFileStore files(RootPolicy{true, true});
  files.put("f.bin", Bytes(1 << 20, 7));
  ServerConfig config;
  config.transfer.retransmit.max_retries = retries;
  config.limits.max_windowsize = max_windowsize;
  net::Simulation sim(7);
  ServerNode server(Address::loopback_v4(69), config, files);
  sim.add(server);
  const Address victim = Address::ipv4(0x0a000063, 4444);  // 10.0.0.99: no node owns it
  sim.network().send(victim, server.listen(), request);
  auto result = sim.run([&] { return false; });  // until nothing is left to happen
  EXPECT_EQ(result.stop, net::RunResult::Stop::kQuiet);
  EXPECT_EQ(server.core().active_sessions(), 0u);
  Sent s;
  for (const auto& d : sim.network().sent_log()) {
    if (d.to != victim) continue;
    ++s.packets;
    s.bytes += d.bytes.size();
    s.largest = std::max(s.largest, d.bytes.size());
    if (d.bytes.size() >= 2 && d.bytes[1] == static_cast<uint8_t>(Opcode::kData)) ++s.data_packets;
  }
  return s;
}

// RFC 1350 §2 makes a server retransmit its first reply until the client answers or it gives
// up; RFC 2347 puts an OACK (a few dozen bytes) before any DATA when options are asked for,
// and RFC 7440's window only opens after ACK 0. So what one forged request buys is its first
// reply times (retries + 1), plus the ERROR on giving up: never a window, never a second block.
TEST(Amplification, ASpoofedRequestCostsAtMostTheRetransmissionBudgetOfItsFirstReply) {
  constexpr int kRetries = 5;
  struct Case {
    const char* what;
    Bytes request;
  };
  const std::vector<Case> cases = {
      {"plain RRQ", testing::request(Opcode::kRrq, "f.bin")},
      {"RRQ blksize 65464 windowsize 64",
       testing::request(Opcode::kRrq, "f.bin", "octet", {{"blksize", "65464"}, {"windowsize", "64"}, {"tsize", "0"}})},
      {"RRQ windowsize 64", testing::request(Opcode::kRrq, "f.bin", "octet", {{"windowsize", "64"}})},
      {"WRQ", testing::request(Opcode::kWrq, "new.bin")},
      {"RRQ missing file", testing::request(Opcode::kRrq, "missing.bin")},
      {"malformed", Bytes{0, 1, 'x'}},
  };
  double worst = 0;
  for (const auto& c : cases) {
    SCOPED_TRACE(c.what);
    const Sent s = amplification(c.request, kRetries);
    // The first reply and its retransmissions, and one ERROR when the session gives up.
    EXPECT_LE(s.packets, static_cast<size_t>(kRetries) + 2);
    EXPECT_LE(s.bytes, (kRetries + 1) * s.largest + 100);  // the ERROR says why, in under 100 bytes
    EXPECT_LE(s.largest, 4u + 512u);  // never more than one 512-byte block, whatever was asked
    EXPECT_LE(s.data_packets, static_cast<size_t>(kRetries) + 1);  // DATA 1 only, never a window
    const double factor = static_cast<double>(s.bytes) / static_cast<double>(c.request.size());
    worst = std::max(worst, factor);
    std::printf("%-34s request %3zu bytes -> %zu datagrams, %5zu bytes to the forged address: x%.0f\n", c.what,
                c.request.size(), s.packets, s.bytes, factor);
  }
  // README.md states the bound: (retries + 1) x 516 + ERROR for a 10-byte plain RRQ.
  EXPECT_LE(worst, ((kRetries + 1) * 516.0 + 100) / 10.0);
  // The count sees retransmissions: a larger budget buys proportionally more.
  const Sent more = amplification(cases[0].request, 4 * kRetries);
  EXPECT_GT(more.bytes, (kRetries + 1) * more.largest + 100);
}

std::vector<std::pair<SessionId, Address>> opened(ServerCore& core) {
  std::vector<std::pair<SessionId, Address>> out;
  while (auto e = core.poll_event()) {
    if (e->kind == SessionEvent::Kind::kOpened) out.emplace_back(e->session, e->client);
  }
  return out;
}

size_t transmits(ServerCore& core) {
  Bytes buf(proto::kMaxDatagramSize);
  size_t n = 0;
  while (core.poll_transmit(buf)) ++n;
  return n;
}

TEST(PerClientLimit, ARequestBeyondItIsLeftUnansweredAndServedOnceASessionEnds) {
  MemoryFileStore files;
  files.put("f.bin", Bytes(100000, 1));
  ServerConfig config;
  config.max_sessions_per_client = 2;
  ServerCore core(config, files);
  const Bytes rrq = testing::request(Opcode::kRrq, "f.bin");
  const Address a1 = Address::ipv4(0x0a000001, 1001), a2 = Address::ipv4(0x0a000001, 1002),
                a3 = Address::ipv4(0x0a000001, 1003), other = Address::ipv4(0x0a000002, 1001);
  core.handle_request(kT0, a1, rrq);
  core.handle_request(kT0, a2, rrq);
  auto first = opened(core);
  ASSERT_EQ(first.size(), 2u);
  EXPECT_EQ(transmits(core), 2u);
  core.handle_request(kT0, a3, rrq);  // a third from the same host, another port
  EXPECT_TRUE(opened(core).empty());
  EXPECT_EQ(transmits(core), 0u);  // no ERROR: the client will retransmit
  EXPECT_EQ(core.requests_shed(), 1u);
  core.handle_request(kT0, other, rrq);  // another host is not limited by it
  EXPECT_EQ(opened(core).size(), 1u);
  // One of the host's transfers ends (its client gives up): the retransmission is served.
  core.handle_datagram(kT0, first[0].first, a1, testing::error(0, "bye"));
  transmits(core);
  (void)core.poll_event();
  core.handle_request(kT0, a3, rrq);
  EXPECT_EQ(opened(core).size(), 1u);
  EXPECT_EQ(core.requests_shed(), 1u);
  // The limit can fail the check: with room for three, nothing was shed.
  config.max_sessions_per_client = 3;
  ServerCore roomy(config, files);
  for (const auto& a : {a1, a2, a3}) roomy.handle_request(kT0, a, rrq);
  EXPECT_EQ(roomy.requests_shed(), 0u);
}

TEST(MemoryBudget, WindowsShrinkToFitAndARequestThatCannotFitIsShed) {
  MemoryFileStore files;
  files.put("f.bin", Bytes(1 << 20, 1));
  ServerConfig config;
  config.memory_budget = 10 << 20;
  ServerCore core(config, files);
  const Bytes big = testing::request(Opcode::kRrq, "f.bin", "octet", {{"blksize", "65464"}, {"windowsize", "64"}});
  engine::TransferParams largest;
  largest.blksize = 65464;
  largest.windowsize = 64;
  ASSERT_GT(session_memory(largest), config.memory_budget);  // 4 MiB window + 2 x 4 MiB buffers
  std::vector<std::string> granted;
  for (uint16_t port = 1; port <= 8; ++port) {
    core.handle_request(kT0, Address::ipv4(0x0a000001, port), big);
    Bytes buf(proto::kMaxDatagramSize);
    while (auto t = core.poll_transmit(buf)) granted.push_back(proto::describe_datagram(std::span(buf).first(t->size)));
    EXPECT_LE(core.memory_in_use(), config.memory_budget);
  }
  ASSERT_FALSE(granted.empty());
  // The first is granted a smaller window (RFC 7440 §4), never the 64 asked for.
  // 32 x 65464 + 2 x 4 MiB of socket buffers fits in 10 MiB; 64 x 65464 + 2 x 4 MiB does not.
  EXPECT_EQ(granted[0], "OACK \"blksize\"=\"65464\" \"windowsize\"=\"32\"");
  EXPECT_GT(core.requests_shed(), 0u);  // and at some point one does not fit at all
  EXPECT_EQ(granted.size() + core.requests_shed(), 8u);
  // Sessions ending (here: their clients never answer) give the memory back.
  EXPECT_GT(core.active_sessions(), 0u);
  for (int i = 0; i < 1000 && core.poll_timeout(); ++i) {
    core.handle_timeout(*core.poll_timeout());
    transmits(core);
    while (core.poll_event()) {
    }
  }
  EXPECT_EQ(core.active_sessions(), 0u);
  EXPECT_EQ(core.memory_in_use(), 0u);
  // Default budget, default requests: 512 sessions fit without shrinking or shedding.
  ServerCore plain(ServerConfig{}, files);
  const Bytes rrq = testing::request(Opcode::kRrq, "f.bin");
  for (uint32_t i = 0; i < 512; ++i) plain.handle_request(kT0, Address::ipv4(0x0b000000 + i, 1000), rrq);
  EXPECT_EQ(plain.requests_shed(), 0u);
  EXPECT_EQ(plain.active_sessions(), 512u);
  EXPECT_LE(plain.memory_in_use(), ServerConfig{}.memory_budget);
}

}  // namespace
}  // namespace tftp::server
