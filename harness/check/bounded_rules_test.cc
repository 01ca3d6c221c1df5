// The rule engine's memory bound (issue 7, item 7): a flood of 64 KiB datagrams or an
// endless transfer keeps its state bounded, and the limits on what it keeps never change a
// verdict.
#include <gtest/gtest.h>
#include <malloc.h>

#include <algorithm>
#include <functional>
#include <string>
#include <vector>

#include "check/rules.h"
#include "tests/support/packets.h"

#if defined(__SANITIZE_ADDRESS__)
#define TFTPSPEC_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TFTPSPEC_SANITIZED 1
#endif
#endif

namespace tftp::check {
namespace {

using namespace std::chrono_literals;
using Bytes = std::vector<uint8_t>;
using testing::ack;
using testing::error;

// What the engine may hold, by retained_bytes(), whatever it was fed: 4,000 kept
// observations of at most ~1.6 KB each (rules.h) and the rules' bounded state, with room.
constexpr size_t kRetainedBound = 8u << 20;

Bytes rrq(std::string name) { return testing::request(proto::Opcode::kRrq, name, "octet", {}); }
Bytes data(uint16_t block, size_t size, uint8_t fill = 0) {
  return testing::data(block, Bytes(size, static_cast<uint8_t>(fill + block)));
}

// Every field of every finding, so that two engines can be compared.
std::string dump(const std::vector<Finding>& findings) {
  std::string out;
  for (const auto& f : findings) {
    out += f.id + " [" + f.requirement + ", " + f.citation + ", " + std::string(level_name(f.level)) + ", " +
           f.cause + ", " + f.category + "] " + f.message + " evidence:";
    for (size_t i : f.evidence) out += " " + std::to_string(i);
    out += "\n";
  }
  return out;
}

bool has(const std::vector<Finding>& findings, std::string_view id) {
  return std::any_of(findings.begin(), findings.end(), [&](const Finding& f) { return f.id == id; });
}

// Feeds the same datagrams to an engine with `limits` and to one that keeps everything.
struct Twin {
  Address listen = Address::loopback_v4(69);
  Address client = Address::loopback_v4(5000);
  Address server = Address::loopback_v4(40000);
  Address stray = Address::loopback_v4(6000);
  Instant now{std::chrono::seconds(10)};
  RuleEngine capped;
  RuleEngine whole{listen, RetentionLimits::unbounded()};
  bool shrink_each = false;  // capped.shrink_to_fit() after every datagram

  explicit Twin(RetentionLimits limits) : capped(listen, limits) {}

  void wait(Duration d) { now += d; }
  void observe(Direction dir, const Address& from, const Address& to, Bytes b) {
    const Observation o{now, dir, from, to, std::move(b)};
    const size_t i = capped.observe(o);
    EXPECT_EQ(whole.observe(o), i);
    if (shrink_each) capped.shrink_to_fit();
  }
  void ask(Bytes b, const Address* from = nullptr) { observe(Direction::kToTarget, from ? *from : client, listen, std::move(b)); }
  void send(Bytes b) { observe(Direction::kToTarget, client, server, std::move(b)); }
  void reply(Bytes b) { observe(Direction::kFromTarget, server, client, std::move(b)); }
  void timing(const PathTiming& t) {
    capped.set_timing(t);
    whole.set_timing(t);
  }
  // `blocks` full lockstep blocks from DATA `first` on, each ACKed 1 ms later.
  uint16_t download(size_t blocks, uint16_t first = 1) {
    uint16_t block = first;
    for (size_t k = 0; k < blocks; ++k, ++block) {
      reply(data(block, 512));
      wait(1ms);
      send(ack(block));
      wait(1ms);
    }
    return block;  // the next block
  }
  void finish_download(uint16_t block) {
    reply(data(block, 10));
    wait(1ms);
    send(ack(block));
  }
};

// Traces whose telling datagrams fall in the middle of a long transfer: more than
// RetentionLimits::kHead observations before them and more than kTail after, so that the
// default limits drop them. Each names a finding it must produce.
struct Case {
  std::string name;
  std::string expect;
  std::function<void(Twin&)> run;
};

constexpr size_t kLong = 1500;  // blocks: 3,000 observations

std::vector<Case> cases() {
  return {
      {"sas_by_cause", "tftp.rule.sorcerers_apprentice",
       [](Twin& r) {
         r.ask(rrq("a.bin"));
         r.wait(1ms);
         uint16_t b = r.download(kLong);
         r.reply(data(b, 512));
         r.wait(1ms);
         r.send(ack(b - 1));  // duplicate
         r.wait(1ms);
         r.reply(data(b, 512));  // answered at once
         r.wait(1ms);
         r.send(ack(b));
         r.wait(1ms);
         r.finish_download(r.download(kLong, b + 1));
       }},
      {"sas_by_count", "tftp.rule.sorcerers_apprentice_count",
       [](Twin& r) {
         r.timing({100us, 20us, 10ms, 10ms});
         r.ask(rrq("a.bin"));
         r.wait(1ms);
         uint16_t b = r.download(kLong);
         for (int k = 0; k < 3; ++k, ++b) {
           r.reply(data(b, 512));
           r.wait(1ms);
           r.send(ack(b - 2));  // an old ACK
           r.send(ack(b - 1));  // and a duplicate
           r.wait(100us);
           r.reply(data(b, 512));
           r.wait(1ms);
           r.send(ack(b));
           r.wait(100us);
         }
         r.finish_download(r.download(kLong, b));
       }},
      {"retransmission_differs_and_timer_list", "tftp.rule.retransmission_differs",
       [](Twin& r) {
         r.ask(rrq("a.bin"));
         r.wait(1ms);
         uint16_t b = r.download(kLong);
         r.reply(data(b, 512));
         for (int k = 0; k < 20; ++k) {  // more timer resends than the note lists
           r.wait(1000ms + std::chrono::milliseconds(k));
           r.reply(data(b, 512));
         }
         r.wait(1000ms);
         r.reply(data(b, 512, 7));
         r.wait(1ms);
         r.send(ack(b));
         r.wait(1ms);
         r.finish_download(r.download(kLong, b + 1));
       }},
      {"sent_after_client_error", "tftp.rule.sent_after_error",
       [](Twin& r) {
         r.ask(rrq("a.bin"));
         r.wait(1ms);
         uint16_t b = r.download(kLong);
         r.reply(data(b, 512));
         r.wait(1ms);
         r.send(error(0, "user cancelled"));
         r.wait(1ms);
         r.reply(ack(b));  // acknowledges the ERROR
         for (size_t k = 0; k < 2 * kLong; ++k) {
           r.wait(1000ms);
           r.reply(data(b, 512));
         }
       }},
      {"server_error_retransmitted_then_data", "tftp.rule.sent_after_own_error",
       [](Twin& r) {
         r.ask(rrq("a.bin"));
         r.wait(1ms);
         uint16_t b = r.download(kLong);
         r.reply(error(3, std::string(3000, 'x')));  // longer than what is kept of it
         r.wait(1000ms);
         r.reply(error(3, std::string(3000, 'x')));
         for (size_t k = 0; k < 2 * kLong; ++k) {
           r.wait(1000ms);
           r.reply(data(b, 512));
         }
       }},
      {"stray_disturbs_transfer", "tftp.rule.stray_disturbed_transfer",
       [](Twin& r) {
         r.ask(rrq("a.bin"));
         r.wait(1ms);
         uint16_t b = r.download(kLong);
         r.reply(data(b, 512));
         r.wait(1ms);
         r.observe(Direction::kToTarget, r.stray, r.server, ack(b));
         r.wait(1ms);
         r.reply(error(5, "Unknown transfer ID"));
         r.client = Address::loopback_v4(5001);  // a second transfer pushes it out of the tail
         r.server = Address::loopback_v4(40001);
         r.wait(1ms);
         r.ask(rrq("b.bin"));
         r.wait(1ms);
         r.finish_download(r.download(2 * kLong));
       }},
      {"stray_accepted_and_unanswered", "tftp.rule.stray_accepted",
       [](Twin& r) {
         r.ask(rrq("a.bin"));
         r.wait(1ms);
         uint16_t b = r.download(kLong);
         r.observe(Direction::kToTarget, r.stray, r.server, ack(b - 1));
         r.wait(1ms);
         r.observe(Direction::kFromTarget, r.server, r.stray, data(b, 512));
         r.wait(1ms);
         r.finish_download(r.download(kLong, b));
       }},
      {"stray_not_answered", "tftp.note.stray_not_answered",
       [](Twin& r) {
         r.ask(rrq("a.bin"));
         r.wait(1ms);
         uint16_t b = r.download(kLong);
         r.observe(Direction::kToTarget, r.stray, r.server, ack(b - 1));
         r.wait(1ms);
         r.finish_download(r.download(kLong, b));
         r.wait(2s);
       }},
      {"ack_for_error_to_listen", "tftp.rule.ack_for_error",
       [](Twin& r) {
         r.ask(rrq("a.bin"));
         r.wait(1ms);
         uint16_t b = r.download(kLong);
         const Address other = Address::loopback_v4(5002);
         r.ask(error(0, "hello"), &other);
         r.wait(1ms);
         r.observe(Direction::kFromTarget, r.listen, other, ack(0));
         r.wait(1ms);
         r.finish_download(r.download(kLong, b));
       }},
      {"missing_final_then_same_pair_again", "tftp.rule.missing_final_block",
       [](Twin& r) {
         r.ask(rrq("a.bin"));
         r.wait(1ms);
         r.download(kLong);
         r.wait(2s);  // no 0-byte block
         r.ask(rrq("b.bin"));  // the same client port, answered from the same TID
         r.wait(1ms);
         r.finish_download(r.download(kLong));
       }},
  };
}

TEST(RuleBounds, RetentionLimitsNeverChangeFindings) {
  for (const RetentionLimits limits : {RetentionLimits{}, RetentionLimits{2, 2, 8}}) {
    for (const Case& c : cases()) {
      SCOPED_TRACE(c.name + " with head " + std::to_string(limits.head));
      Twin r(limits);
      c.run(r);
      ASSERT_GT(r.capped.observed_count(), RetentionLimits::kHead + RetentionLimits::kTail) << "not a long trace";
      const auto whole = r.whole.finish();
      EXPECT_TRUE(has(whole, c.expect)) << dump(whole);
      EXPECT_EQ(dump(r.capped.finish()), dump(whole));
    }
  }
}

// What a capture's analysis does to each transfer that ends (it lingers for late datagrams):
// giving back spare room keeps every record, here after every datagram.
TEST(RuleBounds, ShrinkingToFitNeverChangesFindings) {
  for (const Case& c : cases()) {
    SCOPED_TRACE(c.name);
    Twin r(RetentionLimits::unbounded());
    r.shrink_each = true;
    c.run(r);
    const auto whole = r.whole.finish();
    EXPECT_TRUE(has(whole, c.expect)) << dump(whole);
    EXPECT_EQ(dump(r.capped.finish()), dump(whole));
  }
}

TEST(RuleBounds, SupersededTransferKeepsWhatTheEndJudges) {
  const Case c = cases().back();
  Twin r(RetentionLimits{});
  c.run(r);
  const auto found = r.capped.finish();
  auto missing = std::find_if(found.begin(), found.end(), [](const Finding& f) { return f.id == "tftp.rule.missing_final_block"; });
  ASSERT_NE(missing, found.end()) << dump(found);
  EXPECT_NE(missing->message.find("DATA 1500 carried a full block (512 bytes)"), std::string::npos)
      << missing->message;
}

// Observations beyond the limits are counted, not kept; indices stay sequence numbers.
TEST(RuleBounds, KeepsFirstAndLastObservationsCutToTheirFirstBytes) {
  RuleEngine engine(Address::loopback_v4(69), RetentionLimits{3, 2, 6});
  const Address client = Address::loopback_v4(5000);
  const Address server = Address::loopback_v4(40000);
  Instant t{std::chrono::seconds(1)};
  EXPECT_EQ(engine.observe({t, Direction::kToTarget, client, Address::loopback_v4(69), rrq("a.bin")}), 0u);
  for (uint16_t b = 1; b <= 5; ++b) {
    t += 1ms;
    EXPECT_EQ(engine.observe({t, Direction::kFromTarget, server, client, data(b, 512)}), 2u * b - 1);
    EXPECT_EQ(engine.observe({t, Direction::kToTarget, client, server, ack(b)}), 2u * b);
  }
  EXPECT_EQ(engine.observed_count(), 11u);
  std::vector<size_t> kept;
  for (const KeptObservation* k : engine.kept()) kept.push_back(k->index);
  EXPECT_EQ(kept, (std::vector<size_t>{0, 1, 2, 9, 10}));
  EXPECT_EQ(engine.observation(3), nullptr);
  EXPECT_EQ(engine.observation(11), nullptr);
  const KeptObservation* d5 = engine.observation(9);
  ASSERT_NE(d5, nullptr);
  EXPECT_EQ(d5->size, 516u);
  EXPECT_EQ(d5->observation.bytes, (Bytes{0, 3, 0, 5, 5, 5}));
  EXPECT_EQ(d5->packet, "DATA block=5 size=512");
  EXPECT_EQ(engine.observations().size(), 5u);
}

// An endless lockstep download past the block-number wrap: 200,001 observations, state
// that stops growing, and a Sorcerer's Apprentice at the very end still reported with
// evidence that is kept.
TEST(RuleBounds, EndlessLockstepDownloadKeepsBoundedState) {
  Twin r(RetentionLimits{});
  RuleEngine& e = r.capped;
  r.ask(rrq("endless.bin"));
  r.wait(1ms);
  size_t at_half = 0;
  uint16_t b = 1;
  for (int k = 0; k < 100000; ++k, ++b) {
    // Not through Twin: the unbounded twin would keep all of it.
    e.observe({r.now, Direction::kFromTarget, r.server, r.client, data(b, 512)});
    r.wait(1ms);
    e.observe({r.now, Direction::kToTarget, r.client, r.server, ack(b)});
    r.wait(1ms);
    if (k == 50000) at_half = e.retained_bytes();
  }
  EXPECT_EQ(e.observed_count(), 200001u);
  RecordProperty("retained_bytes", std::to_string(e.retained_bytes()));
  EXPECT_LT(e.retained_bytes(), kRetainedBound);
  EXPECT_LT(e.retained_bytes(), at_half + (64u << 10)) << "state grows with the transfer";
  EXPECT_NE(e.observation(0), nullptr);
  EXPECT_EQ(e.observation(RetentionLimits::kHead), nullptr);
  EXPECT_NE(e.observation(e.observed_count() - 1), nullptr);

  const auto at = [&](const Bytes& bytes, bool from_target) {
    r.wait(1ms);
    return e.observe({r.now, from_target ? Direction::kFromTarget : Direction::kToTarget,
                      from_target ? r.server : r.client, from_target ? r.client : r.server, bytes});
  };
  at(data(b, 512), true);
  at(ack(static_cast<uint16_t>(b - 1)), false);  // duplicate
  at(data(b, 512), true);                        // answered at once
  const auto found = e.finish();
  ASSERT_TRUE(has(found, "tftp.rule.sorcerers_apprentice")) << dump(found);
  EXPECT_TRUE(has(found, "tftp.note.rollover_to_0")) << dump(found);
  for (const Finding& f : found) {
    if (f.level == Level::kNote) continue;
    EXPECT_EQ(f.id, "tftp.rule.sorcerers_apprentice") << dump(found);
    for (size_t i : f.evidence) EXPECT_NE(e.observation(i), nullptr) << i;
  }
}

// A target flooding 64 KiB datagrams: 20,000 of them would be 1.3 GB kept whole.
TEST(RuleBounds, FloodOfLargeDatagramsKeepsBoundedBytes) {
#ifndef TFTPSPEC_SANITIZED
  const size_t heap_before = mallinfo2().uordblks;
#endif
  RuleEngine e(Address::loopback_v4(69));
  const Address client = Address::loopback_v4(5000);
  const Address server = Address::loopback_v4(40000);
  Instant t{std::chrono::seconds(1)};
  e.observe({t, Direction::kToTarget, client, Address::loopback_v4(69), rrq("a.bin")});
  e.observe({t += 1ms, Direction::kFromTarget, server, client, data(1, 512)});
  e.observe({t += 1ms, Direction::kToTarget, client, server, ack(1)});
  const Bytes too_long = data(2, 65503);  // longer than any block size
  const Bytes oversize = data(2, 65464);  // the largest block size, not negotiated
  const Bytes garbage(65507, 0x5a);       // opcode 0x5a5a
  const Bytes* flood[] = {&too_long, &oversize, &garbage};
  for (int k = 0; k < 20000; ++k) {
    t += 10us;
    e.observe({t, Direction::kFromTarget, server, client, *flood[k % 3]});
  }
  EXPECT_LT(e.retained_bytes(), kRetainedBound);
  RecordProperty("retained_bytes", std::to_string(e.retained_bytes()));
#ifndef TFTPSPEC_SANITIZED
  RecordProperty("heap_growth", std::to_string(mallinfo2().uordblks - heap_before));
  EXPECT_LT(mallinfo2().uordblks - heap_before, 2 * kRetainedBound) << "the heap grew beyond the estimate";
#endif
  // 20,003 observations: the last is DATA 2 of 65,464 bytes, the one before a too long one.
  const KeptObservation* last = e.observation(e.observed_count() - 1);
  ASSERT_NE(last, nullptr);
  EXPECT_EQ(last->size, 65468u);
  EXPECT_EQ(last->observation.bytes.size(), RetentionLimits::kBytes);
  EXPECT_EQ(last->packet, "DATA block=2 size=65464") << "described whole, kept cut";
  const KeptObservation* before = e.observation(e.observed_count() - 2);
  ASSERT_NE(before, nullptr);
  EXPECT_EQ(before->size, 65507u);
  EXPECT_EQ(before->packet.rfind("malformed (tftp.parse.data_too_long", 0), 0u) << before->packet;
  const auto found = e.finish();
  EXPECT_TRUE(has(found, "tftp.rule.data_datagram_too_long")) << dump(found);
  EXPECT_TRUE(has(found, "tftp.rule.oversize_data")) << dump(found);
  EXPECT_TRUE(has(found, "tftp.rule.malformed_packet")) << dump(found);
  EXPECT_LT(found.size(), 10u) << dump(found);
}

}  // namespace
}  // namespace tftp::check
