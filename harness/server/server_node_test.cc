// The reference client and server as a pair on the virtual network, in virtual time.
#include "server/server_node.h"

#include <gtest/gtest.h>

#include "client/transfer_node.h"
#include "proto/block_number.h"
#include "scenario/reference_faults.h"  // the rollover_to_1 switch, looked up by its name

namespace tftp::server {
namespace {

std::vector<uint8_t> pattern(size_t n) {
  std::vector<uint8_t> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = static_cast<uint8_t>(i * 7 + i / 251);
  return v;
}

TEST(ServerNode, DownloadsThroughLossyNetworkInVirtualTime) {
  MemoryFileStore files;
  files.put("f.bin", pattern(100000));
  net::Simulation sim(42);
  sim.network().set_faults({.loss = 0.1, .duplicate = 0.05, .reorder = 0.05});
  ServerNode server(Address::loopback_v4(69), ServerConfig{}, files);
  auto sink = std::make_unique<engine::MemorySink>();
  auto contents = sink->contents();
  client::TransferNode client(Address::loopback_v4(5000),
                              engine::Transfer::client_read({}, server.listen(), "f.bin", proto::Mode::kOctet,
                                                            {{"blksize", "1024"}, {"windowsize", "4"}},
                                                            std::move(sink), sim.now()));
  sim.add(server);
  sim.add(client);
  auto result = sim.run([&] { return client.transfer().finished(); });
  EXPECT_EQ(result.stop, net::RunResult::Stop::kPredicate);
  ASSERT_TRUE(client.transfer().outcome().has_value());
  EXPECT_TRUE(client.transfer().outcome()->ok()) << client.transfer().outcome()->to_string();
  EXPECT_EQ(contents->bytes, pattern(100000));
  EXPECT_TRUE(contents->committed);
}

// Past 65535 blocks at blksize 8: the block number wraps once.
constexpr size_t kRolloverBytes = 65540 * 8 - 3;

// Records the wire number of the first DATA after block 65535 on the network.
struct WrapWatch {
  std::optional<uint16_t> after_last = std::nullopt;
  bool saw_last = false;
  void see(const net::Datagram& d) {
    if (after_last || d.bytes.size() < 4 || d.bytes[1] != 3) return;
    const auto block = static_cast<uint16_t>((d.bytes[2] << 8) | d.bytes[3]);
    if (saw_last && block != proto::kLastBlockBeforeWrap) after_last = block;
    if (block == proto::kLastBlockBeforeWrap) saw_last = true;
  }
};

TEST(ServerNode, RolloverToOneFaultWrapsToOneAndTheClientFollows) {
  const auto* fault = scenario::find_reference_fault("rollover_to_1");
  ASSERT_NE(fault, nullptr);
  ServerConfig config;
  fault->apply(config);
  MemoryFileStore files;
  files.put("big.bin", pattern(kRolloverBytes));
  net::Simulation sim(7);
  WrapWatch watch;
  sim.network().set_filter([&](const net::Datagram& d) {
    watch.see(d);
    return net::FilterAction::kPass;
  });
  ServerNode server(Address::loopback_v4(69), config, files);
  auto sink = std::make_unique<engine::MemorySink>();
  auto contents = sink->contents();
  client::TransferNode client(Address::loopback_v4(5000),
                              engine::Transfer::client_read({}, server.listen(), "big.bin", proto::Mode::kOctet,
                                                            {{"blksize", "8"}}, std::move(sink), sim.now()));
  sim.add(server);
  sim.add(client);
  auto result = sim.run([&] { return client.transfer().finished(); });
  EXPECT_EQ(result.stop, net::RunResult::Stop::kPredicate);
  ASSERT_TRUE(client.transfer().outcome().has_value());
  EXPECT_TRUE(client.transfer().outcome()->ok()) << client.transfer().outcome()->to_string();
  EXPECT_EQ(watch.after_last, std::optional<uint16_t>(1));
  EXPECT_EQ(client.transfer().stats().peer_wrapped_to, std::optional<uint16_t>(1));
  EXPECT_TRUE(contents->bytes == pattern(kRolloverBytes));
}

// The reference server receiving an upload follows a client that wraps to 1.
TEST(ServerNode, UploadFromAClientWrappingToOne) {
  MemoryFileStore files(RootPolicy{.writable = true});
  net::Simulation sim(7);
  WrapWatch watch;
  sim.network().set_filter([&](const net::Datagram& d) {
    watch.see(d);
    return net::FilterAction::kPass;
  });
  ServerNode server(Address::loopback_v4(69), ServerConfig{}, files);
  engine::TransferConfig client_config;
  client_config.rollover_block = 1;
  client::TransferNode client(
      Address::loopback_v4(5000),
      engine::Transfer::client_write(client_config, server.listen(), "up.bin", proto::Mode::kOctet, {{"blksize", "8"}},
                                     std::make_unique<engine::MemorySource>(pattern(kRolloverBytes)), sim.now()));
  sim.add(server);
  sim.add(client);
  auto result = sim.run([&] { return client.transfer().finished() && !server.closed().empty(); });
  EXPECT_EQ(result.stop, net::RunResult::Stop::kPredicate);
  ASSERT_TRUE(client.transfer().outcome().has_value());
  EXPECT_TRUE(client.transfer().outcome()->ok()) << client.transfer().outcome()->to_string();
  EXPECT_EQ(watch.after_last, std::optional<uint16_t>(1));
  ASSERT_EQ(server.closed().size(), 1u);
  const SessionEvent& closed = server.closed().back();
  ASSERT_TRUE(closed.outcome.has_value());
  EXPECT_TRUE(closed.outcome->ok()) << closed.outcome->to_string();
  EXPECT_EQ(closed.stats.peer_wrapped_to, std::optional<uint16_t>(1));
  EXPECT_TRUE(files.get("up.bin") == pattern(kRolloverBytes));
}

}  // namespace
}  // namespace tftp::server
