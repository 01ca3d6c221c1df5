#include "check/transfer_tracker.h"

#include "common/hash.h"
#include "common/text.h"
#include "proto/answer.h"

namespace tftp::check {

using namespace rule;

std::string RuleEngine::State::label(const TransferState& t) const {
  return std::string(proto::opcode_name(t.request.opcode)) + " " + quote(t.request.filename) + " (client " +
         t.client.to_string() + ", server TID " + t.server.to_string() + ")";
}

void RuleEngine::State::report(const RuleSpec& rule, const std::string& subject, std::string message, std::vector<size_t> evidence,
                               std::string_view detail) {
  if (!reported.insert(std::string(rule.id) + "|" + std::string(rule.requirement) + "|" + subject).second) return;
  std::sort(evidence.begin(), evidence.end());
  evidence.erase(std::unique(evidence.begin(), evidence.end()), evidence.end());
  out.push_back(Finding{std::string(rule.id), std::string(rule.requirement), std::string(rule.citation), rule.level,
                        std::move(message),
                        detail.empty() ? std::string(rule.cause) : std::string(rule.cause) + " (" + std::string(detail) + ")",
                        std::string(rule.category),
                        std::move(evidence)});
}

void RuleEngine::State::report(const RuleSpec& rule, const TransferState& t, std::string message, std::vector<size_t> evidence) {
  report(rule, "transfer " + std::to_string(t.id), label(t) + ": " + message, std::move(evidence));
}

const InputLog* RuleEngine::State::find_inputs(const Address& server) const { return inputs_find(inputs, server); }

const std::vector<size_t>* RuleEngine::State::transfers_on(const Address& server) const {
  return by_server_find(by_server, server);
}

InputLog& RuleEngine::State::inputs_of(const Address& server) {
  // const_cast is sound: the log is an element of this (non-const) engine's own map.
  if (const InputLog* known = find_inputs(server)) return const_cast<InputLog&>(*known);
  return inputs[server];
}

size_t RuleEngine::State::input_mark(const Address& server) const {
  const InputLog* log = find_inputs(server);
  return log == nullptr ? 0 : log->count;
}

// The datagrams that reached `server` from mark `from` on.
InputsSince RuleEngine::State::inputs_since(const Address& server, size_t from) const {
  const InputLog* found = find_inputs(server);
  if (found == nullptr || from >= found->count) return {};
  const InputLog& log = *found;
  const size_t first_kept = log.count - log.recent.size();
  if (from < first_kept) return {std::span<const Input>(log.recent), false};
  return {std::span<const Input>(log.recent).subspan(from - first_kept), true};
}

// A lower bound of the server's retransmission timer: the shortest of the measured timeout
// (first-block or mid-transfer), the negotiated one and the shortest timer-driven
// retransmission seen, else an assumed floor. `why` says which.
Duration RuleEngine::State::timer_floor(const TransferState& t, std::string* why) const {
  std::optional<Duration> floor;
  const bool first_block = !t.data_seen || t.highest <= 1;
  if (const auto& measured = first_block && timing.rto ? timing.rto : timing.srto) {
    floor = *measured;
    *why = "its measured " + std::string(first_block && timing.rto ? "first-block" : "mid-transfer") +
           " timeout of " + ms(*measured);
  }
  if (t.timeout_s && (!floor || std::chrono::seconds(*t.timeout_s) < *floor)) {
    floor = std::chrono::seconds(*t.timeout_s);
    *why = "the negotiated timeout of " + std::to_string(*t.timeout_s) + " s";
  }
  if (min_timer && (!floor || *min_timer < *floor)) {
    floor = *min_timer;
    *why = "its shortest timer-driven retransmission seen, " + ms(*min_timer);
  }
  if (!floor) {
    floor = kAssumedTimerFloor;
    *why = "an assumed minimum of " + ms(kAssumedTimerFloor);
  }
  return *floor;
}

bool RuleEngine::State::too_soon_for_timer(const TransferState& t, Duration gap, std::string* why) const {
  const Duration floor = timer_floor(t, why);
  if (!timing.srto && !timing.rto) return gap * 2 < floor;  // unmeasured: a wide margin
  // An adaptive timer moves with the round trips it sees: one measured at 13 ms during
  // discovery may fire at its 10 ms floor a moment later, on a loaded machine. Half the
  // measured timer still tells a Sorcerer's Apprentice, whose resend follows the duplicate
  // ACK within a round trip, from any timer the measurement describes.
  *why += " less a jitter allowance of " + ms(slack()) + ", and at most half of it";
  return gap < floor - slack() && gap * 2 < floor;
}

TransferState* RuleEngine::State::find_pair(const Address& client, const Address& server) {
  if (last_pair && last_pair_client == client && last_pair_server == server) return &transfers[*last_pair];
  auto it = by_pair.find(PairRef{client, server});
  if (it == by_pair.end()) return nullptr;
  last_pair_client = client;
  last_pair_server = server;
  last_pair = it->second;
  return &transfers[it->second];
}

// A superseded transfer gets no more datagrams (find_pair names the newest); judge_end still
// reads its last block and that block's ACK (check_missing_final) and its counters.
void RuleEngine::State::compact(TransferState& t) {
  t.blocks.keep_only(t.highest);
  t.acks.keep_only(t.highest);
  t.client_data.release();
  t.server_acks.release();
  t.request.options.clear();
  t.request.options.shrink_to_fit();
  t.request.bytes.clear();
  t.request.bytes.shrink_to_fit();
}

void RuleEngine::State::shrink_to_fit() {
  for (auto& t : transfers) {
    t.blocks.shrink_to_fit();
    t.acks.shrink_to_fit();
    t.client_data.shrink_to_fit();
    t.server_acks.shrink_to_fit();
  }
  for (auto& [server, log] : inputs) log.shrink_to_fit();
}

size_t RuleEngine::State::state_bytes() const {
  // Node-based containers (the hash maps): an entry plus about 48 bytes of node and bucket overhead.
  constexpr size_t kNode = 48;
  size_t n = transfers.capacity() * sizeof(TransferState) + strays.capacity() * sizeof(Stray);
  for (const auto& t : transfers) {
    n += t.blocks.bytes() + t.acks.bytes() + t.client_data.bytes() + t.server_acks.bytes();
    n += t.retransmits.capacity() * (sizeof(std::pair<std::string, double>) + 16);
    n += t.retransmit_evidence.capacity() * sizeof(size_t);
    n += t.request.bytes.capacity() + t.request.filename.capacity() + t.client_error_packet.capacity() +
         t.server_error_packet.capacity();
    for (const auto& o : t.request.options) n += sizeof(o) + o.name.capacity() + o.value.capacity();
  }
  for (const auto& s : strays) n += s.packet.capacity();
  for (const auto& [server, log] : inputs) n += sizeof(server) + sizeof(log) + kNode + log.recent.capacity() * sizeof(Input);
  for (const auto& [pair, list] : strays_by_pair) n += sizeof(pair) + kNode + list.capacity() * sizeof(size_t);
  n += (by_pair.size() + by_server.size() + clients.size()) * (sizeof(Pair) + sizeof(ClientState) + kNode);
  for (const auto& f : out) n += sizeof(f) + f.message.capacity() + f.evidence.capacity() * sizeof(size_t) + 128;
  n += reported.size() * (64 + kNode);
  return n;
}

// The absolute block an earlier-or-equal wire number names, searching back a little.
std::optional<uint64_t> RuleEngine::State::find_back(const TransferState& t, uint16_t wire, uint64_t lowest) {
  for (uint64_t a = t.highest + 1; a-- > lowest;) {
    if (t.wire(a) == wire) return a;
  }
  return std::nullopt;
}

uint64_t RuleEngine::State::search_floor(const TransferState& t) {
  const uint64_t back = 2 * t.window + kSearchBack;
  return t.highest > back ? t.highest - back : 0;
}

// A client ACK's absolute block (RRQ transfers).
std::optional<uint64_t> RuleEngine::State::ack_block(const TransferState& t, uint16_t wire) {
  if (!t.data_seen) return wire;  // ACK 0 of the OACK (or an ACK of a block not yet sent)
  if (auto a = find_back(t, wire, search_floor(t))) return a;
  const uint16_t top = t.wire(t.highest);
  if (proto::wire_ahead(top, wire)) return t.highest + proto::wire_distance(top, wire);  // a block not sent yet
  return std::nullopt;
}

// Records a send of a packet the server may retransmit; returns the previous send, if any.
// A resend with nothing received by the server TID in between (and no repeated request)
// is timer-driven: its interval is evidence of the retransmission timer (RFC 1123 §4.2.3.2).
std::optional<SendRecord> RuleEngine::State::record_send(TransferState& t, SendRecord& rec, bool fresh, size_t index,
                                      std::span<const uint8_t> bytes, const std::string& what) {
  const Instant at = seen(index).at;
  const size_t mark = input_mark(t.server);
  std::optional<SendRecord> previous;
  if (fresh) {
    rec = SendRecord{index, at, index, at, 1, static_cast<uint32_t>(bytes.size()), content_digest(bytes), mark};
    return previous;
  }
  previous = rec;
  const auto& client = clients[t.client];
  const bool repeated_request = client.pending && client.pending->at > rec.last_at;
  std::string why;
  const bool credible = !(timing.srto || timing.rto) || !too_soon_for_timer(t, at - rec.last_at, &why);
  if (mark == rec.input_mark && !repeated_request && credible) {
    const Duration interval = at - rec.last_at;
    if (t.retransmits.size() <= kRetransmitsListed) {
      t.retransmits.emplace_back(what, to_ms(interval));
      t.retransmit_evidence.insert(t.retransmit_evidence.end(), {rec.last_index, index});
    }
    if (!min_timer || interval < *min_timer) min_timer = interval;
  }
  rec.last_index = index;
  rec.last_at = at;
  ++rec.sends;
  rec.input_mark = mark;
  return previous;
}

void RuleEngine::State::on_client(size_t index) {
  const Observation& o = seen(index);
  auto packet = proto::parse(o.bytes, proto::Strictness::kLenient);
  const auto* ack = packet ? std::get_if<proto::Ack>(&*packet) : nullptr;
  auto record = [&](InputLog& log) -> Input& {
    Input& in = log.add();
    in.index = index;
    in.from = o.from;
    if (ack != nullptr) in.ack = ack->block;
    return in;
  };
  if (o.to == listen) {
    record(inputs_of(listen));
    if (packet) {
      if (const auto* r = std::get_if<proto::Request>(&*packet)) return on_request(index, *r);
    }
    if (auto* t = find_pair(o.from, listen)) return client_on_transfer(*t, index, packet);
    if (packet && is_error(*packet)) {
      clients[o.from].error_to_listen = index;
      clients[o.from].error_to_listen_at = o.at;
    }
    return;
  }
  const std::vector<size_t>* served = transfers_on(o.to);
  if (served == nullptr) return;  // not a port the target has used
  auto* t = find_pair(o.from, o.to);
  Input& input = record(inputs_of(o.to));
  input.stray = t == nullptr;
  if (input.stray && strays.size() < kStraysKept) {
    input.stray_slot = static_cast<uint32_t>(strays.size());
    strays_by_pair[{o.from, o.to}].push_back(strays.size());
    strays.push_back(Stray{index, o.at, o.from, o.to, summarize(o.bytes), packet && is_error(*packet), served->back()});
  }
  if (t) client_on_transfer(*t, index, packet);
}

void RuleEngine::State::on_request(size_t index, const proto::Request& r) {
  const Observation& o = seen(index);
  ClientState& c = clients[o.from];
  if (c.pending && c.pending->bytes == o.bytes) {
    // A repeated request: it may open one more session (RFC 1350 §4's duplicated request).
    if (c.unbound++ == 0) ++clients_unbound;
    c.pending->index = index;
    c.pending->at = o.at;
    return;
  }
  c.pending = OwnedRequest{index, o.at, r.opcode, std::string(r.filename), r.mode, r.options.to_owned(), o.bytes};
  if (c.unbound == 0) ++clients_unbound;
  c.unbound = 1;
}

void RuleEngine::State::client_on_transfer(TransferState& t, size_t index, const tl::expected<proto::Packet, proto::ParseError>& packet) {
  const Observation& o = seen(index);
  ++t.client_inputs;
  if (!packet) return;
  if (const auto* a = std::get_if<proto::Ack>(&*packet)) {
    if (!t.rrq) return;
    auto block = ack_block(t, a->block);
    if (!block) return;
    ClientRecord& rec = t.acks[*block];
    if (rec.count++ == 0) {
      rec.first_index = index;
      rec.first_at = o.at;
    }
    rec.last_index = index;
    rec.last_at = o.at;
    if (static_cast<int64_t>(*block) > t.ack_max) t.ack_max = static_cast<int64_t>(*block);
    if (t.final_block && *block == *t.final_block) t.completed = true;
    while (t.acks.size() > 2 * t.window + kSearchBack && t.acks.begin()->first + 2 * t.window + kSearchBack < t.highest) {
      t.acks.erase(t.acks.begin());
    }
  } else if (const auto* d = std::get_if<proto::Data>(&*packet)) {
    if (t.rrq) return;
    ClientRecord& rec = t.client_data[d->block];
    if (rec.count++ == 0) {
      rec.first_index = index;
      rec.first_at = o.at;
    }
    rec.last_index = index;
    rec.last_at = o.at;
    if (d->payload.size() < t.blksize) t.client_final = d->block;
    if (!t.client_data_highest || proto::wire_ahead(*t.client_data_highest, d->block)) t.client_data_highest = d->block;
    prune_oldest(t.client_data, [](const ClientRecord& r) { return r.first_index; });
  } else if (const auto* e = std::get_if<proto::ErrorPacket>(&*packet)) {
    // Only a well-formed ERROR surely ends the transfer; a malformed one may be ignored.
    if (!t.client_error && proto::parse(o.bytes, proto::Strictness::kStrict)) {
      t.client_error = index;
      t.client_error_at = o.at;
      t.client_error_code = e->code;
      t.client_error_packet = summarize(o.bytes);
    }
  }
}

void RuleEngine::State::on_server(size_t index) {
  const Observation& o = seen(index);
  auto strict = proto::parse(o.bytes, proto::Strictness::kStrict);
  if (!strict) check_malformed(index, strict.error());
  auto packet = strict ? std::move(strict) : proto::parse(o.bytes, proto::Strictness::kLenient);
  if (!packet) return;
  check_error_code(index, *packet);
  if (TransferState* t = attribute(index, *packet)) return server_on_transfer(*t, index, *packet);
  unattributed(index, *packet);
}

// Which transfer a datagram from server TID S to client C belongs to; opens a transfer for
// a pending request when S answers it. nullptr when it belongs to none.
TransferState* RuleEngine::State::attribute(size_t index, const proto::Packet& p) {
  const Observation& o = seen(index);
  TransferState* t = find_pair(o.to, o.from);
  if (clients_unbound == 0) return t;  // no request can open a session: mid-transfer, the common case
  auto c = clients.find(o.to);
  // A request that may still open a session (it may have been sent twice before either
  // answer came back: RFC 1350 §4's duplicated request).
  const bool pending = c != clients.end() && c->second.unbound > 0 && c->second.pending;
  if (!pending) return t;
  if (t && !((t->ended() || !fits(*t, p)) && plausible_first(c->second.pending->opcode, p))) return t;
  // A stray that the server answers as if it were a client is not a new transfer.
  if (!t && first_stray(o.to, o.from) && live_transfer_on(o.from)) return nullptr;
  return bind(index, c->second, p);
}

// The first stray datagram `who` sent to `server`, if any.
const Stray* RuleEngine::State::first_stray(const Address& who, const Address& server) const {
  auto it = strays_by_pair.find(PairRef{who, server});
  return it == strays_by_pair.end() ? nullptr : &strays[it->second.front()];
}

bool RuleEngine::State::live_transfer_on(const Address& server) const {
  const std::vector<size_t>* served = transfers_on(server);
  if (served == nullptr) return false;
  return std::any_of(served->begin(), served->end(), [&](size_t id) { return !transfers[id].ended(); });
}

bool RuleEngine::State::plausible_first(Opcode request, const proto::Packet& p) {
  return proto::answers_request(request, p);
}

// Whether a datagram can continue transfer `t` (which has not ended).
bool RuleEngine::State::fits(const TransferState& t, const proto::Packet& p) {
  if (is_error(p)) return true;
  if (std::holds_alternative<proto::Oack>(p)) return t.oack_index && !t.data_seen && t.client_data.empty();
  if (const auto* d = std::get_if<proto::Data>(&p)) {
    if (!t.rrq) return false;
    if (!t.data_seen) return true;
    if (find_back(t, d->block, search_floor(t))) return true;
    return proto::wire_ahead(t.wire(t.highest), d->block);
  }
  if (std::holds_alternative<proto::Ack>(p)) return !t.rrq;
  return false;
}

TransferState* RuleEngine::State::bind(size_t index, ClientState& c, const proto::Packet& p) {
  const Observation& o = seen(index);
  TransferState t;
  t.id = transfers.size();
  t.client = o.to;
  t.server = o.from;
  t.request = *c.pending;
  t.rrq = t.request.opcode == Opcode::kRrq;
  if (--c.unbound == 0) --clients_unbound;
  if (auto old = by_pair.find({t.client, t.server}); old != by_pair.end()) compact(transfers[old->second]);
  transfers.push_back(std::move(t));
  TransferState& bound = transfers.back();
  by_pair[{bound.client, bound.server}] = bound.id;
  last_pair.reset();
  by_server[bound.server].push_back(bound.id);
  if (o.from == listen && !is_error(p)) {
    // An ERROR refusing a request from port 69 opens no connection; a transfer served from
    // it uses no new TID.
    report(kReplyFromListenPort, "listen",
           "the server answered " + label(bound) + " with " + proto::describe(p) + " at " + when(o.at) +
               " from its well-known port " + std::to_string(listen.port()) + " instead of a new TID",
           {bound.request.index, index});
  }
  return &bound;
}

void RuleEngine::State::server_on_transfer(TransferState& t, size_t index, const proto::Packet& p) {
  const Observation& o = seen(index);
  if (const auto* e = std::get_if<proto::ErrorPacket>(&p)) {
    on_server_error(t, index, *e);
  } else {
    after_termination(t, index, p);
    if (const auto* oack = std::get_if<proto::Oack>(&p)) {
      on_oack(t, index, *oack);
    } else if (const auto* d = std::get_if<proto::Data>(&p)) {
      if (t.rrq) on_data(t, index, *d);
    } else if (const auto* a = std::get_if<proto::Ack>(&p)) {
      if (!t.rrq) on_server_ack(t, index, *a);
    }
  }
  t.last_server_index = index;
  t.last_server_at = o.at;
  t.last_server_mark = input_mark(t.server);
}

// Whether the only datagrams the server TID received since the server last sent on `t`
// are `stimulus`; then what the server sends now reacts to it (or to a timer).
bool RuleEngine::State::only_input_since_last_send(const TransferState& t, size_t stimulus) const {
  auto since = inputs_since(t.server, t.last_server_mark);
  return since.complete && since.items.size() == 1 && since.items[0].index == stimulus;
}

uint16_t RuleEngine::State::last_server_ack(const TransferState& t) {
  auto best = t.server_acks.begin();
  for (auto it = t.server_acks.begin(); it != t.server_acks.end(); ++it) {
    if (it->second.last_index > best->second.last_index) best = it;
  }
  return best->first;
}

void RuleEngine::State::judge_end() {
  if (observed == 0) return;
  const Instant end = last_at;
  for (auto& t : transfers) {
    check_missing_final(t, end);
    check_sorcerer_count(t);
    if (!t.retransmits.empty()) {
      std::string list;
      size_t shown = 0;
      for (const auto& [what, interval] : t.retransmits) {
        if (shown++ == 12) {
          list += ", ...";
          break;
        }
        char buf[64];
        std::snprintf(buf, sizeof buf, "%.1f ms", interval);
        list += (list.empty() ? "" : ", ") + (what.empty() ? std::string("DATA") : what) + " after " + buf;
      }
      report(kRetransmitIntervals, t,
             "retransmissions with nothing received in between (timer-driven): " + list, t.retransmit_evidence);
    }
  }
  check_unanswered_strays();
}

}  // namespace tftp::check
