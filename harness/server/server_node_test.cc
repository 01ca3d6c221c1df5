// The reference client and server as a pair on the virtual network, in virtual time.
#include "server/server_node.h"

#include <gtest/gtest.h>

#include "client/transfer_node.h"

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

}  // namespace
}  // namespace tftp::server
