// One Transfer at a time, driven by hand: crafted datagrams in, exact bytes and deadlines
// out, in virtual time. Pairs of transfers are wired back to back where a property needs
// both ends (rollover, netascii).
#include "engine/transfer.h"

#include <gtest/gtest.h>

#include <functional>
#include <cstring>
#include <map>
#include <string>

#include "engine/rtt.h"
#include "proto/netascii.h"
#include "tests/support/packets.h"

namespace tftp::engine {
namespace {

using namespace std::chrono_literals;
using Bytes = std::vector<uint8_t>;
using proto::Mode;
using proto::Opcode;
using proto::OwnedOption;

const Instant kT0{std::chrono::seconds(1000)};
const Address kListen = Address::loopback_v4(69);
const Address kServerTid = Address::loopback_v4(40000);
const Address kClientTid = Address::loopback_v4(5000);
const Address kStray = Address::loopback_v4(40001);

Bytes pattern(size_t n) {
  Bytes v(n);
  for (size_t i = 0; i < n; ++i) v[i] = static_cast<uint8_t>(i * 7 + i / 251);
  return v;
}

Bytes bytes_of(std::string_view s) { return Bytes(s.begin(), s.end()); }

using testing::ack;
using testing::data;
using testing::error;
using testing::oack;
using testing::request;

Bytes data_n(uint16_t block, size_t n) { return data(block, pattern(n)); }

struct Out {
  Address to;
  Bytes bytes;
  std::string text() const { return proto::describe_datagram(bytes); }
};

std::vector<Out> drain(Transfer& t) {
  std::vector<Out> out;
  Bytes buf(t.max_datagram_size());
  while (auto tx = t.poll_transmit(buf)) out.push_back({tx->to, Bytes(buf.begin(), buf.begin() + tx->size)});
  return out;
}

std::vector<std::string> texts(const std::vector<Out>& out) {
  std::vector<std::string> v;
  for (const auto& o : out) v.push_back(o.text());
  return v;
}

// The ERROR code of a datagram, or -1 when it is not an ERROR.
int error_code_of(const Bytes& b) {
  auto p = proto::parse(b, proto::Strictness::kStrict);
  if (!p) return -1;
  const auto* e = std::get_if<proto::ErrorPacket>(&*p);
  return e ? e->code : -1;
}

struct Sink {
  std::unique_ptr<MemorySink> sink = std::make_unique<MemorySink>();
  std::shared_ptr<const MemorySink::Contents> contents = sink->contents();
};

std::unique_ptr<ByteSource> source_of(Bytes b) { return std::make_unique<MemorySource>(std::move(b)); }

ServerNegotiation plain() { return {}; }

ServerNegotiation negotiated(std::vector<OwnedOption> oack, size_t blksize = 512, uint16_t windowsize = 1,
                             std::optional<Duration> timeout = std::nullopt) {
  ServerNegotiation n;
  n.params.blksize = blksize;
  n.params.windowsize = windowsize;
  n.params.fixed_timeout = timeout;
  n.oack = std::move(oack);
  return n;
}

// A fixed 1 s timer: for tests about what is resent, not when.
TransferConfig fixed_timer() {
  TransferConfig config;
  config.retransmit.min = config.retransmit.initial;
  return config;
}

// A client RRQ that has consumed its request datagram.
Transfer started_read(Sink& s, std::vector<OwnedOption> opts = {}, TransferConfig config = {}) {
  auto t = Transfer::client_read(config, kListen, "f.bin", Mode::kOctet, std::move(opts), std::move(s.sink), kT0);
  EXPECT_EQ(drain(t).size(), 1u);
  return t;
}

Transfer started_write(Bytes content, std::vector<OwnedOption> opts = {}, TransferConfig config = {}) {
  auto t = Transfer::client_write(config, kListen, "f.bin", Mode::kOctet, std::move(opts), source_of(std::move(content)),
                                  kT0);
  EXPECT_EQ(drain(t).size(), 1u);
  return t;
}

// ---- requests --------------------------------------------------------------------------------

TEST(Transfer, ClientReadSendsRrqWithOptionsToServerPort) {
  Sink s;
  auto t = Transfer::client_read({}, kListen, "dir/f.bin", Mode::kOctet, {{"blksize", "1024"}, {"tsize", "0"}},
                                 std::move(s.sink), kT0);
  const auto out = drain(t);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].to, kListen);
  static constexpr char kExpected[] = "\0\1dir/f.bin\0octet\0blksize\0" "1024\0tsize\0" "0";
  EXPECT_EQ(out[0].bytes, bytes_of(std::string_view(kExpected, sizeof kExpected)));  // with the final NUL
  EXPECT_EQ(t.poll_timeout(), kT0 + 1s);
  EXPECT_FALSE(t.outcome().has_value());
  EXPECT_FALSE(t.finished());
  EXPECT_EQ(t.peer(), kListen);
}

TEST(Transfer, ClientWriteSendsPlainWrq) {
  auto t = Transfer::client_write({}, kListen, "up.txt", Mode::kNetascii, {}, source_of({}), kT0);
  const auto out = drain(t);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].to, kListen);
  static constexpr char kExpected[] = "\0\2up.txt\0netascii";
  EXPECT_EQ(out[0].bytes, bytes_of(std::string_view(kExpected, sizeof kExpected)));
  EXPECT_TRUE(drain(t).empty());
}

// ---- OACK on the client ----------------------------------------------------------------------

TEST(Transfer, ClientReadAcceptsOackAndAcksBlockZero) {
  Sink s;
  auto t = started_read(s, {{"blksize", "1024"}, {"tsize", "0"}});
  t.handle_datagram(kT0 + 10ms, kServerTid, oack({{"blksize", "1024"}, {"tsize", "1500"}}));
  auto out = drain(t);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].to, kServerTid);  // the reply's port is the server's TID from now on
  EXPECT_EQ(out[0].bytes, ack(0));
  EXPECT_EQ(t.params().blksize, 1024u);
  EXPECT_EQ(t.params().tsize, 1500u);
  EXPECT_EQ(t.peer(), kServerTid);
  EXPECT_EQ(t.poll_timeout(), kT0 + 10ms + 1s);

  const Bytes content = pattern(1500);
  t.handle_datagram(kT0 + 20ms, kServerTid, data(1, std::span(content).first(1024)));
  EXPECT_EQ(texts(drain(t)), std::vector<std::string>{"ACK block=1"});
  t.handle_datagram(kT0 + 30ms, kServerTid, data(2, std::span(content).subspan(1024)));
  EXPECT_EQ(texts(drain(t)), std::vector<std::string>{"ACK block=2"});
  ASSERT_TRUE(t.outcome().has_value());
  EXPECT_TRUE(t.outcome()->ok());
  EXPECT_EQ(s.contents->bytes, content);
  EXPECT_TRUE(s.contents->committed);
  EXPECT_EQ(t.stats().blocks, 2u);
  EXPECT_EQ(t.stats().bytes, 1500u);
}

TEST(Transfer, ClientReadResendsAckZeroWhenOackRepeats) {
  Sink s;
  auto t = started_read(s, {{"blksize", "1024"}});
  t.handle_datagram(kT0, kServerTid, oack({{"blksize", "1024"}}));
  EXPECT_EQ(texts(drain(t)), std::vector<std::string>{"ACK block=0"});
  t.handle_datagram(kT0 + 1s, kServerTid, oack({{"blksize", "1024"}}));  // our ACK 0 was lost
  EXPECT_EQ(texts(drain(t)), std::vector<std::string>{"ACK block=0"});
  EXPECT_FALSE(t.outcome().has_value());
}

TEST(Transfer, ClientWriteAcceptsOackAndSendsFirstBlock) {
  auto t = started_write(pattern(20), {{"blksize", "8"}, {"windowsize", "2"}});
  t.handle_datagram(kT0, kServerTid, oack({{"blksize", "8"}, {"windowsize", "2"}}));
  const auto out = drain(t);
  ASSERT_EQ(out.size(), 2u);  // a window of two blocks
  EXPECT_EQ(out[0].to, kServerTid);
  const Bytes content = pattern(20);
  EXPECT_EQ(out[0].bytes, data(1, std::span(content).first(8)));
  EXPECT_EQ(out[1].text(), "DATA block=2 size=8");
  EXPECT_EQ(t.params().windowsize, 2);
  // A repeated OACK (our DATA 1 may be lost) is not an error and sends nothing.
  t.handle_datagram(kT0 + 1ms, kServerTid, oack({{"blksize", "8"}, {"windowsize", "2"}}));
  EXPECT_TRUE(drain(t).empty());
  t.handle_datagram(kT0 + 2ms, kServerTid, ack(2));
  EXPECT_EQ(texts(drain(t)), std::vector<std::string>{"DATA block=3 size=4"});
  t.handle_datagram(kT0 + 3ms, kServerTid, ack(3));
  ASSERT_TRUE(t.outcome().has_value());
  EXPECT_TRUE(t.outcome()->ok());
  EXPECT_TRUE(t.finished());  // the sender of the final DATA does not dally
}

TEST(Transfer, ClientAcceptsSmallerBlksizeAndWindowsize) {
  Sink s;
  auto t = started_read(s, {{"blksize", "1024"}, {"windowsize", "8"}, {"timeout", "3"}});
  t.handle_datagram(kT0, kServerTid, oack({{"BLKSIZE", "512"}, {"windowsize", "4"}, {"timeout", "3"}}));
  EXPECT_EQ(texts(drain(t)), std::vector<std::string>{"ACK block=0"});
  EXPECT_EQ(t.params().blksize, 512u);
  EXPECT_EQ(t.params().windowsize, 4);
  EXPECT_EQ(t.params().fixed_timeout, Duration(3s));
  EXPECT_EQ(t.poll_timeout(), kT0 + 3s);
}

struct OackRefusalCase {
  const char* name;
  std::vector<OwnedOption> requested;
  std::vector<OwnedOption> oack;
};

TEST(Transfer, ClientRefusesInvalidOackWithError8) {
  const std::vector<OackRefusalCase> cases = {
      {"unrequested option", {{"blksize", "1024"}}, {{"blksize", "1024"}, {"tsize", "100"}}},
      {"blksize larger than asked", {{"blksize", "1024"}}, {{"blksize", "1025"}}},
      {"blksize below 8", {{"blksize", "1024"}}, {{"blksize", "7"}}},
      {"blksize above 65464", {{"blksize", "70000"}}, {{"blksize", "65465"}}},
      {"blksize not decimal", {{"blksize", "1024"}}, {{"blksize", "0x400"}}},
      {"timeout altered", {{"timeout", "5"}}, {{"timeout", "6"}}},
      {"windowsize larger", {{"windowsize", "4"}}, {{"windowsize", "5"}}},
      {"windowsize zero", {{"windowsize", "4"}}, {{"windowsize", "0"}}},
      {"duplicated option", {{"blksize", "1024"}}, {{"blksize", "1024"}, {"BlkSize", "1024"}}},
      // RFC 2347: an OACK acknowledges requested options; one that names none is rejected.
      {"empty OACK", {{"blksize", "1024"}, {"tsize", "0"}}, {}},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    Sink s;
    auto t = started_read(s, c.requested);
    t.handle_datagram(kT0 + 5ms, kServerTid, oack(c.oack));
    const auto out = drain(t);
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(out[0].to, kServerTid);
    EXPECT_EQ(error_code_of(out[0].bytes), 8);
    ASSERT_TRUE(t.outcome().has_value());
    EXPECT_EQ(t.outcome()->kind, OutcomeKind::kOptionRefused);
    EXPECT_EQ(t.outcome()->error_code, 8);
    EXPECT_TRUE(t.finished());
    EXPECT_EQ(t.poll_timeout(), std::nullopt);
    EXPECT_TRUE(s.contents->aborted);
    EXPECT_FALSE(s.contents->committed);
    // A refused transfer is over: later DATA is ignored.
    t.handle_datagram(kT0 + 6ms, kServerTid, data_n(1, 10));
    EXPECT_TRUE(drain(t).empty());
  }
}

TEST(Transfer, ClientWriteRefusesOackForOptionNotAsked) {
  auto t = started_write(pattern(100));
  t.handle_datagram(kT0, kServerTid, oack({{"blksize", "512"}}));
  const auto out = drain(t);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(error_code_of(out[0].bytes), 8);
  EXPECT_EQ(t.outcome()->kind, OutcomeKind::kOptionRefused);
}

TEST(Transfer, ClientRefusalOfAHostileOackFitsOneDatagram) {
  // An unrequested option whose name is 300 bytes the refusal quotes as \xNN: the text
  // grows fourfold, the ERROR 8 still fits 512 bytes and max_datagram_size(); the outcome
  // keeps the whole text.
  Sink s;
  auto t = started_read(s);
  const std::string name(300, '\xff');
  t.handle_datagram(kT0, kServerTid, oack({{name, "1"}}));
  std::vector<uint8_t> buf(proto::kMaxDatagramSize);
  const auto tx = t.poll_transmit(buf);
  ASSERT_TRUE(tx.has_value());
  EXPECT_EQ(error_code_of(Bytes(buf.begin(), buf.begin() + tx->size)), 8);
  EXPECT_LE(tx->size, 512u);
  EXPECT_LE(tx->size, t.max_datagram_size());
  EXPECT_GT(t.outcome()->message.size(), 1200u);
}

// An OACK with no option, in answer to a request with none (issue 7: a target answering
// discovery this way) or to a WRQ with options: ERROR 8, never ACK 0 or DATA 1.
TEST(Transfer, ClientRefusesEmptyOackWithError8) {
  for (const bool write : {false, true}) {
    for (const bool with_options : {false, true}) {
      SCOPED_TRACE(std::string(write ? "WRQ" : "RRQ") + (with_options ? " with blksize" : " plain"));
      std::vector<OwnedOption> opts;
      if (with_options) opts.push_back({"blksize", "1024"});
      Sink s;
      auto t = write ? started_write(pattern(100), opts) : started_read(s, opts);
      t.handle_datagram(kT0 + 5ms, kServerTid, Bytes{0, 6});
      const auto out = drain(t);
      ASSERT_EQ(out.size(), 1u);
      EXPECT_EQ(out[0].to, kServerTid);
      EXPECT_EQ(error_code_of(out[0].bytes), 8);
      ASSERT_TRUE(t.outcome().has_value());
      EXPECT_EQ(t.outcome()->kind, OutcomeKind::kOptionRefused);
      EXPECT_NE(t.outcome()->message.find("no option"), std::string::npos) << t.outcome()->message;
      EXPECT_TRUE(t.finished());
      EXPECT_EQ(t.stats().blocks, 0u);
    }
  }
}

// ---- the server ignores options (RFC 2347) ---------------------------------------------------

TEST(Transfer, ClientReadFallsBackToDefaultsOnPlainData) {
  Sink s;
  auto t = started_read(s, {{"blksize", "1024"}, {"windowsize", "4"}, {"timeout", "9"}});
  t.handle_datagram(kT0, kServerTid, data_n(1, 512));
  EXPECT_EQ(texts(drain(t)), std::vector<std::string>{"ACK block=1"});
  EXPECT_EQ(t.params().blksize, 512u);
  EXPECT_EQ(t.params().windowsize, 1);
  EXPECT_EQ(t.params().fixed_timeout, std::nullopt);
  EXPECT_EQ(t.poll_timeout(), kT0 + 1s);  // the adaptive default, not the 9 s asked for
  EXPECT_FALSE(t.outcome().has_value());
  t.handle_datagram(kT0, kServerTid, data_n(2, 511));
  EXPECT_EQ(texts(drain(t)), std::vector<std::string>{"ACK block=2"});
  ASSERT_TRUE(t.outcome().has_value());
  EXPECT_TRUE(t.outcome()->ok());
  EXPECT_EQ(s.contents->bytes.size(), 1023u);
}

TEST(Transfer, ClientWriteFallsBackToDefaultsOnAckZero) {
  auto t = started_write(pattern(600), {{"blksize", "1024"}});
  t.handle_datagram(kT0, kServerTid, ack(0));
  EXPECT_EQ(texts(drain(t)), std::vector<std::string>{"DATA block=1 size=512"});
  EXPECT_EQ(t.params().blksize, 512u);
  t.handle_datagram(kT0, kServerTid, ack(1));
  EXPECT_EQ(texts(drain(t)), std::vector<std::string>{"DATA block=2 size=88"});
}

// ---- Sorcerer's Apprentice (RFC 1123 §4.2.3.1) ----------------------------------------------

std::map<std::string, int> count_texts(const std::vector<Out>& out) {
  std::map<std::string, int> m;
  for (const auto& o : out) ++m[o.text()];
  return m;
}

TEST(Transfer, DuplicateAckNeverTriggersResend) {
  auto t = Transfer::server_read({}, kClientTid, plain(), source_of(pattern(512 * 3 + 10)), kT0);
  std::vector<Out> all = drain(t);
  for (uint16_t b = 1; b <= 4; ++b) {
    t.handle_datagram(kT0, kClientTid, ack(b));
    auto out = drain(t);
    all.insert(all.end(), out.begin(), out.end());
    // The same ACK twice more: late duplicates, e.g. after our DATA was delayed.
    for (int i = 0; i < 2; ++i) {
      t.handle_datagram(kT0, kClientTid, ack(b));
      EXPECT_TRUE(drain(t).empty()) << "resent after duplicate ACK " << b;
    }
  }
  const auto counts = count_texts(all);
  EXPECT_EQ(counts, (std::map<std::string, int>{{"DATA block=1 size=512", 1},
                                                {"DATA block=2 size=512", 1},
                                                {"DATA block=3 size=512", 1},
                                                {"DATA block=4 size=10", 1}}));
  EXPECT_TRUE(t.outcome()->ok());
  EXPECT_EQ(t.stats().duplicates_received, 6u);
  EXPECT_EQ(t.stats().retransmissions, 0u);
}

TEST(Transfer, DuplicateAckZeroAfterOackIsIgnored) {
  auto t = Transfer::server_read({}, kClientTid, negotiated({{"blksize", "8"}}, 8), source_of(pattern(20)), kT0);
  EXPECT_EQ(texts(drain(t)), std::vector<std::string>{"OACK \"blksize\"=\"8\""});
  t.handle_datagram(kT0, kClientTid, ack(0));
  EXPECT_EQ(texts(drain(t)), std::vector<std::string>{"DATA block=1 size=8"});
  t.handle_datagram(kT0, kClientTid, ack(0));
  EXPECT_TRUE(drain(t).empty());
}

TEST(Transfer, ClientWriteIgnoresDuplicateAck) {
  auto t = started_write(pattern(1100));
  t.handle_datagram(kT0, kServerTid, ack(0));
  EXPECT_EQ(texts(drain(t)), std::vector<std::string>{"DATA block=1 size=512"});
  t.handle_datagram(kT0, kServerTid, ack(0));
  EXPECT_TRUE(drain(t).empty());
  t.handle_datagram(kT0, kServerTid, ack(1));
  EXPECT_EQ(texts(drain(t)), std::vector<std::string>{"DATA block=2 size=512"});
  t.handle_datagram(kT0, kServerTid, ack(1));
  EXPECT_TRUE(drain(t).empty());
}

TEST(Transfer, FaultResendOnDuplicateAckIsSorcerersApprentice) {
  TransferConfig config;
  config.faults.resend_on_duplicate_ack = true;
  auto t = Transfer::server_read(config, kClientTid, plain(), source_of(pattern(2000)), kT0);
  EXPECT_EQ(texts(drain(t)), std::vector<std::string>{"DATA block=1 size=512"});
  t.handle_datagram(kT0, kClientTid, ack(1));
  EXPECT_EQ(texts(drain(t)), std::vector<std::string>{"DATA block=2 size=512"});
  t.handle_datagram(kT0, kClientTid, ack(1));
  EXPECT_EQ(texts(drain(t)), std::vector<std::string>{"DATA block=2 size=512"});
  EXPECT_EQ(t.stats().retransmissions, 1u);
}

// ---- retransmission timing (RFC 1350 §2, RFC 1123 §4.2.3.2) ----------------------------------

// Fires every deadline until the transfer stops asking; returns the offsets (from kT0) of
// the deadlines that produced a retransmission, and the offset at which it gave up.
struct Timeline {
  std::vector<Duration> retransmits;
  std::optional<Duration> gave_up;
  std::vector<Out> last;  // what was sent at the give-up
};

Timeline run_timeouts(Transfer& t, const Bytes& expected_resend) {
  Timeline tl;
  for (int i = 0; i < 100; ++i) {
    const auto deadline = t.poll_timeout();
    if (!deadline) break;
    t.handle_timeout(*deadline - 1ms);  // early: nothing happens
    EXPECT_TRUE(drain(t).empty());
    t.handle_timeout(*deadline);
    auto out = drain(t);
    if (t.outcome()) {
      tl.gave_up = *deadline - kT0;
      tl.last = std::move(out);
      break;
    }
    EXPECT_EQ(out.size(), 1u);
    if (!out.empty()) {
      EXPECT_EQ(out[0].bytes, expected_resend);
    }
    tl.retransmits.push_back(*deadline - kT0);
  }
  return tl;
}

std::vector<Duration> secs(std::initializer_list<int> v) {
  std::vector<Duration> out;
  for (int s : v) out.push_back(std::chrono::seconds(s));
  return out;
}

TEST(Transfer, ClientBacksOffExponentiallyThenTimesOut) {
  Sink s;
  auto t = Transfer::client_read({}, kListen, "f.bin", Mode::kOctet, {}, std::move(s.sink), kT0);
  const auto first = drain(t);
  ASSERT_EQ(first.size(), 1u);
  const auto tl = run_timeouts(t, first[0].bytes);
  EXPECT_EQ(tl.retransmits, secs({1, 3, 7, 15, 23}));  // intervals 1, 2, 4, 8, 8 s
  EXPECT_EQ(tl.gave_up, Duration(31s));
  EXPECT_TRUE(tl.last.empty());  // no server TID yet: nobody to tell
  ASSERT_TRUE(t.outcome().has_value());
  EXPECT_EQ(t.outcome()->kind, OutcomeKind::kTimedOut);
  EXPECT_TRUE(t.finished());
  EXPECT_EQ(t.poll_timeout(), std::nullopt);
  EXPECT_EQ(t.stats().retransmissions, 5u);
  EXPECT_EQ(t.stats().request_retransmissions, 5u);  // all of them the RRQ
  EXPECT_EQ(t.stats().timeouts, 6u);
  EXPECT_TRUE(s.contents->aborted);
}

TEST(Transfer, ServerSenderBacksOffThenTimesOutWithError) {
  auto t = Transfer::server_read({}, kClientTid, plain(), source_of(pattern(2000)), kT0);
  const auto first = drain(t);
  ASSERT_EQ(first.size(), 1u);
  EXPECT_EQ(first[0].to, kClientTid);
  const auto tl = run_timeouts(t, first[0].bytes);
  EXPECT_EQ(tl.retransmits, secs({1, 3, 7, 15, 23}));
  EXPECT_EQ(tl.gave_up, Duration(31s));
  ASSERT_EQ(tl.last.size(), 1u);
  EXPECT_EQ(tl.last[0].to, kClientTid);
  EXPECT_EQ(error_code_of(tl.last[0].bytes), 0);
  EXPECT_EQ(t.outcome()->kind, OutcomeKind::kTimedOut);
  EXPECT_TRUE(t.finished());
}

TEST(Transfer, CustomPolicyCapsBackoffAndRetries) {
  TransferConfig config;
  config.retransmit = {.initial = 500ms, .max = 2s, .max_retries = 3};
  auto t = Transfer::server_read(config, kClientTid, plain(), source_of(pattern(10)), kT0);
  const auto first = drain(t);
  const auto tl = run_timeouts(t, first[0].bytes);
  EXPECT_EQ(tl.retransmits, (std::vector<Duration>{500ms, 1500ms, 3500ms}));
  EXPECT_EQ(tl.gave_up, Duration(5500ms));
}

TEST(Transfer, ProgressResetsBackoff) {
  auto t = Transfer::server_read({}, kClientTid, plain(), source_of(pattern(2000)), kT0);
  drain(t);
  t.handle_timeout(kT0 + 1s);
  t.handle_timeout(kT0 + 3s);
  EXPECT_EQ(drain(t).size(), 2u);
  EXPECT_EQ(t.poll_timeout(), kT0 + 7s);
  t.handle_datagram(kT0 + 4s, kClientTid, ack(1));
  EXPECT_EQ(texts(drain(t)), std::vector<std::string>{"DATA block=2 size=512"});
  EXPECT_EQ(t.poll_timeout(), kT0 + 5s);  // back to the initial 1 s
}

TEST(Transfer, NegotiatedTimeoutIsFixed) {
  auto t = Transfer::server_read({}, kClientTid, negotiated({{"timeout", "3"}}, 512, 1, 3s), source_of(pattern(10)),
                                 kT0);
  const auto first = drain(t);
  ASSERT_EQ(texts(first), std::vector<std::string>{"OACK \"timeout\"=\"3\""});
  const auto tl = run_timeouts(t, first[0].bytes);  // the OACK is re-sent
  EXPECT_EQ(tl.retransmits, secs({3, 6, 9, 12, 15}));
  EXPECT_EQ(tl.gave_up, Duration(18s));
}

TEST(Transfer, ClientUsesNegotiatedTimeoutWithoutBackoff) {
  Sink s;
  auto t = started_read(s, {{"timeout", "2"}});
  t.handle_datagram(kT0, kServerTid, oack({{"timeout", "2"}}));
  const auto ack0 = drain(t);
  ASSERT_EQ(ack0.size(), 1u);
  const auto tl = run_timeouts(t, ack0[0].bytes);
  EXPECT_EQ(tl.retransmits, secs({2, 4, 6, 8, 10}));
  EXPECT_EQ(tl.gave_up, Duration(12s));
  ASSERT_EQ(tl.last.size(), 1u);
  EXPECT_EQ(tl.last[0].to, kServerTid);
}

TEST(Transfer, FaultNoRetransmissionStaysSilentButStillGivesUp) {
  TransferConfig config;
  config.faults.no_retransmission = true;
  auto t = Transfer::server_read(config, kClientTid, plain(), source_of(pattern(10)), kT0);
  drain(t);
  for (int i = 0; i < 5; ++i) {
    t.handle_timeout(*t.poll_timeout());
    EXPECT_TRUE(drain(t).empty());
  }
  t.handle_timeout(*t.poll_timeout());
  EXPECT_EQ(t.outcome()->kind, OutcomeKind::kTimedOut);
}

TEST(Transfer, ReceiverRetransmitsLastAckOnTimeout) {
  Sink s;
  auto t = started_read(s);
  t.handle_datagram(kT0, kServerTid, data_n(1, 512));
  drain(t);
  t.handle_timeout(kT0 + 1s);
  EXPECT_EQ(texts(drain(t)), std::vector<std::string>{"ACK block=1"});
  EXPECT_EQ(t.poll_timeout(), kT0 + 3s);
}

// ---- transfer IDs (RFC 1350 §4) --------------------------------------------------------------

TEST(Transfer, StrayTidGetsError5AndTransferContinues) {
  Sink s;
  auto t = started_read(s);
  t.handle_datagram(kT0, kServerTid, data_n(1, 512));
  EXPECT_EQ(texts(drain(t)), std::vector<std::string>{"ACK block=1"});
  t.handle_datagram(kT0, kStray, data_n(2, 512));
  auto out = drain(t);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].to, kStray);
  EXPECT_EQ(error_code_of(out[0].bytes), 5);
  EXPECT_FALSE(t.outcome().has_value());
  EXPECT_EQ(t.stats().stray_datagrams, 1u);
  EXPECT_EQ(t.peer(), kServerTid);
  t.handle_datagram(kT0, kServerTid, data_n(2, 3));
  out = drain(t);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].to, kServerTid);
  EXPECT_EQ(out[0].text(), "ACK block=2");
  EXPECT_TRUE(t.outcome()->ok());
  EXPECT_EQ(s.contents->bytes.size(), 515u);
}

TEST(Transfer, ServerAnswersStrayTidWithError5) {
  auto t = Transfer::server_read({}, kClientTid, plain(), source_of(pattern(2000)), kT0);
  drain(t);
  t.handle_datagram(kT0, kStray, ack(1));  // would move the transfer on if accepted
  auto out = drain(t);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].to, kStray);
  EXPECT_EQ(error_code_of(out[0].bytes), 5);
  t.handle_datagram(kT0, kClientTid, ack(1));
  out = drain(t);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].to, kClientTid);
  EXPECT_EQ(out[0].text(), "DATA block=2 size=512");
}

TEST(Transfer, StrayErrorIsNotAnswered) {
  // An ERROR 5 answered with ERROR 5 would let two transfers that are strays to each other
  // bounce errors forever (RFC 1350 §7: an ERROR is never acknowledged).
  auto a = Transfer::server_read({}, kClientTid, plain(), source_of(pattern(2000)), kT0);
  auto b = Transfer::server_read({}, Address::loopback_v4(5001), plain(), source_of(pattern(2000)), kT0);
  drain(a);
  drain(b);
  a.handle_datagram(kT0, kStray, ack(1));  // b lives at kStray; a answers ERROR 5
  auto out = drain(a);
  ASSERT_EQ(out.size(), 1u);
  ASSERT_EQ(error_code_of(out[0].bytes), 5);
  for (int hop = 0; hop < 4 && !out.empty(); ++hop) {  // deliver each reply to the other one
    Transfer& to = hop % 2 == 0 ? b : a;
    to.handle_datagram(kT0, hop % 2 == 0 ? kServerTid : kStray, out[0].bytes);
    out = drain(to);
  }
  EXPECT_TRUE(out.empty());
  EXPECT_EQ(b.stats().stray_datagrams, 1u);
  EXPECT_FALSE(a.outcome().has_value());
  EXPECT_FALSE(b.outcome().has_value());
}

TEST(Transfer, StrayFromAnotherHostBeforeFirstReplyIsDroppedSilently) {
  Sink s;
  auto t = started_read(s);
  t.handle_datagram(kT0, Address::ipv4(0x0a000001u, 40000), data_n(1, 10));
  EXPECT_TRUE(drain(t).empty());
  EXPECT_EQ(t.stats().stray_datagrams, 1u);
  EXPECT_FALSE(t.outcome().has_value());
  t.handle_datagram(kT0, kServerTid, data_n(1, 10));
  EXPECT_EQ(texts(drain(t)), std::vector<std::string>{"ACK block=1"});
  EXPECT_TRUE(t.outcome()->ok());
}

// Ports are reused: a late DATA meant for the client that had our port before must not be
// taken for the server's reply (seen in CI, where a flooding test's DATA reached a new client).
TEST(Transfer, WhatCannotAnswerTheRequestIsAStrayNotTheServersTid) {
  struct Case {
    const char* name;
    bool write;
    Bytes stray;
  };
  const std::vector<Case> cases = {
      {"ACK in reply to RRQ", false, ack(0)},
      {"DATA 2 as first reply to RRQ", false, data_n(2, 512)},
      {"DATA 0 as first reply to RRQ", false, data_n(0, 10)},
      {"DATA in reply to WRQ", true, data_n(1, 512)},
      {"ACK 1 as first reply to WRQ", true, ack(1)},
      {"RRQ as reply", false, request(Opcode::kRrq, "x", "octet")},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    Sink s;
    auto t = c.write ? started_write(pattern(10)) : started_read(s);
    t.handle_datagram(kT0, kStray, c.stray);
    EXPECT_TRUE(drain(t).empty());
    EXPECT_EQ(t.stats().stray_datagrams, 1u);
    ASSERT_FALSE(t.outcome().has_value());
    // The real reply, from another port, still becomes the TID and the transfer completes.
    t.handle_datagram(kT0, kServerTid, c.write ? ack(0) : data_n(1, 10));
    drain(t);
    if (c.write) {
      t.handle_datagram(kT0, kServerTid, ack(1));
      drain(t);
    }
    ASSERT_TRUE(t.outcome().has_value());
    EXPECT_TRUE(t.outcome()->ok()) << t.outcome()->to_string();
  }
}

TEST(Transfer, AWrongFirstReplyIsNamedWhenTheRequestTimesOut) {
  Sink s;
  auto t = started_read(s);
  t.handle_datagram(kT0, kServerTid, data_n(2, 512));
  drain(t);
  Instant now = kT0;
  while (!t.outcome()) {
    now = *t.poll_timeout();
    t.handle_timeout(now);
    drain(t);
  }
  EXPECT_EQ(t.outcome()->kind, OutcomeKind::kTimedOut);
  EXPECT_NE(t.outcome()->message.find("ignored DATA block=2"), std::string::npos) << t.outcome()->message;
}

TEST(Transfer, FaultNoErrorToStrayTidDropsSilently) {
  Sink s;
  TransferConfig config;
  config.faults.no_error_to_stray_tid = true;
  auto t = started_read(s, {}, config);
  t.handle_datagram(kT0, kServerTid, data_n(1, 512));
  drain(t);
  t.handle_datagram(kT0, kStray, data_n(2, 512));
  EXPECT_TRUE(drain(t).empty());
  EXPECT_EQ(t.stats().stray_datagrams, 1u);
  EXPECT_EQ(s.contents->bytes.size(), 512u);
}

TEST(Transfer, FaultAcceptStrayTidTakesTheStraysData) {
  Sink s;
  TransferConfig config;
  config.faults.accept_stray_tid = true;
  auto t = started_read(s, {}, config);
  t.handle_datagram(kT0, kServerTid, data_n(1, 512));
  drain(t);
  t.handle_datagram(kT0, kStray, data_n(2, 7));
  const auto out = drain(t);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].text(), "ACK block=2");
  EXPECT_EQ(s.contents->bytes.size(), 519u);
  EXPECT_TRUE(t.outcome()->ok());
}

// ---- errors (RFC 1350 §7) --------------------------------------------------------------------

TEST(Transfer, PeerErrorEndsTransferWithoutReply) {
  Sink s;
  auto t = started_read(s);
  t.handle_datagram(kT0, kServerTid, data_n(1, 512));
  drain(t);
  t.handle_datagram(kT0, kServerTid, error(2, "Access violation"));
  EXPECT_TRUE(drain(t).empty());
  ASSERT_TRUE(t.outcome().has_value());
  EXPECT_EQ(t.outcome()->kind, OutcomeKind::kPeerError);
  EXPECT_EQ(t.outcome()->error_code, 2);
  EXPECT_TRUE(t.finished());
  EXPECT_EQ(t.poll_timeout(), std::nullopt);
  EXPECT_TRUE(s.contents->aborted);
  t.handle_timeout(kT0 + 60s);
  t.handle_datagram(kT0, kServerTid, data_n(2, 5));
  EXPECT_TRUE(drain(t).empty());
}

TEST(Transfer, PeerErrorAsFirstReplyEndsRequest) {
  Sink s;
  auto t = started_read(s);
  t.handle_datagram(kT0, kServerTid, error(1, "File not found"));
  EXPECT_TRUE(drain(t).empty());
  EXPECT_EQ(t.outcome()->kind, OutcomeKind::kPeerError);
  EXPECT_EQ(t.outcome()->error_code, 1);
}

TEST(Transfer, ServerSenderStopsOnClientError) {
  auto t = Transfer::server_read({}, kClientTid, negotiated({{"blksize", "1024"}}, 1024), source_of(pattern(10)), kT0);
  drain(t);
  t.handle_datagram(kT0, kClientTid, error(8, "no thanks"));  // RFC 2347: the client refuses the OACK
  EXPECT_TRUE(drain(t).empty());
  EXPECT_EQ(t.outcome()->kind, OutcomeKind::kPeerError);
  EXPECT_EQ(t.outcome()->error_code, 8);
  EXPECT_TRUE(t.finished());
}

TEST(Transfer, FaultIgnorePeerErrorKeepsGoing) {
  TransferConfig config;
  config.faults.ignore_peer_error = true;
  auto t = Transfer::server_read(config, kClientTid, plain(), source_of(pattern(600)), kT0);
  drain(t);
  t.handle_datagram(kT0, kClientTid, error(0, "stop"));
  EXPECT_FALSE(t.outcome().has_value());
  t.handle_datagram(kT0, kClientTid, ack(1));
  EXPECT_EQ(texts(drain(t)), std::vector<std::string>{"DATA block=2 size=88"});
}

TEST(Transfer, MalformedDatagramGetsError4) {
  const std::vector<Bytes> malformed = {
      Bytes{0, 4, 0},         // truncated ACK
      Bytes{0, 9, 0, 1},      // unknown opcode
      Bytes{0},               // one byte
      Bytes{0, 6},            // empty OACK: parsed (lenient), and no client sends an OACK
  };
  for (const auto& m : malformed) {
    SCOPED_TRACE(proto::describe_datagram(m));
    auto t = Transfer::server_read({}, kClientTid, plain(), source_of(pattern(2000)), kT0);
    drain(t);
    t.handle_datagram(kT0, kClientTid, m);
    const auto out = drain(t);
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(out[0].to, kClientTid);
    EXPECT_EQ(error_code_of(out[0].bytes), 4);
    EXPECT_EQ(t.outcome()->kind, OutcomeKind::kProtocolError);
    EXPECT_EQ(t.outcome()->error_code, 4);
    EXPECT_TRUE(t.finished());
  }
}

struct UnexpectedCase {
  const char* name;
  bool write;  // client_write instead of client_read
  std::vector<OwnedOption> options;
  std::vector<Bytes> replies;  // the last one is the unexpected one
};

TEST(Transfer, UnexpectedOpcodeGetsError4) {
  const std::vector<UnexpectedCase> cases = {
      {"ACK while receiving", false, {}, {data_n(1, 512), ack(1)}},
      {"DATA while sending", true, {}, {ack(0), data_n(1, 4)}},
      {"OACK after data started", false, {{"blksize", "512"}}, {data_n(1, 512), oack({{"blksize", "512"}})}},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    Sink s;
    auto t = c.write ? started_write(pattern(1000), c.options) : started_read(s, c.options);
    for (size_t i = 0; i + 1 < c.replies.size(); ++i) {
      t.handle_datagram(kT0, kServerTid, c.replies[i]);
      drain(t);
      ASSERT_FALSE(t.outcome().has_value());
    }
    t.handle_datagram(kT0, kServerTid, c.replies.back());
    const auto out = drain(t);
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(out[0].to, kServerTid);
    EXPECT_EQ(error_code_of(out[0].bytes), 4);
    ASSERT_TRUE(t.outcome().has_value());
    EXPECT_EQ(t.outcome()->kind, OutcomeKind::kProtocolError);
  }
}

TEST(Transfer, ServerAwaitingAckZeroRejectsData) {
  auto t = Transfer::server_read({}, kClientTid, negotiated({{"blksize", "8"}}, 8), source_of(pattern(20)), kT0);
  drain(t);
  t.handle_datagram(kT0, kClientTid, ack(1));  // an ACK for a block not yet sent: ignored
  EXPECT_TRUE(drain(t).empty());
  EXPECT_FALSE(t.outcome().has_value());
  t.handle_datagram(kT0, kClientTid, data_n(1, 8));
  const auto out = drain(t);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(error_code_of(out[0].bytes), 4);
}

TEST(Transfer, OversizedDataIsAProtocolError) {
  Sink s;
  auto t = started_read(s, {{"blksize", "8"}});
  t.handle_datagram(kT0, kServerTid, oack({{"blksize", "8"}}));
  drain(t);
  t.handle_datagram(kT0, kServerTid, data_n(1, 9));
  const auto out = drain(t);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(error_code_of(out[0].bytes), 4);
  EXPECT_TRUE(s.contents->bytes.empty());
}

// ---- the end of a transfer (RFC 1350 §6) -----------------------------------------------------

// Runs a lockstep server_read against perfect ACKs; returns what it sent.
std::vector<Out> serve_all(Bytes content, TransferConfig config = {}, size_t blksize = 512) {
  ServerNegotiation n;
  n.params.blksize = blksize;
  auto t = Transfer::server_read(config, kClientTid, n, source_of(std::move(content)), kT0);
  std::vector<Out> all = drain(t);
  for (int i = 0; i < 1000 && !t.outcome(); ++i) {
    auto p = proto::parse(all.back().bytes);
    const auto& d = std::get<proto::Data>(*p);
    t.handle_datagram(kT0, kClientTid, ack(d.block));
    auto out = drain(t);
    all.insert(all.end(), out.begin(), out.end());
    if (out.empty()) break;
  }
  EXPECT_TRUE(t.outcome().has_value() && t.outcome()->ok());
  EXPECT_TRUE(t.finished());
  return all;
}

TEST(Transfer, FileMultipleOfBlockSizeEndsWithEmptyData) {
  EXPECT_EQ(texts(serve_all(pattern(1024))),
            (std::vector<std::string>{"DATA block=1 size=512", "DATA block=2 size=512", "DATA block=3 size=0"}));
  EXPECT_EQ(texts(serve_all(pattern(0))), std::vector<std::string>{"DATA block=1 size=0"});
  EXPECT_EQ(texts(serve_all(pattern(16), {}, 8)),
            (std::vector<std::string>{"DATA block=1 size=8", "DATA block=2 size=8", "DATA block=3 size=0"}));
  EXPECT_EQ(texts(serve_all(pattern(511))), std::vector<std::string>{"DATA block=1 size=511"});
  EXPECT_EQ(texts(serve_all(pattern(513))),
            (std::vector<std::string>{"DATA block=1 size=512", "DATA block=2 size=1"}));
}

TEST(Transfer, FaultNoFinalEmptyBlockStopsAfterLastFullBlock) {
  TransferConfig config;
  config.faults.no_final_empty_block = true;
  EXPECT_EQ(texts(serve_all(pattern(1024), config)),
            (std::vector<std::string>{"DATA block=1 size=512", "DATA block=2 size=512"}));
  EXPECT_EQ(texts(serve_all(pattern(513), config)),
            (std::vector<std::string>{"DATA block=1 size=512", "DATA block=2 size=1"}));
}

TEST(Transfer, ReceiverDalliesAndReAcksRetransmittedFinalData) {
  Sink s;
  auto t = started_read(s);
  t.handle_datagram(kT0, kServerTid, data_n(1, 512));
  drain(t);
  t.handle_datagram(kT0 + 1s, kServerTid, data_n(2, 100));
  EXPECT_EQ(texts(drain(t)), std::vector<std::string>{"ACK block=2"});
  ASSERT_TRUE(t.outcome().has_value());
  EXPECT_TRUE(t.outcome()->ok());
  EXPECT_TRUE(s.contents->committed);
  EXPECT_FALSE(t.finished());  // dallying
  EXPECT_EQ(t.poll_timeout(), kT0 + 3s);
  // Our final ACK was lost: the server repeats the final DATA; we ACK it again.
  t.handle_datagram(kT0 + 2s, kServerTid, data_n(2, 100));
  EXPECT_EQ(texts(drain(t)), std::vector<std::string>{"ACK block=2"});
  // An older block is not answered while dallying.
  t.handle_datagram(kT0 + 2s, kServerTid, data_n(1, 512));
  EXPECT_TRUE(drain(t).empty());
  EXPECT_EQ(s.contents->bytes.size(), 612u);  // nothing written twice
  t.handle_timeout(kT0 + 3s);
  EXPECT_TRUE(t.finished());
  EXPECT_TRUE(t.outcome()->ok());
  t.handle_datagram(kT0 + 4s, kServerTid, data_n(2, 100));
  EXPECT_TRUE(drain(t).empty());
}

TEST(Transfer, AnErrorWhileDallyingEndsTheDallyNotTheCompletedTransfer) {
  // RFC 1350 §6: the transfer is complete once the final DATA is acknowledged; an ERROR the
  // server sends afterwards (e.g. to a late datagram) must not turn the committed download
  // into a failure (found by fuzz/fuzz_client_transfer.cc).
  Sink s;
  auto t = started_read(s);
  t.handle_datagram(kT0, kServerTid, data_n(1, 100));
  EXPECT_EQ(texts(drain(t)), std::vector<std::string>{"ACK block=1"});
  ASSERT_FALSE(t.finished());  // dallying
  t.handle_datagram(kT0 + 1s, kServerTid, error(1, "File not found"));
  EXPECT_TRUE(drain(t).empty());
  EXPECT_TRUE(t.finished());
  ASSERT_TRUE(t.outcome().has_value());
  EXPECT_TRUE(t.outcome()->ok()) << t.outcome()->to_string();
  EXPECT_TRUE(s.contents->committed);
  EXPECT_FALSE(s.contents->aborted);
}

TEST(Transfer, AMalformedDatagramWhileDallyingLeavesTheTransferASuccess) {
  Sink s;
  auto t = started_read(s);
  t.handle_datagram(kT0, kServerTid, data_n(1, 10));
  drain(t);
  ASSERT_FALSE(t.finished());  // dallying
  t.handle_datagram(kT0 + 1s, kServerTid, Bytes{});  // an empty datagram: ERROR 4 (RFC 1350 §7)
  const auto out = drain(t);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(error_code_of(out[0].bytes), 4);
  EXPECT_TRUE(t.finished());
  EXPECT_TRUE(t.outcome()->ok()) << t.outcome()->to_string();
  EXPECT_TRUE(s.contents->committed);
  EXPECT_FALSE(s.contents->aborted);
}

TEST(Transfer, NoDallyFinishesAtOnce) {
  for (bool fault : {true, false}) {
    SCOPED_TRACE(fault ? "Faults::no_dally" : "dally = 0");
    Sink s;
    TransferConfig config;
    if (fault) {
      config.faults.no_dally = true;
    } else {
      config.dally = Duration::zero();
    }
    auto t = started_read(s, {}, config);
    t.handle_datagram(kT0, kServerTid, data_n(1, 5));
    EXPECT_EQ(texts(drain(t)), std::vector<std::string>{"ACK block=1"});
    EXPECT_TRUE(t.finished());
    EXPECT_EQ(t.poll_timeout(), std::nullopt);
    t.handle_datagram(kT0, kServerTid, data_n(1, 5));
    EXPECT_TRUE(drain(t).empty());
  }
}

TEST(Transfer, DallyOutlastsTheNegotiatedTimeout) {
  // The peer re-sends its final DATA only after the negotiated timeout; a shorter dally
  // would be gone by then and the peer would never learn that the transfer succeeded.
  Sink s;
  auto t = started_read(s, {{"timeout", "5"}});
  t.handle_datagram(kT0, kServerTid, oack({{"timeout", "5"}}));
  drain(t);
  t.handle_datagram(kT0, kServerTid, data_n(1, 10));
  EXPECT_EQ(texts(drain(t)), std::vector<std::string>{"ACK block=1"});
  ASSERT_TRUE(t.poll_timeout().has_value());
  EXPECT_GT(*t.poll_timeout(), kT0 + 5s);
  t.handle_timeout(kT0 + 5s);
  t.handle_datagram(kT0 + 5s, kServerTid, data_n(1, 10));
  EXPECT_EQ(texts(drain(t)), std::vector<std::string>{"ACK block=1"});
}

TEST(Transfer, ServerWriteDalliesAfterFinalAck) {
  auto t = Transfer::server_write({}, kClientTid, plain(), std::make_unique<MemorySink>(), kT0);
  EXPECT_EQ(texts(drain(t)), std::vector<std::string>{"ACK block=0"});
  t.handle_datagram(kT0, kClientTid, data_n(1, 3));
  EXPECT_EQ(texts(drain(t)), std::vector<std::string>{"ACK block=1"});
  EXPECT_TRUE(t.outcome()->ok());
  EXPECT_FALSE(t.finished());
  t.handle_datagram(kT0 + 1s, kClientTid, data_n(1, 3));
  EXPECT_EQ(texts(drain(t)), std::vector<std::string>{"ACK block=1"});
  t.handle_timeout(kT0 + 2s);
  EXPECT_TRUE(t.finished());
}

TEST(Transfer, ServerWriteStartsWithOackAndResendsIt) {
  auto sink = std::make_unique<MemorySink>();
  auto contents = sink->contents();
  auto t = Transfer::server_write({}, kClientTid, negotiated({{"blksize", "8"}}, 8), std::move(sink), kT0);
  EXPECT_EQ(texts(drain(t)), std::vector<std::string>{"OACK \"blksize\"=\"8\""});
  t.handle_timeout(kT0 + 1s);
  EXPECT_EQ(texts(drain(t)), std::vector<std::string>{"OACK \"blksize\"=\"8\""});
  t.handle_datagram(kT0 + 1s, kClientTid, data_n(1, 8));
  t.handle_datagram(kT0 + 1s, kClientTid, data_n(2, 0));
  EXPECT_EQ(texts(drain(t)), (std::vector<std::string>{"ACK block=1", "ACK block=2"}));
  EXPECT_EQ(contents->bytes, pattern(8));
  EXPECT_TRUE(contents->committed);
}

// ---- windows (RFC 7440) ----------------------------------------------------------------------

Transfer windowed_read(Sink& s, uint16_t windowsize) {
  const std::vector<OwnedOption> opts = {{"blksize", "8"}, {"windowsize", std::to_string(windowsize)}};
  auto t = started_read(s, opts);
  t.handle_datagram(kT0, kServerTid, oack(opts));
  EXPECT_EQ(texts(drain(t)), std::vector<std::string>{"ACK block=0"});
  return t;
}

TEST(Transfer, WindowReceiverAcksAtWindowEnd) {
  Sink s;
  auto t = windowed_read(s, 4);
  for (uint16_t b = 1; b <= 3; ++b) {
    t.handle_datagram(kT0, kServerTid, data_n(b, 8));
    EXPECT_TRUE(drain(t).empty()) << "block " << b;
  }
  t.handle_datagram(kT0, kServerTid, data_n(4, 8));
  EXPECT_EQ(texts(drain(t)), std::vector<std::string>{"ACK block=4"});
  for (uint16_t b = 5; b <= 7; ++b) t.handle_datagram(kT0, kServerTid, data_n(b, 8));
  EXPECT_TRUE(drain(t).empty());
  t.handle_datagram(kT0, kServerTid, data_n(8, 2));  // short: the end, ACKed at once
  EXPECT_EQ(texts(drain(t)), std::vector<std::string>{"ACK block=8"});
  EXPECT_TRUE(t.outcome()->ok());
  EXPECT_EQ(s.contents->bytes.size(), 58u);
}

TEST(Transfer, WindowReceiverAcksLastInOrderBlockOnceOnGap) {
  Sink s;
  auto t = windowed_read(s, 4);
  t.handle_datagram(kT0, kServerTid, data_n(1, 8));
  EXPECT_TRUE(drain(t).empty());
  t.handle_datagram(kT0, kServerTid, data_n(3, 8));  // block 2 went missing
  EXPECT_EQ(texts(drain(t)), std::vector<std::string>{"ACK block=1"});
  t.handle_datagram(kT0, kServerTid, data_n(4, 8));
  EXPECT_TRUE(drain(t).empty()) << "the gap is reported once";
  // The sender rewinds to 2 and sends a full window 2..5.
  for (uint16_t b = 2; b <= 4; ++b) {
    t.handle_datagram(kT0, kServerTid, data_n(b, 8));
    EXPECT_TRUE(drain(t).empty()) << "block " << b;
  }
  t.handle_datagram(kT0, kServerTid, data_n(5, 8));
  EXPECT_EQ(texts(drain(t)), std::vector<std::string>{"ACK block=5"});
  // A second gap is reported again.
  t.handle_datagram(kT0, kServerTid, data_n(7, 8));
  EXPECT_EQ(texts(drain(t)), std::vector<std::string>{"ACK block=5"});
  EXPECT_EQ(s.contents->bytes.size(), 40u);
}

TEST(Transfer, WindowReceiverReAcksOldBlocks) {
  Sink s;
  auto t = windowed_read(s, 2);
  t.handle_datagram(kT0, kServerTid, data_n(1, 8));
  t.handle_datagram(kT0, kServerTid, data_n(2, 8));
  EXPECT_EQ(texts(drain(t)), std::vector<std::string>{"ACK block=2"});
  t.handle_datagram(kT0, kServerTid, data_n(1, 8));  // our ACK 2 was lost: a retransmitted window
  EXPECT_EQ(texts(drain(t)), std::vector<std::string>{"ACK block=2"});
  EXPECT_EQ(t.stats().duplicates_received, 1u);
  EXPECT_EQ(s.contents->bytes.size(), 16u);
}

TEST(Transfer, WindowReceiverReAcksAResentWindowOnce) {
  Sink s;
  auto t = windowed_read(s, 4);
  for (uint16_t b = 1; b <= 4; ++b) t.handle_datagram(kT0, kServerTid, data_n(b, 8));
  EXPECT_EQ(texts(drain(t)), std::vector<std::string>{"ACK block=4"});
  // ACK 4 was lost: the sender's timer resends the window, which earns one ACK.
  for (uint16_t b = 1; b <= 4; ++b) t.handle_datagram(kT0 + 1s, kServerTid, data_n(b, 8));
  EXPECT_EQ(texts(drain(t)), std::vector<std::string>{"ACK block=4"});
  // That ACK was lost too: the next resent window earns the next one.
  for (uint16_t b = 1; b <= 4; ++b) t.handle_datagram(kT0 + 3s, kServerTid, data_n(b, 8));
  EXPECT_EQ(texts(drain(t)), std::vector<std::string>{"ACK block=4"});
  EXPECT_EQ(t.stats().duplicates_received, 8u);
  // New blocks start the count again.
  t.handle_datagram(kT0 + 3s, kServerTid, data_n(5, 8));
  t.handle_datagram(kT0 + 3s, kServerTid, data_n(4, 8));
  EXPECT_EQ(texts(drain(t)), std::vector<std::string>{"ACK block=5"});
}

TEST(Transfer, LockstepReceiverReAcksEveryDuplicate) {
  Sink s;
  auto t = started_read(s);
  t.handle_datagram(kT0, kServerTid, data_n(1, 512));
  drain(t);
  for (int i = 0; i < 3; ++i) {
    t.handle_datagram(kT0 + (i + 1) * 1s, kServerTid, data_n(1, 512));
    EXPECT_EQ(texts(drain(t)), std::vector<std::string>{"ACK block=1"}) << "duplicate " << i;
  }
}

TEST(Transfer, WindowSenderRewindsAfterPartialAck) {
  auto t = Transfer::server_read(fixed_timer(), kClientTid, negotiated({{"blksize", "8"}, {"windowsize", "4"}}, 8, 4),
                                 source_of(pattern(100)), kT0);
  EXPECT_EQ(drain(t).size(), 1u);  // OACK
  t.handle_datagram(kT0, kClientTid, ack(0));
  EXPECT_EQ(texts(drain(t)), (std::vector<std::string>{"DATA block=1 size=8", "DATA block=2 size=8",
                                                       "DATA block=3 size=8", "DATA block=4 size=8"}));
  t.handle_datagram(kT0 + 10ms, kClientTid, ack(2));  // 3 was lost
  EXPECT_EQ(texts(drain(t)), (std::vector<std::string>{"DATA block=3 size=8", "DATA block=4 size=8",
                                                       "DATA block=5 size=8", "DATA block=6 size=8"}));
  EXPECT_EQ(t.stats().retransmissions, 2u);
  EXPECT_EQ(t.poll_timeout(), kT0 + 10ms + 1s);
  // The window end ACKed: the next full window.
  t.handle_datagram(kT0 + 20ms, kClientTid, ack(6));
  EXPECT_EQ(drain(t).size(), 4u);
  // A timeout resends the whole unacknowledged window.
  t.handle_timeout(kT0 + 20ms + 1s);
  EXPECT_EQ(texts(drain(t)), (std::vector<std::string>{"DATA block=7 size=8", "DATA block=8 size=8",
                                                       "DATA block=9 size=8", "DATA block=10 size=8"}));
  // The last window is short: 100 bytes = 12 full blocks + 4.
  t.handle_datagram(kT0 + 2s, kClientTid, ack(10));
  EXPECT_EQ(texts(drain(t)), (std::vector<std::string>{"DATA block=11 size=8", "DATA block=12 size=8",
                                                       "DATA block=13 size=4"}));
  t.handle_datagram(kT0 + 2s, kClientTid, ack(13));
  EXPECT_TRUE(t.outcome()->ok());
  EXPECT_EQ(t.stats().bytes, 100u);
  EXPECT_EQ(t.stats().blocks, 13u);
}

// RFC 7440 §4 (Figure 2): DATA 5, the first block of the second window, is lost; the
// receiver repeats ACK 4, the last block it has in order. The sender takes that repeat as
// the notice and restarts at 5 at once, once per acknowledged block (a second copy of the
// notice, or a late duplicate, does not double the window).
TEST(Transfer, WindowSenderRestartsAtOnceWhenTheWindowsFirstBlockIsLost) {
  auto t = Transfer::server_read(fixed_timer(), kClientTid, negotiated({{"blksize", "8"}, {"windowsize", "4"}}, 8, 4),
                                 source_of(pattern(100)), kT0);
  drain(t);  // OACK
  t.handle_datagram(kT0, kClientTid, ack(0));
  drain(t);  // 1-4
  t.handle_datagram(kT0 + 10ms, kClientTid, ack(4));
  EXPECT_EQ(drain(t).size(), 4u);  // 5-8
  t.handle_datagram(kT0 + 20ms, kClientTid, ack(4));
  EXPECT_EQ(texts(drain(t)), (std::vector<std::string>{"DATA block=5 size=8", "DATA block=6 size=8",
                                                       "DATA block=7 size=8", "DATA block=8 size=8"}));
  t.handle_datagram(kT0 + 21ms, kClientTid, ack(4));
  EXPECT_TRUE(drain(t).empty()) << "a second repeat of ACK 4 restarted the window again";
  t.handle_datagram(kT0 + 30ms, kClientTid, ack(8));
  EXPECT_EQ(texts(drain(t)).front(), "DATA block=9 size=8");
}

// Lockstep keeps RFC 1123 §4.2.3.1: a duplicate ACK is never answered (Sorcerer's Apprentice).
TEST(Transfer, LockstepSenderDoesNotRestartOnARepeatedAck) {
  auto t = Transfer::server_read(fixed_timer(), kClientTid, negotiated({{"blksize", "8"}}, 8, 1), source_of(pattern(100)), kT0);
  drain(t);  // OACK
  t.handle_datagram(kT0, kClientTid, ack(0));
  drain(t);
  t.handle_datagram(kT0 + 10ms, kClientTid, ack(1));
  EXPECT_EQ(drain(t).size(), 1u);
  t.handle_datagram(kT0 + 20ms, kClientTid, ack(1));
  EXPECT_TRUE(drain(t).empty());
}

TEST(Transfer, WindowPastLossFaultSendsTheNextWindowInstead) {
  TransferConfig config = fixed_timer();
  config.faults.window_past_loss = true;
  auto t = Transfer::server_read(config, kClientTid, negotiated({{"blksize", "8"}, {"windowsize", "4"}}, 8, 4),
                                 source_of(pattern(100)), kT0);
  drain(t);
  t.handle_datagram(kT0, kClientTid, ack(0));
  drain(t);
  t.handle_datagram(kT0 + 10ms, kClientTid, ack(4));
  drain(t);
  t.handle_datagram(kT0 + 20ms, kClientTid, ack(4));
  EXPECT_EQ(texts(drain(t)).front(), "DATA block=9 size=8");
}

// ---- two transfers back to back --------------------------------------------------------------

// A datagram between the two transfers of a pair, as `pump` hands it to a tap.
struct Wire {
  bool from_server;
  std::span<const uint8_t> bytes;
};

// Connects a client transfer (at kClientTid) to a server transfer (at kServerTid) in
// virtual time. The client's request is discarded: the server transfer exists already.
// `tap` sees every datagram and may drop it (returns true).
Instant pump(Transfer& client, Transfer& server, const std::function<bool(const Wire&)>& tap = {},
             uint64_t max_steps = 2'000'000) {
  Instant now = kT0;
  drain(client);
  Bytes buf(proto::kMaxDatagramSize);
  for (uint64_t step = 0; step < max_steps; ++step) {
    bool moved = false;
    while (auto tx = server.poll_transmit(buf)) {
      moved = true;
      const auto bytes = std::span<const uint8_t>(buf).first(tx->size);
      if (tap && tap(Wire{true, bytes})) continue;
      if (tx->to == kClientTid) client.handle_datagram(now, kServerTid, bytes);
    }
    while (auto tx = client.poll_transmit(buf)) {
      moved = true;
      const auto bytes = std::span<const uint8_t>(buf).first(tx->size);
      if (tap && tap(Wire{false, bytes})) continue;
      if (tx->to == kServerTid) server.handle_datagram(now, kClientTid, bytes);
    }
    if (moved) continue;
    if (client.finished() && server.finished()) return now;
    std::optional<Instant> next = client.poll_timeout();
    if (auto s = server.poll_timeout(); s && (!next || *s < *next)) next = s;
    if (!next) return now;
    now = std::max(now, *next);
    client.handle_timeout(now);
    server.handle_timeout(now);
  }
  ADD_FAILURE() << "pump: step limit";
  return now;
}

uint16_t wire_block_of(std::span<const uint8_t> b) { return static_cast<uint16_t>((b[2] << 8) | b[3]); }

struct RolloverCase {
  bool download = true;       // the client receives (RRQ); else the server does (WRQ)
  uint16_t sender_wrap = 0;   // the sender's rollover_block; the receiver keeps the default
  uint16_t windowsize = 1;
  bool drop_first_after_wrap = false;  // lose the first DATA after 65535 once
};

// Runs 65540 blocks of 8 bytes through a pair, past the 16-bit block number. Only the
// sender is told the wrap: the receiver must learn it from the wire.
void check_rollover(const RolloverCase& c, std::vector<uint16_t> expected_around_wrap, uint64_t expected_resent = 0) {
  const size_t blocks = 65540;
  const Bytes content = pattern(blocks * 8 - 3);
  TransferConfig sender_config;
  sender_config.rollover_block = c.sender_wrap;
  const TransferConfig receiver_config;
  const std::vector<OwnedOption> opts = {{"blksize", "8"}, {"windowsize", std::to_string(c.windowsize)}};
  Sink s;
  auto client = c.download ? Transfer::client_read(receiver_config, kListen, "big", Mode::kOctet, opts,
                                                   std::move(s.sink), kT0)
                           : Transfer::client_write(sender_config, kListen, "big", Mode::kOctet, opts,
                                                    source_of(content), kT0);
  auto server = c.download ? Transfer::server_read(sender_config, kClientTid, negotiated(opts, 8, c.windowsize),
                                                   source_of(content), kT0)
                           : Transfer::server_write(receiver_config, kClientTid, negotiated(opts, 8, c.windowsize),
                                                    std::move(s.sink), kT0);
  Transfer& sender = c.download ? server : client;
  Transfer& receiver = c.download ? client : server;
  std::vector<uint16_t> data_blocks;
  uint64_t acks = 0;
  bool dropped = false;
  pump(client, server, [&](const Wire& w) {
    if (w.bytes[1] == 3) {
      data_blocks.push_back(wire_block_of(w.bytes));
      if (c.drop_first_after_wrap && !dropped && data_blocks.size() == 65536) {
        dropped = true;
        return true;
      }
    }
    if (w.bytes[1] == 4) ++acks;
    return false;
  });
  ASSERT_TRUE(receiver.outcome().has_value());
  EXPECT_TRUE(receiver.outcome()->ok()) << receiver.outcome()->to_string();
  ASSERT_TRUE(sender.outcome().has_value());
  EXPECT_TRUE(sender.outcome()->ok()) << sender.outcome()->to_string();
  EXPECT_TRUE(s.contents->bytes == content);
  EXPECT_EQ(receiver.stats().blocks, blocks);
  EXPECT_EQ(receiver.stats().peer_wrapped_to, std::optional<uint16_t>(c.sender_wrap));
  EXPECT_EQ(sender.stats().peer_wrapped_to, std::nullopt);
  EXPECT_EQ(sender.stats().retransmissions, expected_resent);
  ASSERT_GE(data_blocks.size(), 65539u);
  const std::vector<uint16_t> around(data_blocks.begin() + 65533, data_blocks.begin() + 65539);
  EXPECT_EQ(around, expected_around_wrap);
  EXPECT_EQ(data_blocks.back(), static_cast<uint16_t>(blocks - 0x10000 + c.sender_wrap));
  if (expected_resent == 0) {
    ASSERT_EQ(data_blocks.size(), blocks);  // each block once: no retransmission at the wrap
    // ACK 0 after the OACK, then one per window; the short last window is ACKed too.
    const uint64_t windows = blocks / c.windowsize + (blocks % c.windowsize != 0 ? 1 : 0);
    EXPECT_EQ(acks, (c.download ? 1 : 0) + windows);
  }
}

TEST(Transfer, DownloadFollowsASenderWrappingToZero) {
  check_rollover({.download = true, .sender_wrap = 0}, {65534, 65535, 0, 1, 2, 3});
}

TEST(Transfer, DownloadFollowsASenderWrappingToOne) {
  check_rollover({.download = true, .sender_wrap = 1}, {65534, 65535, 1, 2, 3, 4});
}

TEST(Transfer, UploadReceiverFollowsASenderWrappingToZero) {
  check_rollover({.download = false, .sender_wrap = 0}, {65534, 65535, 0, 1, 2, 3});
}

TEST(Transfer, UploadReceiverFollowsASenderWrappingToOne) {
  check_rollover({.download = false, .sender_wrap = 1}, {65534, 65535, 1, 2, 3, 4});
}

// A window of 13 straddles the wrap (65535 = 13 * 5041 + 2): the sender must match ACKs
// across it. A 0 after 65535 settles the wrap at once.
TEST(Transfer, WindowedDownloadWrapsToZeroWithoutResending) {
  check_rollover({.download = true, .sender_wrap = 0, .windowsize = 13}, {65534, 65535, 0, 1, 2, 3});
}

// Windowed, a 1 after 65535 may follow a lost 0: the receiver ACKs 65535 and takes the wrap
// from what the sender resends first. It costs the blocks after 65535 in that window: the
// file's last five (65536..65540).
TEST(Transfer, WindowedDownloadLearnsAWrapToOneFromTheResend) {
  check_rollover({.download = true, .sender_wrap = 1, .windowsize = 13}, {65534, 65535, 1, 2, 3, 4}, 5);
}

TEST(Transfer, WindowedUploadLearnsAWrapToOneFromTheResend) {
  check_rollover({.download = false, .sender_wrap = 1, .windowsize = 13}, {65534, 65535, 1, 2, 3, 4}, 5);
}

// The case the probe exists for: a wrap to 0 whose block 0 is lost must not be read as a
// wrap to 1 (that would drop block 0's bytes silently).
TEST(Transfer, WindowedDownloadLosingBlockZeroStillWrapsToZero) {
  check_rollover({.download = true, .sender_wrap = 0, .windowsize = 13, .drop_first_after_wrap = true},
                 {65534, 65535, 0, 1, 2, 3}, 5);
}

// In lockstep the second block after 65535 is never sent before the first is ACKed, so a
// lost 0 is resent on timeout and never confused with a wrap to 1.
TEST(Transfer, LockstepDownloadLosingBlockZeroStillWrapsToZero) {
  check_rollover({.download = true, .sender_wrap = 0, .drop_first_after_wrap = true}, {65534, 65535, 0, 0, 1, 2}, 1);
}

TEST(Transfer, PairSurvivesLossAtTheEndOfAWindow) {
  // windowsize 3, blksize 8: drop every 5th DATA once; the content must still match.
  const Bytes content = pattern(8 * 40 + 5);
  const std::vector<OwnedOption> opts = {{"blksize", "8"}, {"windowsize", "3"}};
  Sink s;
  auto client = Transfer::client_read({}, kListen, "w", Mode::kOctet, opts, std::move(s.sink), kT0);
  auto server = Transfer::server_read({}, kClientTid, negotiated(opts, 8, 3), source_of(content), kT0);
  int seen = 0;
  std::map<uint16_t, int> dropped;
  pump(client, server, [&](const Wire& w) {
    if (w.bytes[1] != 3) return false;
    const uint16_t b = wire_block_of(w.bytes);
    if (++seen % 5 == 0 && dropped[b]++ == 0) return true;
    return false;
  });
  EXPECT_TRUE(client.outcome()->ok());
  EXPECT_TRUE(server.outcome()->ok());
  EXPECT_EQ(s.contents->bytes, content);
  EXPECT_GE(dropped.size(), 5u);
}

// ---- netascii (RFC 1350 §1, RFC 764) ---------------------------------------------------------

TEST(Transfer, NetasciiDownloadEncodesAndDecodes) {
  // A CR at the end of block 1 whose NUL starts block 2 (FreeBSD PR 178055), a CRLF split
  // the same way, and bare LFs.
  Bytes local(510, 'a');
  local.push_back('\r');  // wire bytes 510, 511: CR NUL
  local.insert(local.end(), 511, 'b');
  local.push_back('\n');  // wire byte 1023 is CR, 1024 the LF
  for (const char* line : {"one\n", "two\r\n", "\n"}) local.insert(local.end(), line, line + std::strlen(line));
  const Bytes wire = proto::netascii_encode(local);
  ASSERT_EQ(wire[510], '\r');
  ASSERT_EQ(wire[511], 0);
  ASSERT_EQ(wire[1023], '\r');
  ASSERT_EQ(wire[1024], '\n');

  Sink s;
  auto client = Transfer::client_read({}, kListen, "t.txt", Mode::kNetascii, {},
                                      std::make_unique<NetasciiDecodingSink>(std::move(s.sink)), kT0);
  auto server = Transfer::server_read(
      {}, kClientTid, plain(),
      std::make_unique<NetasciiEncodingSource>(source_of(local), proto::netascii_encoded_size(local)), kT0);
  Bytes on_wire;
  pump(client, server, [&](const Wire& w) {
    if (w.bytes[1] == 3) on_wire.insert(on_wire.end(), w.bytes.begin() + 4, w.bytes.end());
    return false;
  });
  EXPECT_TRUE(client.outcome()->ok());
  EXPECT_EQ(on_wire, wire);
  EXPECT_EQ(s.contents->bytes, local);
  EXPECT_TRUE(s.contents->committed);
  EXPECT_EQ(server.stats().bytes, wire.size());
}

TEST(Transfer, NetasciiUploadEndingInCr) {
  const Bytes local = bytes_of("line\nlast\r");
  auto sink = std::make_unique<MemorySink>();
  auto contents = sink->contents();
  auto client = Transfer::client_write(
      {}, kListen, "t.txt", Mode::kNetascii, {},
      std::make_unique<NetasciiEncodingSource>(source_of(local), std::nullopt), kT0);
  auto server = Transfer::server_write({}, kClientTid, plain(), std::make_unique<NetasciiDecodingSink>(std::move(sink)),
                                       kT0);
  Bytes on_wire;
  pump(client, server, [&](const Wire& w) {
    if (w.bytes[1] == 3) on_wire.insert(on_wire.end(), w.bytes.begin() + 4, w.bytes.end());
    return false;
  });
  EXPECT_TRUE(client.outcome()->ok());
  EXPECT_TRUE(server.outcome()->ok());
  EXPECT_EQ(on_wire, bytes_of(std::string("line\r\nlast\r\0", 12)));
  EXPECT_EQ(contents->bytes, local);
}

TEST(Transfer, CancelSendsError0ToPeer) {
  auto t = Transfer::server_read({}, kClientTid, plain(), source_of(pattern(2000)), kT0);
  drain(t);
  t.cancel("bye");
  const auto out = drain(t);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(error_code_of(out[0].bytes), 0);
  EXPECT_EQ(t.outcome()->kind, OutcomeKind::kCancelled);
  EXPECT_TRUE(t.finished());
}

// ---- adaptive timeout (RFC 1123 §4.2.3.2, RFC 6298) ------------------------------------------

TEST(RttEstimator, FollowsRfc6298) {
  RttEstimator e;
  EXPECT_FALSE(e.timeout(1ms));
  e.sample(30ms);  // SRTT = R, RTTVAR = R/2
  EXPECT_EQ(e.srtt(), 30ms);
  EXPECT_EQ(e.rttvar(), 15ms);
  EXPECT_EQ(e.timeout(1ms), Duration(90ms));
  e.sample(50ms);  // RTTVAR = 3/4 * 15 + 1/4 * 20, SRTT = 7/8 * 30 + 1/8 * 50
  EXPECT_EQ(e.rttvar(), Duration(16250us));
  EXPECT_EQ(e.srtt(), Duration(32500us));
  EXPECT_EQ(e.timeout(1ms), Duration(97500us));
  RttEstimator steady;
  for (int i = 0; i < 100; ++i) steady.sample(Duration::zero());
  EXPECT_EQ(steady.timeout(1ms), Duration(1ms)) << "G bounds the variance term from below";
}

// The estimator's arithmetic with a 10 ms floor, below the round trips these tests measure
// (the default floor, 200 ms, would hide them).
TransferConfig floor_10ms() {
  TransferConfig c;
  c.retransmit.min = 10ms;
  return c;
}

// A lockstep download of 10 blocks whose ACKs come `rtt` after each DATA.
struct TimedDownload {
  Transfer t;
  Instant now = kT0;
  explicit TimedDownload(TransferConfig config = floor_10ms(), ServerNegotiation n = plain())
      : t(Transfer::server_read(config, kClientTid, n, source_of(pattern(512 * 10)), kT0)) {
    drain(t);
  }
  void ack_after(Duration rtt, uint16_t block) {
    now += rtt;
    t.handle_datagram(now, kClientTid, ack(block));
    drain(t);
  }
};

TEST(Transfer, SenderTimeoutFollowsMeasuredRoundTrips) {
  TimedDownload d;
  EXPECT_EQ(d.t.current_timeout(), 1s) << "no round trip measured yet: the initial timeout";
  d.ack_after(30ms, 1);
  EXPECT_EQ(d.t.stats().rtt_samples, 1u);
  EXPECT_EQ(d.t.stats().srtt, 30ms);
  EXPECT_EQ(d.t.current_timeout(), 90ms);  // 30 + 4 * 15
  EXPECT_EQ(d.t.poll_timeout(), d.now + 90ms);
  d.ack_after(30ms, 2);
  EXPECT_EQ(d.t.current_timeout(), 75ms);  // 30 + 4 * 11.25
  EXPECT_EQ(d.t.poll_timeout(), d.now + 75ms);
}

TEST(Transfer, SenderTimeoutIsClampedBetweenMinAndInitial) {
  TimedDownload fast;
  for (uint16_t b = 1; b <= 5; ++b) fast.ack_after(Duration::zero(), b);
  EXPECT_EQ(fast.t.current_timeout(), 10ms) << "the floor";
  TimedDownload by_default{TransferConfig{}};
  for (uint16_t b = 1; b <= 5; ++b) by_default.ack_after(Duration::zero(), b);
  EXPECT_EQ(by_default.t.current_timeout(), 200ms) << "the default floor (RetransmitPolicy::min: why 200 ms)";
  TimedDownload slow;
  slow.ack_after(600ms, 1);  // 600 + 4 * 300 = 1800 ms
  EXPECT_EQ(slow.t.current_timeout(), 1s) << "never slower than the initial timeout";
}

TEST(Transfer, BackoffDoublesFromTheMeasuredTimeout) {
  TimedDownload d;
  d.ack_after(30ms, 1);  // timeout 90 ms; DATA 2 is out
  d.now += 90ms;
  d.t.handle_timeout(d.now);
  EXPECT_EQ(texts(drain(d.t)), std::vector<std::string>{"DATA block=2 size=512"});
  EXPECT_EQ(d.t.poll_timeout(), d.now + 180ms);
}

TEST(Transfer, NoSampleAcrossARetransmission) {
  // Karn's rule: an ACK after a retransmission may answer either copy.
  TimedDownload d;
  d.now += 1s;
  d.t.handle_timeout(d.now);
  EXPECT_EQ(drain(d.t).size(), 1u);
  d.ack_after(5ms, 1);
  EXPECT_EQ(d.t.stats().rtt_samples, 0u);
  EXPECT_EQ(d.t.current_timeout(), 1s);
  d.ack_after(20ms, 2);  // DATA 2 went out once: a clean sample
  EXPECT_EQ(d.t.stats().rtt_samples, 1u);
  EXPECT_EQ(d.t.current_timeout(), 60ms);
}

TEST(Transfer, WindowSamplesOnlyWindowsOfNewBlocks) {
  auto t = Transfer::server_read({}, kClientTid, negotiated({{"blksize", "8"}, {"windowsize", "4"}}, 8, 4),
                                 source_of(pattern(100)), kT0);
  drain(t);
  t.handle_datagram(kT0 + 20ms, kClientTid, ack(0));  // OACK answered: sample 20 ms
  drain(t);
  EXPECT_EQ(t.stats().rtt_samples, 1u);
  t.handle_datagram(kT0 + 40ms, kClientTid, ack(2));  // window 1-4 sampled; 3-6 re-sends 3 and 4
  drain(t);
  EXPECT_EQ(t.stats().rtt_samples, 2u);
  t.handle_datagram(kT0 + 60ms, kClientTid, ack(6));  // answers a window with resent blocks
  drain(t);
  EXPECT_EQ(t.stats().rtt_samples, 2u);
  t.handle_datagram(kT0 + 80ms, kClientTid, ack(10));  // window 7-10 was all new
  drain(t);
  EXPECT_EQ(t.stats().rtt_samples, 3u);
}

TEST(Transfer, NegotiatedTimeoutStaysFixed) {
  TimedDownload d({}, negotiated({{"timeout", "3"}}, 512, 1, 3s));
  d.ack_after(Duration::zero(), 0);
  for (uint16_t b = 1; b <= 4; ++b) d.ack_after(Duration::zero(), b);
  EXPECT_EQ(d.t.current_timeout(), 3s) << "RFC 2349: the client chose the timeout";
  EXPECT_EQ(d.t.poll_timeout(), d.now + 3s);
}

TEST(Transfer, MinAtLeastInitialMeansAFixedTimer) {
  TimedDownload d(fixed_timer());
  for (uint16_t b = 1; b <= 4; ++b) d.ack_after(1ms, b);
  EXPECT_EQ(d.t.current_timeout(), 1s);
}

TEST(Transfer, ReceiverKeepsTheInitialTimeout) {
  // An early re-ACK recovers nothing the sender's timer does not, and provokes duplicate
  // DATA from a Sorcerer's Apprentice sender: the receiver does not adapt.
  Sink s;
  auto t = started_read(s);
  t.handle_datagram(kT0 + 5ms, kServerTid, data_n(1, 512));
  drain(t);
  t.handle_datagram(kT0 + 10ms, kServerTid, data_n(2, 512));
  drain(t);
  EXPECT_EQ(t.stats().rtt_samples, 0u);
  EXPECT_EQ(t.poll_timeout(), kT0 + 10ms + 1s);
}

}  // namespace
}  // namespace tftp::engine
