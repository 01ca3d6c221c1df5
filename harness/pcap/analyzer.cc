#include "pcap/analyzer.h"

#include <algorithm>
#include <array>
#include <deque>
#include <optional>
#include <unordered_map>

#include "common/address_pair.h"
#include "pcap/capture_reader.h"
#include "proto/answer.h"
#include "proto/block_number.h"

namespace tftp::pcap {

std::string_view outcome_name(Outcome o) {
  switch (o) {
    case Outcome::kComplete: return "complete";
    case Outcome::kError: return "error";
    case Outcome::kIncomplete: return "incomplete";
  }
  return "?";
}

namespace {

constexpr uint16_t kTftpPort = 69;
// Repeats of a request kept until the server answers (each is judged with the transfer).
constexpr size_t kRequestsBuffered = 8;

using ParsedPacket = tl::expected<proto::Packet, proto::ParseError>;
using Pair = AddressPair;
using PairRef = AddressPairRef;
template <class Value>
using PairMap = AddressPairMap<Value>;

// Observation index -> capture frame, for the evidence of findings: the first kHead, and the
// last kTail in a ring. A finding's frames are looked up when it appears, so its evidence is
// recent; evidence older than kTail datagrams by then is listed without frames.
class FrameMap {
 public:
  static constexpr size_t kHead = 64;
  static constexpr size_t kTail = 1024;
  void push(uint64_t frame) {
    if (head_.size() < kHead) {
      if (head_.empty()) head_.reserve(kHead);  // one allocation, not seven growing to 64
      head_.push_back(frame);
    } else if (tail_.size() < kTail) {
      tail_.push_back(frame);  // grows with the transfer: most are short
    } else {
      tail_[(count_ - kHead) % kTail] = frame;
    }
    ++count_;
  }
  std::optional<uint64_t> frame(size_t index) const {
    if (index < head_.size()) return head_[index];
    if (index >= count_ || count_ - index > kTail || index < kHead) return std::nullopt;
    return tail_[(index - kHead) % kTail];
  }
  size_t bytes() const { return (head_.capacity() + tail_.capacity()) * sizeof(uint64_t); }
  void shrink_to_fit() { tail_.shrink_to_fit(); }

 private:
  std::vector<uint64_t> head_;
  std::vector<uint64_t> tail_;
  size_t count_ = 0;
};

struct Pending {
  Address client;
  Address listen;
  proto::Opcode opcode = proto::Opcode::kRrq;
  uint64_t first_frame = 0;
  std::vector<check::Observation> requests;  // the first kRequestsBuffered
  std::vector<uint64_t> frames;
  uint64_t repeats = 0;
};

struct Live {
  Live(Address listen, check::RetentionLimits limits) : engine(std::move(listen), limits) {}
  TransferLog log;
  check::RuleEngine engine;
  FrameMap frames;
  size_t findings_mapped = 0;
  proto::BlockUnwrapper data_blocks;
  proto::BlockUnwrapper ack_blocks;
  bool any_ack = false;
  uint64_t next_block = 1;  // the next block of content
  std::optional<uint64_t> final_block;
  bool gap = false;
  bool ended = false;
  Instant last_at{};
};

std::optional<uint64_t> option_value(const std::vector<proto::OwnedOption>& options, std::string_view name) {
  for (const auto& o : options) {
    if (proto::iequals(o.name, name)) return proto::parse_decimal(o.value);
  }
  return std::nullopt;
}

// The log of a transfer opened by request `p`, its server at `server`.
TransferLog log_of(const Pending& p, size_t id, const Address& server) {
  const auto parsed = proto::parse(p.requests.front().bytes, proto::Strictness::kLenient);
  const auto& r = std::get<proto::Request>(*parsed);  // it parsed as a request when it arrived
  TransferLog log;
  log.id = id;
  log.start = p.requests.front().at;
  log.first_frame = p.first_frame;
  log.client = p.client;
  log.server = server;
  log.listen = p.listen;
  log.opcode = r.opcode;
  log.filename = std::string(r.filename);
  log.mode = std::string(r.mode_text);
  log.requested = r.options.to_owned();
  log.request_retransmissions = p.repeats;
  return log;
}

}  // namespace

struct Analyzer::State {
  State(TransferListener& l, std::vector<uint16_t> p, AnalyzerLimits lim)
      : listener(l), ports(std::move(p)), limits(lim), decoder(lim.reassembly) {}

  TransferListener& listener;
  std::vector<uint16_t> ports;
  AnalyzerLimits limits;
  Decoder decoder;
  CaptureStats stats;
  size_t next_id = 1;
  std::unordered_map<size_t, std::unique_ptr<Live>> live;
  PairMap<size_t> by_pair;                                      // (client, server TID)
  PairMap<size_t> by_request;                                   // (client, listen): repeats of its request
  std::unordered_map<Address, size_t> by_tid;                   // server TID (not a listen port): strays
  std::unordered_map<Address, Pending> pending;                 // by client address
  // The last two lookups of by_pair and their answers (a transfer's two directions, mostly):
  // consecutive datagrams tend to belong to one transfer, and a hash lookup of two addresses
  // was the analysis's most expensive step after reading. Forgotten whenever by_pair changes.
  struct PairLookup {
    Address client;
    Address server;
    size_t id = 0;
    Live* transfer = nullptr;  // nullptr: no such pair
  };
  std::array<std::optional<PairLookup>, 2> recent_lookups;  // nullopt: nothing remembered there
  size_t recent_next = 0;                                    // the slot the next lookup takes
  std::pair<size_t, Live*> transfer_of(const Address& client, const Address& server);
  // Every slot, whatever recent_next says: a slot left holding a closed transfer's Live was a
  // use after free (found by fuzz_capture, corpus found-stale-pair-lookup).
  void forget_lookups() { recent_lookups.fill(std::nullopt); }

  std::optional<Instant> next_sweep;
  // Ids of transfers in the order they ended, some since closed: the eviction order when the
  // live table is full (closing an ended transfer loses nothing), without scanning the table
  // for each new transfer. Kept at most a few times the table's size (compact_ended).
  std::deque<size_t> ended_order;
  check::Observation scratch;  // reused: one allocation for the bytes, not one per datagram

  bool forced(uint16_t port) const {
    return port == kTftpPort || std::find(ports.begin(), ports.end(), port) != ports.end();
  }

  void add(const Frame& f);
  void datagram(const Frame& f, const Datagram& d);
  void request(const Frame& f, const Datagram& d, const proto::Request& r);
  void confirm(const Frame& f, const Datagram& d, const ParsedPacket& parsed, Pending&& p);
  // `parsed` is proto::parse(payload, kLenient), done once per datagram by datagram().
  void feed(Live& t, const Frame& f, const Address& from, const Address& to, std::span<const uint8_t> payload,
            const ParsedPacket& parsed, check::Direction dir);
  void feed(Live& t, const check::Observation& o, uint64_t frame, const ParsedPacket& parsed);
  void count(Live& t, const check::Observation& o, const ParsedPacket& parsed);
  void on_data(Live& t, const proto::Data& d);
  void on_ack(Live& t, const proto::Ack& a);
  void map_findings(Live& t);
  void end(Live& t);
  bool close_oldest_ended();
  void compact_ended();
  void close(size_t id, std::string reason);
  void unanswered(Pending&& p);
  void sweep(Instant now);
};

void Analyzer::State::add(const Frame& f) {
  ++stats.frames;
  if (!next_sweep || f.at >= *next_sweep) {
    sweep(f.at);
    next_sweep = f.at + std::chrono::seconds(1);
  }
  auto d = decoder.decode(f);
  const auto dropped = decoder.take_dropped();
  if (dropped.timeout) stats.malformed[std::string(DecodeError{DecodeErrc::kFragmentTimeout, 0}.id())] += dropped.timeout;
  if (dropped.table_full) stats.malformed[std::string(DecodeError{DecodeErrc::kFragmentTableFull, 0}.id())] += dropped.table_full;
  if (!d) {
    (d.error().skipped() ? stats.skipped : stats.malformed)[std::string(d.error().id())]++;
    return;
  }
  if (!*d) return;  // a fragment, held
  ++stats.udp_datagrams;
  datagram(f, **d);
}

void Analyzer::State::datagram(const Frame& f, const Datagram& d) {
  const auto parsed = proto::parse(d.payload, proto::Strictness::kLenient);
  const auto* req = parsed ? std::get_if<proto::Request>(&*parsed) : nullptr;
  if (auto [id, t] = transfer_of(d.from, d.to); t != nullptr) {
    // A server answering from its listen port: the client's next request on the same ports
    // starts a new transfer once this one has ended.
    if (!(t->ended && req != nullptr && d.to == t->log.listen)) {
      if (req != nullptr && d.to == t->log.listen) ++t->log.request_retransmissions;
      feed(*t, f, d.from, d.to, d.payload, parsed, check::Direction::kToTarget);
      return;
    }
    close(id, {});
  }
  if (auto [id, t] = transfer_of(d.to, d.from); t != nullptr) {
    feed(*t, f, d.from, d.to, d.payload, parsed, check::Direction::kFromTarget);
    return;
  }
  if (auto it = pending.find(d.to); it != pending.end() && d.from.same_host(it->second.listen) && parsed &&
                                    proto::answers_request(it->second.opcode, *parsed)) {
    Pending p = std::move(it->second);
    pending.erase(it);
    confirm(f, d, parsed, std::move(p));
    return;
  }
  if (req != nullptr) {
    if (auto it = by_request.find(PairRef{d.from, d.to}); it != by_request.end()) {
      // The client repeats its request while the server's answer is under way.
      Live& t = *live.at(it->second);
      if (!t.ended) {
        ++t.log.request_retransmissions;
        feed(t, f, d.from, d.to, d.payload, parsed, check::Direction::kToTarget);
        return;
      }
    }
    if (req->mode != proto::Mode::kUnknown || forced(d.to.port())) {
      request(f, d, *req);
      return;
    }
  }
  if (auto it = by_tid.find(d.to); it != by_tid.end()) {  // a stray to a server TID
    feed(*live.at(it->second), f, d.from, d.to, d.payload, parsed, check::Direction::kToTarget);
    return;
  }
  if (auto it = by_tid.find(d.from); it != by_tid.end()) {
    feed(*live.at(it->second), f, d.from, d.to, d.payload, parsed, check::Direction::kFromTarget);
    return;
  }
  ++stats.not_tftp;
}

// by_pair.find, remembered (see recent_lookups).
std::pair<size_t, Live*> Analyzer::State::transfer_of(const Address& client, const Address& server) {
  for (const auto& l : recent_lookups) {
    if (l && l->client == client && l->server == server) return {l->id, l->transfer};
  }
  PairLookup l{client, server, 0, nullptr};
  if (auto it = by_pair.find(PairRef{client, server}); it != by_pair.end()) {
    l.id = it->second;
    l.transfer = live.at(it->second).get();
  }
  recent_lookups[recent_next] = l;
  recent_next = (recent_next + 1) % recent_lookups.size();
  return {l.id, l.transfer};
}

void Analyzer::State::request(const Frame& f, const Datagram& d, const proto::Request& r) {
  auto it = pending.find(d.from);
  if (it != pending.end() && !(it->second.listen == d.to && it->second.opcode == r.opcode)) {
    unanswered(std::move(it->second));  // the client moved on to another request
    pending.erase(it);
    it = pending.end();
  }
  if (it == pending.end()) {
    if (pending.size() >= limits.pending_requests) {
      auto oldest = std::min_element(pending.begin(), pending.end(), [](const auto& a, const auto& b) {
        return a.second.first_frame < b.second.first_frame;
      });
      ++stats.requests_dropped;
      pending.erase(oldest);
    }
    Pending p;
    p.client = d.from;
    p.listen = d.to;
    p.opcode = r.opcode;
    p.first_frame = f.number;
    it = pending.emplace(d.from, std::move(p)).first;
  } else {
    ++it->second.repeats;
  }
  if (it->second.requests.size() < kRequestsBuffered) {
    it->second.requests.push_back(
        check::Observation{f.at, check::Direction::kToTarget, d.from, d.to, {d.payload.begin(), d.payload.end()}});
    it->second.frames.push_back(f.number);
  }
}

void Analyzer::State::confirm(const Frame& f, const Datagram& d, const ParsedPacket& parsed, Pending&& p) {
  // The first to end goes first (it was only lingering for late datagrams: nothing is lost);
  // with none ended, the least recently active.
  if (live.size() >= limits.live_transfers && !close_oldest_ended()) {
    auto victim = std::min_element(live.begin(), live.end(),
                                   [](const auto& a, const auto& b) { return a.second->last_at < b.second->last_at; });
    ++stats.transfers_evicted;
    close(victim->first, "evicted: more than " + std::to_string(limits.live_transfers) + " transfers at once");
  }
  // A server reusing the TID of a transfer still lingering: the old one has ended.
  if (auto old = by_pair.find({p.client, d.from}); old != by_pair.end()) close(old->second, {});
  const size_t id = next_id++;
  auto t = std::make_unique<Live>(p.listen, limits.retention);
  // Timing from the capture: the request-to-answer delay is one round trip as seen where the
  // capture was taken (plus the server's turnaround, which only widens the windows). One
  // sample says nothing of its spread, so half of it is allowed as jitter. The server's
  // retransmission timeouts are not measured: the engine learns them from what it sees.
  const Duration rtt = std::max(Duration::zero(), f.at - p.requests.front().at);
  t->engine.set_timing(check::PathTiming{rtt, rtt / 2, std::nullopt, std::nullopt});
  t->log = log_of(p, id, d.from);
  Live& ref = *t;
  live.emplace(id, std::move(t));
  stats.peak_live_transfers = std::max(stats.peak_live_transfers, live.size());
  ++stats.transfers;
  by_pair[{p.client, d.from}] = id;
  forget_lookups();
  by_request[{p.client, p.listen}] = id;
  if (d.from != p.listen) by_tid[d.from] = id;
  for (size_t i = 0; i < p.requests.size(); ++i) {
    feed(ref, p.requests[i], p.frames[i], proto::parse(p.requests[i].bytes, proto::Strictness::kLenient));
  }
  feed(ref, f, d.from, d.to, d.payload, parsed, check::Direction::kFromTarget);
}

void Analyzer::State::feed(Live& t, const Frame& f, const Address& from, const Address& to,
                           std::span<const uint8_t> payload, const ParsedPacket& parsed, check::Direction dir) {
  scratch.at = f.at;
  scratch.direction = dir;
  scratch.from = from;
  scratch.to = to;
  scratch.bytes.assign(payload.begin(), payload.end());
  feed(t, scratch, f.number, parsed);
}

void Analyzer::State::feed(Live& t, const check::Observation& o, uint64_t frame, const ParsedPacket& parsed) {
  ++stats.tftp_datagrams;
  t.engine.observe(o);
  t.frames.push(frame);
  if (t.engine.finding_count() > t.findings_mapped) map_findings(t);
  t.last_at = o.at;
  t.log.end = o.at;
  t.log.last_frame = frame;
  ++t.log.datagrams;
  count(t, o, parsed);
  listener.on_datagram(t.log, o, frame);
}

// Only the findings since the last call (not a copy of them all after each datagram).
void Analyzer::State::map_findings(Live& t) {
  for (const auto& finding : t.engine.findings_from(t.findings_mapped)) {
    FindingLog f{finding, {}};
    for (size_t index : f.finding.evidence) {
      if (auto frame = t.frames.frame(index)) f.frames.push_back(*frame);
    }
    t.log.findings.push_back(std::move(f));
  }
  t.findings_mapped = t.engine.finding_count();
}

void Analyzer::State::count(Live& t, const check::Observation& o, const ParsedPacket& p) {
  const bool from_client = o.from == t.log.client;
  const bool from_server = o.from == t.log.server;
  if (!from_client && !from_server) return;  // a stray: judged by the engine, not logged
  if (!p) return;
  const bool rrq = t.log.opcode == proto::Opcode::kRrq;
  const bool data_sender = rrq ? from_server : from_client;
  if (const auto* d = std::get_if<proto::Data>(&*p); d != nullptr && data_sender) {
    on_data(t, *d);
  } else if (const auto* a = std::get_if<proto::Ack>(&*p); a != nullptr && !data_sender) {
    on_ack(t, *a);
  } else if (const auto* oack = std::get_if<proto::Oack>(&*p); oack != nullptr && from_server && !t.log.oack) {
    t.log.oack = true;
    t.log.negotiated = oack->options.to_owned();
    if (auto v = option_value(t.log.negotiated, proto::kBlksize); v && proto::blksize_in_range(*v)) t.log.blksize = *v;
    if (auto v = option_value(t.log.negotiated, proto::kWindowsize); v && proto::windowsize_in_range(*v)) {
      t.log.windowsize = *v;
    }
  } else if (const auto* e = std::get_if<proto::ErrorPacket>(&*p); e != nullptr && !t.log.error) {
    t.log.error = TransferError{e->code, std::string(e->message), from_server};
    if (t.log.outcome != Outcome::kComplete) t.log.outcome = Outcome::kError;
    end(t);
  }
}

void Analyzer::State::on_data(Live& t, const proto::Data& d) {
  const uint64_t block = t.data_blocks.unwrap(d.block);
  t.log.blocks_sent = std::max(t.log.blocks_sent, block);
  if (block < t.next_block || (t.final_block && block > *t.final_block)) {
    if (block < t.next_block) ++t.log.retransmissions;
    return;
  }
  if (block > t.next_block) t.gap = true;  // blocks the capture missed: the content is cut here
  t.log.bytes += d.payload.size();
  if (!t.gap) listener.on_content(t.log, d.payload);
  t.next_block = block + 1;
  if (d.payload.size() < t.log.blksize) t.final_block = block;
  if (t.final_block && t.any_ack && t.log.blocks_acked >= *t.final_block && !t.log.error) {
    t.log.outcome = Outcome::kComplete;
    end(t);
  }
}

void Analyzer::State::on_ack(Live& t, const proto::Ack& a) {
  const uint64_t block = t.ack_blocks.unwrap(a.block);
  if (t.any_ack && block <= t.log.blocks_acked) {
    ++t.log.duplicates;
  } else {
    t.log.blocks_acked = block;
    t.any_ack = true;
  }
  if (t.final_block && t.log.blocks_acked >= *t.final_block && !t.log.error) {
    t.log.outcome = Outcome::kComplete;
    end(t);
  }
}

void Analyzer::State::end(Live& t) {
  if (t.ended) return;
  t.ended = true;
  // It lingers (limits.linger) for late datagrams, with up to limits.live_transfers others:
  // without their spare room, the memory its records grew into goes to the next transfer
  // while still in the cache, and the table takes less than half the memory (bench/RESULTS.md).
  t.engine.shrink_to_fit();
  t.frames.shrink_to_fit();
  ended_order.push_back(t.log.id);
  if (ended_order.size() > 4 * limits.live_transfers) compact_ended();
}

bool Analyzer::State::close_oldest_ended() {
  while (!ended_order.empty()) {
    const size_t id = ended_order.front();
    ended_order.pop_front();
    if (auto it = live.find(id); it != live.end()) {
      close(id, {});
      return true;
    }
  }
  return false;
}

// Drops the ids of transfers already closed (by a sweep, or replaced), keeping the order.
void Analyzer::State::compact_ended() {
  std::erase_if(ended_order, [this](size_t id) { return !live.contains(id); });
}

void Analyzer::State::close(size_t id, std::string reason) {
  auto it = live.find(id);
  if (it == live.end()) return;
  Live& t = *it->second;
  t.engine.finish();  // its end-of-transfer findings join the others: mapped below
  map_findings(t);
  TransferLog& log = t.log;
  log.content_complete = t.final_block.has_value() && !t.gap;
  if (log.outcome == Outcome::kIncomplete) {
    if (log.blocks_sent == 0) log.reason = "no DATA seen";
    else if (!t.final_block) log.reason = "the final block was not seen (last block " + std::to_string(log.blocks_sent) + ")";
    else log.reason = "the final block " + std::to_string(*t.final_block) + " was not acknowledged";
    if (!reason.empty()) log.reason += "; " + reason;
  }
  if (t.gap && log.outcome != Outcome::kError) {
    log.reason += std::string(log.reason.empty() ? "" : "; ") + "blocks missing from the capture";
  }
  if (auto p = by_pair.find({log.client, log.server}); p != by_pair.end() && p->second == id) by_pair.erase(p);
  forget_lookups();  // the Live they point to is about to go
  if (auto r = by_request.find({log.client, log.listen}); r != by_request.end() && r->second == id) by_request.erase(r);
  if (auto s = by_tid.find(log.server); s != by_tid.end() && s->second == id) by_tid.erase(s);
  TransferLog out = std::move(log);
  live.erase(it);
  listener.on_end(std::move(out));
}

void Analyzer::State::unanswered(Pending&& p) {
  ++stats.requests_unanswered;
  // Only where TFTP is expected (port 69, --port): elsewhere a request-shaped datagram that
  // nobody answered is most likely not TFTP at all.
  if (!forced(p.listen.port())) {
    stats.not_tftp += p.repeats + 1;
    return;
  }
  stats.tftp_datagrams += p.repeats + 1;
  TransferLog log = log_of(p, next_id++, p.listen);
  log.end = p.requests.back().at;
  log.last_frame = p.frames.back();
  log.datagrams = p.repeats + 1;
  log.reason = "no answer from the server";
  ++stats.transfers;
  listener.on_end(std::move(log));
}

void Analyzer::State::sweep(Instant now) {
  std::vector<size_t> done;
  for (const auto& [id, t] : live) {
    const Duration quiet = now - t->last_at;
    if (quiet > (t->ended ? limits.linger : limits.idle)) done.push_back(id);
  }
  std::sort(done.begin(), done.end());
  for (size_t id : done) {
    close(id, "silent for " + std::to_string(std::chrono::duration_cast<std::chrono::seconds>(limits.idle).count()) + " s");
  }
  compact_ended();
  for (auto it = pending.begin(); it != pending.end();) {
    if (now - it->second.requests.back().at > limits.request_timeout) {
      unanswered(std::move(it->second));
      it = pending.erase(it);
    } else {
      ++it;
    }
  }
}

Analyzer::Analyzer(TransferListener& listener, std::vector<uint16_t> ports, AnalyzerLimits limits)
    : s_(std::make_unique<State>(listener, std::move(ports), limits)) {}
Analyzer::~Analyzer() = default;

void Analyzer::add(const Frame& frame) { s_->add(frame); }

void Analyzer::finish() {
  std::vector<size_t> ids;
  for (const auto& [id, t] : s_->live) ids.push_back(id);
  std::sort(ids.begin(), ids.end());
  for (size_t id : ids) s_->close(id, "the capture ended");
  std::vector<Pending> left;
  for (auto& [client, p] : s_->pending) left.push_back(std::move(p));
  s_->pending.clear();
  std::sort(left.begin(), left.end(), [](const Pending& a, const Pending& b) { return a.first_frame < b.first_frame; });
  for (auto& p : left) s_->unanswered(std::move(p));
}

void Analyzer::note_read_error(Error e) { s_->stats.read_error = std::move(e); }
const CaptureStats& Analyzer::stats() const { return s_->stats; }
size_t Analyzer::live_transfers() const { return s_->live.size(); }

size_t Analyzer::retained_bytes() const {
  size_t n = 0;
  for (const auto& [id, t] : s_->live) n += sizeof(Live) + t->engine.retained_bytes() + t->frames.bytes();
  return n;
}

bool analyze_all(CaptureReader& reader, Analyzer& analyzer, const std::atomic<bool>* cancel) {
  for (;;) {
    if (cancel != nullptr && cancel->load()) {
      analyzer.finish();
      return false;
    }
    auto frame = reader.next();
    if (!frame) {
      analyzer.note_read_error(frame.error());
      break;
    }
    if (!*frame) break;
    analyzer.add(**frame);
  }
  analyzer.finish();
  return true;
}

Result<CaptureStats> analyze_file(const std::string& path, TransferListener& listener, std::vector<uint16_t> ports,
                                  AnalyzerLimits limits) {
  auto reader = CaptureReader::open(path);
  if (!reader) return tl::unexpected(reader.error());
  Analyzer analyzer(listener, std::move(ports), limits);
  analyze_all(*reader, analyzer);
  return analyzer.stats();
}

}  // namespace tftp::pcap
