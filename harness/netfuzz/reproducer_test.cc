#include "netfuzz/reproducer.h"

#include <gtest/gtest.h>

#include "scenario/loader.h"

namespace tftp::netfuzz {
namespace {

Finding two_case_finding() {
  Finding f;
  f.index = 1;
  f.first_case = 4;
  f.last_case = 5;
  f.scenario_id = "fuzz.seed-1.case-5";
  f.shrunk = true;
  f.note = "shrunk\nwith a newline";
  Case a;
  a.number = 4;
  a.mutation = "RRQ request: filename \"\x01\"";
  a.datagrams = {{Destination::kListen, {0, 1, 'f', 0, 'o', 'c', 't', 'e', 't', 0}, true},
                 {Destination::kServer, {0, 4, 0, 0}, true}};
  Case b;
  b.number = 5;
  b.datagrams = {{Destination::kListen, {0, 1, 0xff}, false}};
  f.reproducer = {a, b};
  return f;
}

TEST(NetfuzzReproducer, TheScenarioLoadsAndReplaysEachCaseAsANewTransfer) {
  const auto yaml = scenario_yaml(two_case_finding(), "f1.bin", "Command: tftpspec fuzz");
  auto loaded = scenario::load_text(yaml, "reproducer.yaml");
  ASSERT_TRUE(loaded) << loaded.error().to_string() << "\n" << yaml;
  ASSERT_EQ(loaded->size(), 1u);
  const auto& s = loaded->front();
  EXPECT_EQ(s.id, "fuzz.seed-1.case-5");
  EXPECT_EQ(s.level, scenario::Level::kMust);
  // RAW, expect, RAW (to server), expect, RAW; then RRQ and its expect.
  ASSERT_EQ(s.steps.size(), 7u);
  EXPECT_TRUE(s.steps[0].send.request);
  EXPECT_EQ(s.steps[0].send.to, scenario::Destination::kListen);
  EXPECT_EQ(s.steps[1].otherwise, report::Verdict::kPass);
  EXPECT_FALSE(s.steps[2].send.request);
  EXPECT_EQ(s.steps[2].send.to, scenario::Destination::kServer);
  EXPECT_EQ(s.steps[2].send.raw, (std::vector<uint8_t>{0, 4, 0, 0}));
  EXPECT_TRUE(s.steps[4].send.request);
  EXPECT_EQ(s.steps[5].send.file, "f1.bin");
  EXPECT_EQ(s.steps[6].kind, scenario::StepKind::kExpect);
  EXPECT_FALSE(s.steps[6].otherwise.has_value());  // default by level: a MUST fails
}

TEST(NetfuzzReproducer, RequestIsOnlyForRaw) {
  const std::string yaml =
      "id: x.y\ntitle: t\ncitation: c\nrequirement: T1350-ERR-TERM\nlevel: MUST\nsummary: s\nsteps:\n"
      "  - send: RRQ\n    file: f1.bin\n    request: true\n";
  EXPECT_FALSE(scenario::load_text(yaml, "x.yaml"));
}

TEST(NetfuzzReproducer, TheCaptureHoldsEveryDatagram) {
  std::vector<WireEvent> events;
  const Address target = Address::loopback_v4(6969);
  const Address local = Address::ipv4(0, 40000);  // a wildcard-bound socket
  events.push_back({real_now(), true, local, target, {0, 1, 'a', 0, 'o', 'c', 't', 'e', 't', 0}});
  events.push_back({real_now(), false, target.with_port(50000), local, {0, 5, 0, 1, 0}});
  const auto pcap = capture_bytes(events);
  ASSERT_GE(pcap.size(), 24u);
  EXPECT_EQ(pcap[0], 0xd4);  // little-endian classic pcap magic
  // Header, then per frame 16 bytes of record header + 20 IPv4 + 8 UDP + payload.
  EXPECT_EQ(pcap.size(), 24u + (16 + 28 + 10) + (16 + 28 + 5));
}

}  // namespace
}  // namespace tftp::netfuzz
