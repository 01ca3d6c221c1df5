// The rule engine. Reading guide:
//   1. the rule table (ids, checklist requirement, citation, level);
//   2. per-transfer state: what the server sent, what the client sent, what was negotiated;
//   3. attribution: which transfer (client C, server TID S) a datagram belongs to;
//   4. the checks run as each datagram arrives, then the end-of-run checks in finish().
//
// Everything the engine knows is what the observations show, in order. A rule fires only
// when the observations prove the server wrong whatever the client and the network did;
// where a server timer could explain what was seen, the rule stays silent.
#include "check/rules.h"

#include <algorithm>
#include <cstdio>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <unordered_map>
#include <unordered_set>
#include <utility>

#include "proto/packet.h"

namespace tftp::check {

using namespace std::chrono_literals;
using proto::Opcode;

std::string_view level_name(Level level) {
  switch (level) {
    case Level::kMust: return "MUST";
    case Level::kShould: return "SHOULD";
    case Level::kInfo: return "INFO";
  }
  return "?";
}

namespace {

// --- 1. Rules -------------------------------------------------------------------------------

struct RuleSpec {
  std::string_view id;
  std::string_view requirement;
  std::string_view citation;
  Level level;
};

constexpr std::string_view kNegotiation = "RFC 2347, Negotiation Protocol";

// RFC 1350 §5 gives the packet formats; a datagram from the server must be one of them.
constexpr RuleSpec kMalformedError{"tftp.rule.malformed_from_server", "T1350-ERR-FMT", "RFC 1350 §5", Level::kMust};
constexpr RuleSpec kMalformedOack{"tftp.rule.malformed_from_server", "T2347-FMT", "RFC 2347, Packet Formats", Level::kMust};
constexpr RuleSpec kMalformedData{"tftp.rule.malformed_from_server", "T2348-RANGE", "RFC 2348, Blocksize Option Specification", Level::kMust};
constexpr RuleSpec kMalformedOther{"tftp.rule.malformed_from_server", "T1350-PKT-FMT", "RFC 1350 §5", Level::kMust};
// RFC 1350 §4: "The response to the request ... uses a TID chosen by the server as its source TID".
constexpr RuleSpec kReplyFromListenPort{"tftp.rule.reply_from_listen_port", "T1350-TID-NEW", "RFC 1350 §4", Level::kShould};
// RFC 1350 §2: each DATA "must be acknowledged by an acknowledgment packet before the next packet can be sent".
constexpr RuleSpec kLockstep{"tftp.rule.lockstep_violation", "T1350-LOCKSTEP", "RFC 1350 §2", Level::kMust};
// RFC 2347: after an OACK to an RRQ the client's ACK 0 starts the transfer.
constexpr RuleSpec kDataBeforeAck0{"tftp.rule.lockstep_violation", "T2347-CLIENT-ACK0", kNegotiation, Level::kMust};
// RFC 7440 §4: the sender sends windowsize blocks, then stops and waits for the ACK of the window.
constexpr RuleSpec kWindow{"tftp.rule.lockstep_violation", "T7440-WINDOW", "RFC 7440 §4", Level::kMust};
// RFC 1123 §4.2.3.1: the sender "must never resend the current DATA packet on receipt of a duplicate ACK".
constexpr RuleSpec kSorcerer{"tftp.rule.sorcerers_apprentice", "T1123-SAS", "RFC 1123 §4.2.3.1", Level::kMust};
// RFC 1350 §4/§5: "block numbers are consecutive and begin with one".
constexpr RuleSpec kBlockSequence{"tftp.rule.block_sequence", "T1350-BLK-SEQ", "RFC 1350 §5", Level::kMust};
// RFC 1350 §6 (and RFC 2348): a DATA shorter than the block size ends the transfer.
constexpr RuleSpec kDataAfterFinal{"tftp.rule.data_after_final", "T1350-END-SHORT", "RFC 1350 §6", Level::kMust};
// RFC 1350 §5: "The data field is from zero to 512 bytes long"; RFC 2348 replaces 512 by blksize.
constexpr RuleSpec kOversize{"tftp.rule.oversize_data", "T2348-NEG", "RFC 2348, Blocksize Option Specification", Level::kMust};
// RFC 1350 §6: only a DATA of 0..blksize-1 bytes ends a transfer, so a full last block needs a 0-byte one.
constexpr RuleSpec kMissingFinal{"tftp.rule.missing_final_block", "T1350-END-ZERO", "RFC 1350 §6", Level::kMust};
// RFC 2347: "The server must not include in the OACK any option which had not been specifically requested".
constexpr RuleSpec kOackUnrequested{"tftp.rule.oack_unrequested_option", "T2347-OACK", kNegotiation, Level::kMust};
constexpr RuleSpec kOackWithoutOptions{"tftp.rule.oack_without_options", "T2347-UNKNOWN", kNegotiation, Level::kMust};
// RFC 2348: blksize is 8..65464, and the OACK value "must be less than or equal to" the requested one.
constexpr RuleSpec kOackBlksizeRange{"tftp.rule.oack_value", "T2348-RANGE", "RFC 2348, Blocksize Option Specification", Level::kMust};
constexpr RuleSpec kOackBlksizeNeg{"tftp.rule.oack_value", "T2348-NEG", "RFC 2348, Blocksize Option Specification", Level::kMust};
// RFC 2349: timeout is 1..255 and "must match the value specified by the client".
constexpr RuleSpec kOackTimeout{"tftp.rule.oack_value", "T2349-TIMEOUT", "RFC 2349, Timeout Interval Option Specification", Level::kMust};
// RFC 7440 §3: windowsize is 1..65535 and the OACK value "MUST be less than or equal to" the requested one.
constexpr RuleSpec kOackWindowsize{"tftp.rule.oack_value", "T7440-RANGE", "RFC 7440 §3", Level::kMust};
// RFC 2349: an RRQ's OACK returns the size of the file in octets; a WRQ's echoes the client's size.
constexpr RuleSpec kOackTsizeRead{"tftp.rule.oack_value", "T2349-TSIZE-R", "RFC 2349, Transfer Size Option Specification", Level::kMust};
constexpr RuleSpec kOackTsizeWrite{"tftp.rule.oack_value", "T2349-TSIZE-W", "RFC 2349, Transfer Size Option Specification", Level::kMust};
// RFC 1350 Appendix (codes 0..7) and RFC 2347 (code 8) define the error codes.
constexpr RuleSpec kErrorCodeUndefined{"tftp.rule.error_code_undefined", "T1350-ERR-FMT", "RFC 1350 §5", Level::kShould};
// RFC 1350 §7: an ERROR "will not be retransmitted or acknowledged".
constexpr RuleSpec kErrorRetransmitted{"tftp.rule.error_retransmitted", "T1350-ERR-NORTX", "RFC 1350 §7", Level::kMust};
constexpr RuleSpec kAckForError{"tftp.rule.ack_for_error", "T1350-ERR-NORTX", "RFC 1350 §7", Level::kMust};
// RFC 1350 §2: "Most errors cause termination of the connection" (all but a wrong source TID).
constexpr RuleSpec kSentAfterError{"tftp.rule.sent_after_error", "T1350-ERR-TERM", "RFC 1350 §2", Level::kMust};
constexpr RuleSpec kSentAfterOwnError{"tftp.rule.sent_after_own_error", "T1350-ERR-TERM", "RFC 1350 §2", Level::kMust};
// RFC 1350 §2/§4: a wrong source TID is the one error that does not terminate the transfer; the
// stray is discarded "while not disturbing the transfer".
constexpr RuleSpec kStrayDisturbed{"tftp.rule.stray_disturbed_transfer", "T1350-TID-STRAY", "RFC 1350 §2, §4", Level::kMust};
constexpr RuleSpec kStrayAccepted{"tftp.rule.stray_accepted", "T1350-TID-STRAY", "RFC 1350 §4", Level::kMust};
// RFC 1350 §4: "An error packet should be sent to the source of the incorrect packet".
constexpr RuleSpec kStrayNotAnswered{"tftp.rule.stray_not_answered", "T1350-TID-STRAY", "RFC 1350 §4", Level::kShould};
constexpr RuleSpec kStraySilentInfo{"tftp.info.stray_not_answered", "T1350-TID-STRAY", "RFC 1350 §4", Level::kInfo};
// RFC 1350 §2: on timeout the sender retransmits "that lost packet", not different bytes.
constexpr RuleSpec kRetransmissionDiffers{"tftp.rule.retransmission_differs", "T1350-RTX", "RFC 1350 §2", Level::kMust};
constexpr RuleSpec kRetransmitIntervals{"tftp.info.retransmit_intervals", "T1123-RTO", "RFC 1123 §4.2.3.2", Level::kInfo};
constexpr RuleSpec kRolloverTo0{"tftp.info.rollover_to_0", "DF-ROLLOVER", "RFC 1350 §5 (de facto)", Level::kInfo};
constexpr RuleSpec kRolloverTo1{"tftp.info.rollover_to_1", "DF-ROLLOVER", "RFC 1350 §5 (de facto)", Level::kInfo};

// Packets already on their way when a peer's ERROR arrived are not held against the server.
constexpr Duration kGrace = 100ms;
// How soon after a stimulus a datagram must follow to count as the server's reaction to it.
constexpr Duration kReaction = 200ms;
// With no other evidence of the server's retransmission timer, it is taken to be at least this.
constexpr Duration kAssumedTimerFloor = 200ms;
// How long the client must visibly wait before a missing final block is reported.
constexpr Duration kPatience = 1s;
// How far back (in blocks, beyond two windows) a DATA still counts as a retransmission.
constexpr uint64_t kSearchBack = 64;

// --- 2. State -------------------------------------------------------------------------------

struct OwnedRequest {
  size_t index = 0;
  Instant at{};
  Opcode opcode = Opcode::kRrq;
  std::string filename;
  proto::Mode mode = proto::Mode::kUnknown;
  std::vector<proto::OwnedOption> options;
  std::vector<uint8_t> bytes;
};

// Requests a client sent to the listen address that no server TID has answered yet.
struct ClientState {
  std::optional<OwnedRequest> pending;
  int unbound = 0;  // how many more sessions the pending request may open (it may be repeated)
  std::optional<size_t> error_to_listen;  // the last ERROR (not a request) sent to the listen port
};

// One packet the server sent (a DATA block, an ACK, the OACK) and its retransmissions.
struct SendRecord {
  size_t first_index = 0;
  size_t last_index = 0;
  Instant last_at{};
  uint32_t sends = 0;
  size_t size = 0;
  size_t hash = 0;
  size_t input_mark = 0;  // datagrams that had reached the server TID when it was last sent
};

// One block the client acknowledged (RRQ) or sent (WRQ).
struct ClientRecord {
  uint32_t count = 0;
  size_t first_index = 0;
  Instant first_at{};
  size_t last_index = 0;
  Instant last_at{};
};

struct Stray {
  size_t index;
  Instant at;
  Address from;
  Address to;
  bool is_error;
  size_t transfer;  // the transfer S was serving
  bool answered = false;
};

struct TransferState {
  size_t id = 0;
  Address client;
  Address server;
  OwnedRequest request;
  bool rrq = true;

  // Negotiation (the first OACK).
  std::optional<size_t> oack_index;
  std::optional<SendRecord> oack_sends;
  size_t blksize = proto::kDefaultBlockSize;
  bool blksize_negotiated = false;
  uint64_t window = 1;
  std::optional<uint64_t> timeout_s;
  std::optional<uint64_t> oack_tsize;

  // The server sending DATA (RRQ). Block numbers are absolute; the wire carries them mod 2^16.
  bool data_seen = false;
  uint64_t highest = 0;
  std::optional<uint16_t> rollover;  // block number after 65535, once seen
  std::optional<uint64_t> final_block;
  uint64_t bytes = 0;
  bool sequence_broken = false;
  bool sequence_gap = false;  // blocks skipped after the client acknowledged them unsent
  std::map<uint64_t, SendRecord> blocks;
  int64_t ack_max = -1;
  std::map<uint64_t, ClientRecord> acks;

  // The server receiving DATA (WRQ), by wire block number.
  std::map<uint16_t, ClientRecord> client_data;
  std::optional<uint16_t> client_final;
  std::map<uint16_t, SendRecord> server_acks;

  // Termination.
  bool completed = false;
  std::optional<size_t> client_error;
  Instant client_error_at{};
  uint16_t client_error_code = 0;
  std::optional<size_t> server_error;  // the first
  Instant server_error_at{};
  std::optional<size_t> last_server_error;
  uint64_t client_inputs_at_last_error = 0;

  // Timing.
  std::optional<size_t> last_server_index;
  Instant last_server_at{};
  size_t last_server_mark = 0;
  uint64_t client_inputs = 0;
  std::optional<Instant> last_trigger_at;  // when the client sent the input behind the latest progress

  std::vector<std::pair<std::string, double>> retransmits;  // timer-driven: what, interval in ms

  bool ended() const { return completed || client_error || server_error; }
};

size_t hash_bytes(std::span<const uint8_t> b) {
  return std::hash<std::string_view>{}(std::string_view(reinterpret_cast<const char*>(b.data()), b.size()));
}

std::string ms(Duration d) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f ms", to_ms(d));
  return buf;
}

std::string quoted(std::string_view s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    if (c >= 0x20 && c < 0x7f && c != '"') {
      out += static_cast<char>(c);
    } else {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    }
  }
  return out + "\"";
}

// Values requested for an option name; a request may (wrongly) repeat an option.
std::vector<std::string_view> requested_values(const OwnedRequest& r, std::string_view name) {
  std::vector<std::string_view> out;
  for (const auto& o : r.options) {
    if (proto::iequals(o.name, name)) out.push_back(o.value);
  }
  return out;
}

bool is_error(const proto::Packet& p) { return std::holds_alternative<proto::ErrorPacket>(p); }

// (client, server TID): the key of a transfer.
using Pair = std::pair<Address, Address>;
struct PairHash {
  size_t operator()(const Pair& p) const { return p.first.hash() * 1000003u ^ p.second.hash(); }
};

// Bounds the per-block maps of a long transfer: drops the entry first seen longest ago.
template <class Map, class FirstIndex>
void prune_oldest(Map& map, FirstIndex first_index) {
  constexpr size_t kKeep = 256;
  if (map.size() <= kKeep) return;
  auto oldest = map.begin();
  for (auto it = map.begin(); it != map.end(); ++it) {
    if (first_index(it->second) < first_index(oldest->second)) oldest = it;
  }
  map.erase(oldest);
}

}  // namespace

// --- 3. The engine --------------------------------------------------------------------------

struct RuleEngine::State {
  explicit State(Address l) : listen(std::move(l)) {}

  Address listen;
  std::vector<Observation> obs;
  std::vector<Finding> out;
  std::set<std::string> reported;  // rule id + subject: each finding once
  std::vector<TransferState> transfers;
  std::unordered_map<Pair, size_t, PairHash> by_pair;          // (client, server TID) -> latest transfer
  std::unordered_map<Address, std::vector<size_t>> by_server;  // server TID -> its transfers, in order
  std::unordered_map<Address, ClientState> clients;
  std::unordered_map<Address, std::vector<size_t>> inputs;  // every datagram sent to a server address
  std::vector<Stray> strays;
  std::unordered_map<Pair, std::vector<size_t>, PairHash> strays_by_pair;  // (stray, server TID) -> strays
  std::unordered_set<size_t> stray_indices;                                // observations that were strays
  std::optional<Duration> min_timer;  // shortest timer-driven retransmission interval seen
  bool strays_answered_somewhere = false;

  // --- helpers -------------------------------------------------------------------------------

  Instant start() const { return obs.empty() ? Instant{} : obs.front().at; }
  std::string when(Instant t) const { return "t=" + ms(t - start()); }

  std::string label(const TransferState& t) const {
    return std::string(proto::opcode_name(t.request.opcode)) + " " + quoted(t.request.filename) + " (client " +
           t.client.to_string() + ", server TID " + t.server.to_string() + ")";
  }

  void report(const RuleSpec& rule, const std::string& subject, std::string message, std::vector<size_t> evidence) {
    if (!reported.insert(std::string(rule.id) + "|" + std::string(rule.requirement) + "|" + subject).second) return;
    std::sort(evidence.begin(), evidence.end());
    evidence.erase(std::unique(evidence.begin(), evidence.end()), evidence.end());
    out.push_back(Finding{std::string(rule.id), std::string(rule.requirement), std::string(rule.citation), rule.level,
                          std::move(message), std::move(evidence)});
  }
  void report(const RuleSpec& rule, const TransferState& t, std::string message, std::vector<size_t> evidence) {
    report(rule, "transfer " + std::to_string(t.id), label(t) + ": " + message, std::move(evidence));
  }

  size_t input_mark(const Address& server) const {
    auto it = inputs.find(server);
    return it == inputs.end() ? 0 : it->second.size();
  }
  // The datagrams that reached `server` from mark `from` on.
  std::span<const size_t> inputs_since(const Address& server, size_t from) const {
    auto it = inputs.find(server);
    if (it == inputs.end() || from >= it->second.size()) return {};
    return std::span<const size_t>(it->second).subspan(from);
  }

  // A lower bound of the server's retransmission timer: the negotiated timeout, the shortest
  // timer-driven retransmission seen, else an assumed floor. `why` says which.
  Duration timer_floor(const TransferState& t, std::string* why) const {
    std::optional<Duration> floor;
    if (t.timeout_s) {
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

  TransferState* find_pair(const Address& client, const Address& server) {
    auto it = by_pair.find({client, server});
    return it == by_pair.end() ? nullptr : &transfers[it->second];
  }

  static uint16_t wire_of(const TransferState& t, uint64_t abs) {
    if (abs <= 0xffff) return static_cast<uint16_t>(abs);
    const uint16_t base = t.rollover.value_or(0);
    return static_cast<uint16_t>(base + (abs - 0x10000) % (0x10000 - base));
  }

  // The absolute block an earlier-or-equal wire number names, searching back a little.
  static std::optional<uint64_t> find_back(const TransferState& t, uint16_t wire, uint64_t lowest) {
    for (uint64_t a = t.highest + 1; a-- > lowest;) {
      if (wire_of(t, a) == wire) return a;
    }
    return std::nullopt;
  }
  static uint64_t search_floor(const TransferState& t) {
    const uint64_t back = 2 * t.window + kSearchBack;
    return t.highest > back ? t.highest - back : 0;
  }

  // A client ACK's absolute block (RRQ transfers).
  static std::optional<uint64_t> ack_block(const TransferState& t, uint16_t wire) {
    if (!t.data_seen) return wire;  // ACK 0 of the OACK (or an ACK of a block not yet sent)
    if (auto a = find_back(t, wire, search_floor(t))) return a;
    const uint16_t fwd = static_cast<uint16_t>(wire - wire_of(t, t.highest));
    if (fwd >= 1 && fwd < 0x8000) return t.highest + fwd;  // a block not sent yet
    return std::nullopt;
  }

  // Records a send of a packet the server may retransmit; returns the previous send, if any.
  // A resend with nothing received by the server TID in between (and no repeated request)
  // is timer-driven: its interval is evidence of the retransmission timer (RFC 1123 §4.2.3.2).
  std::optional<SendRecord> record_send(TransferState& t, SendRecord& rec, bool fresh, size_t index,
                                        std::span<const uint8_t> bytes, const std::string& what) {
    const Instant at = obs[index].at;
    const size_t mark = input_mark(t.server);
    std::optional<SendRecord> previous;
    if (fresh) {
      rec = SendRecord{index, index, at, 1, bytes.size(), hash_bytes(bytes), mark};
      return previous;
    }
    previous = rec;
    const auto& client = clients[t.client];
    const bool repeated_request = client.pending && client.pending->at > rec.last_at;
    if (mark == rec.input_mark && !repeated_request) {
      const Duration interval = at - rec.last_at;
      t.retransmits.emplace_back(what, to_ms(interval));
      if (!min_timer || interval < *min_timer) min_timer = interval;
    }
    rec.last_index = index;
    rec.last_at = at;
    ++rec.sends;
    rec.input_mark = mark;
    return previous;
  }

  // --- 3a. Datagrams to the target ---------------------------------------------------------

  void on_client(size_t index) {
    const Observation& o = obs[index];
    auto packet = proto::parse(o.bytes, proto::Strictness::kLenient);
    if (o.to == listen) {
      inputs[listen].push_back(index);
      if (packet) {
        if (const auto* r = std::get_if<proto::Request>(&*packet)) return on_request(index, *r);
      }
      if (auto* t = find_pair(o.from, listen)) return client_on_transfer(*t, index, packet);
      if (packet && is_error(*packet)) clients[o.from].error_to_listen = index;
      return;
    }
    auto server = by_server.find(o.to);
    if (server == by_server.end()) return;  // not a port the target has used
    inputs[o.to].push_back(index);
    if (auto* t = find_pair(o.from, o.to)) return client_on_transfer(*t, index, packet);
    strays_by_pair[{o.from, o.to}].push_back(strays.size());
    stray_indices.insert(index);
    strays.push_back(Stray{index, o.at, o.from, o.to, packet && is_error(*packet), server->second.back()});
  }

  void on_request(size_t index, const proto::Request& r) {
    const Observation& o = obs[index];
    ClientState& c = clients[o.from];
    if (c.pending && c.pending->bytes == o.bytes) {
      // A repeated request: it may open one more session (RFC 1350 §4's duplicated request).
      ++c.unbound;
      c.pending->index = index;
      c.pending->at = o.at;
      return;
    }
    c.pending = OwnedRequest{index, o.at, r.opcode, std::string(r.filename), r.mode, r.options.to_owned(), o.bytes};
    c.unbound = 1;
  }

  void client_on_transfer(TransferState& t, size_t index, const tl::expected<proto::Packet, proto::ParseError>& packet) {
    const Observation& o = obs[index];
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
      prune_oldest(t.client_data, [](const ClientRecord& r) { return r.first_index; });
    } else if (const auto* e = std::get_if<proto::ErrorPacket>(&*packet)) {
      // Only a well-formed ERROR surely ends the transfer; a malformed one may be ignored.
      if (!t.client_error && proto::parse(o.bytes, proto::Strictness::kStrict)) {
        t.client_error = index;
        t.client_error_at = o.at;
        t.client_error_code = e->code;
      }
    }
  }

  // --- 3b. Datagrams from the target -------------------------------------------------------

  void on_server(size_t index) {
    const Observation& o = obs[index];
    auto strict = proto::parse(o.bytes, proto::Strictness::kStrict);
    auto subject = [&] { return o.from.to_string() + ">" + o.to.to_string(); };
    if (!strict) {
      const auto& e = strict.error();
      const uint16_t op = o.bytes.size() >= 2 ? static_cast<uint16_t>((o.bytes[0] << 8) | o.bytes[1]) : 0;
      const RuleSpec& rule = op == 5 ? kMalformedError : op == 6 ? kMalformedOack
                             : e.code == proto::ParseErrc::kDataTooLong ? kMalformedData : kMalformedOther;
      report(rule, subject() + "|" + std::string(e.id()),
             "datagram from " + o.from.to_string() + " to " + o.to.to_string() + " at " + when(o.at) + " (" +
                 std::to_string(o.bytes.size()) + " bytes) is malformed: " + e.to_string(),
             {index});
    }
    auto packet = strict ? std::move(strict) : proto::parse(o.bytes, proto::Strictness::kLenient);
    if (!packet) return;
    if (const auto* e = std::get_if<proto::ErrorPacket>(&*packet); e && e->code > 8) {
      report(kErrorCodeUndefined, subject(),
             "ERROR code " + std::to_string(e->code) + " " + quoted(e->message) + " sent to " + o.to.to_string() +
                 " at " + when(o.at) + " is not a defined error code (0..8)",
             {index});
    }
    if (TransferState* t = attribute(index, *packet)) return server_on_transfer(*t, index, *packet);
    unattributed(index, *packet);
  }

  // Which transfer a datagram from server TID S to client C belongs to; opens a transfer for
  // a pending request when S answers it. nullptr when it belongs to none.
  TransferState* attribute(size_t index, const proto::Packet& p) {
    const Observation& o = obs[index];
    TransferState* t = find_pair(o.to, o.from);
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
  const Stray* first_stray(const Address& who, const Address& server) const {
    auto it = strays_by_pair.find({who, server});
    return it == strays_by_pair.end() ? nullptr : &strays[it->second.front()];
  }
  bool live_transfer_on(const Address& server) const {
    auto it = by_server.find(server);
    if (it == by_server.end()) return false;
    return std::any_of(it->second.begin(), it->second.end(), [&](size_t id) { return !transfers[id].ended(); });
  }

  static bool plausible_first(Opcode request, const proto::Packet& p) {
    if (is_error(p) || std::holds_alternative<proto::Oack>(p)) return true;
    if (request == Opcode::kRrq) {
      const auto* d = std::get_if<proto::Data>(&p);
      return d && d->block == 1;
    }
    const auto* a = std::get_if<proto::Ack>(&p);
    return a && a->block == 0;
  }

  // Whether a datagram can continue transfer `t` (which has not ended).
  static bool fits(const TransferState& t, const proto::Packet& p) {
    if (is_error(p)) return true;
    if (std::holds_alternative<proto::Oack>(p)) return t.oack_index && !t.data_seen && t.client_data.empty();
    if (const auto* d = std::get_if<proto::Data>(&p)) {
      if (!t.rrq) return false;
      if (!t.data_seen) return true;
      if (find_back(t, d->block, search_floor(t))) return true;
      const uint16_t fwd = static_cast<uint16_t>(d->block - wire_of(t, t.highest));
      return fwd >= 1 && fwd < 0x8000;
    }
    if (std::holds_alternative<proto::Ack>(p)) return !t.rrq;
    return false;
  }

  TransferState* bind(size_t index, ClientState& c, const proto::Packet& p) {
    const Observation& o = obs[index];
    TransferState t;
    t.id = transfers.size();
    t.client = o.to;
    t.server = o.from;
    t.request = *c.pending;
    t.rrq = t.request.opcode == Opcode::kRrq;
    --c.unbound;
    transfers.push_back(std::move(t));
    TransferState& bound = transfers.back();
    by_pair[{bound.client, bound.server}] = bound.id;
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

  // A datagram from the target that belongs to no transfer with its destination.
  void unattributed(size_t index, const proto::Packet& p) {
    const Observation& o = obs[index];
    if (is_error(p)) {
      if (auto it = strays_by_pair.find({o.to, o.from}); it != strays_by_pair.end()) {
        for (size_t i : it->second) {
          if (strays[i].at > o.at) continue;
          strays[i].answered = true;
          strays_answered_somewhere = true;
        }
      }
      return;
    }
    if (const Stray* stray = first_stray(o.to, o.from)) {
      const Stray& s = *stray;
      const TransferState& t = transfers[s.transfer];
      report(kStrayAccepted, "stray " + o.from.to_string(),
             "after " + o.to.to_string() + " (not the client) sent " + proto::describe_datagram(obs[s.index].bytes) +
                 " to server TID " + o.from.to_string() + " at " + when(s.at) + ", the server sent it " +
                 proto::describe(p) + " at " + when(o.at) + " as if it were the peer of " + label(t),
             {s.index, index});
      return;
    }
    // An ACK in reply to an ERROR sent to the listen port.
    auto c = clients.find(o.to);
    if (std::holds_alternative<proto::Ack>(p) && c != clients.end() && c->second.error_to_listen) {
      const Observation& e = obs[*c->second.error_to_listen];
      if (o.at >= e.at && o.at - e.at <= kReaction) {
        report(kAckForError, "listen " + o.to.to_string(),
               "the server answered the ERROR that " + o.to.to_string() + " sent to the listen port at " + when(e.at) +
                   " with " + proto::describe(p) + " at " + when(o.at),
               {*c->second.error_to_listen, index});
      }
    }
  }

  void server_on_transfer(TransferState& t, size_t index, const proto::Packet& p) {
    const Observation& o = obs[index];
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
  bool only_input_since_last_send(const TransferState& t, size_t stimulus) const {
    auto since = inputs_since(t.server, t.last_server_mark);
    return since.size() == 1 && since[0] == stimulus;
  }

  // DATA, ACK or OACK from the server on a transfer that has ended with an ERROR.
  void after_termination(TransferState& t, size_t index, const proto::Packet& p) {
    const Observation& o = obs[index];
    bool acked = false;
    if (t.client_error && std::holds_alternative<proto::Ack>(p)) {
      const auto* a = std::get_if<proto::Ack>(&p);
      const Instant err_at = t.client_error_at;
      bool reaction = t.last_server_index && only_input_since_last_send(t, *t.client_error) &&
                      o.at - err_at <= kReaction;
      if (reaction && !t.rrq) {
        // On a write the server ACKs anyway: a new block number, or a resend too early for a
        // timer, is the reaction to the ERROR.
        auto last = t.server_acks.empty() ? std::nullopt : std::optional<uint16_t>(last_server_ack(t));
        std::string why;
        reaction = (last && *last != a->block) || (o.at - t.last_server_at) * 2 < timer_floor(t, &why);
      }
      if (reaction) {
        acked = true;
        report(kAckForError, t,
               "the client's " + proto::describe_datagram(obs[*t.client_error].bytes) + " at " + when(err_at) +
                   " was answered with " + proto::describe(p) + " at " + when(o.at),
               {*t.client_error, index});
      }
    }
    if (!acked && t.client_error && t.client_error_code != 5 && o.at - t.client_error_at > kGrace) {
      report(kSentAfterError, t,
             "the client ended the transfer with " + proto::describe_datagram(obs[*t.client_error].bytes) + " at " +
                 when(t.client_error_at) + ", yet the server sent " + proto::describe(p) + " at " + when(o.at) + " (" +
                 ms(o.at - t.client_error_at) + " later)",
             {*t.client_error, index});
    }
    if (t.server_error && o.at - t.server_error_at > kGrace) {
      report(kSentAfterOwnError, t,
             "the server ended the transfer with " + proto::describe_datagram(obs[*t.server_error].bytes) + " at " +
                 when(t.server_error_at) + ", yet sent " + proto::describe(p) + " at " + when(o.at),
             {*t.server_error, index});
    }
  }

  static uint16_t last_server_ack(const TransferState& t) {
    auto best = t.server_acks.begin();
    for (auto it = t.server_acks.begin(); it != t.server_acks.end(); ++it) {
      if (it->second.last_index > best->second.last_index) best = it;
    }
    return best->first;
  }

  void on_server_error(TransferState& t, size_t index, const proto::ErrorPacket& e) {
    const Observation& o = obs[index];
    if (t.last_server_error && obs[*t.last_server_error].bytes == o.bytes && t.client_inputs == t.client_inputs_at_last_error) {
      report(kErrorRetransmitted, t,
             "ERROR code " + std::to_string(e.code) + " " + quoted(e.message) + " sent at " +
                 when(obs[*t.last_server_error].at) + " was sent again at " + when(o.at) +
                 " with nothing received from the client in between",
             {*t.last_server_error, index});
    }
    check_stray_disturbance(t, index);
    if (!t.server_error) {
      t.server_error = index;
      t.server_error_at = o.at;
    }
    t.last_server_error = index;
    t.client_inputs_at_last_error = t.client_inputs;
  }

  // An ERROR to the real client right after a stray datagram, with nothing from the client
  // and too soon for a timer, was caused by the stray.
  void check_stray_disturbance(const TransferState& t, size_t index) {
    const Observation& o = obs[index];
    if (!t.last_server_index || t.server == listen) return;  // port 69 also takes requests
    auto since = inputs_since(t.server, t.last_server_mark);
    if (since.empty()) return;
    std::optional<size_t> stray;
    for (size_t i : since) {
      if (!stray_indices.count(i)) return;  // the client said something: the ERROR may answer it
      stray = i;
    }
    if (!stray || o.at - obs[*stray].at > kReaction) return;
    std::string why;
    const Duration floor = timer_floor(t, &why);
    if ((o.at - t.last_server_at) * 2 >= floor) return;
    report(kStrayDisturbed, t,
           obs[*stray].from.to_string() + " (a stray TID) sent " + proto::describe_datagram(obs[*stray].bytes) +
               " at " + when(obs[*stray].at) + "; " + ms(o.at - obs[*stray].at) +
               " later the server ended the real transfer with " + proto::describe_datagram(o.bytes) + " at " +
               when(o.at) + ", with nothing from the client since its previous datagram at " +
               when(t.last_server_at) + " (its timer is at least " + ms(floor) + ": " + why + ")",
           {*t.last_server_index, *stray, index});
  }

  void on_oack(TransferState& t, size_t index, const proto::Oack& oack) {
    const Observation& o = obs[index];
    if (t.oack_sends) {
      record_send(t, *t.oack_sends, false, index, o.bytes, "OACK");
      return;
    }
    if (t.data_seen || !t.client_data.empty()) return;  // an OACK in mid-transfer: not judged here
    t.oack_index = index;
    t.oack_sends.emplace();
    record_send(t, *t.oack_sends, true, index, o.bytes, "OACK");
    const std::vector<size_t> ev{t.request.index, index};
    if (t.request.options.empty()) {
      report(kOackWithoutOptions, t,
             "the request carried no option, yet the server answered with " + proto::describe(oack) + " at " +
                 when(o.at) + " (expected " + (t.rrq ? "DATA 1" : "ACK 0") + ")",
             ev);
      return;
    }
    std::string unrequested;
    for (const proto::Option opt : oack.options) {
      const auto asked = requested_values(t.request, opt.name);
      if (asked.empty()) {
        unrequested += (unrequested.empty() ? "" : ", ") + quoted(opt.name);
        continue;
      }
      check_option_value(t, index, opt, asked);
    }
    if (!unrequested.empty()) {
      report(kOackUnrequested, t,
             "the OACK at " + when(o.at) + " carries " + unrequested + ", which the request did not ask for",
             ev);
    }
  }

  void check_option_value(TransferState& t, size_t index, const proto::Option& opt,
                          const std::vector<std::string_view>& asked) {
    const std::vector<size_t> ev{t.request.index, index};
    const auto value = proto::parse_decimal(opt.value);
    std::optional<uint64_t> asked_max;
    bool asked_matches = false;
    for (auto a : asked) {
      if (auto v = proto::parse_decimal(a)) {
        asked_max = std::max(asked_max.value_or(0), *v);
        if (value && *v == *value) asked_matches = true;
      }
    }
    // The client's own text echoed back (say "+5") is not held against the server, even if
    // the client's value is not a decimal number.
    const bool echoed_text = !value && std::find(asked.begin(), asked.end(), opt.value) != asked.end();
    if (echoed_text) return;
    const std::string shown = quoted(opt.name) + "=" + quoted(opt.value);
    const std::string req = "requested " + quoted(asked.front());
    if (proto::iequals(opt.name, proto::kBlksize)) {
      if (!value || !proto::blksize_in_range(*value)) {
        report(kOackBlksizeRange, t, "OACK " + shown + " is not a block size in 8..65464 (" + req + ")", ev);
      } else if (asked_max && *value > *asked_max) {
        report(kOackBlksizeNeg, t, "OACK " + shown + " is larger than the " + req, ev);
      }
      if (value && *value > 0) {
        t.blksize = static_cast<size_t>(*value);
        t.blksize_negotiated = true;
      }
    } else if (proto::iequals(opt.name, proto::kTimeout)) {
      if (!value || !proto::timeout_in_range(*value)) {
        report(kOackTimeout, t, "OACK " + shown + " is not a timeout in 1..255 s (" + req + ")", ev);
      } else if (asked_max && !asked_matches) {
        report(kOackTimeout, t, "OACK " + shown + " differs from the " + req + "; the server must echo it", ev);
      }
      if (value && proto::timeout_in_range(*value)) t.timeout_s = *value;
    } else if (proto::iequals(opt.name, proto::kWindowsize)) {
      if (!value || !proto::windowsize_in_range(*value)) {
        report(kOackWindowsize, t, "OACK " + shown + " is not a window size in 1..65535 (" + req + ")", ev);
      } else if (asked_max && *value > *asked_max) {
        report(kOackWindowsize, t, "OACK " + shown + " is larger than the " + req, ev);
      }
      if (value && proto::windowsize_in_range(*value)) t.window = *value;
    } else if (proto::iequals(opt.name, proto::kTsize)) {
      const RuleSpec& rule = t.rrq ? kOackTsizeRead : kOackTsizeWrite;
      if (!value) {
        report(rule, t, "OACK " + shown + " is not a size in octets", ev);
      } else if (t.rrq) {
        t.oack_tsize = *value;  // compared with the bytes sent once the transfer completes
      } else if (asked_max && !asked_matches) {
        report(rule, t, "OACK " + shown + " does not echo the " + req, ev);
      }
    }
  }

  enum class Kind { kNew, kRetransmit, kStale, kJump };

  // What a DATA block number is for the transfer: the next block, a resend of a recent one,
  // an old one, or a jump forward.
  Kind classify(TransferState& t, uint16_t wire, uint64_t* abs, std::optional<uint16_t>* rolled) {
    if (!t.data_seen) {
      *abs = 1;
      return wire == 1 ? Kind::kNew : Kind::kJump;
    }
    const uint64_t next = t.highest + 1;
    if (next > 0xffff && !t.rollover && wire_of(t, t.highest) == 0xffff && (wire == 0 || wire == 1)) {
      // De facto (DF-ROLLOVER): after 65535 a server wraps to 0 or to 1; both are accepted.
      *rolled = wire;
      *abs = next;
      return Kind::kNew;
    }
    if (wire == wire_of(t, next)) {
      *abs = next;
      return Kind::kNew;
    }
    if (auto a = find_back(t, wire, std::max<uint64_t>(search_floor(t), 1))) {
      *abs = *a;
      return Kind::kRetransmit;
    }
    const uint16_t fwd = static_cast<uint16_t>(wire - wire_of(t, t.highest));
    return fwd >= 1 && fwd < 0x8000 ? Kind::kJump : Kind::kStale;
  }

  void on_data(TransferState& t, size_t index, const proto::Data& d) {
    const Observation& o = obs[index];
    const size_t size = d.payload.size();
    if (size > t.blksize) {
      report(kOversize, t,
             "DATA " + std::to_string(d.block) + " at " + when(o.at) + " carries " + std::to_string(size) +
                 " bytes, more than the block size " + std::to_string(t.blksize) +
                 (t.blksize_negotiated ? " the OACK announced" : " (512: no blksize was negotiated)"),
             {index});
    }
    if (t.final_block) {
      const uint16_t fwd = static_cast<uint16_t>(d.block - wire_of(t, *t.final_block));
      if (fwd >= 1 && fwd < 0x8000) {
        const auto& fin = t.blocks.count(*t.final_block) ? t.blocks[*t.final_block] : SendRecord{};
        report(kDataAfterFinal, t,
               "DATA " + std::to_string(d.block) + " sent at " + when(o.at) + " after DATA " +
                   std::to_string(wire_of(t, *t.final_block)) + " (" + std::to_string(fin.size) +
                   " bytes, shorter than the block size " + std::to_string(t.blksize) + ") ended the transfer",
               {fin.first_index, index});
        return;
      }
    }
    if (t.sequence_broken) return;
    uint64_t abs = 0;
    std::optional<uint16_t> rolled;
    switch (classify(t, d.block, &abs, &rolled)) {
      case Kind::kJump: {
        if (t.data_seen) {
          const uint64_t target = t.highest + static_cast<uint16_t>(d.block - wire_of(t, t.highest));
          if (t.ack_max >= static_cast<int64_t>(target) - 1) {
            // The client acknowledged blocks never sent; a server that believes it skips
            // ahead. Not provably the server's fault: follow it, but the byte count is lost.
            t.sequence_gap = true;
            abs = target;
            break;
          }
        }
        t.sequence_broken = true;
        std::string msg;
        if (!t.data_seen) {
          msg = "the first DATA, at " + when(o.at) + ", is block " + std::to_string(d.block) +
                "; block numbers begin with 1";
          report(kBlockSequence, t, msg, {index});
        } else {
          const auto& last = t.blocks[t.highest];
          msg = "DATA " + std::to_string(d.block) + " at " + when(o.at) + " follows DATA " +
                std::to_string(wire_of(t, t.highest)) + "; the next block is " +
                std::to_string(wire_of(t, t.highest + 1));
          report(kBlockSequence, t, msg, {last.last_index, index});
        }
        return;
      }
      case Kind::kStale:
        return;
      case Kind::kRetransmit:
        return on_data_resend(t, index, d, abs);
      case Kind::kNew:
        break;
    }
    if (rolled) {
      t.rollover = *rolled;
      report(*rolled == 0 ? kRolloverTo0 : kRolloverTo1, "rollover",
             "after block 65535 the server continued with block " + std::to_string(*rolled) + " (" + label(t) + ")",
             {index});
    }
    check_window(t, index, abs);
    t.data_seen = true;
    t.highest = abs;
    record_send(t, t.blocks[abs], true, index, d.payload, "");
    t.bytes += size;
    if (size < t.blksize) {
      t.final_block = abs;
      check_tsize(t, index);
    }
    const uint64_t keep = 2 * t.window + kSearchBack + 8;
    while (!t.blocks.empty() && t.blocks.begin()->first + keep < abs) t.blocks.erase(t.blocks.begin());
  }

  // RFC 1350 §2 lockstep; RFC 7440 §4 windows; RFC 2347: DATA 1 after the OACK waits for ACK 0.
  void check_window(TransferState& t, size_t index, uint64_t block) {
    const Observation& o = obs[index];
    const bool after_oack = t.oack_index.has_value();
    if (!after_oack && block == 1) return;  // DATA 1 answers the RRQ itself
    int64_t need = static_cast<int64_t>(block) - static_cast<int64_t>(t.window);
    if (after_oack) need = std::max<int64_t>(need, 0);
    // The ACK that unlocked this block: when the client sent it (for the stray rules).
    if (auto it = t.acks.lower_bound(static_cast<uint64_t>(std::max<int64_t>(need, 0))); it != t.acks.end()) {
      if (!t.last_trigger_at || it->second.first_at > *t.last_trigger_at) t.last_trigger_at = it->second.first_at;
    }
    if (t.ack_max >= need) return;
    std::vector<size_t> ev{index};
    std::string last_ack = "no ACK from the client yet";
    if (t.ack_max >= 0 && t.acks.count(static_cast<uint64_t>(t.ack_max))) {
      const auto& a = t.acks[static_cast<uint64_t>(t.ack_max)];
      last_ack = "the client's last ACK was " + std::to_string(wire_of(t, static_cast<uint64_t>(t.ack_max))) +
                 " at " + when(a.last_at);
      ev.push_back(a.last_index);
    }
    if (t.blocks.count(block - 1)) ev.push_back(t.blocks[block - 1].first_index);
    const std::string sent = "DATA " + std::to_string(wire_of(t, block)) + " sent at " + when(o.at);
    if (t.window == 1 && after_oack && block == 1) {
      ev.push_back(*t.oack_index);
      report(kDataBeforeAck0, t, sent + " before the client acknowledged the OACK with ACK 0", ev);
    } else if (t.window == 1) {
      report(kLockstep, t,
             sent + " before ACK " + std::to_string(wire_of(t, block - 1)) + " was received (" + last_ack + ")", ev);
    } else {
      report(kWindow, t,
             sent + " with windowsize " + std::to_string(t.window) + " before any ACK of block " +
                 std::to_string(need) + " or later was received (" + last_ack + ")",
             ev);
    }
  }

  void check_tsize(TransferState& t, size_t index) {
    if (!t.oack_tsize || t.request.mode != proto::Mode::kOctet || t.sequence_gap || *t.oack_tsize == t.bytes) return;
    report(kOackTsizeRead, t,
           "the OACK announced tsize=" + std::to_string(*t.oack_tsize) + " but the transfer carried " +
               std::to_string(t.bytes) + " bytes (octet mode) up to its final DATA " +
               std::to_string(wire_of(t, t.highest)),
           {*t.oack_index, index});
  }

  void on_data_resend(TransferState& t, size_t index, const proto::Data& d, uint64_t block) {
    const Observation& o = obs[index];
    SendRecord& rec = t.blocks[block];
    if (rec.sends > 0 && (rec.size != d.payload.size() || rec.hash != hash_bytes(d.payload))) {
      report(kRetransmissionDiffers, t,
             "DATA " + std::to_string(d.block) + " was sent at " + when(obs[rec.first_index].at) + " with " +
                 std::to_string(rec.size) + " bytes and again at " + when(o.at) + " with " +
                 std::to_string(d.payload.size()) + " bytes of different contents",
             {rec.first_index, index});
    }
    const SendRecord before = rec;
    check_sorcerer(t, index, d, block, before);
    record_send(t, rec, rec.sends == 0, index, d.payload, "DATA " + std::to_string(d.block));
  }

  // RFC 1123 §4.2.3.1. In lockstep, DATA n+1 is resent only on timeout. A resend soon after a
  // duplicate ACK n, with nothing else received, and far sooner than the server's timer, was
  // caused by the duplicate ACK.
  void check_sorcerer(TransferState& t, size_t index, const proto::Data& d, uint64_t block, const SendRecord& prev) {
    const Observation& o = obs[index];
    if (t.window != 1 || block != t.highest || t.ack_max >= static_cast<int64_t>(block) || block < 1 || prev.sends == 0) {
      return;
    }
    auto dup = t.acks.find(block - 1);
    if (dup == t.acks.end() || dup->second.count < 2 || dup->second.last_at > o.at || o.at - dup->second.last_at > kReaction) {
      return;
    }
    for (size_t i : inputs_since(t.server, prev.input_mark)) {
      const auto& in = obs[i];
      auto p = proto::parse(in.bytes, proto::Strictness::kLenient);
      const auto* a = p ? std::get_if<proto::Ack>(&*p) : nullptr;
      if (in.from != t.client || !a || a->block != wire_of(t, block - 1)) return;
    }
    std::string why;
    const Duration floor = timer_floor(t, &why);
    const Duration gap = o.at - prev.last_at;
    if (gap * 2 >= floor) return;
    report(kSorcerer, t,
           "DATA " + std::to_string(d.block) + " was re-sent at " + when(o.at) + ", " +
               ms(o.at - dup->second.last_at) + " after a duplicate ACK " + std::to_string(wire_of(t, block - 1)) +
               " (ACK " + std::to_string(wire_of(t, block - 1)) + " received " + std::to_string(dup->second.count) +
               " times) and only " + ms(gap) + " after its previous transmission at " + when(prev.last_at) +
               "; the server's retransmission timer is at least " + ms(floor) + " (" + why + ")",
           {dup->second.first_index, dup->second.last_index, prev.last_index, index});
  }

  void on_server_ack(TransferState& t, size_t index, const proto::Ack& a) {
    const Observation& o = obs[index];
    auto it = t.server_acks.find(a.block);
    const bool fresh = it == t.server_acks.end();
    SendRecord& rec = t.server_acks[a.block];
    record_send(t, rec, fresh, index, o.bytes, "ACK " + std::to_string(a.block));
    if (fresh) {
      if (auto d = t.client_data.find(a.block); d != t.client_data.end()) {
        if (!t.last_trigger_at || d->second.first_at > *t.last_trigger_at) t.last_trigger_at = d->second.first_at;
      }
      prune_oldest(t.server_acks, [](const SendRecord& r) { return r.first_index; });
    }
    if (t.client_final && a.block == *t.client_final) t.completed = true;
  }

  // --- 4. End of the observations ----------------------------------------------------------

  void judge_end() {
    if (obs.empty()) return;
    const Instant end = obs.back().at;
    for (auto& t : transfers) {
      check_missing_final(t, end);
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
               "retransmissions with nothing received in between (timer-driven): " + list, {});
      }
    }
    check_unanswered_strays();
  }

  // RFC 1350 §6: a full last DATA, ACKed, then silence while the client visibly waits.
  void check_missing_final(const TransferState& t, Instant end) {
    if (!t.rrq || !t.data_seen || t.sequence_broken || t.final_block || t.server_error) return;
    auto last = t.blocks.find(t.highest);
    if (last == t.blocks.end() || last->second.size != t.blksize || wire_of(t, t.highest) == 0xffff) return;
    auto ack = t.acks.find(t.highest);
    if (ack == t.acks.end()) return;
    const ClientRecord& a = ack->second;
    if (t.last_server_index && *t.last_server_index > a.first_index) return;  // the server did answer
    if (t.client_error && t.client_error_at < a.first_at + kPatience) return;
    const bool waited = end - a.first_at >= kPatience;
    const bool repeated = a.count >= 2 && a.last_at - a.first_at >= kReaction;
    if (!waited && !repeated) return;
    report(kMissingFinal, t,
           "DATA " + std::to_string(wire_of(t, t.highest)) + " carried a full block (" +
               std::to_string(last->second.size) + " bytes) and the client ACKed it at " + when(a.first_at) +
               (a.count >= 2 ? " (" + std::to_string(a.count) + " times)" : "") + ", but the server sent no " +
               "further DATA (a 0-byte block must end the transfer) in the " + ms(end - a.first_at) +
               " observed after",
           {last->second.first_index, a.first_index});
  }

  // RFC 1350 §4 (SHOULD): a stray gets an ERROR. A server whose sockets only receive from the
  // peer (connect()) never sees strays; the RFC excuses that ("If the supporting protocols do
  // not allow it, this particular error condition will not arise"). So silence is a SHOULD
  // finding only for a server seen answering strays, and INFO otherwise.
  void check_unanswered_strays() {
    for (const Stray& s : strays) {
      if (s.answered || s.is_error) continue;
      const TransferState& t = transfers[s.transfer];
      if (!t.last_trigger_at || *t.last_trigger_at <= s.at) continue;  // no proof S kept reading after it
      const std::string msg = s.from.to_string() + " sent " + proto::describe_datagram(obs[s.index].bytes) +
                              " to server TID " + s.to.to_string() + " at " + when(s.at) +
                              " and got no ERROR back, although the server went on serving " + label(t) +
                              " with datagrams the client sent after it";
      if (strays_answered_somewhere) {
        report(kStrayNotAnswered, "stray " + s.to.to_string(), msg, {s.index});
      } else {
        report(kStraySilentInfo, "stray " + s.to.to_string(),
               msg + " (this server answered no stray: it may not receive them, which RFC 1350 §4 allows)",
               {s.index});
      }
    }
  }
};

RuleEngine::RuleEngine(Address target_listen) : s_(std::make_unique<State>(std::move(target_listen))) {}
RuleEngine::~RuleEngine() = default;
RuleEngine::RuleEngine(RuleEngine&&) noexcept = default;
RuleEngine& RuleEngine::operator=(RuleEngine&&) noexcept = default;

void RuleEngine::observe(const Observation& observation) {
  s_->obs.push_back(observation);
  const size_t index = s_->obs.size() - 1;
  if (observation.direction == Direction::kFromTarget) {
    s_->on_server(index);
  } else {
    s_->on_client(index);
  }
}

std::vector<Finding> RuleEngine::findings() const { return s_->out; }

std::vector<Finding> RuleEngine::finish() {
  s_->judge_end();
  return s_->out;
}

const std::vector<Observation>& RuleEngine::observations() const { return s_->obs; }

}  // namespace tftp::check
