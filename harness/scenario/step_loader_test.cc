// The loader's keys for the steps that drive several transfers or time a schedule
// (`downloads:`, `schedule:`), and the extra client ports of the virtual wire the
// concurrent downloads use (Wire::extra_sockets).
#include <gtest/gtest.h>

#include <set>

#include "scenario/loader.h"
#include "scenario/runner.h"
#include "scenario/wire.h"

namespace tftp::scenario {
namespace {

std::string scenario_with(const std::string& step) {
  return "id: a.b\ntitle: t\ncitation: RFC 1350 §4\nlevel: MUST\nsummary: s\nsteps:\n" + step;
}

// The step of a one-step scenario, or the load error's message.
tl::expected<Step, std::string> only_step(const std::string& step) {
  auto r = load_text(scenario_with(step), "x.yaml");
  if (!r) return tl::unexpected(r.error().message + " (line " + std::to_string(r.error().where.line) + ")");
  return r->front().steps.front();
}

TEST(DownloadsStep, CountDefaultsToTheListsLength) {
  auto s = only_step("  - downloads: [f511.bin, f3000.bin, f1.bin]\n");
  ASSERT_TRUE(s) << s.error();
  EXPECT_EQ(s->kind, StepKind::kDownloads);
  EXPECT_EQ(s->concurrent.files, (std::vector<std::string>{"f511.bin", "f3000.bin", "f1.bin"}));
  EXPECT_EQ(s->concurrent.count, 3u);
  EXPECT_DOUBLE_EQ(s->within.seconds, 60);  // the default budget
}

TEST(DownloadsStep, TakesCountWithinOtherwiseAndReason) {
  auto s = only_step("  - downloads: [f511.bin]\n    count: 20\n    within: 30s\n    otherwise: warn\n    reason: why\n");
  ASSERT_TRUE(s) << s.error();
  EXPECT_EQ(s->concurrent.count, 20u);
  EXPECT_DOUBLE_EQ(s->within.seconds, 30);
  ASSERT_TRUE(s->otherwise);
  EXPECT_EQ(*s->otherwise, Verdict::kWarn);
  EXPECT_EQ(s->reason, "why");
}

TEST(DownloadsStep, RejectsACountOutsideOneToAThousand) {
  for (const char* count : {"0", "1001", "-3", "many"}) {
    auto s = only_step(std::string("  - downloads: [f511.bin]\n    count: ") + count + "\n");
    ASSERT_FALSE(s) << count;
    EXPECT_NE(s.error().find("count"), std::string::npos) << s.error();
  }
}

TEST(DownloadsStep, RejectsAnEmptyListAnUnknownFixtureAndAnUnknownKey) {
  auto empty = only_step("  - downloads: []\n");
  ASSERT_FALSE(empty);
  EXPECT_NE(empty.error().find("non-empty list"), std::string::npos) << empty.error();
  auto scalar = only_step("  - downloads: f511.bin\n");
  ASSERT_FALSE(scalar);
  auto unknown = only_step("  - downloads: [f511.bin, nope.bin]\n");
  ASSERT_FALSE(unknown);
  EXPECT_NE(unknown.error().find("nope.bin"), std::string::npos) << unknown.error();
  auto key = only_step("  - downloads: [f511.bin]\n    mode: netascii\n");
  ASSERT_FALSE(key);
  EXPECT_NE(key.error().find("mode"), std::string::npos) << key.error();
}

TEST(ScheduleStep, TakesANumberOfTriesOrGiveUp) {
  auto three = only_step("  - schedule: 3\n");
  ASSERT_TRUE(three) << three.error();
  EXPECT_EQ(three->kind, StepKind::kSchedule);
  EXPECT_EQ(three->tries, 3);
  EXPECT_DOUBLE_EQ(three->within.seconds, 180);
  auto give_up = only_step("  - schedule: give-up\n    within: 90s\n");
  ASSERT_TRUE(give_up) << give_up.error();
  EXPECT_EQ(give_up->tries, 0);
  EXPECT_DOUBLE_EQ(give_up->within.seconds, 90);
  for (const char* bad : {"0", "51", "forever"}) {
    auto s = only_step(std::string("  - schedule: ") + bad + "\n");
    ASSERT_FALSE(s) << bad;
    EXPECT_NE(s.error().find("give-up"), std::string::npos) << s.error();
  }
  auto key = only_step("  - schedule: 3\n    block: 1\n");
  ASSERT_FALSE(key);
  EXPECT_NE(key.error().find("block"), std::string::npos) << key.error();
}

std::unique_ptr<Wire> virtual_wire() {
  EmbeddedTarget target;
  auto wire = target.open(1);
  EXPECT_TRUE(wire.has_value());
  return std::move(*wire);
}

TEST(VirtualWireExtraSockets, AreDistinctPortsBeyondMainAndOther) {
  auto wire = virtual_wire();
  auto sockets = wire->extra_sockets(5);
  ASSERT_TRUE(sockets) << sockets.error().to_string();
  ASSERT_EQ(sockets->size(), 5u);
  std::set<std::string> addresses{wire->local(Socket::kMain).to_string(), wire->local(Socket::kOther).to_string()};
  for (size_t i = 0; i < sockets->size(); ++i) {
    EXPECT_EQ(static_cast<size_t>((*sockets)[i]), i + 2);
    addresses.insert(wire->local((*sockets)[i]).to_string());
  }
  EXPECT_EQ(addresses.size(), 7u) << "every client TID must be its own port";
  // Kept for the wire's life: asking again gives the same sockets, not new ones.
  auto again = wire->extra_sockets(2);
  ASSERT_TRUE(again);
  EXPECT_EQ((*again)[0], (*sockets)[0]);
  EXPECT_EQ(wire->local((*again)[1]).to_string(), wire->local((*sockets)[1]).to_string());
}

TEST(VirtualWireExtraSockets, EachReceivesTheAnswerToItsOwnRequest) {
  auto wire = virtual_wire();
  auto sockets = wire->extra_sockets(3);
  ASSERT_TRUE(sockets);
  std::vector<uint8_t> rrq(64);
  rrq.resize(*proto::write_request(rrq, proto::Opcode::kRrq, "f1.bin", "octet", {}));
  for (Socket s : *sockets) wire->send(s, wire->listen(), rrq);
  std::multiset<size_t> answered;
  while (auto r = wire->receive_until(wire->now() + std::chrono::milliseconds(500))) {
    answered.insert(static_cast<size_t>(r->at));
  }
  EXPECT_EQ(answered, (std::multiset<size_t>{2, 3, 4})) << "one DATA 1 per requesting port, none elsewhere";
}

TEST(VirtualWireExtraSockets, RefusesMoreThanASocketNumberHolds) {
  auto wire = virtual_wire();
  auto sockets = wire->extra_sockets(70000);
  ASSERT_FALSE(sockets);
  EXPECT_EQ(sockets.error().id, "tftp.scenario.too_many_sockets");
}

}  // namespace
}  // namespace tftp::scenario
