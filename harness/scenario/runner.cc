#include "scenario/runner.h"

#include "common/hash.h"

#include <fnmatch.h>

#include <algorithm>
#include <future>
#include <mutex>
#include <thread>

#include "scenario/fixtures.h"

namespace tftp::scenario {

using proto::Opcode;
using report::Verdict;

namespace {

constexpr Duration kProbeWait = std::chrono::seconds(3);
constexpr Duration kRtoProbeWait = std::chrono::seconds(7);

std::vector<uint8_t> request(Opcode op, const std::string& file, const std::string& mode,
                             const std::vector<proto::Option>& options = {}) {
  std::vector<uint8_t> out(1024);
  out.resize(proto::write_request(out, op, file, mode, options).value());
  return out;
}

std::vector<uint8_t> ack(uint16_t block) {
  std::vector<uint8_t> out(4);
  out.resize(proto::write_ack(out, block).value());
  return out;
}

std::vector<uint8_t> error_packet(uint16_t code, const std::string& message) {
  std::vector<uint8_t> out(4 + message.size() + 1);
  out.resize(proto::write_error(out, code, message).value());
  return out;
}

// The first parseable reply from the target's host, or nullopt.
std::optional<std::pair<Received, proto::Packet>> reply(Wire& w, Duration wait) {
  const Instant deadline = w.now() + wait;
  while (auto r = w.receive_until(deadline)) {
    if (r->at != Socket::kMain || !r->from.same_host(w.listen())) continue;
    auto p = proto::parse(r->bytes, proto::Strictness::kLenient);
    if (p) {
      // The packet views r->bytes: move both together.
      auto holder = std::make_pair(std::move(*r), proto::Packet{});
      holder.second = *proto::parse(holder.first.bytes, proto::Strictness::kLenient);
      return holder;
    }
  }
  return std::nullopt;
}

struct AliveProbe {
  bool alive = false;
  bool fixture_missing = false;
  std::optional<Duration> rto;
};

// RRQ f1.bin, then withhold ACK 1 to time the target's first retransmission.
AliveProbe probe_alive(Target& target, uint64_t seed, bool measure_rto) {
  AliveProbe out;
  auto wire = target.open(seed);
  if (!wire) return out;
  Wire& w = **wire;
  w.send(Socket::kMain, w.listen(), request(Opcode::kRrq, "f1.bin", "octet"));
  auto first = reply(w, kProbeWait);
  if (!first) return out;
  out.alive = true;
  const auto* data = std::get_if<proto::Data>(&first->second);
  if (!data) {
    out.fixture_missing = std::holds_alternative<proto::ErrorPacket>(first->second);
    return out;
  }
  const Address server = first->first.from;
  if (measure_rto) {
    const Instant deadline = w.now() + kRtoProbeWait;
    while (auto r = w.receive_until(deadline)) {
      // Any DATA counts (f1.bin has one block): atftpd 0.8 re-sends DATA 1 as a bare 3-byte header.
      if (r->from == server && (r->bytes == first->first.bytes || (r->bytes.size() >= 3 && r->bytes[0] == 0 &&
                                                                    r->bytes[1] == 3))) {
        out.rto = r->time - first->first.time;
        break;
      }
    }
  }
  w.send(Socket::kMain, server, ack(1));
  return out;
}

// The timeout mid-transfer: RRQ f3000.bin (6 blocks), ACK DATA 1-4 at once so an adaptive
// timer (RFC 1123 §4.2.3.2) has round trips to learn from, then withhold ACK 5 and time
// DATA 5's retransmission. Nullopt when DATA 5 never came or was not resent.
std::optional<Duration> probe_steady_rto(Target& target, uint64_t seed) {
  constexpr uint16_t kTimedBlock = 5;
  auto wire = target.open(seed);
  if (!wire) return std::nullopt;
  Wire& w = **wire;
  w.send(Socket::kMain, w.listen(), request(Opcode::kRrq, "f3000.bin", "octet"));
  std::optional<Address> server;
  std::optional<Received> timed;  // the first DATA 5
  std::optional<Duration> out;
  const Instant deadline = w.now() + kProbeWait + kRtoProbeWait;
  while (auto r = w.receive_until(deadline)) {
    if (r->at != Socket::kMain || !r->from.same_host(w.listen()) || (server && r->from != *server)) continue;
    // atftpd 0.8 re-sends DATA as a bare 3-byte header.
    const bool bare_data = r->bytes.size() == 3 && r->bytes[0] == 0 && r->bytes[1] == 3;
    if (timed && (r->bytes == timed->bytes || bare_data)) {
      out = r->time - timed->time;
      break;
    }
    auto p = proto::parse(r->bytes, proto::Strictness::kLenient);
    const auto* d = p ? std::get_if<proto::Data>(&*p) : nullptr;
    if (!d) {
      if (bare_data) continue;
      break;  // ERROR, OACK or garbage: no measurement
    }
    server = r->from;
    if (d->block == kTimedBlock && !timed) {
      timed = std::move(*r);
    } else if (d->block < kTimedBlock) {
      w.send(Socket::kMain, *server, ack(d->block));
    }
  }
  if (server) w.send(Socket::kMain, *server, error_packet(0, "tftpspec probe done"));
  return out;
}

// RRQ with every option; returns the option names the OACK accepted.
std::vector<std::string> probe_options(Target& target, uint64_t seed) {
  std::vector<std::string> accepted;
  auto wire = target.open(seed);
  if (!wire) return accepted;
  Wire& w = **wire;
  w.send(Socket::kMain, w.listen(),
         request(Opcode::kRrq, "f1.bin", "octet",
                 {{"blksize", "1024"}, {"tsize", "0"}, {"timeout", "3"}, {"windowsize", "2"}}));
  auto first = reply(w, kProbeWait);
  if (!first) return accepted;
  if (const auto* o = std::get_if<proto::Oack>(&first->second)) {
    accepted.push_back("options");
    for (const auto opt : o->options) {
      for (const char* name : {"blksize", "tsize", "timeout", "windowsize"}) {
        if (proto::iequals(opt.name, name)) accepted.push_back(name);
      }
    }
    w.send(Socket::kMain, first->first.from, error_packet(0, "tftpspec probe done"));
  } else if (std::holds_alternative<proto::Data>(first->second)) {
    w.send(Socket::kMain, first->first.from, ack(1));
  }
  return accepted;
}

bool probe_write(Target& target, uint64_t seed) {
  auto wire = target.open(seed);
  if (!wire) return false;
  Wire& w = **wire;
  const std::string name = "tftpspec-up-probe-" + std::to_string(seed) + "-f1.bin";
  w.send(Socket::kMain, w.listen(), request(Opcode::kWrq, name, "octet"));
  auto first = reply(w, kProbeWait);
  if (!first) return false;
  const auto* a = std::get_if<proto::Ack>(&first->second);
  if (!a || a->block != 0) return false;
  std::vector<uint8_t> data(5);
  const uint8_t byte = 'p';
  data.resize(proto::write_data(data, 1, std::span(&byte, 1)).value());
  w.send(Socket::kMain, first->first.from, data);
  auto second = reply(w, kProbeWait);
  return second && std::holds_alternative<proto::Ack>(second->second);
}

bool probe_netascii(Target& target, uint64_t seed) {
  auto wire = target.open(seed);
  if (!wire) return false;
  Wire& w = **wire;
  w.send(Socket::kMain, w.listen(), request(Opcode::kRrq, "netascii.txt", "netascii"));
  auto first = reply(w, kProbeWait);
  if (!first) return false;
  const bool ok = std::holds_alternative<proto::Data>(first->second);
  if (ok) w.send(Socket::kMain, first->first.from, error_packet(0, "tftpspec probe done"));
  return ok;
}

uint64_t mix(uint64_t seed, const std::string& id) { return fnv1a(id, seed ^ kFnv1aOffset); }

std::string iso_now() {
  const auto now = std::chrono::system_clock::now();
  const std::time_t t = std::chrono::system_clock::to_time_t(now);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
  return buf;
}

}  // namespace

EmbeddedTarget::EmbeddedTarget(server::ServerConfig config) : config_(std::move(config)) {
  for (const auto& f : fixtures()) {
    fixtures_.emplace_back(f.name, std::make_shared<const std::vector<uint8_t>>(*fixture_bytes(f.name)));
  }
}

server::ServerConfig EmbeddedTarget::default_config() {
  server::ServerConfig config;
  config.transfer.retransmit.initial = std::chrono::seconds(1);
  return config;
}

Result<std::unique_ptr<Wire>> EmbeddedTarget::open(uint64_t seed) {
  server::RootPolicy policy;
  policy.writable = true;
  policy.allow_overwrite = config_.faults.overwrite_existing;
  auto files = std::make_shared<server::MemoryFileStore>(policy);
  for (const auto& [name, bytes] : fixtures_) files->put(name, bytes);
  if (config_.faults.allow_traversal) files->put(server::kOutsideRoot, std::vector<uint8_t>{'s', 'e', 'c', 'r', 'e', 't', '\n'});
  return std::unique_ptr<Wire>(std::make_unique<VirtualWire>(config_, files, seed));
}

report::TargetInfo EmbeddedTarget::describe() const {
  report::TargetInfo info;
  info.address = "embedded";
  info.description = "tftpspec reference server, in-process over the virtual network (virtual time)";
  return info;
}

report::TargetInfo UdpTarget::describe() const {
  report::TargetInfo info;
  info.address = address_.to_string();
  info.description = "TFTP server at " + address_.to_string() + " over real UDP";
  return info;
}

bool glob_match(const std::string& pattern, const std::string& text) {
  return ::fnmatch(pattern.c_str(), text.c_str(), 0) == 0;
}

TargetProfile discover(Target& target, report::TargetInfo& info, uint64_t seed) {
  TargetProfile profile;
  auto alive = std::async(std::launch::async, [&] { return probe_alive(target, mix(seed, "probe.alive"), true); });
  auto options = std::async(std::launch::async, [&] { return probe_options(target, mix(seed, "probe.options")); });
  auto write = std::async(std::launch::async, [&] { return probe_write(target, mix(seed, "probe.write")); });
  auto netascii = std::async(std::launch::async, [&] { return probe_netascii(target, mix(seed, "probe.netascii")); });
  auto steady = std::async(std::launch::async, [&] { return probe_steady_rto(target, mix(seed, "probe.srto")); });
  const AliveProbe a = alive.get();
  info.alive = a.alive;
  if (!a.alive) info.notes.push_back("no answer to RRQ f1.bin within 3 s");
  if (a.fixture_missing) info.notes.push_back("f1.bin is missing: install the fixtures (tftpspec fixtures DIR, or --root DIR)");
  if (a.rto) {
    profile.rto = *a.rto;
  } else if (a.alive && !a.fixture_missing) {
    info.notes.push_back("no retransmission of DATA 1 within 7 s; waits assume a 1 s timeout");
  }
  info.rto_ms = to_ms(profile.rto);
  profile.srto = steady.get().value_or(profile.rto);
  if (profile.srto > profile.rto) profile.srto = profile.rto;  // a slow moment, not a longer timer
  info.srto_ms = to_ms(profile.srto);
  for (const auto& cap : options.get()) profile.capabilities.insert(cap);
  if (write.get()) profile.capabilities.insert("write");
  if (netascii.get()) profile.capabilities.insert("netascii");
  info.capabilities.assign(profile.capabilities.begin(), profile.capabilities.end());
  return profile;
}

std::vector<const Scenario*> select(const std::vector<Scenario>& catalogue, const RunOptions& options) {
  std::vector<const Scenario*> out;
  for (const auto& s : catalogue) {
    if (s.sanity) continue;  // run first and last by the runner itself
    if (s.slow && !options.include_slow) {
      bool named = false;  // a slow scenario named explicitly runs
      for (const auto& g : options.include) named = named || (g == s.id);
      if (!named) continue;
    }
    bool in = options.include.empty();
    for (const auto& g : options.include) in = in || glob_match(g, s.id);
    for (const auto& g : options.exclude) in = in && !glob_match(g, s.id);
    if (in) out.push_back(&s);
  }
  return out;
}

report::RunReport run_catalogue(const std::vector<Scenario>& catalogue, Target& target, const RunOptions& options) {
  report::RunReport run;
  run.seed = options.seed;
  run.started = iso_now();
  const Instant t0 = real_now();
  run.target = target.describe();
  const TargetProfile profile = discover(target, run.target, options.seed);

  const Scenario* sanity = nullptr;
  for (const auto& s : catalogue) {
    if (s.sanity) sanity = &s;
  }
  const auto selected = select(catalogue, options);
  std::mutex mutex;
  auto deliver = [&](report::ScenarioResult r) {
    std::lock_guard lock(mutex);
    if (options.on_result) options.on_result(r);
    run.results.push_back(std::move(r));
  };
  auto run_one = [&](const Scenario& s, const std::string& suffix) -> report::ScenarioResult {
    const uint64_t seed = mix(options.seed, s.id + suffix);
    for (const auto& need : s.needs) {
      if (!profile.capabilities.count(need)) {
        auto r = result_header(s);
        r.verdict = Verdict::kSkip;
        r.reason = "the target lacks the '" + need + "' capability (found: " +
                   (run.target.capabilities.empty() ? std::string("none") : [&] {
                     std::string c;
                     for (const auto& x : run.target.capabilities) c += (c.empty() ? "" : ", ") + x;
                     return c;
                   }()) + ")";
        return r;
      }
    }
    auto wire = target.open(seed);
    if (!wire) {
      auto r = result_header(s);
      r.verdict = Verdict::kError;
      r.reason = "cannot open sockets: " + wire.error().message;
      return r;
    }
    char unique[24];
    std::snprintf(unique, sizeof unique, "%08llx", static_cast<unsigned long long>(seed & 0xffffffffu));
    return run_scenario(s, **wire, profile, unique, options.cancel);
  };
  auto unjudged = [&](const Scenario& s, const std::string& why) {
    auto r = result_header(s);
    r.verdict = Verdict::kError;
    r.reason = why;
    return r;
  };

  if (!run.target.alive) {
    for (const Scenario* s : selected) deliver(unjudged(*s, "the target did not answer discovery (" + run.target.address + ")"));
  } else {
    bool sane = true;
    if (sanity) {
      auto first = run_one(*sanity, "#first");
      // A warning (a SHOULD broken) still leaves the target judgeable.
      sane = first.verdict == Verdict::kPass || first.verdict == Verdict::kWarn;
      first.id += "#first";
      deliver(std::move(first));
    }
    if (!sane) {
      for (const Scenario* s : selected) deliver(unjudged(*s, "the target failed the sanity scenario; nothing else can be judged"));
    } else {
      std::atomic<size_t> next{0};
      std::atomic<bool> dead{false};
      std::string died_after;
      const int jobs = std::max(1, std::min<int>(options.jobs, static_cast<int>(selected.size())));
      auto worker = [&] {
        for (size_t i; (i = next.fetch_add(1)) < selected.size();) {
          const Scenario& s = *selected[i];
          if ((options.cancel && options.cancel->load()) || dead.load()) {
            deliver(unjudged(s, dead.load() ? "the target stopped answering after " + died_after : "the run was interrupted"));
            continue;
          }
          auto r = run_one(s, "");
          // Silence where a reply was due may mean the target died: check before blaming it.
          if ((r.verdict == Verdict::kFail || r.verdict == Verdict::kError) && r.observed.rfind("nothing", 0) == 0) {
            if (!probe_alive(target, mix(options.seed, s.id + "#alive"), false).alive && !dead.exchange(true)) {
              std::lock_guard lock(mutex);
              died_after = s.id;
              run.target_died_after = s.id;
            }
          }
          deliver(std::move(r));
        }
      };
      std::vector<std::thread> threads;
      for (int i = 0; i < jobs; ++i) threads.emplace_back(worker);
      for (auto& t : threads) t.join();
      run.interrupted = options.cancel && options.cancel->load();
      if (sanity && !dead.load() && !run.interrupted) {
        auto last = run_one(*sanity, "#last");
        if (last.verdict != Verdict::kPass && !run.target_died_after) run.target_died_after = "the last scenario";
        last.id += "#last";
        deliver(std::move(last));
      }
    }
  }
  // Report in catalogue order whatever order they finished in.
  std::stable_sort(run.results.begin(), run.results.end(),
                   [](const auto& a, const auto& b) { return a.id < b.id; });
  run.summary = report::summarize(run.results);
  run.finished = iso_now();
  run.duration_ms = to_ms(real_now() - t0);
  return run;
}

}  // namespace tftp::scenario
