#include "netfuzz/fuzzer.h"

#include <fstream>
#include <stdexcept>

#include "net/udp_socket.h"
#include "netfuzz/reproducer.h"
#include "netfuzz/shrink.h"
#include "proto/packet.h"

namespace tftp::netfuzz {

namespace {

void record(std::vector<WireEvent>* log, bool sent, const Address& from, const Address& to, std::span<const uint8_t> bytes) {
  if (log == nullptr) return;
  // Bounded: a batch's log is a few cases; a flood of answers is not kept beyond this.
  constexpr size_t kMaxEvents = 20000;
  if (log->size() >= kMaxEvents) return;
  log->push_back(WireEvent{real_now(), sent, from, to, {bytes.begin(), bytes.end()}});
}

// The first datagram from the target's host within `timeout` (others are ignored).
std::optional<net::Received> await_reply(net::UdpSocket& socket, const Address& target, std::vector<uint8_t>& rx,
                                         Duration timeout) {
  const Instant deadline = real_now() + timeout;
  for (;;) {
    const Instant now = real_now();
    if (now >= deadline) return std::nullopt;
    auto got = socket.receive_wait(rx, deadline - now);
    if (!got) return std::nullopt;  // EINTR (a signal) or a socket error: no answer
    if (!*got) return std::nullopt;
    if ((*got)->from.same_host(target)) return *got;
  }
}

}  // namespace

TargetLink::TargetLink(Address target, Timing timing, std::string probe_file)
    : target_(std::move(target)), timing_(timing), probe_file_(std::move(probe_file)), rx_(proto::kMaxDatagramSize + 1) {}

Case TargetLink::run_generated(uint64_t seed, uint64_t number, const MutatorConfig& config, std::vector<WireEvent>* log) {
  CaseDriver driver(seed, number, config);
  auto socket = net::UdpSocket::ephemeral_for(target_);
  if (!socket) return driver.current();
  std::optional<Address> server;
  std::optional<std::vector<uint8_t>> reply;
  for (;;) {
    std::optional<std::span<const uint8_t>> view;
    if (reply) view = std::span<const uint8_t>(*reply);
    auto d = driver.next(view);
    if (!d) break;
    const Address to = d->to == Destination::kListen || !server ? target_ : *server;
    (void)socket->send_to(to, d->bytes);  // a failed send is a lost datagram
    record(log, true, socket->local_address(), to, d->bytes);
    reply.reset();
    if (!d->await) continue;
    if (auto r = await_reply(*socket, target_, rx_, timing_.reply)) {
      if (!server) server = r->from;
      reply.emplace(rx_.begin(), rx_.begin() + static_cast<long>(r->size));
      record(log, false, r->from, socket->local_address(), *reply);
    }
  }
  return driver.current();
}

void TargetLink::replay(const Case& c, std::vector<WireEvent>* log) {
  auto socket = net::UdpSocket::ephemeral_for(target_);
  if (!socket) return;
  std::optional<Address> server;
  for (const auto& d : c.datagrams) {
    if (d.to == Destination::kServer && !server) continue;  // nobody answered this time
    const Address to = d.to == Destination::kListen ? target_ : *server;
    (void)socket->send_to(to, d.bytes);
    record(log, true, socket->local_address(), to, d.bytes);
    if (!d.await) continue;
    if (auto r = await_reply(*socket, target_, rx_, timing_.reply)) {
      if (!server) server = r->from;
      record(log, false, r->from, socket->local_address(), std::span(rx_).first(r->size));
    }
  }
}

bool TargetLink::probe_once(std::vector<WireEvent>* log) {
  auto socket = net::UdpSocket::ephemeral_for(target_);
  if (!socket) return false;
  std::vector<uint8_t> request(proto::kMaxRequestSize * 2);
  auto n = proto::write_request(request, proto::Opcode::kRrq, probe_file_, "octet");
  if (!n) return false;
  request.resize(*n);
  (void)socket->send_to(target_, request);
  record(log, true, socket->local_address(), target_, request);
  auto r = await_reply(*socket, target_, rx_, timing_.liveness);
  if (!r) return false;
  const auto bytes = std::span<const uint8_t>(rx_).first(r->size);
  record(log, false, r->from, socket->local_address(), bytes);
  // End the transfer politely: ACK a DATA (the probe file is small), ERROR anything else.
  std::vector<uint8_t> out(64);
  auto p = proto::parse(bytes, proto::Strictness::kLenient);
  proto::WriteResult w;
  if (p && std::holds_alternative<proto::Data>(*p)) w = proto::write_ack(out, std::get<proto::Data>(*p).block);
  else if (!p || !std::holds_alternative<proto::ErrorPacket>(*p)) w = proto::write_error(out, 0, "tftpspec fuzz: probe over");
  if (w) {
    out.resize(*w);
    (void)socket->send_to(r->from, out);
    record(log, true, socket->local_address(), r->from, out);
  }
  return true;
}

bool TargetLink::alive(std::vector<WireEvent>* log) {
  for (int i = 0; i < timing_.liveness_tries; ++i) {
    if (probe_once(log)) return true;
  }
  return false;
}

namespace {

class Campaign {
 public:
  Campaign(const CampaignConfig& config, const std::atomic<bool>& stop, const ProgressFn& progress)
      : config_(config), stop_(stop), progress_fn_(progress),
        link_(config.target, config.timing, config.probe_file) {}

  Result<CampaignResult> run() {
    const Instant start = real_now();
    progress_.phase = "checking the target";
    report();
    result_.target_answered = link_.alive();
    if (!result_.target_answered) {
      result_.stopped_because = "the target did not answer the probe (RRQ " + config_.probe_file + ") before fuzzing";
      return result_;
    }
    progress_.phase = "fuzzing";
    std::vector<Case> batch;
    std::vector<WireEvent> batch_log;
    for (uint64_t number = 0;; ++number) {
      progress_.elapsed = real_now() - start;
      const bool out_of_budget = (config_.cases && number >= *config_.cases) ||
                                 (config_.duration && progress_.elapsed >= *config_.duration);
      if (stop_.load()) result_.interrupted = true;
      // The last cases get their liveness check too, however the campaign ends.
      if (!batch.empty() && (batch.size() >= config_.batch || out_of_budget) && !result_.interrupted) {
        if (!check(batch, batch_log)) break;
      }
      if (result_.interrupted || out_of_budget) break;
      Case c = link_.run_generated(config_.seed, number, config_.mutator, &batch_log);
      ++progress_.cases;
      progress_.datagrams += c.datagrams.size();
      progress_.last_state = c.state;
      progress_.last_mutation = c.mutation;
      batch.push_back(std::move(c));
      report();
    }
    progress_.elapsed = real_now() - start;
    progress_.phase = "done";
    report();
    result_.progress = progress_;
    return result_;
  }

 private:
  // The liveness check after a batch; on a death, the finding. Empties the batch. False: the
  // campaign must stop.
  bool check(std::vector<Case>& batch, std::vector<WireEvent>& batch_log) {
    ++progress_.liveness_checks;
    bool alive = link_.alive(&batch_log);
    if (!alive) {
      progress_.phase = "re-checking";
      report();
      for (int i = 0; i < config_.timing.rechecks && !alive; ++i) alive = link_.alive(&batch_log);
      if (alive) {
        ++progress_.stalls;  // slow, not dead
        if (result_.stalls_after.size() < 100) result_.stalls_after.push_back(batch.back().number);
      }
    }
    progress_.phase = "fuzzing";
    if (alive) {
      batch.clear();
      batch_log.clear();
      report();
      return true;
    }
    handle_death(std::move(batch), std::move(batch_log));
    batch.clear();
    batch_log.clear();
    if (!config_.restart) {
      result_.stopped_because = "the target stopped answering, and without --restart-cmd it cannot be restarted";
      return false;
    }
    if (result_.findings.size() >= config_.max_findings) {
      result_.stopped_because = "found " + std::to_string(result_.findings.size()) + " deaths (--max-findings)";
      return false;
    }
    std::string why;
    if (!restart(&why)) {
      result_.stopped_because = "the target did not come back after --restart-cmd: " + why;
      return false;
    }
    progress_.phase = "fuzzing";
    return true;
  }

  void report() {
    progress_.findings = result_.findings.size();
    if (progress_fn_) progress_fn_(progress_);
  }

  bool restart(std::string* why) {
    if (!config_.restart(why)) return false;
    // A restarted daemon needs a moment to bind: give it the liveness checks' patience.
    for (int i = 0; i <= config_.timing.rechecks; ++i) {
      if (link_.alive()) return true;
    }
    *why = "it did not answer the probe after the restart";
    return false;
  }

  // Restart, replay, probe: true when the cases kill the target again.
  bool kills(const std::vector<Case>& cases, std::vector<WireEvent>* log = nullptr) {
    if (stop_.load()) throw std::runtime_error("interrupted");
    std::string why;
    if (!restart(&why)) throw std::runtime_error(why);
    for (const auto& c : cases) link_.replay(c, log);
    return !link_.alive(log);
  }

  void handle_death(std::vector<Case> batch, std::vector<WireEvent> log) {
    Finding f;
    f.index = static_cast<int>(result_.findings.size()) + 1;
    f.first_case = batch.front().number;
    f.last_case = batch.back().number;
    f.batch = batch;
    f.reproducer = batch;
    f.events = std::move(log);
    f.scenario_id = "fuzz.seed-" + std::to_string(config_.seed) + ".case-" + std::to_string(f.last_case);
    if (!config_.restart) {
      f.note = "not shrunk: without --restart-cmd the dead target cannot be restarted to replay smaller inputs; these are "
               "all the cases since the last good liveness check";
    } else {
      progress_.phase = "shrinking";
      report();
      ShrinkBudget budget{config_.shrink_budget, 0};
      try {
        budget.take();
        f.reproduced = kills(batch);
        if (!f.reproduced) {
          f.note = "not shrunk: replaying the batch against the restarted target did not stop it again (the death may "
                   "depend on timing, or on earlier traffic)";
        } else {
          shrink(f, budget);
        }
      } catch (const std::exception& e) {
        f.note = std::string("shrinking stopped: ") + e.what();
      }
      f.shrink_attempts = budget.attempts_made;
      // The reproducer's own datagrams, for the capture and the evidence.
      if (f.shrunk) {
        std::vector<WireEvent> events;
        try {
          if (kills(f.reproducer, &events)) f.events = std::move(events);
        } catch (const std::exception&) {
        }
      }
    }
    save(f);
    result_.findings.push_back(std::move(f));
    report();
  }

  void shrink(Finding& f, ShrinkBudget& budget) {
    const std::function<bool(const std::vector<Case>&)> cases_kill = [&](const std::vector<Case>& cs) { return kills(cs); };
    std::vector<Case> cases = ddmin<Case>(f.batch, cases_kill, budget);
    // Then the datagrams of each case left, then the bytes of each datagram.
    for (size_t ci = 0; ci < cases.size(); ++ci) {
      const std::function<bool(const std::vector<Datagram>&)> datagrams_kill = [&](const std::vector<Datagram>& ds) {
        auto trial = cases;
        trial[ci].datagrams = ds;
        return kills(trial);
      };
      cases[ci].datagrams = ddmin<Datagram>(cases[ci].datagrams, datagrams_kill, budget);
      for (size_t di = 0; di < cases[ci].datagrams.size(); ++di) {
        const std::function<bool(const std::vector<uint8_t>&)> bytes_kill = [&](const std::vector<uint8_t>& b) {
          auto trial = cases;
          trial[ci].datagrams[di].bytes = b;
          return kills(trial);
        };
        cases[ci].datagrams[di].bytes = shortest_failing_prefix(cases[ci].datagrams[di].bytes, bytes_kill, budget);
      }
    }
    size_t before = 0, after = 0, bytes_before = 0, bytes_after = 0;
    for (const auto& c : f.batch) {
      before += c.datagrams.size();
      for (const auto& d : c.datagrams) bytes_before += d.bytes.size();
    }
    for (const auto& c : cases) {
      after += c.datagrams.size();
      for (const auto& d : c.datagrams) bytes_after += d.bytes.size();
    }
    f.reproducer = std::move(cases);
    f.shrunk = true;
    f.note = "shrunk from " + std::to_string(f.batch.size()) + " case(s), " + std::to_string(before) + " datagram(s), " +
             std::to_string(bytes_before) + " bytes to " + std::to_string(f.reproducer.size()) + " case(s), " +
             std::to_string(after) + " datagram(s), " + std::to_string(bytes_after) + " bytes in " +
             std::to_string(budget.attempts_made) + " replays" + (budget.exhausted() ? " (budget used up: maybe not minimal)" : "");
  }

  void save(Finding& f) {
    if (config_.out.empty()) return;
    const auto dir = config_.out / ("finding-" + std::to_string(f.index));
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    f.scenario_file = dir / "reproducer.yaml";
    f.capture_file = dir / "reproducer.pcap";
    const std::string provenance = "Command: " + config_.command + " (seed " + std::to_string(config_.seed) + ")";
    std::ofstream(f.scenario_file, std::ios::binary) << scenario_yaml(f, config_.probe_file, provenance);
    const auto pcap = capture_bytes(f.events);
    std::ofstream(f.capture_file, std::ios::binary).write(reinterpret_cast<const char*>(pcap.data()),
                                                          static_cast<std::streamsize>(pcap.size()));
  }

  const CampaignConfig& config_;
  const std::atomic<bool>& stop_;
  const ProgressFn& progress_fn_;
  TargetLink link_;
  Progress progress_;
  CampaignResult result_;
};

}  // namespace

Result<CampaignResult> run_campaign(const CampaignConfig& config, const std::atomic<bool>& stop, const ProgressFn& progress) {
  if (config.batch == 0) return make_error("tftp.fuzz.config", "--batch must be at least 1");
  Campaign c(config, stop, progress);
  return c.run();
}

}  // namespace tftp::netfuzz
