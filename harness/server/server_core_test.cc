// The reference server (ServerCore behind a ServerNode, files in memory) against the
// reference client (TransferNode), or a scripted peer, over the virtual network in virtual
// time. The network's sent_log is the capture every assertion reads.
#include "server/server_core.h"

#include <gtest/gtest.h>

#include <functional>
#include <map>
#include <optional>

#include "client/transfer_node.h"
#include "server/server_node.h"
#include "tests/support/packets.h"

namespace tftp::server {
namespace {

using namespace std::chrono_literals;
using Bytes = std::vector<uint8_t>;
using engine::OutcomeKind;
using engine::Transfer;
using engine::TransferConfig;
using net::Datagram;
using net::FilterAction;
using proto::Mode;
using proto::Opcode;
using proto::OwnedOption;

const Address kListen = Address::loopback_v4(69);
const Address kClient = Address::loopback_v4(5000);
const Address kFirstSession = Address::loopback_v4(40000);

Bytes pattern(size_t n, uint8_t salt = 0) {
  Bytes v(n);
  for (size_t i = 0; i < n; ++i) v[i] = static_cast<uint8_t>(i * 7 + i / 251 + salt);
  return v;
}

// ---- reading the capture ---------------------------------------------------------------------

struct Seen {
  std::optional<Opcode> op;  // nullopt: malformed
  uint16_t block = 0;        // DATA / ACK
  size_t payload = 0;        // DATA
  uint16_t code = 0;         // ERROR
  std::vector<OwnedOption> options;  // OACK
};

Seen classify(const Bytes& bytes) {
  Seen s;
  auto p = proto::parse(bytes, proto::Strictness::kLenient);
  if (!p) return s;
  s.op = proto::opcode_of(*p);
  if (const auto* d = std::get_if<proto::Data>(&*p)) {
    s.block = d->block;
    s.payload = d->payload.size();
  } else if (const auto* a = std::get_if<proto::Ack>(&*p)) {
    s.block = a->block;
  } else if (const auto* e = std::get_if<proto::ErrorPacket>(&*p)) {
    s.code = e->code;
  } else if (const auto* o = std::get_if<proto::Oack>(&*p)) {
    s.options = o->options.to_owned();
  }
  return s;
}

using Match = std::function<bool(const Datagram&)>;

Match is_op(Opcode op) {
  return [op](const Datagram& d) { return classify(d.bytes).op == op; };
}
Match is_data(uint16_t block) {
  return [block](const Datagram& d) {
    const auto s = classify(d.bytes);
    return s.op == Opcode::kData && s.block == block;
  };
}
Match is_ack(uint16_t block) {
  return [block](const Datagram& d) {
    const auto s = classify(d.bytes);
    return s.op == Opcode::kAck && s.block == block;
  };
}

std::vector<const Datagram*> matching(const std::vector<Datagram>& log, const Match& m) {
  std::vector<const Datagram*> out;
  for (const auto& d : log) {
    if (m(d)) out.push_back(&d);
  }
  return out;
}

size_t count(const std::vector<Datagram>& log, const Match& m) { return matching(log, m).size(); }

// DATA transmissions per block number, in the whole capture.
std::map<uint16_t, int> data_counts(const std::vector<Datagram>& log) {
  std::map<uint16_t, int> m;
  for (const auto& d : log) {
    const auto s = classify(d.bytes);
    if (s.op == Opcode::kData) ++m[s.block];
  }
  return m;
}

// Drops the `nth` datagram (1-based) that matches, once.
std::function<FilterAction(const Datagram&)> drop_nth(Match m, int nth = 1) {
  auto seen = std::make_shared<int>(0);
  return [m = std::move(m), nth, seen](const Datagram& d) {
    if (m(d) && ++*seen == nth) return FilterAction::kDrop;
    return FilterAction::kPass;
  };
}

// ---- a scripted peer: sends what the test says, records what it gets -------------------------

class ScriptedPeer : public net::Node {
 public:
  explicit ScriptedPeer(Address local) : local_(local) {}
  void send(const Address& to, Bytes bytes) { out_.push_back({to, std::move(bytes)}); }
  bool owns(const Address& a) const override { return a == local_; }
  void receive(Instant now, const Datagram& d) override {
    received.push_back(d);
    if (on_receive) on_receive(now, d);
  }
  void on_timer(Instant) override {}
  std::optional<Instant> next_timer() override { return std::nullopt; }
  void flush(net::VirtualNetwork& network) override {
    for (auto& [to, bytes] : out_) network.send(local_, to, bytes);
    out_.clear();
  }

  std::vector<Datagram> received;
  std::function<void(Instant, const Datagram&)> on_receive;

 private:
  Address local_;
  std::vector<std::pair<Address, Bytes>> out_;
};

using testing::ack;
using testing::request;

// ---- a server and one reference client on one simulated network ------------------------------

RootPolicy writable() {
  RootPolicy p;
  p.writable = true;
  return p;
}

class Pair {
 public:
  explicit Pair(uint64_t seed = 1, ServerConfig config = {}, RootPolicy policy = writable())
      : files_(policy), sim_(seed), server_(kListen, std::move(config), files_) {
    sim_.add(server_);
  }

  MemoryFileStore& files() { return files_; }
  net::Simulation& sim() { return sim_; }
  net::VirtualNetwork& net() { return sim_.network(); }
  ServerNode& server() { return server_; }
  const std::vector<Datagram>& log() { return sim_.network().sent_log(); }

  Transfer& get(std::string name, std::vector<OwnedOption> opts = {}, TransferConfig config = {},
                Mode mode = Mode::kOctet) {
    auto sink = std::make_unique<engine::MemorySink>();
    contents_ = sink->contents();
    std::unique_ptr<engine::ByteSink> s = std::move(sink);
    if (mode == Mode::kNetascii) s = std::make_unique<engine::NetasciiDecodingSink>(std::move(s));
    client_.emplace(kClient,
                    Transfer::client_read(config, kListen, std::move(name), mode, std::move(opts), std::move(s), sim_.now()));
    sim_.add(*client_);
    return client_->transfer();
  }

  Transfer& put(std::string name, Bytes content, std::vector<OwnedOption> opts = {}, TransferConfig config = {},
                Mode mode = Mode::kOctet) {
    std::unique_ptr<engine::ByteSource> src = std::make_unique<engine::MemorySource>(std::move(content));
    if (mode == Mode::kNetascii) src = std::make_unique<engine::NetasciiEncodingSource>(std::move(src), std::nullopt);
    client_.emplace(kClient, Transfer::client_write(config, kListen, std::move(name), mode, std::move(opts),
                                                    std::move(src), sim_.now()));
    sim_.add(*client_);
    return client_->transfer();
  }

  // Runs until nothing is in flight and no timer is left: both ends are done.
  net::RunResult run() {
    const auto r = sim_.run(nullptr, {.max_steps = 2'000'000, .max_time = std::chrono::hours(2)});
    EXPECT_EQ(r.stop, net::RunResult::Stop::kQuiet);
    EXPECT_TRUE(client_->transfer().finished());
    EXPECT_EQ(server_.core().active_sessions(), 0u);
    return r;
  }

  const engine::Outcome& client_outcome() {
    static const engine::Outcome kNone{OutcomeKind::kCancelled, 0, "no outcome"};
    const auto& o = client_->transfer().outcome();
    return o ? *o : kNone;
  }
  const Bytes& received() const { return contents_->bytes; }
  bool committed() const { return contents_->committed; }

  // The one session the server ran, and its outcome.
  const SessionEvent& only_session() {
    static const SessionEvent kNone{SessionEvent::Kind::kClosed, 0, Address(), "none", std::nullopt, {}, {}};
    EXPECT_EQ(server_.closed().size(), 1u);
    return server_.closed().empty() ? kNone : server_.closed().front();
  }
  bool server_ok() {
    const auto& s = only_session();
    return s.outcome && s.outcome->ok();
  }

 private:
  MemoryFileStore files_;
  net::Simulation sim_;
  ServerNode server_;
  std::optional<client::TransferNode> client_;
  std::shared_ptr<const engine::MemorySink::Contents> contents_;
};

// ---- plain downloads and uploads -------------------------------------------------------------

TEST(ServerCore, DownloadsEverySizeAroundBlockBoundaries) {
  for (size_t size : {size_t{0}, size_t{1}, size_t{511}, size_t{512}, size_t{513}, size_t{1024}, size_t{1} << 20}) {
    SCOPED_TRACE("size " + std::to_string(size));
    Pair p;
    p.files().put("f.bin", pattern(size));
    p.get("f.bin");
    p.run();
    EXPECT_TRUE(p.client_outcome().ok()) << p.client_outcome().to_string();
    EXPECT_EQ(p.received(), pattern(size));
    EXPECT_TRUE(p.committed());
    EXPECT_TRUE(p.server_ok());
    const size_t blocks = size / 512 + 1;  // a multiple of 512 ends with an empty block
    const auto counts = data_counts(p.log());
    ASSERT_EQ(counts.size(), blocks);
    for (const auto& [block, n] : counts) EXPECT_EQ(n, 1) << "DATA " << block;
    const auto last = matching(p.log(), is_data(static_cast<uint16_t>(blocks)));
    ASSERT_EQ(last.size(), 1u);
    EXPECT_EQ(classify(last[0]->bytes).payload, size % 512);
    EXPECT_EQ(count(p.log(), is_op(Opcode::kAck)), blocks);
    EXPECT_EQ(p.only_session().stats.bytes, size);
    EXPECT_EQ(p.only_session().stats.retransmissions, 0u);
    // The server answers from a new port: its TID (RFC 1350 §4).
    EXPECT_EQ(matching(p.log(), is_op(Opcode::kData)).front()->from, kFirstSession);
  }
}

TEST(ServerCore, UploadsEverySize) {
  for (size_t size : {size_t{0}, size_t{511}, size_t{512}, size_t{1025}, size_t{200000}}) {
    SCOPED_TRACE("size " + std::to_string(size));
    Pair p;
    p.put("up.bin", pattern(size, 3));
    p.run();
    EXPECT_TRUE(p.client_outcome().ok()) << p.client_outcome().to_string();
    EXPECT_EQ(p.files().get("up.bin"), pattern(size, 3));
    EXPECT_TRUE(p.server_ok());
    EXPECT_EQ(count(p.log(), is_ack(0)), 1u);
    EXPECT_EQ(data_counts(p.log()).size(), size / 512 + 1);
  }
}

struct OptionCase {
  const char* name;
  std::vector<OwnedOption> asked;
  std::vector<OwnedOption> oack;  // what the server must answer
  size_t blksize;
  uint16_t windowsize;
};

std::vector<OptionCase> option_cases(size_t size) {
  const std::string tsize = std::to_string(size);
  return {
      {"blksize", {{"blksize", "1428"}}, {{"blksize", "1428"}}, 1428, 1},
      {"windowsize", {{"windowsize", "8"}}, {{"windowsize", "8"}}, 512, 8},
      {"tsize", {{"tsize", "0"}}, {{"tsize", tsize}}, 512, 1},
      {"timeout", {{"timeout", "3"}}, {{"timeout", "3"}}, 512, 1},
      {"blksize+windowsize", {{"blksize", "1024"}, {"windowsize", "4"}}, {{"blksize", "1024"}, {"windowsize", "4"}},
       1024, 4},
      {"all four",
       {{"tsize", "0"}, {"blksize", "8192"}, {"timeout", "1"}, {"windowsize", "16"}},
       {{"tsize", tsize}, {"blksize", "8192"}, {"timeout", "1"}, {"windowsize", "16"}},
       8192, 16},
      {"unknown only", {{"foo", "bar"}}, {}, 512, 1},
  };
}

TEST(ServerCore, DownloadsWithEachOptionAndCombination) {
  const size_t size = 50000;
  for (const auto& c : option_cases(size)) {
    SCOPED_TRACE(c.name);
    Pair p;
    p.files().put("f.bin", pattern(size));
    auto& t = p.get("f.bin", c.asked);
    p.run();
    EXPECT_TRUE(p.client_outcome().ok()) << p.client_outcome().to_string();
    EXPECT_EQ(p.received(), pattern(size));
    EXPECT_TRUE(p.server_ok());
    const auto oacks = matching(p.log(), is_op(Opcode::kOack));
    if (c.oack.empty()) {
      EXPECT_TRUE(oacks.empty());  // RFC 2347: nothing accepted, plain DATA 1
      EXPECT_EQ(count(p.log(), is_ack(0)), 0u);
    } else {
      ASSERT_EQ(oacks.size(), 1u);
      EXPECT_EQ(classify(oacks[0]->bytes).options, c.oack);
      EXPECT_EQ(count(p.log(), is_ack(0)), 1u);  // RFC 2347: the client ACKs the OACK
    }
    EXPECT_EQ(t.params().blksize, c.blksize);
    EXPECT_EQ(t.params().windowsize, c.windowsize);
    const size_t blocks = size / c.blksize + 1;
    const auto counts = data_counts(p.log());
    EXPECT_EQ(counts.size(), blocks);
    for (const auto& [block, n] : counts) EXPECT_EQ(n, 1) << "DATA " << block;
    // RFC 7440: one ACK per window, plus the final one when the last window is short.
    const size_t window_acks = blocks / c.windowsize + (blocks % c.windowsize != 0 ? 1 : 0);
    EXPECT_EQ(count(p.log(), is_op(Opcode::kAck)), window_acks + (c.oack.empty() ? 0 : 1));
    if (c.name == std::string("tsize") || c.name == std::string("all four")) {
      EXPECT_EQ(t.params().tsize, size);
    }
    if (c.name == std::string("timeout")) {
      EXPECT_EQ(t.params().fixed_timeout, Duration(3s));
    }
  }
}

TEST(ServerCore, UploadsWithEachOptionAndCombination) {
  const size_t size = 30000;
  for (auto c : option_cases(size)) {
    SCOPED_TRACE(c.name);
    Pair p;
    for (auto* list : {&c.asked, &c.oack}) {  // a WRQ announces its size
      for (auto& o : *list) {
        if (o.name == "tsize") o.value = std::to_string(size);
      }
    }
    auto& t = p.put("up.bin", pattern(size), c.asked);
    p.run();
    EXPECT_TRUE(p.client_outcome().ok()) << p.client_outcome().to_string();
    EXPECT_EQ(p.files().get("up.bin"), pattern(size));
    EXPECT_TRUE(p.server_ok());
    const auto oacks = matching(p.log(), is_op(Opcode::kOack));
    if (c.oack.empty()) {
      EXPECT_EQ(count(p.log(), is_ack(0)), 1u);
    } else {
      ASSERT_EQ(oacks.size(), 1u);
      EXPECT_EQ(classify(oacks[0]->bytes).options, c.oack);
      EXPECT_EQ(count(p.log(), is_ack(0)), 0u);  // RFC 2347: after an OACK to WRQ, DATA 1 follows
    }
    EXPECT_EQ(t.params().blksize, c.blksize);
    EXPECT_EQ(t.params().windowsize, c.windowsize);
    const auto counts = data_counts(p.log());
    EXPECT_EQ(counts.size(), size / c.blksize + 1);
    for (const auto& [block, n] : counts) EXPECT_EQ(n, 1) << "DATA " << block;
  }
}

TEST(ServerCore, NetasciiDownloadAndUploadConvertLineEnds) {
  Bytes text;
  for (int i = 0; i < 300; ++i) {
    const std::string line = "line " + std::to_string(i) + (i % 7 == 0 ? "\r" : "") + "\n";
    text.insert(text.end(), line.begin(), line.end());
  }
  {
    Pair p;
    p.files().put("t.txt", text);
    p.get("t.txt", {{"tsize", "0"}}, {}, Mode::kNetascii);
    p.run();
    EXPECT_TRUE(p.client_outcome().ok());
    EXPECT_EQ(p.received(), text);
    // tsize is not offered for netascii (DF-TSIZE-NA), and was the only option.
    EXPECT_EQ(count(p.log(), is_op(Opcode::kOack)), 0u);
    size_t wire = 0;
    for (const auto* d : matching(p.log(), is_op(Opcode::kData))) wire += classify(d->bytes).payload;
    EXPECT_EQ(wire, proto::netascii_encoded_size(text));
  }
  {
    Pair p;
    p.put("t.txt", text, {}, {}, Mode::kNetascii);
    p.run();
    EXPECT_TRUE(p.client_outcome().ok());
    EXPECT_EQ(p.files().get("t.txt"), text);
  }
}

// ---- loss of each kind of packet -------------------------------------------------------------

struct LossCase {
  const char* name;
  Match match;                         // the datagram dropped (its first occurrence)
  std::optional<uint16_t> data_block;  // a DATA of this block is lost
  std::optional<uint16_t> ack_block;   // an ACK of this block is lost
  uint64_t server_retransmissions;
};

// These tests pin when a lost datagram is resent, so both ends run a fixed 1 s timer;
// AdaptiveTimeout* below cover the measured one.
TransferConfig fixed_timer() {
  TransferConfig config;
  config.retransmit.min = config.retransmit.initial;
  return config;
}
ServerConfig fixed_timer_server() {
  ServerConfig config;
  config.transfer = fixed_timer();
  return config;
}

// 5000 bytes at blksize 1024: blocks 1..4 full, block 5 (904 bytes) is the final one.
const size_t kLossSize = 5000;
const std::vector<OwnedOption> kLossOptions = {{"blksize", "1024"}};

void check_loss_counts(const LossCase& c, const std::vector<Datagram>& log) {
  // Each DATA goes out once, plus once for a lost DATA or a lost ACK of that block. A
  // duplicate ACK never causes an extra DATA (RFC 1123 §4.2.3.1).
  const auto counts = data_counts(log);
  ASSERT_EQ(counts.size(), 5u);
  for (const auto& [block, n] : counts) {
    const int expected = 1 + (c.data_block == block ? 1 : 0) + (c.ack_block == block ? 1 : 0);
    EXPECT_EQ(n, expected) << "DATA " << block;
  }
  // The lost datagram was sent again exactly one timeout (1 s) later.
  const auto copies = matching(log, c.match);
  ASSERT_GE(copies.size(), 2u);
  EXPECT_EQ(copies[1]->sent_at - copies[0]->sent_at, Duration(1s));
}

TEST(ServerCore, DownloadRecoversFromLossOfEachPacketKind) {
  const std::vector<LossCase> cases = {
      {"RRQ", is_op(Opcode::kRrq), std::nullopt, std::nullopt, 0},
      {"OACK", is_op(Opcode::kOack), std::nullopt, std::nullopt, 1},
      {"ACK 0", is_ack(0), std::nullopt, std::nullopt, 1},
      {"first DATA", is_data(1), 1, std::nullopt, 1},
      {"middle DATA", is_data(3), 3, std::nullopt, 1},
      {"final DATA", is_data(5), 5, std::nullopt, 1},
      {"first ACK", is_ack(1), std::nullopt, 1, 1},
      {"middle ACK", is_ack(3), std::nullopt, 3, 1},
      {"final ACK", is_ack(5), std::nullopt, 5, 1},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    Pair p(1, fixed_timer_server());
    p.files().put("f.bin", pattern(kLossSize));
    p.net().set_filter(drop_nth(c.match));
    p.get("f.bin", kLossOptions, fixed_timer());
    p.run();
    EXPECT_EQ(p.net().dropped(), 1u);
    EXPECT_TRUE(p.client_outcome().ok()) << p.client_outcome().to_string();
    EXPECT_EQ(p.received(), pattern(kLossSize));
    EXPECT_TRUE(p.server_ok()) << p.only_session().summary;
    EXPECT_EQ(p.only_session().stats.retransmissions, c.server_retransmissions);
    EXPECT_EQ(count(p.log(), is_op(Opcode::kRrq)), c.name == std::string("RRQ") || c.name == std::string("OACK") ? 2u : 1u);
    EXPECT_EQ(count(p.log(), is_op(Opcode::kOack)), c.name == std::string("OACK") || c.name == std::string("ACK 0") ? 2u : 1u);
    check_loss_counts(c, p.log());
  }
}

TEST(ServerCore, AdaptiveTimeoutResendsSoonerThanTheInitialOne) {
  // RFC 1123 §4.2.3.2: after a few round trips the server's timer follows them (down to
  // its 200 ms floor here), so a lost ACK mid-transfer costs a fraction of the initial second.
  const std::vector<std::pair<Match, uint16_t>> cases = {{is_ack(3), 3}, {is_data(4), 4}};
  for (const auto& [lost, resent] : cases) {
    SCOPED_TRACE(resent);
    Pair p;
    p.files().put("f.bin", pattern(kLossSize));
    p.net().set_filter(drop_nth(lost));
    p.get("f.bin", kLossOptions);
    p.run();
    EXPECT_TRUE(p.client_outcome().ok());
    EXPECT_EQ(p.received(), pattern(kLossSize));
    EXPECT_GT(p.only_session().stats.rtt_samples, 0u);
    const auto copies = matching(p.log(), is_data(resent));
    ASSERT_EQ(copies.size(), 2u);
    const Duration gap = copies[1]->sent_at - copies[0]->sent_at;
    EXPECT_GE(gap, Duration(200ms));
    EXPECT_LT(gap, Duration(500ms));
  }
}

TEST(ServerCore, UploadRecoversFromLossOfEachPacketKind) {
  const std::vector<LossCase> cases = {
      {"WRQ", is_op(Opcode::kWrq), std::nullopt, std::nullopt, 0},
      {"OACK", is_op(Opcode::kOack), std::nullopt, std::nullopt, 1},
      {"first DATA", is_data(1), 1, std::nullopt, 1},
      {"middle DATA", is_data(3), 3, std::nullopt, 1},
      {"final DATA", is_data(5), 5, std::nullopt, 1},
      {"first ACK", is_ack(1), std::nullopt, 1, 1},
      {"middle ACK", is_ack(3), std::nullopt, 3, 1},
      {"final ACK", is_ack(5), std::nullopt, 5, 0},  // re-ACKed while dallying: not a timeout
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    Pair p(1, fixed_timer_server());
    p.net().set_filter(drop_nth(c.match));
    p.put("up.bin", pattern(kLossSize), kLossOptions, fixed_timer());
    p.run();
    EXPECT_EQ(p.net().dropped(), 1u);
    EXPECT_TRUE(p.client_outcome().ok()) << p.client_outcome().to_string();
    EXPECT_EQ(p.files().get("up.bin"), pattern(kLossSize));
    EXPECT_TRUE(p.server_ok()) << p.only_session().summary;
    // The server is the receiver here: it retransmits the OACK or an ACK on its timeout.
    EXPECT_EQ(p.only_session().stats.retransmissions, c.server_retransmissions);
    check_loss_counts(c, p.log());
  }
}

TEST(ServerCore, WindowedDownloadRecoversFromLossInsideAWindow) {
  // blksize 512, windowsize 4, 20 blocks: drop block 6 (middle of the second window).
  Pair p;
  const size_t size = 512 * 19 + 100;
  p.files().put("f.bin", pattern(size));
  p.net().set_filter(drop_nth(is_data(6)));
  p.get("f.bin", {{"windowsize", "4"}});
  p.run();
  EXPECT_TRUE(p.client_outcome().ok());
  EXPECT_EQ(p.received(), pattern(size));
  EXPECT_TRUE(p.server_ok());
  // The client ACKs 5 once on the gap; the server rewinds and sends 6..9 again, and
  // nothing before 6 twice (RFC 7440 §4).
  EXPECT_EQ(count(p.log(), is_ack(5)), 1u);
  const auto counts = data_counts(p.log());
  for (const auto& [block, n] : counts) EXPECT_EQ(n, block >= 6 && block <= 8 ? 2 : 1) << "DATA " << block;
  // No timeout was needed: the gap ACK comes at once.
  EXPECT_EQ(p.only_session().stats.timeouts, 0u);
}

TEST(ServerCore, DallyCoversTheNegotiatedTimeout) {
  // timeout=3 and the final ACK lost: the server repeats the final DATA after 3 s, and the
  // client must still be there to ACK it, or the server never learns it succeeded.
  Pair p;
  p.files().put("f.bin", pattern(kLossSize));
  p.net().set_filter(drop_nth(is_ack(5)));
  p.get("f.bin", {{"blksize", "1024"}, {"timeout", "3"}});
  p.run();
  EXPECT_TRUE(p.client_outcome().ok());
  EXPECT_TRUE(p.server_ok()) << (p.only_session().outcome ? p.only_session().outcome->to_string() : "none");
  const auto finals = matching(p.log(), is_data(5));
  ASSERT_EQ(finals.size(), 2u);
  EXPECT_EQ(finals[1]->sent_at - finals[0]->sent_at, Duration(3s));
  EXPECT_EQ(count(p.log(), is_ack(5)), 2u);
}

// ---- duplicates and reordering ---------------------------------------------------------------

TEST(ServerCore, EveryDatagramDuplicatedStillSendsEachDataOnce) {
  Pair p;
  const size_t size = 512 * 30 + 7;
  p.files().put("f.bin", pattern(size));
  p.net().set_filter([](const Datagram&) { return FilterAction::kDuplicate; });
  p.get("f.bin");
  p.run();
  EXPECT_TRUE(p.client_outcome().ok());
  EXPECT_EQ(p.received(), pattern(size));
  EXPECT_TRUE(p.server_ok());
  // Each ACK arrives twice, and each DATA twice (so the client ACKs it again): the extra
  // ACKs must not trigger DATA n+1 again (RFC 1123 §4.2.3.1).
  const auto counts = data_counts(p.log());
  EXPECT_EQ(counts.size(), 31u);
  for (const auto& [block, n] : counts) EXPECT_EQ(n, 1) << "DATA " << block;
  EXPECT_EQ(p.only_session().stats.retransmissions, 0u);
  // ACK n arrives three more times per block; those of the final block come after the end.
  EXPECT_EQ(p.only_session().stats.duplicates_received, 30u * 3);
}

TEST(ServerCore, DuplicatedAcksInAWindowSendEachDataOnce) {
  Pair p;
  const size_t size = 512 * 30 + 7;
  p.files().put("f.bin", pattern(size));
  p.net().set_filter([](const Datagram& d) {
    return classify(d.bytes).op == Opcode::kAck ? FilterAction::kDuplicate : FilterAction::kPass;
  });
  p.get("f.bin", {{"windowsize", "4"}});
  p.run();
  EXPECT_TRUE(p.client_outcome().ok());
  EXPECT_EQ(p.received(), pattern(size));
  const auto counts = data_counts(p.log());
  EXPECT_EQ(counts.size(), 31u);
  // A repeated ACK of the block that opened a window is, to a windowed sender, the
  // receiver's notice that the window's first block was lost (RFC 7440 §4): it restarts the
  // window once for it. A duplicated ACK therefore costs at most one resend of a window,
  // never a cascade (RFC 1123 §4.2.3.1).
  for (const auto& [block, n] : counts) EXPECT_LE(n, 2) << "DATA " << block;
}

TEST(ServerCore, SorcerersApprenticeFaultIsVisibleInTheCapture) {
  // One duplicated ACK. The reference sends every DATA once; with the SAS fault each later
  // block goes out twice (the classic cascade), which the per-block count exposes.
  for (bool fault : {false, true}) {
    SCOPED_TRACE(fault ? "with the SAS fault" : "reference");
    ServerConfig config;
    config.transfer.faults.resend_on_duplicate_ack = fault;
    Pair p(1, config);
    p.files().put("f.bin", pattern(512 * 30 + 7));
    p.net().set_filter(
        [dup = is_ack(3)](const Datagram& d) { return dup(d) ? FilterAction::kDuplicate : FilterAction::kPass; });
    p.get("f.bin");
    p.run();
    EXPECT_TRUE(p.client_outcome().ok());
    int doubled = 0;
    for (const auto& [block, n] : data_counts(p.log())) doubled += n > 1 ? 1 : 0;
    EXPECT_EQ(doubled, fault ? 31 - 3 : 0);
  }
}

TEST(ServerCore, DuplicatedRequestOpensOneSession) {
  for (Opcode op : {Opcode::kRrq, Opcode::kWrq}) {
    SCOPED_TRACE(proto::opcode_name(op));
    Pair p;
    p.files().put("f.bin", pattern(3000));
    p.net().set_filter([op](const Datagram& d) {
      return classify(d.bytes).op == op ? FilterAction::kDuplicate : FilterAction::kPass;
    });
    if (op == Opcode::kRrq) {
      p.get("f.bin");
    } else {
      p.put("new.bin", pattern(3000));
    }
    p.run();
    EXPECT_TRUE(p.client_outcome().ok());
    EXPECT_EQ(p.server().closed().size(), 1u);
    for (const auto& d : p.log()) {
      if (d.to == kClient) {
        EXPECT_EQ(d.from, kFirstSession);  // no second TID ever spoke
      }
    }
  }
}

TEST(ServerCore, RetransmittedRequestDoesNotOpenASecondSession) {
  // Plain WRQ, ACK 0 lost: the client repeats its WRQ; the server keeps its one session
  // and repeats ACK 0 on its own timeout.
  Pair p;
  p.net().set_filter(drop_nth(is_ack(0)));
  p.put("new.bin", pattern(2000));
  p.run();
  EXPECT_TRUE(p.client_outcome().ok());
  EXPECT_EQ(p.files().get("new.bin"), pattern(2000));
  EXPECT_EQ(count(p.log(), is_op(Opcode::kWrq)), 2u);
  EXPECT_EQ(count(p.log(), is_ack(0)), 2u);
  EXPECT_EQ(p.server().closed().size(), 1u);
  for (const auto& d : p.log()) {
    if (d.to == kClient) {
      EXPECT_EQ(d.from, kFirstSession);
    }
  }
}

TEST(ServerCore, ReorderingAndDelayKeepContent) {
  for (uint64_t seed = 1; seed <= 8; ++seed) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    Pair p(seed);
    const size_t size = 40000 + seed * 111;
    p.files().put("f.bin", pattern(size, static_cast<uint8_t>(seed)));
    p.net().set_faults({.reorder = 0.3, .delay = 2ms, .reorder_delay = 4ms});
    p.get("f.bin", {{"blksize", "1024"}, {"windowsize", std::to_string(1 + seed % 8)}});
    p.run();
    EXPECT_TRUE(p.client_outcome().ok()) << p.client_outcome().to_string();
    EXPECT_EQ(p.received(), pattern(size, static_cast<uint8_t>(seed)));
    EXPECT_TRUE(p.server_ok());
  }
}

// ---- random faults, many seeds ---------------------------------------------------------------

std::vector<OwnedOption> options_for(uint64_t seed) {
  switch (seed % 5) {
    case 0: return {};
    case 1: return {{"blksize", "1024"}};
    case 2: return {{"blksize", "512"}, {"windowsize", "4"}};
    case 3: return {{"tsize", "0"}, {"timeout", "1"}};
    default: return {{"blksize", "256"}, {"windowsize", "8"}};
  }
}

net::FaultProfile faults_for(uint64_t seed) {
  return {.loss = 0.1 + 0.1 * static_cast<double>(seed % 3),  // 10, 20, 30 %
          .duplicate = 0.05,
          .reorder = 0.1,
          .delay = 1ms,
          .reorder_delay = 3ms};
}

// Patient ends: at 30 % loss a round trip fails half the time, so five retries would
// often run out. The point here is the content, not the give-up rule.
TransferConfig patient() {
  TransferConfig c;
  c.retransmit.max_retries = 25;
  c.dally = 60s;
  return c;
}

TEST(ServerCore, RandomFaultsManySeedsDownloadIdenticalContent) {
  ServerConfig config;
  config.transfer = patient();
  for (uint64_t seed = 1; seed <= 50; ++seed) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    Pair p(seed, config);
    const size_t size = 2000 + (seed * 7919) % 20000;
    const Bytes content = pattern(size, static_cast<uint8_t>(seed));
    p.files().put("f.bin", content);
    p.net().set_faults(faults_for(seed));
    p.get("f.bin", options_for(seed), patient());
    p.run();
    ASSERT_TRUE(p.client_outcome().ok()) << p.client_outcome().to_string();
    ASSERT_EQ(p.received(), content);
    EXPECT_GT(p.net().dropped(), 0u);
  }
}

TEST(ServerCore, RandomFaultsManySeedsUploadIdenticalContent) {
  ServerConfig config;
  config.transfer = patient();
  for (uint64_t seed = 101; seed <= 125; ++seed) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    Pair p(seed, config);
    const size_t size = 1000 + (seed * 7919) % 15000;
    const Bytes content = pattern(size, static_cast<uint8_t>(seed));
    p.net().set_faults(faults_for(seed));
    p.put("up.bin", content, options_for(seed), patient());
    p.run();
    ASSERT_TRUE(p.client_outcome().ok()) << p.client_outcome().to_string();
    ASSERT_EQ(p.files().get("up.bin"), content);
  }
}

// ---- block-number rollover (DF-ROLLOVER) -----------------------------------------------------

TEST(ServerCore, RolloverWithSmallBlocksInVirtualTime) {
  // blksize 8: 65540 blocks is past the 16-bit block number. A window keeps the ACK count
  // (and the run time) down; lockstep and the wrap to 1 are covered in transfer_test.cc.
  const size_t size = 65540 * 8 - 5;
  Pair p;
  p.files().put("big.bin", pattern(size));
  uint64_t data = 0;
  std::vector<uint16_t> around_wrap;
  p.net().set_filter([&](const Datagram& d) {
    if (d.bytes.size() >= 4 && d.bytes[1] == 3) {
      ++data;
      if (data >= 65534 && data <= 65538) around_wrap.push_back(static_cast<uint16_t>((d.bytes[2] << 8) | d.bytes[3]));
    }
    return FilterAction::kPass;
  });
  p.get("big.bin", {{"blksize", "8"}, {"windowsize", "64"}});
  const auto r = p.run();
  EXPECT_TRUE(p.client_outcome().ok()) << p.client_outcome().to_string();
  EXPECT_EQ(p.received().size(), size);
  EXPECT_TRUE(p.received() == pattern(size));
  EXPECT_TRUE(p.server_ok());
  EXPECT_EQ(data, 65540u);  // each block once
  EXPECT_EQ(around_wrap, (std::vector<uint16_t>{65534, 65535, 0, 1, 2}));
  EXPECT_LT(r.elapsed, Duration(5s));  // virtual: the dally, no timeouts
}

// ---- refusals --------------------------------------------------------------------------------

struct RefusalCase {
  const char* name;
  bool write;
  std::string file;
  Mode mode;
  uint16_t code;
};

TEST(ServerCore, RefusesRequestsWithTheRightErrorCode) {
  const std::vector<RefusalCase> cases = {
      {"RRQ missing file", false, "missing.bin", Mode::kOctet, 1},
      {"RRQ traversal", false, "../x", Mode::kOctet, 2},
      {"RRQ deep traversal", false, "a/../../x", Mode::kOctet, 2},
      {"RRQ backslash traversal", false, "..\\x", Mode::kOctet, 2},
      {"RRQ mail mode", false, "f.bin", Mode::kMail, 4},
      {"RRQ unknown mode", false, "f.bin", Mode::kUnknown, 4},
      {"WRQ file exists", true, "f.bin", Mode::kOctet, 6},
      {"WRQ traversal", true, "../x", Mode::kOctet, 2},
      {"WRQ mail mode", true, "new.bin", Mode::kMail, 4},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    Pair p;
    p.files().put("f.bin", pattern(100));
    p.files().put("x", pattern(10));
    if (c.write) {
      p.put(c.file, pattern(50, 9), {}, {}, c.mode);
    } else {
      p.get(c.file, {}, {}, c.mode);
    }
    p.run();
    ASSERT_EQ(p.client_outcome().kind, OutcomeKind::kPeerError) << p.client_outcome().to_string();
    EXPECT_EQ(p.client_outcome().error_code, c.code);
    const auto errors = matching(p.log(), is_op(Opcode::kError));
    ASSERT_EQ(errors.size(), 1u);  // the client does not answer an ERROR
    EXPECT_EQ(errors[0]->to, kClient);
    EXPECT_EQ(count(p.log(), is_op(Opcode::kData)), 0u);
    EXPECT_EQ(p.server().closed().size(), 1u);
    // Nothing was written anywhere.
    EXPECT_EQ(p.files().get("f.bin"), pattern(100));
    EXPECT_EQ(p.files().get("x"), pattern(10));
    EXPECT_EQ(p.files().get("new.bin"), std::nullopt);
    EXPECT_EQ(p.files().get("../x"), std::nullopt);
  }
}

TEST(ServerCore, RefusesUploadWhenNotWritable) {
  RootPolicy read_only;
  Pair p(1, {}, read_only);
  p.put("new.bin", pattern(50));
  p.run();
  EXPECT_EQ(p.client_outcome().kind, OutcomeKind::kPeerError);
  EXPECT_EQ(p.client_outcome().error_code, 2);
  EXPECT_EQ(p.files().get("new.bin"), std::nullopt);
}

TEST(ServerCore, RefusesUploadLargerThanLimitByTsize) {
  ServerConfig config;
  config.limits.max_file_size = 1000;
  Pair p(1, config);
  p.put("new.bin", pattern(5000), {{"tsize", "5000"}});
  p.run();
  EXPECT_EQ(p.client_outcome().kind, OutcomeKind::kPeerError);
  EXPECT_EQ(p.client_outcome().error_code, 3);
  EXPECT_EQ(count(p.log(), is_op(Opcode::kData)), 0u);
  EXPECT_EQ(p.files().get("new.bin"), std::nullopt);
}

TEST(ServerCore, MalformedOrNonRequestAtListenerGetsError4) {
  Pair p;
  ScriptedPeer peer(kClient);
  p.sim().add(peer);
  peer.send(kListen, Bytes{0, 1, 'f'});  // unterminated filename
  peer.send(kListen, ack(1));            // not a request
  peer.send(kListen, Bytes{0, 5, 0, 1, 'x', 0});  // an ERROR is never answered
  p.sim().run(nullptr);
  ASSERT_EQ(peer.received.size(), 2u);
  EXPECT_EQ(classify(peer.received[0].bytes).code, 4);
  EXPECT_EQ(classify(peer.received[1].bytes).code, 4);
}

TEST(ServerCore, RefusalFromTheSameTidKeepsTheRunningTransfersRequestRecognised) {
  // A client with a download running sends a malformed request from the same port (the
  // refusal is a short-lived session of its own), then retransmits its RRQ. The running
  // session must still own the client's address: the retransmission opens nothing new
  // (RFC 1350 §2: a repeated request is not a new transfer).
  for (const Bytes& junk : {Bytes{0, 1, 'f'}, testing::ack(1), testing::request(Opcode::kRrq, "f.bin", "bogus")}) {
    MemoryFileStore files;
    files.put("f.bin", pattern(3000));
    ServerCore core(ServerConfig{}, files);
    const Bytes rrq = request(Opcode::kRrq, "f.bin");
    const Instant t0{};
    Bytes buf(proto::kMaxDatagramSize);
    const auto drain = [&] {
      std::vector<SessionEvent> events;
      while (auto e = core.poll_event()) events.push_back(*e);
      while (core.poll_transmit(buf)) {
      }
      while (auto e = core.poll_event()) events.push_back(*e);
      return events;
    };
    core.handle_request(t0, kClient, rrq);
    ASSERT_EQ(drain().size(), 1u);  // the download opened
    core.handle_request(t0, kClient, junk);
    const auto refusal = drain();
    ASSERT_EQ(refusal.size(), 2u);  // the refusal opened and closed with its ERROR
    EXPECT_EQ(core.active_sessions(), 1u);
    core.handle_request(t0, kClient, rrq);  // the download's RRQ, retransmitted
    EXPECT_TRUE(drain().empty());
    EXPECT_EQ(core.active_sessions(), 1u);
  }
}

// ---- a silent or misbehaving client ----------------------------------------------------------

TEST(ServerCore, StuckClientMakesServerGiveUp) {
  Pair p;
  p.files().put("f.bin", pattern(2000));
  ScriptedPeer peer(kClient);
  p.sim().add(peer);
  peer.send(kListen, request(Opcode::kRrq, "f.bin"));
  const auto r = p.sim().run(nullptr);
  EXPECT_EQ(r.stop, net::RunResult::Stop::kQuiet);
  // DATA 1 at 0, 1, 3, 7, 15, 23 s (backoff 1, 2, 4, 8, 8), then the session ends at 31 s.
  std::vector<Duration> at;
  for (const auto& d : peer.received) {
    if (classify(d.bytes).op == Opcode::kData) at.push_back(d.sent_at - peer.received.front().sent_at);
  }
  EXPECT_EQ(at, (std::vector<Duration>{0s, 1s, 3s, 7s, 15s, 23s}));
  ASSERT_EQ(p.server().closed().size(), 1u);
  const auto& closed = p.server().closed().front();
  EXPECT_EQ(closed.kind, SessionEvent::Kind::kClosed);
  ASSERT_TRUE(closed.outcome.has_value());
  EXPECT_EQ(closed.outcome->kind, OutcomeKind::kTimedOut);
  EXPECT_EQ(closed.stats.retransmissions, 5u);
  EXPECT_EQ(closed.stats.timeouts, 6u);
  EXPECT_EQ(closed.elapsed, Duration(31s));
  EXPECT_EQ(p.server().core().active_sessions(), 0u);
  EXPECT_EQ(p.server().core().poll_timeout(), std::nullopt);
}

TEST(ServerCore, DoubleAckingClientGetsEachDataOnce) {
  for (bool fault : {false, true}) {
    SCOPED_TRACE(fault ? "with the SAS fault" : "reference");
    ServerConfig config;
    config.transfer.faults.resend_on_duplicate_ack = fault;
    Pair p(1, config);
    p.files().put("f.bin", pattern(512 * 6 + 1));
    ScriptedPeer peer(kClient);
    p.sim().add(peer);
    peer.on_receive = [&peer](Instant, const Datagram& d) {
      const auto s = classify(d.bytes);
      if (s.op != Opcode::kData) return;
      peer.send(d.from, ack(s.block));
      peer.send(d.from, ack(s.block));  // every ACK twice
    };
    peer.send(kListen, request(Opcode::kRrq, "f.bin"));
    p.sim().run(nullptr);
    const auto counts = data_counts(p.log());
    ASSERT_EQ(counts.size(), 7u);
    int max = 0;
    for (const auto& [block, n] : counts) max = std::max(max, n);
    if (fault) {
      EXPECT_GT(max, 1);
    } else {
      EXPECT_EQ(max, 1);
      ASSERT_EQ(p.server().closed().size(), 1u);
      EXPECT_TRUE(p.server().closed().front().outcome->ok());
    }
  }
}

TEST(ServerCore, StrayTidGetsError5AndTransferContinues) {
  Pair p;
  p.files().put("f.bin", pattern(3000));
  p.get("f.bin");
  const Address stray_address = Address::loopback_v4(6000);
  ScriptedPeer stray(stray_address);
  p.sim().add(stray);
  stray.send(kFirstSession, ack(1));  // arrives right after the RRQ opened the session
  p.run();
  EXPECT_TRUE(p.client_outcome().ok());
  EXPECT_EQ(p.received(), pattern(3000));
  ASSERT_EQ(stray.received.size(), 1u);
  EXPECT_EQ(stray.received[0].from, kFirstSession);
  EXPECT_EQ(classify(stray.received[0].bytes).code, 5);
  EXPECT_EQ(p.only_session().stats.stray_datagrams, 1u);
  EXPECT_TRUE(p.server_ok());
}

TEST(ServerCore, ConcurrentClientsGetTheirOwnSessions) {
  MemoryFileStore files;
  files.put("a", pattern(7000, 1));
  files.put("b", pattern(9000, 2));
  net::Simulation sim(3);
  ServerNode server(kListen, ServerConfig{}, files);
  sim.add(server);
  std::vector<std::shared_ptr<const engine::MemorySink::Contents>> contents;
  std::vector<std::unique_ptr<client::TransferNode>> clients;
  for (int i = 0; i < 2; ++i) {
    auto sink = std::make_unique<engine::MemorySink>();
    contents.push_back(sink->contents());
    clients.push_back(std::make_unique<client::TransferNode>(
        Address::loopback_v4(static_cast<uint16_t>(5000 + i)),
        Transfer::client_read({}, kListen, i == 0 ? "a" : "b", Mode::kOctet, {}, std::move(sink), sim.now())));
    sim.add(*clients.back());
  }
  sim.run(nullptr);
  EXPECT_EQ(contents[0]->bytes, pattern(7000, 1));
  EXPECT_EQ(contents[1]->bytes, pattern(9000, 2));
  ASSERT_EQ(server.closed().size(), 2u);
  EXPECT_NE(server.closed()[0].session, server.closed()[1].session);
  std::map<Address, Address> tid_of_client;
  for (const auto& d : sim.network().sent_log()) {
    if (d.from == kListen) {
      ADD_FAILURE() << "a reply came from the listening port";
    }
    if (d.to.port() == 5000 || d.to.port() == 5001) {
      auto [it, inserted] = tid_of_client.emplace(d.to, d.from);
      EXPECT_EQ(it->second, d.from) << "one TID per client";
    }
  }
  EXPECT_EQ(tid_of_client.size(), 2u);
  EXPECT_NE(tid_of_client[Address::loopback_v4(5000)], tid_of_client[Address::loopback_v4(5001)]);
}

// Beyond max_sessions a request gets no answer at all (an ERROR would end the client's
// transfer), and the client's own retransmission is served once a session has ended.
TEST(ServerCore, RequestsBeyondMaxSessionsAreShedInSilenceAndServedWhenRetransmitted) {
  MemoryFileStore files;
  files.put("a", pattern(7000));
  net::Simulation sim(1);
  ServerConfig config;
  config.max_sessions = 1;
  config.transfer.retransmit.max_retries = 1;  // the stuck session gives up after 1 + 2 s
  ServerNode server(kListen, config, files);
  sim.add(server);
  ScriptedPeer stuck(Address::loopback_v4(5000));
  sim.add(stuck);
  stuck.send(kListen, request(Opcode::kRrq, "a"));  // never ACKs: its session holds the one slot
  sim.run(nullptr, {.max_time = std::chrono::milliseconds(10)});
  ASSERT_EQ(server.core().active_sessions(), 1u);
  auto sink = std::make_unique<engine::MemorySink>();
  auto contents = sink->contents();
  client::TransferNode late(Address::loopback_v4(5001),
                            Transfer::client_read({}, kListen, "a", Mode::kOctet, {}, std::move(sink), sim.now()));
  sim.add(late);
  sim.run([&] { return late.transfer().finished(); }, {.max_time = std::chrono::seconds(60)});
  ASSERT_TRUE(late.transfer().outcome().has_value());
  EXPECT_TRUE(late.transfer().outcome()->ok()) << late.transfer().outcome()->to_string();
  EXPECT_EQ(contents->bytes, pattern(7000));
  EXPECT_GE(late.transfer().stats().request_retransmissions, 1u);
  EXPECT_GE(server.core().requests_shed(), 1u);
  for (const auto& d : sim.network().sent_log()) {
    if (d.from == kListen) ADD_FAILURE() << "the listening port answered " << d.to.to_string();
  }
}

}  // namespace
}  // namespace tftp::server
