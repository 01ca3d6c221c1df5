// The rule engine against the reference server on the virtual network: a correct server
// draws no finding however the client behaves, and each deliberate server fault is caught
// by the rule it breaks.
#include <gtest/gtest.h>

#include <map>

#include "check/rules.h"
#include "client/transfer_node.h"
#include "server/server_node.h"
#include "tests/support/packets.h"

namespace tftp::check {
namespace {

using namespace std::chrono_literals;
using Bytes = std::vector<uint8_t>;

constexpr uint16_t kFirstSessionPort = 40000;

Bytes pattern(size_t n) {
  Bytes v(n);
  for (size_t i = 0; i < n; ++i) v[i] = static_cast<uint8_t>(i * 7 + i / 251);
  return v;
}

using testing::ack;
using testing::error;
Bytes rrq(std::string name) { return testing::request(proto::Opcode::kRrq, name); }

// A client that does what a script says, from any number of ports.
class ScriptedClient : public net::Node {
 public:
  using Handler = std::function<void(Instant, const net::Datagram&)>;
  explicit ScriptedClient(std::vector<Address> ports) : ports_(std::move(ports)) {}

  void on_receive(Handler handler) { handler_ = std::move(handler); }
  void send(Instant at, const Address& from, const Address& to, Bytes bytes) {
    queue_.emplace(at, net::Datagram{from, to, std::move(bytes), at});
  }

  bool owns(const Address& a) const override { return std::find(ports_.begin(), ports_.end(), a) != ports_.end(); }
  void receive(Instant now, const net::Datagram& d) override {
    if (handler_) handler_(now, d);
  }
  void on_timer(Instant) override {}
  std::optional<Instant> next_timer() override {
    if (queue_.empty()) return std::nullopt;
    return queue_.begin()->first;
  }
  void flush(net::VirtualNetwork& network) override {
    while (!queue_.empty() && queue_.begin()->first <= network.now()) {
      const auto d = queue_.begin()->second;
      queue_.erase(queue_.begin());
      network.send(d.from, d.to, d.bytes);
    }
  }

 private:
  std::vector<Address> ports_;
  Handler handler_;
  std::multimap<Instant, net::Datagram> queue_;
};

// Everything the endpoints sent, in order, judged with the target being the server node.
std::vector<Finding> judge(net::Simulation& sim, const Address& listen, std::vector<Observation>* log = nullptr) {
  RuleEngine engine(listen);
  for (const auto& d : sim.network().sent_log()) {
    const bool from_server = d.from == listen || d.from.port() >= kFirstSessionPort;
    engine.observe({d.sent_at, from_server ? Direction::kFromTarget : Direction::kToTarget, d.from, d.to, d.bytes});
  }
  if (log) *log = engine.observations();
  return engine.finish();
}

std::vector<Finding> verdicts(const std::vector<Finding>& all) {
  std::vector<Finding> out;
  for (const auto& f : all) {
    if (f.level != Level::kNote) out.push_back(f);
  }
  return out;
}

std::string dump(const std::vector<Finding>& findings) {
  std::string out;
  for (const auto& f : findings) {
    out += f.id + " [" + f.requirement + "] " + std::string(level_name(f.level)) + ": " + f.message + "\n";
  }
  return out;
}

bool has(const std::vector<Finding>& findings, std::string_view id) {
  return std::any_of(findings.begin(), findings.end(), [&](const Finding& f) { return f.id == id; });
}

struct Bench {
  Address listen = Address::loopback_v4(69);
  server::MemoryFileStore files{server::RootPolicy{.writable = true}};
  net::Simulation sim{7};
  server::ServerConfig config;
  std::unique_ptr<server::ServerNode> server;
  std::vector<std::unique_ptr<client::TransferNode>> clients;
  uint16_t next_client_port = 5000;

  Bench() {
    files.put("a.bin", pattern(2000));
    files.put("k.bin", pattern(1024));
    files.put("big.bin", pattern(100000));
  }
  void start() {
    server = std::make_unique<server::ServerNode>(listen, config, files, kFirstSessionPort);
    sim.add(*server);
  }
  client::TransferNode& read(std::string name, std::vector<proto::OwnedOption> options = {}) {
    auto sink = std::make_unique<engine::MemorySink>();
    clients.push_back(std::make_unique<client::TransferNode>(
        Address::loopback_v4(next_client_port++),
        engine::Transfer::client_read({}, listen, std::move(name), proto::Mode::kOctet, std::move(options),
                                      std::move(sink), sim.now())));
    sim.add(*clients.back());
    return *clients.back();
  }
  client::TransferNode& write(std::string name, size_t size, std::vector<proto::OwnedOption> options = {}) {
    clients.push_back(std::make_unique<client::TransferNode>(
        Address::loopback_v4(next_client_port++),
        engine::Transfer::client_write({}, listen, std::move(name), proto::Mode::kOctet, std::move(options),
                                       std::make_unique<engine::MemorySource>(pattern(size)), sim.now())));
    sim.add(*clients.back());
    return *clients.back();
  }
  void run() { sim.run(nullptr, net::RunLimits{.max_steps = 1'000'000, .max_time = std::chrono::minutes(5)}); }
};

TEST(RuleReferenceServer, ClientsOfEveryKindDrawNoFinding) {
  Bench b;
  b.start();
  b.sim.network().set_faults({.duplicate = 0.05, .reorder = 0.05});
  b.read("a.bin");
  b.read("k.bin");
  b.read("big.bin", {{"blksize", "1024"}, {"windowsize", "4"}, {"tsize", "0"}, {"timeout", "2"}});
  b.read("a.bin", {{"blksize", "8"}, {"foo", "bar"}});
  b.read("missing.bin");
  b.write("up.bin", 3000, {{"blksize", "700"}, {"tsize", "3000"}});
  b.write("up2.bin", 1024);
  b.run();
  for (auto& c : b.clients) {
    ASSERT_TRUE(c->transfer().outcome().has_value());
  }
  const auto all = judge(b.sim, b.listen);
  EXPECT_TRUE(verdicts(all).empty()) << dump(all);
}

TEST(RuleReferenceServer, LossyNetworkDrawsNoFinding) {
  for (uint64_t seed = 1; seed <= 5; ++seed) {
    Bench b;
    b.sim = net::Simulation(seed);
    b.start();
    b.sim.network().set_faults({.loss = 0.1, .duplicate = 0.05, .reorder = 0.05});
    b.read("big.bin", {{"blksize", "1024"}, {"windowsize", "4"}});
    b.read("a.bin");
    b.read("k.bin", {{"tsize", "0"}});
    b.write("up.bin", 5000);
    b.run();
    const auto all = judge(b.sim, b.listen);
    EXPECT_TRUE(verdicts(all).empty()) << "seed " << seed << "\n" << dump(all);
  }
}

// Duplicate ACKs, an ACK and DATA from a stray port, a withheld ACK, garbage to port 69,
// an ERROR to port 69, and a repeated request.
struct Adversary {
  Address client = Address::loopback_v4(5000);
  Address stray = Address::loopback_v4(6000);
  std::optional<Address> tid;
  std::map<uint16_t, int> seen;
  bool stray_answered = false;
  bool done = false;

  void attach(Bench& b, ScriptedClient& c) {
    c.send(b.sim.now(), client, b.listen, rrq("a.bin"));
    c.send(b.sim.now() + 1ms, client, b.listen, rrq("a.bin"));  // a repeated request
    c.send(b.sim.now(), stray, b.listen, Bytes{0, 9, 1, 2});  // garbage to port 69
    c.send(b.sim.now(), stray, b.listen, error(0, "who am I"));
    c.on_receive([this, &c](Instant now, const net::Datagram& d) {
      if (d.to == stray) {
        stray_answered = true;
        return;
      }
      auto p = proto::parse(d.bytes);
      if (!p) return;
      const auto* data = std::get_if<proto::Data>(&*p);
      if (!data) return;
      if (!tid) tid = d.from;
      if (d.from != *tid) {
        c.send(now, client, d.from, error(5, "Unknown transfer ID"));  // the second session
        return;
      }
      const int n = ++seen[data->block];
      if (data->block == 1 && n == 1) {
        c.send(now, client, *tid, ack(1));
        c.send(now, client, *tid, ack(1));  // duplicate, back to back
      } else if (data->block == 2 && n == 1) {
        c.send(now, stray, *tid, ack(2));                 // a stray ACKs ahead of the client
        c.send(now + 1ms, stray, *tid, Bytes{0, 3, 0, 9, 'x'});
        c.send(now + 2ms, client, *tid, ack(1));          // and a late duplicate
        // ACK 2 withheld: the server's timer must bring DATA 2 again
      } else {
        c.send(now, client, *tid, ack(data->block));
        if (data->payload.size() < 512) done = true;
      }
    });
  }
};

// The adversarial client's whole exchange with a reference server that has `faults`.
struct AdversaryRun {
  bool done = false;
  bool stray_answered = false;
  std::vector<Observation> log;
  std::vector<Finding> findings;
};
AdversaryRun run_adversary(const engine::Faults& faults = {}) {
  Bench b;
  b.config.transfer.faults = faults;
  b.start();
  Adversary a;
  ScriptedClient c({a.client, a.stray});
  b.sim.add(c);
  a.attach(b, c);
  b.run();
  AdversaryRun run{a.done, a.stray_answered, {}, {}};
  run.findings = judge(b.sim, b.listen, &run.log);
  return run;
}

TEST(RuleReferenceServer, AdversarialClientDrawsNoFinding) {
  const auto run = run_adversary();
  EXPECT_TRUE(run.done);
  EXPECT_TRUE(run.stray_answered);
  const auto& all = run.findings;
  const auto& log = run.log;
  EXPECT_TRUE(verdicts(all).empty()) << dump(all);
  // The withheld ACK 2 made the server's timer send DATA 2 again: not blamed on the duplicates.
  const auto data2 = std::count_if(log.begin(), log.end(), [](const Observation& o) {
    return o.direction == Direction::kFromTarget && o.bytes.size() > 4 && o.bytes[1] == 3 && o.bytes[3] == 2;
  });
  EXPECT_GE(data2, 2) << dump(all);
}

// A client that ACKs DATA up to `error_at` - 1, then ends the read of a.bin with ERROR 0
// on DATA `error_at` and answers nothing after; every finding of the exchange.
std::vector<Finding> run_client_error(const engine::Faults& faults, uint16_t error_at) {
  Bench b;
  b.config.transfer.faults = faults;
  b.start();
  const Address me = Address::loopback_v4(5000);
  ScriptedClient c({me});
  b.sim.add(c);
  c.send(b.sim.now(), me, b.listen, rrq("a.bin"));
  c.on_receive([&](Instant now, const net::Datagram& d) {
    auto p = proto::parse(d.bytes);
    if (!p) return;
    if (const auto* data = std::get_if<proto::Data>(&*p); data && data->block <= error_at) {
      c.send(now, me, d.from, data->block == error_at ? error(0, "enough") : ack(data->block));
    }
  });
  b.run();
  return judge(b.sim, b.listen);
}

TEST(RuleReferenceServer, ClientErrorMidTransferDrawsNoFinding) {
  const auto all = run_client_error({}, 2);
  EXPECT_TRUE(verdicts(all).empty()) << dump(all);
}

// --- each deliberate fault of the reference server is caught -------------------------------

TEST(RuleReferenceServer, SorcerersApprenticeIsCaught) {
  const auto all = verdicts(run_adversary({.resend_on_duplicate_ack = true}).findings);
  EXPECT_TRUE(has(all, "tftp.rule.sorcerers_apprentice")) << dump(all);
}

TEST(RuleReferenceServer, AcceptedStrayIsCaught) {
  const auto all = verdicts(run_adversary({.accept_stray_tid = true}).findings);
  EXPECT_TRUE(has(all, "tftp.rule.lockstep_violation")) << dump(all);
}

TEST(RuleReferenceServer, SilenceToStraysIsOnlyInfo) {
  const auto all = run_adversary({.no_error_to_stray_tid = true}).findings;
  EXPECT_TRUE(verdicts(all).empty()) << dump(all);
  EXPECT_TRUE(has(all, "tftp.note.stray_not_answered")) << dump(all);
}

TEST(RuleReferenceServer, IgnoredClientErrorIsCaught) {
  const auto all = verdicts(run_client_error({.ignore_peer_error = true}, 1));
  EXPECT_TRUE(has(all, "tftp.rule.sent_after_error")) << dump(all);
}

TEST(RuleReferenceServer, MissingEmptyFinalBlockIsCaught) {
  Bench b;
  b.config.transfer.faults.no_final_empty_block = true;
  b.start();
  b.read("k.bin");
  b.run();
  const auto all = verdicts(judge(b.sim, b.listen));
  EXPECT_TRUE(has(all, "tftp.rule.missing_final_block")) << dump(all);
}

TEST(RuleReferenceServer, SendingAheadOfTheAckIsCaught) {
  struct Case {
    std::function<void(engine::Faults&)> fault;
    std::string requirement;
    std::string rule;
  };
  const std::vector<Case> cases = {
      {[](engine::Faults& f) { f.unsolicited_window = true; }, "T1350-LOCKSTEP", "tftp.rule.lockstep_violation"},
      {[](engine::Faults& f) { f.data_before_oack_ack = true; }, "T2347-CLIENT-ACK0", "tftp.rule.data_before_oack_ack"},
  };
  for (const auto& c : cases) {
    Bench b;
    c.fault(b.config.transfer.faults);
    b.start();
    b.read("a.bin", {{"blksize", "512"}});
    b.run();
    const auto all = verdicts(judge(b.sim, b.listen));
    ASSERT_FALSE(all.empty()) << c.requirement;
    EXPECT_EQ(all[0].id, c.rule) << dump(all);
    EXPECT_EQ(all[0].requirement, c.requirement) << dump(all);
  }
}

TEST(RuleReferenceServer, ServerFaultsOfNegotiationAndTidAreCaught) {
  struct Case {
    std::function<void(server::ServerFaults&)> fault;
    std::string rule;
  };
  const std::vector<Case> cases = {
      {[](server::ServerFaults& f) { f.answer_from_listen_port = true; }, "tftp.note.reply_from_listen_port"},
      {[](server::ServerFaults& f) { f.oack_unrequested_option = true; }, "tftp.rule.oack_unrequested_option"},
      {[](server::ServerFaults& f) { f.oack_off_by_one = true; }, "tftp.rule.oack_blksize_above_request"},
  };
  for (const auto& c : cases) {
    Bench b;
    c.fault(b.config.faults);
    b.start();
    b.read("a.bin", {{"blksize", "1024"}});
    b.run();
    const auto all = judge(b.sim, b.listen);  // notes too: answering from port 69 is one
    EXPECT_TRUE(has(all, c.rule)) << c.rule << "\n" << dump(all);
    EXPECT_EQ(all.size(), 1u) << dump(all);
  }
}

}  // namespace
}  // namespace tftp::check
