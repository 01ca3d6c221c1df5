// The rule engine on crafted observations: for each rule, a server that breaks it and the
// correct behaviour next to it, which must produce no finding.
#include "check/rules.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "proto/packet.h"
#include "tests/support/packets.h"

namespace tftp::check {
namespace {

using namespace std::chrono_literals;
using Bytes = std::vector<uint8_t>;
using proto::OwnedOption;

using testing::ack;
using testing::error;
using testing::oack;
Bytes rrq(std::string name, std::vector<OwnedOption> options = {}, std::string mode = "octet") {
  return testing::request(proto::Opcode::kRrq, name, mode, options);
}
Bytes wrq(std::string name, std::vector<OwnedOption> options = {}) {
  return testing::request(proto::Opcode::kWrq, name, "octet", options);
}
Bytes data(uint16_t block, size_t size, uint8_t fill = 0) {
  return testing::data(block, Bytes(size, static_cast<uint8_t>(fill + block)));
}

// A client, a server TID and a stray port around one engine, with a clock moved by hand.
struct Trace {
  Address listen = Address::loopback_v4(69);
  Address client = Address::loopback_v4(5000);
  Address server = Address::loopback_v4(40000);
  Address stray = Address::loopback_v4(6000);
  Instant now{std::chrono::seconds(10)};
  RuleEngine engine{listen};

  void wait(Duration d) { now += d; }
  void to_target(const Address& from, const Address& to, Bytes b) {
    engine.observe({now, Direction::kToTarget, from, to, std::move(b)});
  }
  void from_target(const Address& from, const Address& to, Bytes b) {
    engine.observe({now, Direction::kFromTarget, from, to, std::move(b)});
  }
  void ask(Bytes b) { to_target(client, listen, std::move(b)); }  // a request to port 69
  void send(Bytes b) { to_target(client, server, std::move(b)); }  // client -> server TID
  void reply(Bytes b) { from_target(server, client, std::move(b)); }  // server TID -> client

  // A correct lockstep download of `size` bytes from DATA `first` on, each block ACKed 1 ms later.
  void download(size_t size, size_t blksize = 512, uint16_t first = 1) {
    uint16_t block = first;
    size_t left = size;
    for (;;) {
      const size_t n = std::min(left, blksize);
      reply(data(block, n));
      wait(1ms);
      send(ack(block));
      wait(1ms);
      if (n < blksize) return;
      left -= n;
      ++block;
    }
  }
  // A correct lockstep upload: the server ACKs each DATA 1 ms later.
  void upload(size_t size, size_t blksize = 512) {
    uint16_t block = 1;
    size_t left = size;
    for (;;) {
      const size_t n = std::min(left, blksize);
      send(data(block, n));
      wait(1ms);
      reply(ack(block));
      wait(1ms);
      if (n < blksize) return;
      left -= n;
      ++block;
    }
  }

  std::vector<Finding> verdicts() {
    auto all = engine.finish();
    std::vector<Finding> out;
    for (auto& f : all) {
      if (f.level != Level::kNote) out.push_back(std::move(f));
    }
    return out;
  }
};

std::vector<std::string> ids(const std::vector<Finding>& findings) {
  std::vector<std::string> out;
  for (const auto& f : findings) out.push_back(f.id);
  return out;
}

std::string dump(const std::vector<Finding>& findings) {
  std::string out;
  for (const auto& f : findings) {
    out += f.id + " [" + f.requirement + ", " + f.citation + ", " + std::string(level_name(f.level)) + "] " + f.message + "\n";
  }
  return out;
}

const Finding* find(const std::vector<Finding>& findings, std::string_view id) {
  auto it = std::find_if(findings.begin(), findings.end(), [&](const Finding& f) { return f.id == id; });
  return it == findings.end() ? nullptr : &*it;
}

#define EXPECT_CLEAN(run)                    \
  do {                                       \
    auto found_ = (run).verdicts();          \
    EXPECT_TRUE(found_.empty()) << dump(found_); \
  } while (0)

#define EXPECT_CLEAN_FOUND(findings)             \
  do {                                           \
    auto found_ = (findings);                    \
    EXPECT_TRUE(found_.empty()) << dump(found_); \
  } while (0)

#define EXPECT_ONLY(run, rule_id)                                   \
  do {                                                              \
    auto found_ = (run).verdicts();                                 \
    EXPECT_EQ(ids(found_), std::vector<std::string>{rule_id}) << dump(found_); \
  } while (0)

// As EXPECT_ONLY, and the finding names requirement `req`; ends the test if it fails.
#define EXPECT_ONLY_FOR(run, rule_id, req)                                     \
  do {                                                                         \
    auto found_ = (run).verdicts();                                            \
    ASSERT_EQ(ids(found_), std::vector<std::string>{rule_id}) << dump(found_); \
    EXPECT_EQ(found_[0].requirement, req);                                     \
  } while (0)

// --- clean exchanges -----------------------------------------------------------------------

TEST(RuleEngine, CleanReadHasNoFindings) {
  Trace r;
  r.ask(rrq("a.bin"));
  r.wait(1ms);
  r.download(1300);
  r.wait(3s);
  EXPECT_CLEAN(r);
  EXPECT_TRUE(r.engine.finish().empty()) << dump(r.engine.finish());  // not even INFO
}

TEST(RuleEngine, CleanReadOfWholeBlocksEndsWithEmptyBlock) {
  Trace r;
  r.ask(rrq("a.bin"));
  r.wait(1ms);
  r.download(1024);
  r.wait(5s);
  EXPECT_CLEAN(r);
}

TEST(RuleEngine, CleanWriteHasNoFindings) {
  Trace r;
  r.ask(wrq("up.bin"));
  r.wait(1ms);
  r.reply(ack(0));
  r.wait(1ms);
  r.upload(2000);
  EXPECT_CLEAN(r);
}

// The receiving side of a write: an ACK says a block arrived. One for a block the client has
// not sent (ahead of its DATA, or after the final one) lets the client skip or end early.
TEST(RuleAckForUnsentData, AnAckAheadOfTheClientsDataIsAFinding) {
  Trace ahead;
  ahead.ask(wrq("up.bin"));
  ahead.reply(ack(0));
  ahead.send(data(1, 512));
  ahead.reply(ack(1));
  ahead.send(data(2, 512));
  ahead.reply(ack(3));  // block 3 was never sent
  EXPECT_ONLY(ahead, "tftp.rule.ack_for_unsent_data");
  const auto found = ahead.verdicts();
  ASSERT_EQ(found.size(), 1u);
  EXPECT_NE(found[0].message.find("ACK 3"), std::string::npos) << found[0].message;
  EXPECT_NE(found[0].message.find("its last DATA was block 2"), std::string::npos) << found[0].message;

  Trace first;  // a granted WRQ answered with ACK 1: no DATA has been sent at all
  first.ask(wrq("up.bin"));
  first.reply(ack(1));
  EXPECT_ONLY(first, "tftp.rule.ack_for_unsent_data");

  Trace after_final;
  after_final.ask(wrq("up.bin"));
  after_final.reply(ack(0));
  after_final.send(data(1, 10));
  after_final.reply(ack(1));
  after_final.reply(ack(2));
  EXPECT_ONLY(after_final, "tftp.rule.ack_for_unsent_data");
}

TEST(RuleAckForUnsentData, ReAckingReceivedBlocksIsNoFinding) {
  Trace r;
  r.ask(wrq("up.bin"));
  r.reply(ack(0));
  r.send(data(1, 512));
  r.reply(ack(1));
  r.send(data(1, 512));  // a duplicate: re-ACKed
  r.reply(ack(1));
  r.send(data(2, 3));
  r.reply(ack(2));
  r.send(data(2, 3));
  r.reply(ack(2));  // dallying
  EXPECT_CLEAN(r);
}

TEST(RuleEngine, CleanWriteWithOackHasNoFindings) {
  Trace r;
  r.ask(wrq("up.bin", {{"blksize", "1024"}, {"tsize", "3000"}}));
  r.wait(1ms);
  r.reply(oack({{"blksize", "1024"}, {"tsize", "3000"}}));
  r.wait(1ms);
  r.upload(3000, 1024);
  EXPECT_CLEAN(r);
}

TEST(RuleEngine, CleanWindowedReadWithRewindHasNoFindings) {
  Trace r;
  r.ask(rrq("w.bin", {{"blksize", "1000"}, {"windowsize", "4"}, {"tsize", "0"}, {"timeout", "1"}}));
  r.wait(1ms);
  r.reply(oack({{"blksize", "1000"}, {"windowsize", "4"}, {"tsize", "9500"}, {"timeout", "1"}}));
  r.wait(1ms);
  r.send(ack(0));
  for (uint16_t b = 1; b <= 4; ++b) r.reply(data(b, 1000));
  r.wait(1ms);
  r.send(ack(2));  // block 3 was lost: the client ACKs the last in-order block
  r.wait(1ms);
  for (uint16_t b = 3; b <= 6; ++b) r.reply(data(b, 1000));  // the server rewinds (RFC 7440 §4)
  r.wait(1ms);
  r.send(ack(6));
  r.wait(1ms);
  for (uint16_t b = 7; b <= 9; ++b) r.reply(data(b, 1000));
  r.reply(data(10, 500));
  r.wait(1ms);
  r.send(ack(10));
  EXPECT_CLEAN(r);
}

TEST(RuleEngine, TimerRetransmissionsAreRecordedAsInfo) {
  Trace r;
  r.ask(rrq("a.bin"));
  r.wait(1ms);
  r.reply(data(1, 512));
  r.wait(1000ms);
  r.reply(data(1, 512));
  r.wait(2000ms);
  r.reply(data(1, 512));
  r.wait(1ms);
  r.send(ack(1));
  r.wait(1ms);
  r.reply(data(2, 10));
  r.send(ack(2));
  EXPECT_CLEAN(r);
  auto all = r.engine.finish();
  const Finding* info = find(all, "tftp.note.retransmit_intervals");
  ASSERT_NE(info, nullptr) << dump(all);
  EXPECT_EQ(info->level, Level::kNote);
  EXPECT_NE(info->message.find("DATA 1 after 1000.0 ms, DATA 1 after 2000.0 ms"), std::string::npos) << info->message;
  // Its evidence: the three sends of DATA 1 (observations 1, 2, 3 after the RRQ), so the
  // report can show them (a note without evidence was found by fuzz/fuzz_rules.cc).
  EXPECT_EQ(info->evidence, (std::vector<size_t>{1, 2, 3}));
}

TEST(RuleEngine, ConcurrentTransfersAreTrackedApart) {
  Trace r;
  const Address c2 = Address::loopback_v4(5001);
  const Address s2 = Address::loopback_v4(40001);
  r.ask(rrq("a.bin"));
  r.to_target(c2, r.listen, rrq("b.bin"));
  r.wait(1ms);
  r.reply(data(1, 512));
  r.from_target(s2, c2, data(1, 512));
  r.wait(1ms);
  r.send(ack(1));
  r.to_target(c2, s2, ack(1));
  r.wait(1ms);
  r.from_target(s2, c2, data(2, 100));
  r.reply(data(2, 512));
  r.wait(1ms);
  r.to_target(c2, s2, ack(2));
  r.send(ack(2));
  r.reply(data(3, 0));
  r.send(ack(3));
  EXPECT_CLEAN(r);
}

// RFC 1350 §4: a duplicated request may open two sessions; the client keeps one and
// rejects the other with ERROR 5. Nothing here is the server's fault.
TEST(RuleEngine, RepeatedRequestOpeningTwoSessionsIsNotBlamed) {
  Trace r;
  const Address s2 = Address::loopback_v4(40001);
  r.ask(rrq("a.bin"));
  r.wait(500ms);
  r.ask(rrq("a.bin"));
  r.wait(1ms);
  r.reply(data(1, 512));
  r.from_target(s2, r.client, data(1, 512));
  r.wait(1ms);
  r.to_target(r.client, s2, error(5, "Unknown transfer ID"));
  r.send(ack(1));
  r.wait(1ms);
  r.download(100, 512, 2);
  r.wait(2s);
  EXPECT_CLEAN(r);
}

TEST(RuleEngine, ClientPortReusedForNextTransferStartsAfresh) {
  Trace r;
  r.ask(rrq("a.bin"));
  r.wait(1ms);
  r.download(700);
  r.wait(10ms);
  r.ask(rrq("b.bin"));  // same client port, and the OS hands the server the same TID again
  r.wait(1ms);
  r.download(1300);
  EXPECT_CLEAN(r);
}

// --- malformed ---------------------------------------------------------------------------

TEST(RuleMalformed, ErrorWithoutTerminatorIsReported) {
  Trace r;
  r.ask(rrq("missing.bin"));
  r.wait(1ms);
  r.reply(Bytes{0, 5, 0, 1, 'n', 'o', 'p', 'e'});
  auto found = r.verdicts();
  ASSERT_EQ(ids(found), std::vector<std::string>{"tftp.rule.malformed_error"}) << dump(found);
  EXPECT_EQ(found[0].requirement, "T1350-ERR-FMT");
  EXPECT_NE(found[0].message.find("tftp.parse.unterminated_error_message"), std::string::npos) << found[0].message;
}

TEST(RuleMalformed, AckWithTrailingBytesIsReportedOnce) {
  Trace r;
  r.ask(wrq("up.bin"));
  r.wait(1ms);
  r.reply(Bytes{0, 4, 0, 0, 0});
  r.wait(1ms);
  r.send(data(1, 10));
  r.wait(1ms);
  r.reply(Bytes{0, 4, 0, 1, 0});
  auto found = r.verdicts();
  ASSERT_EQ(ids(found), std::vector<std::string>{"tftp.rule.malformed_packet"}) << dump(found);
  EXPECT_NE(found[0].message.find("tftp.parse.trailing_bytes"), std::string::npos);
}

TEST(RuleMalformed, UnterminatedOackIsReported) {
  Trace r;
  r.ask(rrq("a.bin", {{"blksize", "1024"}}));
  r.wait(1ms);
  r.reply(Bytes{0, 6, 'b', 'l', 'k', 's', 'i', 'z', 'e', 0, '1', '0'});
  EXPECT_ONLY_FOR(r, "tftp.rule.malformed_oack", "T2347-FMT");
}

TEST(RuleMalformed, DataDatagramLongerThanAnyBlockSizeIsReported) {
  Trace r;
  r.ask(rrq("a.bin", {{"blksize", "65464"}}));
  r.wait(1ms);
  r.reply(oack({{"blksize", "65464"}}));
  r.send(ack(0));
  r.reply(data(1, 65465));
  EXPECT_ONLY_FOR(r, "tftp.rule.data_datagram_too_long", "T2348-RANGE");

  Trace largest;  // the largest block RFC 2348 allows is fine
  largest.ask(rrq("a.bin", {{"blksize", "65464"}}));
  largest.reply(oack({{"blksize", "65464"}}));
  largest.send(ack(0));
  largest.download(65464 + 10, 65464);
  EXPECT_CLEAN(largest);
}

TEST(RuleMalformed, WellFormedErrorIsNotReported) {
  Trace r;
  r.ask(rrq("missing.bin"));
  r.wait(1ms);
  r.reply(error(1, "File not found"));
  EXPECT_CLEAN(r);
}

// --- TID -----------------------------------------------------------------------------------

TEST(RuleListenPort, TransferServedFromWellKnownPortIsReported) {
  Trace r;
  r.server = r.listen;
  r.ask(rrq("a.bin"));
  r.wait(1ms);
  r.download(600);
  EXPECT_CLEAN(r);  // a note, not a verdict: TIDs "should be randomly chosen" is encouragement
  auto all = r.engine.finish();
  ASSERT_EQ(ids(all), std::vector<std::string>{"tftp.note.reply_from_listen_port"}) << dump(all);
  EXPECT_EQ(all[0].level, Level::kNote);
  EXPECT_EQ(all[0].citation, "RFC 1350 §4");
}

TEST(RuleListenPort, ErrorFromWellKnownPortIsNotReported) {
  Trace r;
  r.ask(rrq("missing.bin"));
  r.wait(1ms);
  r.from_target(r.listen, r.client, error(1, "File not found"));
  EXPECT_CLEAN(r);
}

// --- lockstep ------------------------------------------------------------------------------

TEST(RuleLockstep, DataBeforeAckIsReported) {
  Trace r;
  r.ask(rrq("a.bin"));
  r.wait(1ms);
  r.reply(data(1, 512));
  r.wait(1ms);
  r.reply(data(2, 512));  // ACK 1 never came
  auto found = r.verdicts();
  ASSERT_EQ(ids(found), std::vector<std::string>{"tftp.rule.lockstep_violation"}) << dump(found);
  EXPECT_EQ(found[0].requirement, "T1350-LOCKSTEP");
  EXPECT_NE(found[0].message.find("DATA 2 sent at t=2.0 ms before ACK 1 was received"), std::string::npos)
      << found[0].message;
}

TEST(RuleLockstep, AckFromStrayPortDoesNotUnlockNextBlock) {
  Trace r;
  r.ask(rrq("a.bin"));
  r.wait(1ms);
  r.reply(data(1, 512));
  r.wait(1ms);
  r.to_target(r.stray, r.server, ack(1));
  r.wait(1ms);
  r.from_target(r.server, r.stray, error(5, "Unknown transfer ID"));
  r.reply(data(2, 512));  // the server took the stray's ACK for the client's
  auto found = r.verdicts();
  EXPECT_NE(find(found, "tftp.rule.lockstep_violation"), nullptr) << dump(found);
}

TEST(RuleLockstep, DataOneBeforeAckOfOackIsReported) {
  Trace r;
  r.ask(rrq("a.bin", {{"blksize", "1024"}}));
  r.wait(1ms);
  r.reply(oack({{"blksize", "1024"}}));
  r.wait(1ms);
  r.reply(data(1, 1024));
  EXPECT_ONLY_FOR(r, "tftp.rule.data_before_oack_ack", "T2347-CLIENT-ACK0");
}

TEST(RuleLockstep, DataBeyondWindowIsReported) {
  Trace r;
  r.ask(rrq("a.bin", {{"windowsize", "2"}}));
  r.wait(1ms);
  r.reply(oack({{"windowsize", "2"}}));
  r.send(ack(0));
  r.reply(data(1, 512));
  r.reply(data(2, 512));
  r.reply(data(3, 512));  // a third block without an ACK
  EXPECT_ONLY_FOR(r, "tftp.rule.window_overrun", "T7440-WINDOW");
}

TEST(RuleLockstep, AckForABlockNotYetSentIsNotHeldAgainstServer) {
  Trace r;
  r.ask(rrq("a.bin"));
  r.wait(1ms);
  r.reply(data(1, 512));
  r.wait(1ms);
  r.send(ack(2));  // the client acknowledges the future
  r.wait(1ms);
  r.reply(data(2, 512));
  r.wait(1ms);
  r.send(ack(2));
  r.reply(data(3, 1));
  r.send(ack(3));
  EXPECT_CLEAN(r);
}

// --- Sorcerer's Apprentice -----------------------------------------------------------------

TEST(RuleSorcerer, ResendRightAfterDuplicateAckIsReported) {
  Trace r;
  r.ask(rrq("a.bin"));
  r.wait(1ms);
  r.reply(data(1, 512));
  r.wait(1ms);
  r.send(ack(1));
  r.wait(1ms);
  r.reply(data(2, 512));
  r.wait(1ms);
  r.send(ack(1));  // duplicate
  r.wait(1ms);
  r.reply(data(2, 512));  // answered at once
  r.wait(1ms);
  r.send(ack(2));
  r.reply(data(3, 0));
  r.send(ack(3));
  auto found = r.verdicts();
  ASSERT_EQ(ids(found), std::vector<std::string>{"tftp.rule.sorcerers_apprentice"}) << dump(found);
  EXPECT_EQ(found[0].citation, "RFC 1123 §4.2.3.1");
  EXPECT_EQ(found[0].evidence.size(), 4u);
}

// A whole download of 20 full blocks and a short one in which the client sends every ACK
// twice. A SAS server answers each copy with a DATA (RFC 1123 §4.2.3.1's bug).
std::vector<Finding> sas_download(const PathTiming* timing) {
  Trace r;
  if (timing) r.engine.set_timing(*timing);
  r.ask(rrq("a.bin"));
  r.wait(1ms);
  for (uint16_t k = 1; k <= 21; ++k) {
    const size_t n = k == 21 ? 100 : 512;
    r.reply(data(k, n));
    if (k > 1) {  // the answer to the duplicate of ACK k-1
      r.wait(2ms);
      r.send(ack(k - 1));
      r.wait(100us);
      r.reply(data(k, n));
    }
    r.wait(1ms);
    r.send(ack(k));
    r.wait(100us);
  }
  r.send(ack(21));
  return r.verdicts();
}

TEST(RuleSorcerer, WholeDownloadWithDuplicatedAcksFailsASasServer) {
  const PathTiming loopback{100us, 20us, 10ms, 10ms};
  for (const PathTiming* timing : {static_cast<const PathTiming*>(nullptr), &loopback}) {
    const auto found = sas_download(timing);
    ASSERT_EQ(ids(found), std::vector<std::string>{"tftp.rule.sorcerers_apprentice"}) << dump(found);
    EXPECT_EQ(found[0].cause, "resends DATA on a duplicate ACK");
  }
}

// The same bug, with the duplicates hidden behind a stale ACK: no single resend follows only
// a duplicate, but the count of DATA is more than the ACKs and the timer explain.
TEST(RuleSorcerer, MoreDataThanAcksAndTimerExplainIsReported) {
  Trace r;
  r.engine.set_timing({100us, 20us, 10ms, 10ms});
  r.ask(rrq("a.bin"));
  r.wait(1ms);
  for (uint16_t k = 1; k <= 6; ++k) {
    r.reply(data(k, k == 6 ? 10 : 512));
    r.wait(1ms);
    if (k > 1) {
      r.send(ack(k - 2));  // an old ACK
      r.send(ack(k - 1));  // and a duplicate
      r.wait(100us);
      r.reply(data(k, k == 6 ? 10 : 512));
      r.wait(1ms);
    }
    r.send(ack(k));
    r.wait(100us);
  }
  const auto found = r.verdicts();
  ASSERT_EQ(ids(found), std::vector<std::string>{"tftp.rule.sorcerers_apprentice_count"}) << dump(found);
  EXPECT_EQ(found[0].requirement, "T1123-SAS");
}

// A correct server (one DATA per ACK that moves the transfer on) whose timer fires `timer`
// after each DATA, just after a late duplicate of the previous ACK. `shrink` is how much
// shorter the gap looks than the timer (timestamp jitter). Returns the judged findings.
std::vector<Finding> timer_after_late_duplicate(const PathTiming* timing, Duration timer, Duration shrink,
                                                Duration owd) {
  Trace r;
  if (timing) r.engine.set_timing(*timing);
  r.ask(rrq("a.bin"));
  r.wait(owd);
  for (uint16_t k = 1; k <= 21; ++k) {
    const size_t n = k == 21 ? 100 : 512;
    r.reply(data(k, n));
    if (k > 1) {
      r.wait(timer - shrink - 500us);
      r.send(ack(k - 1));  // the late copy
      r.wait(500us);
      r.reply(data(k, n));  // the timer, not the copy
    }
    r.wait(2 * owd);
    r.send(ack(k));
    r.wait(2 * owd);
  }
  return r.verdicts();
}

TEST(RuleSorcerer, FastAdaptiveTimerIsNotMistakenForSas) {
  const PathTiming measured{100us, 50us, 10ms, 10ms};  // srto 10 ms
  EXPECT_CLEAN_FOUND(timer_after_late_duplicate(&measured, 10ms, 100us, 50us));
  // Without the measurement the engine assumes a 200 ms timer: the test can tell.
  EXPECT_FALSE(timer_after_late_duplicate(nullptr, 10ms, 100us, 50us).empty());
}

TEST(RuleSorcerer, DistantJitteryServerIsNotMistakenForSas) {
  const PathTiming measured{25ms, 5ms, 100ms, 80ms};  // 20-30 ms away
  EXPECT_CLEAN_FOUND(timer_after_late_duplicate(&measured, 80ms, 10ms, 12ms));
  EXPECT_FALSE(timer_after_late_duplicate(nullptr, 80ms, 10ms, 12ms).empty());
}

TEST(RuleSorcerer, LoadedMachineIsNotMistakenForSas) {
  // Both cores busy: the harness's copies go out late and the timestamps spread by ~2 ms.
  const PathTiming measured{300us, 2ms, 30ms, 20ms};
  EXPECT_CLEAN_FOUND(timer_after_late_duplicate(&measured, 20ms, 4ms, 150us));
  EXPECT_FALSE(timer_after_late_duplicate(nullptr, 20ms, 4ms, 150us).empty());
}

TEST(RuleSorcerer, SameBugInTwoTransfersHasOneIdAndCause) {
  const auto a = sas_download(nullptr);
  const PathTiming loopback{100us, 20us, 10ms, 10ms};
  const auto b = sas_download(&loopback);
  ASSERT_EQ(a.size(), 1u);
  ASSERT_EQ(b.size(), 1u);
  EXPECT_EQ(std::make_pair(a[0].id, a[0].cause), std::make_pair(b[0].id, b[0].cause));
  EXPECT_EQ(a[0].cause.find_first_of("0123456789"), std::string::npos);
}

TEST(RuleSorcerer, BackToBackDuplicateAcksAnsweredTwiceAreReported) {
  Trace r;
  r.ask(rrq("a.bin"));
  r.wait(1ms);
  r.reply(data(1, 512));
  r.wait(1ms);
  r.send(ack(1));
  r.send(ack(1));
  r.wait(1ms);
  r.reply(data(2, 512));
  r.reply(data(2, 512));
  auto found = r.verdicts();
  EXPECT_EQ(ids(found), std::vector<std::string>{"tftp.rule.sorcerers_apprentice"}) << dump(found);
}

TEST(RuleSorcerer, TimerResendAfterDuplicateAckIsNotReported) {
  Trace r;
  r.ask(rrq("a.bin"));
  r.wait(1ms);
  r.reply(data(1, 512));
  r.wait(1ms);
  r.send(ack(1));
  r.wait(1ms);
  r.reply(data(2, 512));
  r.wait(1ms);
  r.send(ack(1));  // ignored, as it must be
  r.wait(1000ms);
  r.reply(data(2, 512));  // the timer fires
  r.wait(1ms);
  r.send(ack(2));
  r.reply(data(3, 0));
  r.send(ack(3));
  EXPECT_CLEAN(r);
}

TEST(RuleSorcerer, DuplicateAckJustBeforeTimerIsNotReported) {
  Trace r;
  r.ask(rrq("a.bin"));
  r.wait(1ms);
  r.reply(data(1, 512));
  r.wait(1ms);
  r.send(ack(1));
  r.wait(1ms);
  r.reply(data(2, 512));
  r.wait(995ms);
  r.send(ack(1));  // the client's own timer: a duplicate that lands 5 ms before the server's
  r.wait(5ms);
  r.reply(data(2, 512));
  EXPECT_CLEAN(r);
}

TEST(RuleSorcerer, ServerWithShortTimerIsJudgedByItsTimer) {
  Trace r;
  r.ask(rrq("a.bin"));
  r.wait(1ms);
  r.reply(data(1, 512));
  r.wait(30ms);
  r.reply(data(1, 512));  // a 30 ms timer, seen with nothing received in between
  r.wait(1ms);
  r.send(ack(1));
  r.wait(1ms);
  r.reply(data(2, 512));
  r.wait(1ms);
  r.send(ack(1));
  r.wait(30ms);
  r.reply(data(2, 512));  // its timer, not the duplicate
  EXPECT_CLEAN(r);
}

TEST(RuleSorcerer, WindowedTransferIsNotJudged) {
  Trace r;
  r.ask(rrq("a.bin", {{"windowsize", "2"}}));
  r.wait(1ms);
  r.reply(oack({{"windowsize", "2"}}));
  r.send(ack(0));
  r.reply(data(1, 512));
  r.reply(data(2, 512));
  r.wait(1ms);
  r.send(ack(1));
  r.send(ack(1));
  r.wait(1ms);
  r.reply(data(2, 512));
  r.reply(data(3, 512));
  EXPECT_CLEAN(r);
}

// --- block sequence ----------------------------------------------------------------------

TEST(RuleBlockSequence, FirstDataZeroIsReported) {
  Trace r;
  r.ask(rrq("a.bin"));
  r.wait(1ms);
  r.reply(data(0, 512));
  auto found = r.verdicts();
  ASSERT_EQ(ids(found), std::vector<std::string>{"tftp.rule.block_sequence"}) << dump(found);
  EXPECT_NE(found[0].message.find("is block 0"), std::string::npos) << found[0].message;
}

TEST(RuleBlockSequence, SkippedBlockIsReportedOnce) {
  Trace r;
  r.ask(rrq("a.bin"));
  r.wait(1ms);
  r.download(512 * 3 - 1, 512);
  r.reply(data(5, 512));
  r.reply(data(9, 512));
  auto found = r.verdicts();
  // Block 3 was short: anything after it is a DATA after the final block.
  EXPECT_EQ(ids(found), std::vector<std::string>{"tftp.rule.data_after_final"}) << dump(found);

  Trace s;
  s.ask(rrq("a.bin"));
  s.wait(1ms);
  s.reply(data(1, 512));
  s.send(ack(1));
  s.reply(data(3, 512));
  s.send(ack(3));
  s.reply(data(4, 512));
  auto skipped = s.verdicts();
  ASSERT_EQ(ids(skipped), std::vector<std::string>{"tftp.rule.block_sequence"}) << dump(skipped);
  EXPECT_NE(skipped[0].message.find("DATA 3 at t=1.0 ms follows DATA 1; the next block is 2"), std::string::npos)
      << skipped[0].message;
}

// An ACK of a block never sent acknowledges nothing (RFC 1350 §2): a server that believes it
// skips blocks and its client's file has a hole (atftpd 0.8). One finding, and the transfer
// is followed from there, so what comes after is judged as usual.
TEST(RuleBlockSequence, JumpAfterClientAckedUnsentBlocksIsASkip) {
  Trace r;
  r.ask(rrq("a.bin"));
  r.wait(1ms);
  r.reply(data(1, 512));
  r.wait(1ms);
  r.send(ack(5));  // nonsense from the client: blocks 2..5 were never sent
  r.wait(1ms);
  r.reply(data(6, 512));  // a server that believes it
  r.wait(1ms);
  r.send(ack(6));
  r.reply(data(7, 10));
  r.send(ack(7));
  EXPECT_ONLY(r, "tftp.rule.skip_on_unsent_ack");
  const auto found = r.verdicts();
  ASSERT_EQ(found.size(), 1u);
  EXPECT_NE(found[0].message.find("skipped 4 block(s) after an ACK 5 for a block it had not sent"), std::string::npos)
      << found[0].message;
}

TEST(RuleOackValue, EchoOfTheClientsOwnTextIsNotBlamed) {
  Trace r;
  r.ask(rrq("a.bin", {{"timeout", "+5"}, {"blksize", "0x400"}}));
  r.reply(oack({{"timeout", "+5"}, {"blksize", "0x400"}}));
  EXPECT_CLEAN(r);

  Trace made_up;
  made_up.ask(rrq("a.bin", {{"timeout", "+5"}}));
  made_up.reply(oack({{"timeout", "0"}}));
  EXPECT_ONLY(made_up, "tftp.rule.oack_timeout_range");
}

// After block 65535 the wire number wraps; to 0 and to 1 are both accepted and recorded once.
void roll_over(uint16_t wrap_to, Trace& r) {
  r.ask(rrq("big.bin", {{"blksize", "8"}}));
  r.reply(oack({{"blksize", "8"}}));
  r.send(ack(0));
  uint16_t wire = 1;
  for (uint32_t n = 1; n <= 65540; ++n) {
    r.reply(data(wire, 8));
    r.send(ack(wire));
    wire = wire == 65535 ? wrap_to : static_cast<uint16_t>(wire + 1);
  }
  r.reply(data(wire, 3));
  r.send(ack(wire));
}

TEST(RuleBlockSequence, RolloverToZeroIsInfo) {
  Trace r;
  roll_over(0, r);
  EXPECT_CLEAN(r);
  auto all = r.engine.finish();
  ASSERT_NE(find(all, "tftp.note.rollover_to_0"), nullptr) << dump(all);
  EXPECT_EQ(all.size(), 1u) << dump(all);
}

TEST(RuleBlockSequence, RolloverToOneIsInfo) {
  Trace r;
  roll_over(1, r);
  EXPECT_CLEAN(r);
  auto all = r.engine.finish();
  ASSERT_NE(find(all, "tftp.note.rollover_to_1"), nullptr) << dump(all);
}

// --- end of transfer -----------------------------------------------------------------------

TEST(RuleDataAfterFinal, DataAfterShortBlockIsReported) {
  Trace r;
  r.ask(rrq("a.bin"));
  r.wait(1ms);
  r.reply(data(1, 100));
  r.wait(1ms);
  r.send(ack(1));
  r.wait(1ms);
  r.reply(data(2, 100));
  EXPECT_ONLY(r, "tftp.rule.data_after_final");
}

TEST(RuleDataAfterFinal, ResentFinalBlockIsNotReported) {
  Trace r;
  r.ask(rrq("a.bin"));
  r.wait(1ms);
  r.reply(data(1, 100));
  r.wait(1000ms);
  r.reply(data(1, 100));  // the final ACK was lost (RFC 1350 §6)
  r.wait(1ms);
  r.send(ack(1));
  EXPECT_CLEAN(r);
}

TEST(RuleOversize, BlockLargerThan512WithoutNegotiationIsReported) {
  Trace r;
  r.ask(rrq("a.bin", {{"blksize", "1024"}}));  // the server ignores the option...
  r.wait(1ms);
  r.reply(data(1, 1024));  // ...but sends 1024-byte blocks
  auto found = r.verdicts();
  ASSERT_EQ(ids(found), std::vector<std::string>{"tftp.rule.oversize_data"}) << dump(found);
  EXPECT_NE(found[0].message.find("carries 1024 bytes, more than the block size 512"), std::string::npos);
}

TEST(RuleOversize, NegotiatedBlockSizeIsHonoured) {
  Trace r;
  r.ask(rrq("a.bin", {{"blksize", "1024"}}));
  r.wait(1ms);
  r.reply(oack({{"blksize", "1024"}}));
  r.send(ack(0));
  r.download(3000, 1024);
  EXPECT_CLEAN(r);

  Trace over;
  over.ask(rrq("a.bin", {{"blksize", "1024"}}));
  over.reply(oack({{"blksize", "1000"}}));
  over.send(ack(0));
  over.reply(data(1, 1024));
  EXPECT_ONLY(over, "tftp.rule.oversize_data");
}

TEST(RuleMissingFinal, SilenceAfterAckedFullBlockIsReported) {
  Trace r;
  r.ask(rrq("a.bin"));
  r.wait(1ms);
  r.reply(data(1, 512));
  r.wait(1ms);
  r.send(ack(1));
  r.wait(1500ms);
  r.send(ack(1));  // the client waits, and asks again
  r.wait(10ms);
  EXPECT_ONLY_FOR(r, "tftp.rule.missing_final_block", "T1350-END-ZERO");
}

TEST(RuleMissingFinal, ShortObservationIsNotJudged) {
  Trace r;
  r.ask(rrq("a.bin"));
  r.wait(1ms);
  r.reply(data(1, 512));
  r.wait(1ms);
  r.send(ack(1));
  r.wait(300ms);  // the capture ends: the client may simply have stopped watching
  EXPECT_CLEAN(r);
}

TEST(RuleMissingFinal, EmptyFinalBlockOrFurtherDataIsFine) {
  Trace r;
  r.ask(rrq("a.bin"));
  r.wait(1ms);
  r.reply(data(1, 512));
  r.wait(1ms);
  r.send(ack(1));
  r.wait(1ms);
  r.reply(data(2, 0));
  r.wait(2s);
  EXPECT_CLEAN(r);
}

TEST(RuleMissingFinal, ClientErrorEndsTheWait) {
  Trace r;
  r.ask(rrq("a.bin"));
  r.wait(1ms);
  r.reply(data(1, 512));
  r.wait(1ms);
  r.send(ack(1));
  r.send(error(0, "cancelled"));
  r.wait(2s);
  EXPECT_CLEAN(r);
}

// --- options -------------------------------------------------------------------------------

TEST(RuleOack, UnrequestedOptionIsReported) {
  Trace r;
  r.ask(rrq("a.bin", {{"blksize", "1024"}}));
  r.wait(1ms);
  r.reply(oack({{"blksize", "1024"}, {"tsize", "0"}}));
  auto found = r.verdicts();
  ASSERT_EQ(ids(found), std::vector<std::string>{"tftp.rule.oack_unrequested_option"}) << dump(found);
  EXPECT_NE(found[0].message.find("\"tsize\""), std::string::npos);
}

TEST(RuleOack, OptionNamesCompareCaseInsensitively) {
  Trace r;
  r.ask(rrq("a.bin", {{"BlkSize", "1024"}, {"foo", "bar"}}));
  r.wait(1ms);
  r.reply(oack({{"BLKSIZE", "1024"}, {"FOO", "bar"}}));  // an option it knows and we do not
  r.send(ack(0));
  r.download(100, 1024);
  EXPECT_CLEAN(r);
}

TEST(RuleOack, EmptyOackToRequestWithOptionsIsOneShouldFinding) {
  Trace r;
  r.ask(rrq("a.bin", {{"foo", "bar"}}));
  r.wait(1ms);
  r.reply(std::vector<uint8_t>{0x00, 0x06});  // an OACK acknowledging nothing
  EXPECT_ONLY(r, "tftp.rule.oack_empty");  // not also a malformed-OACK finding: one bug, one finding
  EXPECT_EQ(r.engine.finish().front().level, Level::kShould);
}

TEST(RuleOack, OackToRequestWithoutOptionsIsReported) {
  Trace r;
  r.ask(rrq("a.bin"));
  r.wait(1ms);
  r.reply(oack({{"blksize", "512"}}));
  EXPECT_ONLY(r, "tftp.rule.oack_without_options");
}

TEST(RuleOack, PlainDataToUnknownOptionsIsFine) {
  Trace r;
  r.ask(rrq("a.bin", {{"foo", "bar"}}));
  r.wait(1ms);
  r.download(700);
  EXPECT_CLEAN(r);
}

TEST(RuleOackValue, BlksizeLargerThanRequestedIsReported) {
  Trace r;
  r.ask(rrq("a.bin", {{"blksize", "1024"}}));
  r.reply(oack({{"blksize", "1025"}}));
  EXPECT_ONLY_FOR(r, "tftp.rule.oack_blksize_above_request", "T2348-NEG");
}

TEST(RuleOackValue, BlksizeOutOfRangeIsReported) {
  Trace r;
  r.ask(rrq("a.bin", {{"blksize", "4"}}));
  r.reply(oack({{"blksize", "4"}}));
  EXPECT_ONLY_FOR(r, "tftp.rule.oack_blksize_range", "T2348-RANGE");
}

TEST(RuleOackValue, SmallerBlksizeIsAccepted) {
  Trace r;
  r.ask(rrq("a.bin", {{"blksize", "65465"}, {"windowsize", "64"}}));  // asks too much
  r.reply(oack({{"blksize", "1428"}, {"windowsize", "8"}}));
  r.send(ack(0));
  r.reply(data(1, 3));
  r.send(ack(1));
  EXPECT_CLEAN(r);
}

TEST(RuleOackValue, TimeoutMustBeEchoed) {
  Trace r;
  r.ask(rrq("a.bin", {{"timeout", "3"}}));
  r.reply(oack({{"timeout", "5"}}));
  EXPECT_ONLY_FOR(r, "tftp.rule.oack_timeout_not_echoed", "T2349-TIMEOUT");

  Trace echo;
  echo.ask(rrq("a.bin", {{"timeout", "03"}}));
  echo.reply(oack({{"timeout", "3"}}));  // the same number
  echo.send(ack(0));
  echo.download(10);
  EXPECT_CLEAN(echo);
}

TEST(RuleOackValue, WindowsizeLargerThanRequestedIsReported) {
  Trace r;
  r.ask(rrq("a.bin", {{"windowsize", "4"}}));
  r.reply(oack({{"windowsize", "8"}}));
  EXPECT_ONLY_FOR(r, "tftp.rule.oack_windowsize_above_request", "T7440-RANGE");
}

TEST(RuleOackValue, WindowsizeZeroIsReported) {
  Trace r;
  r.ask(rrq("a.bin", {{"windowsize", "4"}}));
  r.reply(oack({{"windowsize", "0"}}));
  EXPECT_ONLY_FOR(r, "tftp.rule.oack_windowsize_range", "T7440-RANGE");
}

TEST(RuleOackValue, TsizeDifferentFromBytesSentIsReported) {
  Trace r;
  r.ask(rrq("a.bin", {{"tsize", "0"}}));
  r.reply(oack({{"tsize", "1000"}}));
  r.send(ack(0));
  r.download(900);
  auto found = r.verdicts();
  ASSERT_EQ(ids(found), std::vector<std::string>{"tftp.rule.oack_tsize_wrong_size"}) << dump(found);
  EXPECT_EQ(found[0].requirement, "T2349-TSIZE-R");
  EXPECT_NE(found[0].message.find("tsize=1000 but the transfer carried 900 bytes"), std::string::npos);
}

TEST(RuleOackValue, TsizeMatchingOrNetasciiIsFine) {
  Trace r;
  r.ask(rrq("a.bin", {{"tsize", "0"}}));
  r.reply(oack({{"tsize", "1024"}}));
  r.send(ack(0));
  r.download(1024);
  EXPECT_CLEAN(r);

  Trace text;  // tsize under netascii is unspecified (DF-TSIZE-NA)
  text.ask(rrq("a.txt", {{"tsize", "0"}}, "netascii"));
  text.reply(oack({{"tsize", "1000"}}));
  text.send(ack(0));
  text.download(1030);
  EXPECT_CLEAN(text);
}

TEST(RuleOackValue, WriteTsizeMustBeEchoed) {
  Trace r;
  r.ask(wrq("up.bin", {{"tsize", "3000"}}));
  r.reply(oack({{"tsize", "0"}}));
  EXPECT_ONLY_FOR(r, "tftp.rule.oack_tsize_not_echoed", "T2349-TSIZE-W");
}

// --- errors --------------------------------------------------------------------------------

TEST(RuleErrorCode, UndefinedCodeIsReported) {
  Trace r;
  r.ask(rrq("a.bin"));
  r.reply(error(42, "strange"));
  EXPECT_CLEAN(r);  // no RFC word forbids it: a note
  auto found = r.engine.findings();
  ASSERT_EQ(ids(found), std::vector<std::string>{"tftp.note.error_code_undefined"}) << dump(found);
  EXPECT_EQ(found[0].level, Level::kNote);

  Trace defined;
  defined.ask(rrq("a.bin", {{"blksize", "1"}}));
  defined.reply(error(8, "Option negotiation refused"));
  EXPECT_CLEAN(defined);
}

TEST(RuleErrorRetransmitted, SameErrorTwiceIsReported) {
  Trace r;
  r.ask(rrq("a.bin"));
  r.reply(data(1, 512));
  r.wait(1ms);
  r.send(ack(1));
  r.reply(error(3, "Disk error"));
  r.wait(1000ms);
  r.reply(error(3, "Disk error"));
  EXPECT_ONLY(r, "tftp.rule.error_retransmitted");
}

TEST(RuleErrorRetransmitted, ErrorAnsweringAnotherDatagramOrRequestIsFine) {
  Trace r;
  r.ask(rrq("a.bin"));
  r.reply(data(1, 512));
  r.wait(1ms);
  r.send(Bytes{0, 9});  // garbage
  r.reply(error(4, "Illegal operation"));
  r.wait(10ms);
  r.send(Bytes{0, 9});
  r.reply(error(4, "Illegal operation"));  // a new answer, not a retransmission
  EXPECT_CLEAN(r);

  Trace twice;  // a request sent twice before the refusal came back, refused twice
  twice.ask(rrq("missing.bin"));
  twice.wait(1ms);
  twice.ask(rrq("missing.bin"));
  twice.wait(1ms);
  twice.reply(error(1, "File not found"));
  twice.reply(error(1, "File not found"));
  EXPECT_CLEAN(twice);

  Trace again;  // a refused request, repeated, refused again from the same TID
  again.ask(rrq("missing.bin"));
  again.reply(error(1, "File not found"));
  again.wait(1000ms);
  again.ask(rrq("missing.bin"));
  again.reply(error(1, "File not found"));
  EXPECT_CLEAN(again);
}

TEST(RuleSentAfterError, DataAfterClientErrorIsReported) {
  Trace r;
  r.ask(rrq("a.bin"));
  r.reply(data(1, 512));
  r.wait(1ms);
  r.send(error(0, "user cancelled"));
  r.wait(20ms);
  r.reply(data(1, 512));  // in flight: forgiven
  r.wait(1000ms);
  r.reply(data(1, 512));
  EXPECT_ONLY_FOR(r, "tftp.rule.sent_after_error", "T1350-ERR-TERM");
}

TEST(RuleSentAfterError, OptionRefusalEndsTheTransfer) {
  Trace r;
  r.ask(rrq("a.bin", {{"blksize", "1024"}}));
  r.reply(oack({{"blksize", "1024"}}));
  r.wait(1ms);
  r.send(error(8, "Option negotiation refused"));
  r.wait(1000ms);
  r.reply(oack({{"blksize", "1024"}}));
  EXPECT_ONLY(r, "tftp.rule.sent_after_error");

  Trace quiet;
  quiet.ask(rrq("a.bin", {{"blksize", "1024"}}));
  quiet.reply(oack({{"blksize", "1024"}}));
  quiet.wait(1ms);
  quiet.send(error(8, "Option negotiation refused"));
  quiet.wait(5s);
  EXPECT_CLEAN(quiet);
}

TEST(RuleSentAfterError, MalformedClientErrorDoesNotCount) {
  Trace r;
  r.ask(rrq("a.bin"));
  r.reply(data(1, 512));
  r.wait(1ms);
  r.send(Bytes{0, 5, 0, 0, 'x'});  // no terminating NUL: a server may take it as garbage
  r.wait(1000ms);
  r.reply(data(1, 512));
  EXPECT_CLEAN(r);
}

TEST(RuleSentAfterOwnError, DataAfterServerErrorIsReported) {
  Trace r;
  r.ask(rrq("a.bin"));
  r.reply(data(1, 512));
  r.wait(1ms);
  r.send(ack(1));
  r.reply(error(0, "read failed"));
  r.wait(1000ms);
  r.reply(data(2, 512));
  EXPECT_ONLY(r, "tftp.rule.sent_after_own_error");
}

TEST(RuleSentAfterOwnError, SilenceOrPacketsAlreadyInFlightAreFine) {
  Trace r;
  r.ask(rrq("a.bin"));
  r.reply(data(1, 512));
  r.wait(1ms);
  r.send(ack(1));
  r.reply(error(0, "read failed"));
  r.wait(5s);
  r.send(ack(1));  // the client had not seen the ERROR
  r.wait(2s);
  EXPECT_CLEAN(r);
}

TEST(RuleAckForError, AckAnsweringClientErrorIsReported) {
  Trace r;
  r.ask(rrq("a.bin"));
  r.reply(data(1, 512));
  r.wait(1ms);
  r.send(error(0, "stop"));
  r.wait(1ms);
  r.reply(ack(1));
  EXPECT_ONLY(r, "tftp.rule.ack_for_error");
}

TEST(RuleAckForError, WriteAckAfterErrorIsJudgedByTiming) {
  Trace r;  // a new block number right after the ERROR: the ERROR was acknowledged
  r.ask(wrq("up.bin"));
  r.reply(ack(0));
  r.send(data(1, 512));
  r.reply(ack(1));
  r.wait(1ms);
  r.send(error(3, "disk full"));
  r.wait(1ms);
  r.reply(ack(2));
  EXPECT_ONLY(r, "tftp.rule.ack_for_error");

  Trace timer;  // the previous ACK, crossing the ERROR on the wire: no finding
  timer.ask(wrq("up.bin"));
  timer.reply(ack(0));
  timer.send(data(1, 512));
  timer.reply(ack(1));
  timer.wait(999ms);
  timer.send(error(3, "disk full"));
  timer.wait(1ms);
  timer.reply(ack(1));
  EXPECT_CLEAN(timer);
}

TEST(RuleAckForError, AckToErrorSentToListenPortIsReported) {
  Trace r;
  r.ask(error(0, "hello"));
  r.wait(1ms);
  r.reply(ack(0));
  EXPECT_ONLY(r, "tftp.rule.ack_for_error");

  Trace refused;  // an ERROR in answer is no acknowledgement
  refused.ask(error(0, "hello"));
  refused.wait(1ms);
  refused.reply(error(4, "Illegal TFTP operation"));
  EXPECT_CLEAN(refused);
}

// --- stray TIDs ----------------------------------------------------------------------------

TEST(RuleStray, AnsweredStrayLeavesTransferUndisturbed) {
  Trace r;
  r.ask(rrq("a.bin"));
  r.wait(1ms);
  r.reply(data(1, 512));
  r.wait(1ms);
  r.to_target(r.stray, r.server, ack(1));
  r.wait(1ms);
  r.from_target(r.server, r.stray, error(5, "Unknown transfer ID"));
  r.wait(1ms);
  r.send(ack(1));
  r.wait(1ms);
  r.download(100, 512, 2);
  EXPECT_TRUE(r.engine.finish().empty()) << dump(r.engine.finish());
}

TEST(RuleStray, ErrorToClientRightAfterStrayIsReported) {
  Trace r;
  r.ask(rrq("a.bin"));
  r.wait(1ms);
  r.reply(data(1, 512));
  r.wait(1ms);
  r.to_target(r.stray, r.server, ack(1));
  r.wait(1ms);
  r.reply(error(5, "Unknown transfer ID"));  // sent to the real client: the transfer is dead
  auto found = r.verdicts();
  ASSERT_NE(find(found, "tftp.rule.stray_disturbed_transfer"), nullptr) << dump(found);
}

TEST(RuleStray, TimeoutErrorLongAfterStrayIsNotBlamedOnIt) {
  Trace r;
  r.ask(rrq("a.bin"));
  r.wait(1ms);
  r.reply(data(1, 512));
  r.wait(1000ms);
  r.reply(data(1, 512));
  r.wait(1999ms);
  r.to_target(r.stray, r.server, ack(1));
  r.from_target(r.server, r.stray, error(5, "Unknown transfer ID"));
  r.wait(1ms);
  r.reply(error(0, "timed out"));  // the server gives up on its own timer
  EXPECT_CLEAN(r);
}

TEST(RuleStray, SinglePortServerIsNotBlamedForOtherClientsRequests) {
  Trace r;
  r.server = r.listen;  // every transfer runs on port 69 (a finding of its own)
  const Address other = Address::loopback_v4(5001);
  r.ask(rrq("a.bin"));
  r.wait(1ms);
  r.reply(data(1, 512));
  r.wait(1ms);
  r.to_target(other, r.listen, rrq("b.bin"));
  r.wait(1ms);
  r.reply(error(0, "server shutting down"));
  auto found = r.engine.finish();
  EXPECT_EQ(ids(found), std::vector<std::string>{"tftp.note.reply_from_listen_port"}) << dump(found);
}

TEST(RuleStray, DataSentToStrayIsReported) {
  Trace r;
  r.ask(rrq("a.bin"));
  r.wait(1ms);
  r.reply(data(1, 512));
  r.wait(1ms);
  r.to_target(r.stray, r.server, ack(1));
  r.wait(1ms);
  r.from_target(r.server, r.stray, data(2, 512));
  auto found = r.verdicts();
  ASSERT_EQ(ids(found), std::vector<std::string>{"tftp.rule.stray_accepted"}) << dump(found);
}

TEST(RuleStray, SilenceToStrayIsInfoForServerThatNeverAnswersStrays) {
  Trace r;
  r.ask(rrq("a.bin"));
  r.wait(1ms);
  r.reply(data(1, 512));
  r.wait(1ms);
  r.to_target(r.stray, r.server, ack(1));  // a connect()ed socket never sees it
  r.wait(1ms);
  r.send(ack(1));
  r.wait(1ms);
  r.download(100, 512, 2);
  r.wait(2s);
  EXPECT_CLEAN(r);
  auto all = r.engine.finish();
  const Finding* info = find(all, "tftp.note.stray_not_answered");
  ASSERT_NE(info, nullptr) << dump(all);
  EXPECT_EQ(info->level, Level::kNote);
}

TEST(RuleStray, SilenceToOneStrayIsReportedWhenOthersAreAnswered) {
  Trace r;
  const Address other = Address::loopback_v4(6001);
  r.ask(rrq("a.bin"));
  r.wait(1ms);
  r.reply(data(1, 512));
  r.wait(1ms);
  r.to_target(other, r.server, ack(1));
  r.from_target(r.server, other, error(5, "Unknown transfer ID"));
  r.wait(1ms);
  r.to_target(r.stray, r.server, data(1, 10));  // this one gets nothing
  r.wait(1ms);
  r.send(ack(1));
  r.wait(1ms);
  r.download(100, 512, 2);
  auto found = r.verdicts();
  ASSERT_EQ(ids(found), std::vector<std::string>{"tftp.rule.stray_not_answered"}) << dump(found);
  EXPECT_EQ(found[0].level, Level::kShould);
}

TEST(RuleStray, StrayAtTheEndIsNotJudged) {
  Trace r;
  r.ask(rrq("a.bin"));
  r.wait(1ms);
  r.download(100);
  r.to_target(r.stray, r.server, ack(1));  // the session may be gone: nothing proves otherwise
  r.wait(2s);
  EXPECT_TRUE(r.engine.finish().empty()) << dump(r.engine.finish());
}

// --- retransmissions -----------------------------------------------------------------------

TEST(RuleRetransmission, WriteAcksResentOnTimerAreInfo) {
  Trace r;
  r.ask(wrq("up.bin"));
  r.reply(ack(0));
  r.wait(1000ms);
  r.reply(ack(0));  // DATA 1 was lost: the server's timer resends ACK 0
  r.wait(1ms);
  r.upload(100);
  EXPECT_CLEAN(r);
  auto all = r.engine.finish();
  const Finding* info = find(all, "tftp.note.retransmit_intervals");
  ASSERT_NE(info, nullptr) << dump(all);
  EXPECT_NE(info->message.find("ACK 0 after 1000.0 ms"), std::string::npos) << info->message;
}

TEST(RuleRetransmission, DifferentContentsUnderTheSameBlockIsReported) {
  Trace r;
  r.ask(rrq("a.bin"));
  r.reply(data(1, 512, 0));
  r.wait(1000ms);
  r.reply(data(1, 512, 7));
  EXPECT_ONLY(r, "tftp.rule.retransmission_differs");
}

TEST(RuleEngine, FindingsCarryCitationAndEvidence) {
  Trace r;
  r.ask(rrq("a.bin"));
  r.wait(1ms);
  r.reply(data(1, 512));
  r.wait(1ms);
  r.reply(data(2, 512));
  auto found = r.engine.findings();  // already known before finish()
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0].citation, "RFC 1350 §2");
  EXPECT_EQ(found[0].level, Level::kMust);
  ASSERT_FALSE(found[0].evidence.empty());
  for (size_t i : found[0].evidence) EXPECT_LT(i, r.engine.observations().size());
  EXPECT_EQ(r.engine.finish().size(), 1u);
  EXPECT_EQ(r.engine.finish().size(), 1u);  // finish() twice reports nothing twice
}

TEST(RuleEngine, FindingsFromGivesTheNewFindingsWithoutTheEarlierOnes) {
  Trace r;
  r.ask(rrq("a.bin"));
  r.wait(1ms);
  r.reply(data(1, 512));
  r.wait(1ms);
  r.reply(data(2, 512));  // DATA 2 before the ACK of DATA 1: one finding
  ASSERT_EQ(r.engine.finding_count(), 1u);
  ASSERT_EQ(r.engine.findings_from(0).size(), 1u);
  EXPECT_EQ(r.engine.findings_from(0)[0].id, r.engine.findings()[0].id);
  EXPECT_TRUE(r.engine.findings_from(1).empty());
  EXPECT_TRUE(r.engine.findings_from(7).empty());  // past the end: none, not a crash
  const auto all = r.engine.finish();
  ASSERT_GE(all.size(), 1u);
  const auto since = r.engine.findings_from(1);
  ASSERT_EQ(since.size(), all.size() - 1);
  for (size_t i = 0; i < since.size(); ++i) EXPECT_EQ(since[i].id, all[i + 1].id);
}

}  // namespace
}  // namespace tftp::check
