// The delay proxy (tests/support/delay_proxy.h): TIDs kept apart both ways, each direction
// delayed, order kept unless asked otherwise, and a TFTP transfer through it works.
// Timing is checked from below (a datagram never arrives before its delay) with generous
// upper bounds: a loaded machine only makes things later.
#include "tests/support/delay_proxy.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "client/client.h"
#include "engine/io.h"
#include "net/udp_socket.h"
#include "scenario/fixtures.h"
#include "scenario/runner.h"
#include "server/udp_server.h"
#include "tests/support/reference_server.h"
#include "tests/support/packets.h"
#include "tests/support/process.h"
#include "tests/support/reference_server.h"

namespace tftp {
namespace {

using namespace std::chrono_literals;
using testing::Bytes;

net::UdpSocket bound() { return std::move(*net::UdpSocket::bind(Address::loopback_v4(0))); }

struct Got {
  Address from;
  Bytes bytes;
  Instant at;
};

// Waits (up to 5 s, far beyond any delay used here) for one datagram.
std::optional<Got> wait_for(net::UdpSocket& s) {
  std::vector<uint8_t> buffer(65536);
  auto r = s.receive_wait(buffer, 5s);
  if (!r || !*r) return std::nullopt;
  buffer.resize((*r)->size);
  return Got{(*r)->from, std::move(buffer), real_now()};
}

Bytes text(std::string_view s) { return Bytes(s.begin(), s.end()); }

std::unique_ptr<testing::DelayProxy> start_proxy(const Address& server, Duration delay, Duration jitter = {},
                                                 bool reorder = false) {
  testing::DelayProxyConfig config;
  config.server = server;
  config.delay = delay;
  config.jitter = jitter;
  config.reorder = reorder;
  config.seed = 11;
  auto proxy = testing::DelayProxy::start(config);
  EXPECT_TRUE(proxy) << proxy.error().to_string();
  return proxy ? std::move(*proxy) : nullptr;
}

TEST(DelayProxy, KeepsEachServerTidApartInBothDirections) {
  auto well_known = bound();  // the server's port 69
  auto tid = bound();         // a transfer socket of the server
  auto proxy = start_proxy(well_known.local_address(), 2ms);
  ASSERT_TRUE(proxy);
  auto client = bound();
  auto stray = bound();

  ASSERT_TRUE(client.send_to(proxy->address(), text("request")));
  const auto request = wait_for(well_known);
  ASSERT_TRUE(request);
  EXPECT_EQ(request->bytes, text("request"));
  const Address upstream = request->from;  // the proxy's socket for `client`

  // The well-known port answering comes from the address the client wrote to.
  ASSERT_TRUE(well_known.send_to(upstream, text("from 69")));
  const auto from69 = wait_for(client);
  ASSERT_TRUE(from69);
  EXPECT_EQ(from69->from, proxy->address());

  // A new server TID appears as a new source port, distinct from the listening one.
  ASSERT_TRUE(tid.send_to(upstream, text("data")));
  const auto data = wait_for(client);
  ASSERT_TRUE(data);
  EXPECT_EQ(data->bytes, text("data"));
  EXPECT_NE(data->from, proxy->address());
  const Address proxied_tid = data->from;

  // What the client sends to that port reaches that TID, from the same upstream socket.
  ASSERT_TRUE(client.send_to(proxied_tid, text("ack")));
  const auto ack = wait_for(tid);
  ASSERT_TRUE(ack);
  EXPECT_EQ(ack->bytes, text("ack"));
  EXPECT_EQ(ack->from, upstream);

  // A stray (another client port) reaches the TID from another port, and the answer to it
  // comes back from the same proxied TID.
  ASSERT_TRUE(stray.send_to(proxied_tid, text("stray")));
  const auto strayed = wait_for(tid);
  ASSERT_TRUE(strayed);
  EXPECT_NE(strayed->from, upstream);
  ASSERT_TRUE(tid.send_to(strayed->from, text("error 5")));
  const auto answer = wait_for(stray);
  ASSERT_TRUE(answer);
  EXPECT_EQ(answer->from, proxied_tid);
  EXPECT_EQ(answer->bytes, text("error 5"));

  // The proxy counts a datagram just after sending it: the receiver may see it first.
  auto stats = proxy->stats();
  for (int i = 0; i < 200 && (stats.to_server < 3 || stats.to_client < 3); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    stats = proxy->stats();
  }
  EXPECT_EQ(stats.to_server, 3u);
  EXPECT_EQ(stats.to_client, 3u);
  EXPECT_EQ(stats.dropped, 0u);
}

TEST(DelayProxy, DelaysEachDirectionByAtLeastTheOneWayDelay) {
  auto server = bound();
  auto proxy = start_proxy(server.local_address(), 40ms, 5ms);
  ASSERT_TRUE(proxy);
  auto client = bound();
  for (int i = 0; i < 3; ++i) {
    const Instant sent = real_now();
    ASSERT_TRUE(client.send_to(proxy->address(), text("ping")));
    const auto there = wait_for(server);
    ASSERT_TRUE(there);
    EXPECT_GE(there->at - sent, 40ms);
    ASSERT_TRUE(server.send_to(there->from, text("pong")));
    const auto back = wait_for(client);
    ASSERT_TRUE(back);
    EXPECT_GE(back->at - there->at, 40ms);
    EXPECT_LT(back->at - sent, 2s);  // generous: only catches a proxy that forgets to send
  }
}

// Sends `n` numbered datagrams at once through a jittery proxy; returns the arrival order.
std::vector<int> arrival_order(bool reorder, int n) {
  auto server = bound();
  server.set_buffer_sizes(1 << 20);
  auto proxy = start_proxy(server.local_address(), 5ms, 10ms, reorder);
  auto client = bound();
  for (int i = 0; i < n; ++i) (void)client.send_to(proxy->address(), text(std::to_string(i)));
  std::vector<int> order;
  for (int i = 0; i < n; ++i) {
    const auto got = wait_for(server);
    if (!got) break;
    order.push_back(std::stoi(std::string(got->bytes.begin(), got->bytes.end())));
  }
  return order;
}

TEST(DelayProxy, KeepsTheOrderOfADirectionUnlessAskedToReorder) {
  constexpr int kCount = 200;
  const auto kept = arrival_order(/*reorder=*/false, kCount);
  ASSERT_EQ(kept.size(), size_t{kCount});
  EXPECT_TRUE(std::is_sorted(kept.begin(), kept.end()));

  // 200 datagrams sent within a millisecond, each with 0-10 ms of jitter: some overtake.
  const auto shuffled = arrival_order(/*reorder=*/true, kCount);
  ASSERT_EQ(shuffled.size(), size_t{kCount});
  EXPECT_FALSE(std::is_sorted(shuffled.begin(), shuffled.end()));
}

TEST(DelayProxy, ATransferThroughItSucceedsAndTheMeasuredRoundTripIsTwiceTheDelay) {
  testing::TempDir root("tftpspec-proxy-");
  ASSERT_TRUE(scenario::write_fixtures(root.path()));
  testing::ReferenceServerThread server(root.path());
  constexpr auto kOneWay = 25ms;
  auto proxy = start_proxy(server.address(), kOneWay);
  ASSERT_TRUE(proxy);

  client::Request request;
  request.server = proxy->address();
  request.remote = "f3000.bin";
  request.transfer.dally = Duration{};  // nothing to learn from dallying here
  auto sink = std::make_unique<engine::MemorySink>();
  const auto contents = sink->contents();
  const auto report = client::download(request, std::move(sink));
  ASSERT_TRUE(report) << report.error().to_string();
  EXPECT_TRUE(report->outcome.ok()) << report->outcome.to_string();
  EXPECT_EQ(contents->bytes, *scenario::fixture_bytes("f3000.bin"));
  // Six DATA blocks in lockstep: RRQ -> DATA 1, then ACK n -> DATA n+1 five times; the
  // final ACK needs no answer. At least six round trips of 50 ms.
  EXPECT_GE(report->elapsed, 6 * 2 * kOneWay);

  // Discovery's path measurement through the proxy: about twice the one-way delay.
  scenario::UdpTarget target(proxy->address(), /*fixtures_written=*/true);
  report::TargetInfo info;
  (void)scenario::discover(target, info, /*seed=*/3, {"f1.bin"});
  EXPECT_TRUE(info.alive);
  ASSERT_GT(info.path.samples, 0);
  std::printf("round trip through a %.0f ms proxy: median %.2f ms, jitter %.2f ms over %d samples\n",
              to_ms(kOneWay), info.path.rtt_ms, info.path.jitter_ms, info.path.samples);
  RecordProperty("rtt_ms", std::to_string(info.path.rtt_ms));
  EXPECT_GE(info.path.rtt_ms, 2 * to_ms(kOneWay) - 1);   // kernel timestamps: a hair of slack
  EXPECT_LT(info.path.rtt_ms, 2 * to_ms(kOneWay) + 250);  // generous: CI machines are loaded
}

}  // namespace
}  // namespace tftp
