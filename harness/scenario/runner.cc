#include "scenario/runner.h"

#include <fnmatch.h>
#include <unistd.h>

#include <algorithm>
#include <future>
#include <mutex>
#include <set>
#include <thread>

#include "common/hash.h"
#include "scenario/fixtures.h"

namespace tftp::scenario {

using proto::Opcode;
using report::Verdict;

namespace {

constexpr Duration kProbeWait = std::chrono::seconds(3);
constexpr Duration kRtoProbeWait = std::chrono::seconds(7);
// A copy sooner than this after the original is a duplicate the target sent at once, not
// a timer's retransmission: no TFTP timer is that short, and taking one for the RTO would
// shrink every wait of the run to nothing (a target that sends each DATA twice back to
// back had every scenario, the sanity one first, judged "no reply in time").
constexpr Duration kShortestTimer = std::chrono::milliseconds(5);

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

// The first datagram from the target's host, parsed or not, or nullopt: a target that
// answers with something the parser refuses is alive, and what it sent is reported. An
// answer from another address is no answer (a client cannot tell it from a stranger's and
// drops it); the first such sender goes into `elsewhere` when given, to say so.
std::optional<Received> reply(Wire& w, Duration wait, std::optional<Address>* elsewhere = nullptr) {
  const Instant deadline = w.now() + wait;
  while (auto r = w.receive_until(deadline)) {
    if (r->at != Socket::kMain) continue;
    if (r->from.same_host(w.listen())) return r;
    if (elsewhere != nullptr && !*elsewhere) *elsewhere = r->from;
  }
  return std::nullopt;
}

// atftpd 0.8 re-sends DATA as a bare 3-byte header (opcode and half a block number).
bool bare_data_header(const std::vector<uint8_t>& bytes) { return bytes.size() == 3 && bytes[0] == 0 && bytes[1] == 3; }

// Whether `r` retransmits the DATA `original` on the target's timer: the same bytes (or
// atftpd's bare header), from the same port, no sooner than a timer could fire.
bool timer_resend_of(const Received& original, const Received& r) {
  return r.from == original.from && (r.bytes == original.bytes || bare_data_header(r.bytes)) &&
         r.time - original.time >= kShortestTimer;
}

// The packet a reply holds; views r.bytes.
tl::expected<proto::Packet, proto::ParseError> packet_of(const Received& r) {
  return proto::parse(r.bytes, proto::Strictness::kLenient);
}

struct AliveProbe {
  bool alive = false;
  bool fixture_missing = false;
  std::optional<Duration> rto;
  std::string wrong_answer;  // what the target sent instead of DATA 1, described
  std::optional<Address> elsewhere;  // silent, but something answered from another address
};

// RRQ f1.bin, then withhold ACK 1 to time the target's first retransmission.
AliveProbe probe_alive(Target& target, uint64_t seed, bool measure_rto) {
  AliveProbe out;
  auto wire = target.open_wire(seed);
  if (!wire) return out;
  Wire& w = **wire;
  w.send(Socket::kMain, w.listen(), request(Opcode::kRrq, "f1.bin", "octet"));
  auto first = reply(w, kProbeWait, &out.elsewhere);
  if (!first) return out;
  out.alive = true;
  const auto packet = packet_of(*first);
  const auto* data = packet ? std::get_if<proto::Data>(&*packet) : nullptr;
  if (!data) {
    const auto* e = packet ? std::get_if<proto::ErrorPacket>(&*packet) : nullptr;
    out.fixture_missing = e != nullptr && e->code == 1;
    if (!out.fixture_missing) out.wrong_answer = proto::describe_datagram(first->bytes);
    return out;
  }
  const Address server = first->from;
  if (measure_rto) {
    const Instant deadline = w.now() + kRtoProbeWait;
    while (auto r = w.receive_until(deadline)) {
      if (timer_resend_of(*first, *r)) {
        out.rto = r->time - first->time;
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
  auto wire = target.open_wire(seed);
  if (!wire) return std::nullopt;
  Wire& w = **wire;
  w.send(Socket::kMain, w.listen(), request(Opcode::kRrq, "f3000.bin", "octet"));
  std::optional<Address> server;
  std::optional<Received> timed;  // the first DATA 5
  std::optional<Duration> out;
  const Instant deadline = w.now() + kProbeWait + kRtoProbeWait;
  while (auto r = w.receive_until(deadline)) {
    if (r->at != Socket::kMain || !r->from.same_host(w.listen()) || (server && r->from != *server)) continue;
    if (timed && timer_resend_of(*timed, *r)) {
      out = r->time - timed->time;
      break;
    }
    auto p = proto::parse(r->bytes, proto::Strictness::kLenient);
    const auto* d = p ? std::get_if<proto::Data>(&*p) : nullptr;
    if (!d) {
      if (bare_data_header(r->bytes)) continue;
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
  auto wire = target.open_wire(seed);
  if (!wire) return accepted;
  Wire& w = **wire;
  w.send(Socket::kMain, w.listen(),
         request(Opcode::kRrq, "f1.bin", "octet",
                 {{"blksize", "1024"}, {"tsize", "0"}, {"timeout", "3"}, {"windowsize", "2"}}));
  auto first = reply(w, kProbeWait);
  if (!first) return accepted;
  const auto packet = packet_of(*first);
  if (!packet) return accepted;
  if (const auto* o = std::get_if<proto::Oack>(&*packet)) {
    // Even an empty OACK shows the target speaks RFC 2347: the option scenarios then judge
    // that OACK (rfc2347.oack.unknown-option-alone warns) instead of skipping it.
    accepted.push_back("options");
    for (const auto opt : o->options) {
      for (const char* name : {"blksize", "tsize", "timeout", "windowsize"}) {
        if (proto::iequals(opt.name, name)) accepted.push_back(name);
      }
    }
    w.send(Socket::kMain, first->from, error_packet(0, "tftpspec probe done"));
  } else if (std::holds_alternative<proto::Data>(*packet)) {
    w.send(Socket::kMain, first->from, ack(1));
  }
  return accepted;
}

// Whether the target accepts uploads at all. Any ACK to the WRQ, or ERROR 6 (the name is
// taken: a write was considered), shows the capability; whether the answer was the right
// one (ACK 0) is for the scenarios to judge, not for discovery to hide behind a skip. The
// name is unique per process too, so a re-run with the same --seed does not collide.
bool probe_write(Target& target, uint64_t seed) {
  auto wire = target.open_wire(seed);
  if (!wire) return false;
  Wire& w = **wire;
  const auto nonce = static_cast<unsigned long long>(real_now().time_since_epoch().count() & 0xffffff);
  const std::string name = "tftpspec-up-probe-" + std::to_string(seed) + "-" + std::to_string(::getpid()) + "-" +
                           std::to_string(nonce) + "-f1.bin";
  w.send(Socket::kMain, w.listen(), request(Opcode::kWrq, name, "octet"));
  auto first = reply(w, kProbeWait);
  if (!first) return false;
  const auto packet = packet_of(*first);
  if (!packet) return false;
  if (const auto* e = std::get_if<proto::ErrorPacket>(&*packet)) return e->code == 6;
  const auto* a = std::get_if<proto::Ack>(&*packet);
  if (a == nullptr) return false;
  std::vector<uint8_t> data(5);
  const uint8_t byte = 'p';
  data.resize(proto::write_data(data, 1, std::span(&byte, 1)).value());
  w.send(Socket::kMain, first->from, data);
  (void)reply(w, kProbeWait);  // its ACK 1, if any; the upload scenarios judge it
  return true;
}

bool probe_netascii(Target& target, uint64_t seed) {
  auto wire = target.open_wire(seed);
  if (!wire) return false;
  Wire& w = **wire;
  w.send(Socket::kMain, w.listen(), request(Opcode::kRrq, "netascii.txt", "netascii"));
  auto first = reply(w, kProbeWait);
  if (!first) return false;
  const auto packet = packet_of(*first);
  const bool ok = packet && std::holds_alternative<proto::Data>(*packet);
  if (ok) w.send(Socket::kMain, first->from, error_packet(0, "tftpspec probe done"));
  return ok;
}

uint64_t mix(uint64_t seed, const std::string& id) { return fnv1a(id, seed ^ kFnv1aOffset); }

// Round trips mid-transfer: RRQ f3000.bin (6 blocks) twice, each DATA ACKed at once; a
// sample is the time from an ACK to the next DATA's arrival (kernel time). The time to the
// first reply is not used: a server that forks per request (tftpd-hpa) spends milliseconds
// there that no later round trip costs. The median is the round trip, max - min the jitter.
report::PathMeasurement probe_path(Target& target, uint64_t seed, const std::atomic<bool>* cancel) {
  constexpr int kTransfers = 2;
  // f3000.bin's blocks: a target that serves more (one that never ends a transfer) has
  // given every sample there is, and is not followed further.
  constexpr uint16_t kBlocks = 3000 / proto::kDefaultBlockSize + 1;
  report::PathMeasurement out;
  std::vector<Duration> samples;
  auto wire = target.open_wire(seed);
  if (!wire) return out;
  Wire& w = **wire;
  for (int i = 0; i < kTransfers && !(cancel && cancel->load()); ++i) {
    w.send(Socket::kMain, w.listen(), request(Opcode::kRrq, "f3000.bin", "octet"));
    std::optional<Instant> acked_at;
    uint16_t expected = 1;
    // And a target that keeps sending something else (retransmissions without end) is
    // given up on: each transfer has kRtoProbeWait in all.
    const Instant give_up = w.now() + kRtoProbeWait;
    auto next = [&]() -> std::optional<Received> {
      if (expected > kBlocks || w.now() >= give_up) return std::nullopt;
      return reply(w, std::min<Duration>(kProbeWait, give_up - w.now()));
    };
    while (auto r = next()) {
      const auto packet = packet_of(*r);
      const auto* d = packet ? std::get_if<proto::Data>(&*packet) : nullptr;
      if (d == nullptr) break;
      if (d->block != expected) continue;  // a retransmission: not a round trip
      if (acked_at) samples.push_back(r->time - *acked_at);
      acked_at = w.now();
      w.send(Socket::kMain, r->from, ack(d->block));
      ++expected;
      if (d->payload.size() < proto::kDefaultBlockSize) break;
    }
  }
  if (samples.empty()) return out;
  std::sort(samples.begin(), samples.end());
  out.samples = static_cast<int>(samples.size());
  out.rtt_ms = to_ms(samples[samples.size() / 2]);
  out.jitter_ms = to_ms(samples.back() - samples.front());
  return out;
}

// Downloads each fixture the selection needs and compares it with what `tftpspec
// fixtures` writes, so a missing or stale file is reported as the set-up problem it is,
// never as the target's fail. A download the target broke the protocol in (garbage, an
// oversized DATA, a transfer that does not end) goes into `misbehaved`: that is no set-up
// problem, and the scenarios judge it.
std::vector<report::FixtureCheck> verify_fixtures(Target& target, const std::vector<std::string>& names,
                                                  const TargetProfile& profile, uint64_t seed,
                                                  const std::atomic<bool>* cancel, std::set<std::string>& misbehaved) {
  std::vector<report::FixtureCheck> out(names.size());
  std::mutex misbehaved_mutex;
  std::atomic<size_t> next{0};
  auto worker = [&] {
    for (size_t i; (i = next.fetch_add(1)) < names.size();) {
      const std::string& name = names[i];
      report::FixtureCheck& check = out[i];
      check.name = name;
      const auto expected = fixture_bytes(name);
      auto wire = target.open_wire(mix(seed, "fixture." + name));
      if (!wire || !expected) {
        check.status = "unreadable";
        check.detail = wire ? "not a fixture" : wire.error().message;
        continue;
      }
      // Large files go faster with the options the target accepted; the content is the same.
      std::vector<proto::OwnedOption> options;
      if (expected->size() > 64 * 1024) {
        if (profile.capabilities.count("blksize")) options.push_back({"blksize", "1428"});
        if (profile.capabilities.count("windowsize")) options.push_back({"windowsize", "8"});
      }
      const auto got = fetch(**wire, name, options, profile.rto, std::chrono::seconds(120), download_limit(expected), cancel);
      if (!got.outcome) {
        check.status = "unreadable";
        check.detail = "the download did not finish within 120 s";
      } else if (got.outcome->kind == engine::OutcomeKind::kPeerError && got.outcome->error_code == 1) {
        check.status = "missing";
        check.detail = "the target answered " + got.outcome->to_string();
      } else if (!got.outcome->ok()) {
        check.status = "unreadable";
        check.detail = got.outcome->to_string();
        if (got.outcome->kind == engine::OutcomeKind::kProtocolError || got.outcome->kind == engine::OutcomeKind::kLocalError) {
          check.detail += ": the target broke the protocol serving it, which the scenarios judge";
          std::lock_guard lock(misbehaved_mutex);
          misbehaved.insert(name);
        }
      } else if (got.bytes != *expected) {
        check.status = "different";
        const auto diff = std::mismatch(got.bytes.begin(), got.bytes.end(), expected->begin(), expected->end());
        const size_t at = static_cast<size_t>(diff.first - got.bytes.begin());
        check.detail = std::to_string(got.bytes.size()) + " bytes served, " + std::to_string(expected->size()) +
                       " expected; first difference at byte " + std::to_string(at) + " (DATA " +
                       std::to_string(at / proto::kDefaultBlockSize + 1) + " at blksize 512)";
      } else {
        check.status = "ok";
        check.detail = std::to_string(got.bytes.size()) + " bytes as expected";
      }
    }
  };
  std::vector<std::thread> threads;
  for (size_t i = 0; i < std::min<size_t>(4, names.size()); ++i) threads.emplace_back(worker);
  for (auto& t : threads) t.join();
  return out;
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
  if (config_.faults.allow_traversal) files->put(server::kOutsideRoot, *fixture_bytes(kCanaryName));
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

TargetProfile discover(Target& target, report::TargetInfo& info, uint64_t seed, const std::vector<std::string>& fixtures,
                       const std::atomic<bool>* cancel) {
  TargetProfile profile;
  auto alive = std::async(std::launch::async, [&] { return probe_alive(target, mix(seed, "probe.alive"), true); });
  auto options = std::async(std::launch::async, [&] { return probe_options(target, mix(seed, "probe.options")); });
  auto write = std::async(std::launch::async, [&] { return probe_write(target, mix(seed, "probe.write")); });
  auto netascii = std::async(std::launch::async, [&] { return probe_netascii(target, mix(seed, "probe.netascii")); });
  auto steady = std::async(std::launch::async, [&] { return probe_steady_rto(target, mix(seed, "probe.srto")); });
  auto path = std::async(std::launch::async, [&] { return probe_path(target, mix(seed, "probe.path"), cancel); });
  const AliveProbe a = alive.get();
  info.alive = a.alive;
  const bool cut_short = cancel != nullptr && cancel->load();
  if (!a.alive && cut_short) {
    info.notes.push_back("discovery was interrupted before the target answered");
  } else if (!a.alive && a.elsewhere) {
    // A multi-homed server replying from its default address: the classic reason a client
    // sees nothing (RFC 1122 §4.1.3.5: the reply's source is the request's destination).
    info.notes.push_back("no answer to RRQ f1.bin from " + info.address + ", but one from " + a.elsewhere->to_string() +
                         ", another address: a client drops a reply that does not come from the address it asked");
  } else if (!a.alive) {
    info.notes.push_back("no answer to RRQ f1.bin within 3 s");
  }
  if (a.fixture_missing) info.notes.push_back("f1.bin is missing: install the fixtures (tftpspec fixtures DIR, or --root DIR)");
  if (!a.wrong_answer.empty()) info.notes.push_back("answered RRQ f1.bin with " + a.wrong_answer + ", not DATA 1");
  if (a.rto) {
    profile.rto = *a.rto;
  } else if (a.alive && !a.fixture_missing) {
    info.notes.push_back("no retransmission of DATA 1 within 7 s; waits assume a 1 s timeout");
  }
  info.rto_ms = to_ms(profile.rto);
  profile.srto = steady.get().value_or(profile.rto);
  if (profile.srto > profile.rto) profile.srto = profile.rto;  // a slow moment, not a longer timer
  info.srto_ms = to_ms(profile.srto);
  info.path = path.get();
  if (info.path.samples > 0) {
    profile.rtt = std::chrono::duration_cast<Duration>(std::chrono::duration<double, std::milli>(info.path.rtt_ms));
    profile.jitter = std::chrono::duration_cast<Duration>(std::chrono::duration<double, std::milli>(info.path.jitter_ms));
  }
  for (const auto& cap : options.get()) profile.capabilities.insert(cap);
  if (write.get()) profile.capabilities.insert("write");
  if (target.canary_planted()) profile.capabilities.insert("canary");
  if (netascii.get()) profile.capabilities.insert("netascii");
  info.capabilities.assign(profile.capabilities.begin(), profile.capabilities.end());
  if (info.alive && !(cancel && cancel->load())) {
    std::set<std::string> misbehaved;
    info.fixtures = verify_fixtures(target, fixtures, profile, seed, cancel, misbehaved);
    const bool written = target.fixtures_written_by_harness();
    for (const auto& f : info.fixtures) {
      if (misbehaved.count(f.name)) continue;
      // A fixture below the root that the harness wrote itself is there: "not found" is the
      // target's answer to a name with a '/', which the path scenarios judge.
      if (written && f.status == "missing" && f.name.find('/') != std::string::npos) continue;
      if (f.status == "missing" || (f.status != "ok" && !written)) {
        profile.fixture_problems[f.name] = f.status + " (" + f.detail + ")";
      }
    }
  }
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

namespace {

std::string capability_list(const report::TargetInfo& info) {
  std::string c;
  for (const auto& x : info.capabilities) c += (c.empty() ? "" : ", ") + x;
  return c.empty() ? "none" : c;
}

// The round trips a scenario's whole-transfer steps cost in lockstep (or per window),
// for scenarios whose time grows with the distance to the target.
double round_trips(const Scenario& s, const TargetProfile& profile) {
  double total = 0;
  for (const auto& step : s.steps) {
    if (step.kind == StepKind::kDownloads) {
      // Side by side: the longest of them.
      double longest = 0;
      for (const auto& f : step.concurrent.files) {
        if (const auto bytes = fixture_bytes(f)) longest = std::max(longest, static_cast<double>(bytes->size()) / proto::kDefaultBlockSize + 1);
      }
      total += longest;
      continue;
    }
    if (step.kind != StepKind::kDownload && step.kind != StepKind::kUpload) continue;
    const auto bytes = fixture_bytes(step.transfer.file);
    if (!bytes) continue;
    double blksize = proto::kDefaultBlockSize;
    double window = 1;
    for (const auto& [k, v] : step.transfer.options) {
      if (proto::iequals(k, "blksize")) blksize = std::max(1.0, std::atof(v.c_str()));
      if (proto::iequals(k, "windowsize")) window = std::max(1.0, std::atof(v.c_str()));
    }
    for (const auto& [k, v] : step.transfer.options_if_supported) {
      if (!profile.capabilities.count(k)) continue;
      if (proto::iequals(k, "windowsize")) window = std::max(1.0, std::atof(v.c_str()));
      if (proto::iequals(k, "blksize")) blksize = std::max(1.0, std::atof(v.c_str()));
    }
    total += (static_cast<double>(bytes->size()) / blksize + 1) / window;
  }
  return total;
}

}  // namespace

report::RunReport run_catalogue(const std::vector<Scenario>& catalogue, Target& target, const RunOptions& options) {
  report::RunReport run;
  run.seed = options.seed;
  run.started = utc_now_iso8601();
  const Instant t0 = real_now();
  run.target = target.describe();
  target.set_cancel(options.cancel);
  target.set_capture(options.capture);
  auto cancelled = [&] { return options.cancel != nullptr && options.cancel->load(); };

  const Scenario* sanity = nullptr;
  for (const auto& s : catalogue) {
    if (s.sanity) sanity = &s;
  }
  const auto selected = select(catalogue, options);
  std::set<std::string> needed;
  for (const Scenario* s : selected) needed.insert(s->fixtures.begin(), s->fixtures.end());
  if (sanity) needed.insert(sanity->fixtures.begin(), sanity->fixtures.end());
  const TargetProfile profile =
      discover(target, run.target, options.seed, {needed.begin(), needed.end()}, options.cancel);

  std::mutex mutex;
  auto deliver = [&](report::ScenarioResult r) {
    std::lock_guard lock(mutex);
    if (options.on_result) options.on_result(r);
    run.results.push_back(std::move(r));
  };
  auto unjudged = [&](const Scenario& s, const std::string& why) {
    auto r = result_header(s);
    r.verdict = Verdict::kError;
    r.reason = why;
    return r;
  };
  // What keeps a scenario from running at all: a missing capability (skip), a fixture the
  // target does not serve as written (error: the set-up, not the target), or a cost the
  // measured round trip makes too high (skip, with the estimate).
  auto precheck = [&](const Scenario& s) -> std::optional<report::ScenarioResult> {
    for (const auto& need : s.needs) {
      if (!profile.capabilities.count(need)) {
        auto r = result_header(s);
        r.verdict = Verdict::kSkip;
        r.reason = "the target lacks the '" + need + "' capability (found: " + capability_list(run.target) + ")";
        return r;
      }
    }
    for (const auto& f : s.fixtures) {
      auto problem = profile.fixture_problems.find(f);
      if (problem == profile.fixture_problems.end()) continue;
      // Only a file that is not there, or not as written, is for the user to put right.
      const bool unreadable = problem->second.rfind("unreadable", 0) == 0;
      return unjudged(s, "the fixture " + f + " is " + problem->second +
                             (unreadable ? ": the target did not serve it in full, so what needs it cannot be judged"
                                         : ": write the fixtures with `tftpspec fixtures DIR` into the target's root, or run with --root DIR"));
    }
    const double trips = round_trips(s, profile);
    const Duration rtt = profile.rtt.value_or(std::chrono::milliseconds(1));
    const Duration estimate = std::chrono::duration_cast<Duration>(rtt * trips);
    if (estimate > s.deadline && !(options.include_slow && s.slow)) {
      auto r = result_header(s);
      r.verdict = Verdict::kSkip;
      char text[160];
      std::snprintf(text, sizeof text, "about %.0f round trips: %.1f min at the measured %.1f ms, over its %.0f s budget; --slow runs it",
                    trips, to_seconds(estimate) / 60, to_ms(rtt), to_seconds(s.deadline));
      r.reason = text;
      return r;
    }
    return std::nullopt;
  };
  // `ran` (optional) tells whether the target was exchanged with at all, so that only what
  // the target did is followed by a liveness check.
  auto run_one = [&](const Scenario& s, const std::string& suffix, bool* ran = nullptr) -> report::ScenarioResult {
    if (options.on_start) options.on_start(s.id + suffix);
    if (auto blocked = precheck(s)) return std::move(*blocked);
    if (ran != nullptr) *ran = true;
    const uint64_t seed = mix(options.seed, s.id + suffix);
    auto wire = target.open_wire(seed);
    if (!wire) return unjudged(s, "cannot open sockets: " + wire.error().message);
    char unique[24];
    std::snprintf(unique, sizeof unique, "%08llx", static_cast<unsigned long long>(seed & 0xffffffffu));
    auto result = run_scenario(s, **wire, profile, unique, options.cancel);
    cite_frames(result, (*wire)->finish_capture());
    return result;
  };

  if (cancelled()) {
    run.interrupted = true;
    for (const Scenario* s : selected) deliver(unjudged(*s, kInterruptedReason));
  } else if (!run.target.alive) {
    const std::string why = run.target.notes.empty() ? run.target.address : run.target.notes.front();
    for (const Scenario* s : selected) deliver(unjudged(*s, "the target did not answer discovery (" + why + ")"));
  } else {
    bool sane = true;
    if (sanity) {
      auto first = run_one(*sanity, "#first");
      // A warning (a SHOULD broken) or a note still leaves the target judgeable.
      sane = first.verdict == Verdict::kPass || first.verdict == Verdict::kNote || first.verdict == Verdict::kWarn;
      first.id += "#first";
      const std::string why = first.reason;
      deliver(std::move(first));
      if (!sane && cancelled()) sane = true;  // interrupted, not insane: the loop below marks the rest
      if (!sane) {
        for (const Scenario* s : selected) {
          deliver(unjudged(*s, "the target failed the sanity scenario (" + why + "); nothing else can be judged"));
        }
      }
    }
    if (sane) {
      std::atomic<size_t> next{0};
      std::atomic<bool> dead{false};
      std::string died_after;
      const int jobs = std::max(1, std::min<int>(options.jobs, static_cast<int>(selected.size())));
      auto worker = [&] {
        for (size_t i; (i = next.fetch_add(1)) < selected.size();) {
          const Scenario& s = *selected[i];
          if (cancelled()) {
            deliver(unjudged(s, kInterruptedReason));
            continue;
          }
          if (dead.load()) {
            std::string after;
            {
              std::lock_guard lock(mutex);
              after = died_after;
            }
            deliver(unjudged(s, "not run: the target stopped answering after " + after));
            continue;
          }
          bool ran = false;
          auto r = run_one(s, "", &ran);
          const bool judged_target = r.verdict == Verdict::kFail || r.verdict == Verdict::kWarn || r.verdict == Verdict::kError;
          if (ran && judged_target && !cancelled()) {
            // A non-pass may be a dead target: check with a known-good request before blaming it.
            const bool answering = !dead.load() && probe_alive(target, mix(options.seed, s.id + "#alive"), false).alive;
            if (!answering) {
              std::string after;
              {
                std::lock_guard lock(mutex);
                if (!dead.exchange(true)) {
                  died_after = s.id;
                  run.target_died_after = s.id;
                }
                after = died_after;
              }
              r.reason = "the target stopped answering (noticed after " + after + "); this scenario saw: " + r.reason;
              r.verdict = Verdict::kError;
              r.decided_by.clear();
              r.category.clear();
              r.findings.clear();
              r.incidental.clear();
            }
          }
          if (r.verdict == Verdict::kError && cancelled()) r.reason = kInterruptedReason;
          deliver(std::move(r));
        }
      };
      std::vector<std::thread> threads;
      for (int i = 0; i < jobs; ++i) threads.emplace_back(worker);
      for (auto& t : threads) t.join();
      if (sanity && !dead.load() && !cancelled()) {
        auto last = run_one(*sanity, "#last");
        const bool ok = last.verdict == Verdict::kPass || last.verdict == Verdict::kNote || last.verdict == Verdict::kWarn;
        if (!ok && !run.target_died_after) run.target_died_after = "the last scenario";
        last.id += "#last";
        deliver(std::move(last));
      }
      if (dead.load()) run.target.alive = false;
    }
  }
  run.interrupted = run.interrupted || cancelled();
  report::order_and_summarize(run);
  run.finished = utc_now_iso8601();
  run.duration_ms = to_ms(real_now() - t0);
  return run;
}

}  // namespace tftp::scenario
