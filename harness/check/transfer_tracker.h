// The rule engine's state, shared by its files: transfer attribution and per-transfer state
// (transfer_tracker.cc) and one file per rule family (rules_*.cc; rule_table.h lists which
// rule lives where). Internal to harness/check/.
//
// Everything the engine knows is what the observations show, in order. A rule fires only
// when the observations prove the server wrong whatever the client and the network did;
// where a server timer could explain what was seen, the rule stays silent.
#pragma once

#include <algorithm>
#include <deque>
#include <map>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "check/block_map.h"
#include "check/rule_table.h"
#include "check/rules.h"
#include "common/address_pair.h"
#include "proto/block_number.h"
#include "proto/packet.h"

namespace tftp::check {

using proto::Opcode;

// Timing windows. Observation times are taken where the harness is (kernel receive
// timestamps), accurate to about the path's jitter J; R is the measured round trip, S the
// target's measured mid-transfer timeout (srto), S1 its first-block timeout (rto).
//
//   grace    = R + 2J + 1 ms    A datagram the server sent before our ERROR reached it arrives
//                               at most one round trip after we sent the ERROR.
//                               (default 100 ms)
//   reaction = R + 4J + 50 ms   How soon after a stimulus a datagram counts as the server's
//                               answer to it (50 ms for the server's own turnaround).
//                               (default 200 ms)
//   timer    = min(S, the negotiated timeout, the shortest timer-driven resend seen); S1
//              for the first block. (default: 200 ms assumed, or what was seen)
//   slack    = 4J + 1 ms        Both sends of a gap, and the measurement of S, are each off
//                               by up to J: a resend is "sooner than the timer" only when
//                               gap < timer - slack. Without a measured S the old margin
//                               applies: gap < timer / 2.
// A resend sooner than the timer could fire, with nothing but a duplicate ACK received
// since, is the Sorcerer's Apprentice (RFC 1123 §4.2.3.1).
inline constexpr Duration kGrace = std::chrono::milliseconds(100);
inline constexpr Duration kReaction = std::chrono::milliseconds(200);
inline constexpr Duration kAssumedTimerFloor = std::chrono::milliseconds(200);
inline constexpr Duration kServerTurnaround = std::chrono::milliseconds(50);
inline constexpr Duration kStampSlack = std::chrono::milliseconds(1);
// How long the client must visibly wait before a missing final block is reported.
inline constexpr Duration kPatience = std::chrono::seconds(1);
// How far back (in blocks, beyond two windows) a DATA still counts as a retransmission.
inline constexpr uint64_t kSearchBack = 64;

// Bounds of the rules' own state (the observations themselves: RetentionLimits in rules.h).
// The datagrams kept per server address, most recent first: the SAS and stray rules read
// only those since the server's previous send, so more than this between two sends makes
// them stay silent (the count rule still sees such a transfer).
inline constexpr size_t kInputsKept = 1024;
// Strays remembered (each names its first datagram); later ones still count as strays.
inline constexpr size_t kStraysKept = 256;
// Timer-driven retransmissions listed in tftp.note.retransmit_intervals (one more tells
// that the list goes on).
inline constexpr size_t kRetransmitsListed = 12;

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
  Instant error_to_listen_at{};
};

// One packet the server sent (a DATA block, an ACK, the OACK) and its retransmissions.
struct SendRecord {
  size_t first_index = 0;
  Instant first_at{};
  size_t last_index = 0;
  Instant last_at{};
  uint32_t sends = 0;
  uint32_t size = 0;  // a datagram's size fits (and 56 bytes a record, not 64: one per block in flight)
  uint64_t hash = 0;  // content_digest of the bytes (common/hash.h)
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
  std::string packet;  // summarize() of what it sent
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
  BlockMap<uint64_t, SendRecord> blocks;
  int64_t ack_max = -1;
  BlockMap<uint64_t, ClientRecord> acks;

  // The server receiving DATA (WRQ), by wire block number.
  BlockMap<uint16_t, ClientRecord> client_data;
  std::optional<uint16_t> client_final;
  std::optional<uint16_t> client_data_highest;  // the furthest DATA block the client sent (wire number)
  bool unsent_ack_reported = false;
  BlockMap<uint16_t, SendRecord> server_acks;

  // Termination.
  bool completed = false;
  std::optional<size_t> client_error;
  Instant client_error_at{};
  uint16_t client_error_code = 0;
  std::string client_error_packet;  // summarize() of it
  std::optional<size_t> server_error;  // the first
  Instant server_error_at{};
  std::string server_error_packet;
  std::optional<size_t> last_server_error;
  Instant last_server_error_at{};
  size_t last_server_error_size = 0;
  uint64_t last_server_error_hash = 0;  // content_digest of its bytes
  uint64_t client_inputs_at_last_error = 0;

  // Timing.
  std::optional<size_t> last_server_index;
  Instant last_server_at{};
  size_t last_server_mark = 0;
  uint64_t client_inputs = 0;
  std::optional<Instant> last_trigger_at;  // when the client sent the input behind the latest progress

  // Sorcerer's Apprentice by count (rules_sas.cc): lockstep DATA resends that neither the
  // server's timer nor a repeated request explains.
  uint64_t unexplained_resends = 0;
  size_t first_unexplained = 0;
  Instant first_unexplained_at{};
  size_t last_unexplained = 0;
  uint64_t data_sends = 0;
  bool sas_reported = false;

  // Timer-driven: what, interval in ms; the first kRetransmitsListed + 1 only.
  std::vector<std::pair<std::string, double>> retransmits;
  // The two sends of each listed interval: the note's evidence.
  std::vector<size_t> retransmit_evidence;

  bool ended() const { return completed || client_error || server_error; }
  // The wire number of absolute block `abs`, with the wrap value this server used.
  uint16_t wire(uint64_t abs) const { return proto::wire_block(abs, rollover.value_or(0)); }
};

std::string ms(Duration d);

// proto::describe_datagram, cut to kSummaryChars: what the rules keep of a datagram they may
// quote later, and what a kept observation shows.
std::string summarize(std::span<const uint8_t> bytes);

// A datagram that reached a server address: what the rules look back at later.
struct Input {
  size_t index = 0;
  Address from;
  std::optional<uint16_t> ack;  // its block, when it is an ACK
  bool stray = false;           // sent by no peer of a transfer with that address
  std::optional<uint32_t> stray_slot;  // into State::strays (kStraysKept entries), unless past them
};

// The datagrams that reached one server address: all counted, the last kInputsKept kept.
struct InputLog {
  static constexpr size_t kFirstReserve = 16;
  size_t count = 0;
  std::vector<Input> recent;  // inputs count - recent.size() ... count - 1

  // The next input, value-initialised, for the caller to fill in where it lies (not built
  // aside and copied: that copy of a just-written Input stalled on every datagram).
  Input& add() {
    ++count;
    // Most transfers are short: one allocation covers them, instead of growing 1, 2, 4, ...
    if (recent.capacity() == 0) recent.reserve(kFirstReserve);
    // Trimmed in batches so that an add costs O(1) on average; before the new entry, so that
    // the reference returned stays valid (the last kInputsKept are kept, the new one included).
    if (recent.size() + 1 >= 2 * kInputsKept) recent.erase(recent.begin(), recent.end() - (kInputsKept - 1));
    return recent.emplace_back();
  }
  void shrink_to_fit() { recent.shrink_to_fit(); }
};

// The inputs from a mark on; `complete` is false when some of them are no longer kept.
struct InputsSince {
  std::span<const Input> items;
  bool complete = true;
};

// Values requested for an option name; a request may (wrongly) repeat an option.
std::vector<std::string_view> requested_values(const OwnedRequest& r, std::string_view name);

inline bool is_error(const proto::Packet& p) { return std::holds_alternative<proto::ErrorPacket>(p); }

// A find in an address-keyed map whose entries never move or go (an unordered_map nothing is
// erased from), remembered: most datagrams go where the previous one went, and a hash lookup
// of an address per step was a tenth of a capture's analysis. nullptr: no such key.
template <class Value>
class RememberedFind {
 public:
  const Value* operator()(const std::unordered_map<Address, Value>& map, const Address& key) {
    if (value_ != nullptr && key_ == key) return value_;
    auto it = map.find(key);
    if (it == map.end()) return nullptr;
    key_ = key;
    value_ = &it->second;  // stays valid: see above
    return value_;
  }

 private:
  Address key_;
  const Value* value_ = nullptr;
};

// (client, server TID): the key of a transfer (common/address_pair.h).
using Pair = AddressPair;
using PairRef = AddressPairRef;
template <class Value>
using PairMap = AddressPairMap<Value>;

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

struct RuleEngine::State {
  State(Address l, RetentionLimits r) : limits(r), listen(std::move(l)) {}

  PathTiming timing;
  Duration jitter() const { return timing.jitter.value_or(Duration::zero()); }
  Duration grace() const { return timing.rtt ? *timing.rtt + 2 * jitter() + kStampSlack : kGrace; }
  Duration reaction() const { return timing.rtt ? *timing.rtt + 4 * jitter() + kServerTurnaround : kReaction; }
  Duration slack() const { return 4 * jitter() + kStampSlack; }
  // Whether a resend `gap` after the previous send of the same packet came sooner than the
  // server's retransmission timer could have fired. `why` says what the timer is taken as.
  bool too_soon_for_timer(const TransferState& t, Duration gap, std::string* why) const;

  // The observations kept for evidence (never read by the rules: see seen()).
  RetentionLimits limits;
  size_t observed = 0;
  Instant first_at{};
  Instant last_at{};
  std::vector<KeptObservation> head;  // the first limits.head
  std::deque<KeptObservation> tail;   // the last limits.tail after those
  void keep(size_t index, const Observation& o);
  const KeptObservation* kept(size_t index) const;

  // The datagram being observed. Rules read only this one; what they need of earlier ones
  // they copied into their state when those arrived, so dropping kept observations never
  // changes a verdict.
  const Observation* current = nullptr;
  size_t current_index = 0;
  // The datagram being judged (inline: every rule asks, several times per datagram).
  const Observation& seen(size_t index) const {
    if (current == nullptr || index != current_index) [[unlikely]] read_past(index);
    return *current;
  }
  [[noreturn]] void read_past(size_t index) const;

  Address listen;
  std::vector<Finding> out;
  std::set<std::string> reported;  // rule id + subject: each finding once
  std::vector<TransferState> transfers;
  PairMap<size_t> by_pair;                                     // (client, server TID) -> latest transfer
  std::unordered_map<Address, std::vector<size_t>> by_server;  // server TID -> its transfers, in order (never erased)
  std::unordered_map<Address, ClientState> clients;
  size_t clients_unbound = 0;  // clients whose ClientState::unbound > 0: attribute() looks up none while 0
  std::unordered_map<Address, InputLog> inputs;  // the datagrams sent to each server address (never erased)
  // Lookup memories (find_inputs, transfers_on, find_pair).
  mutable RememberedFind<InputLog> inputs_find;
  mutable RememberedFind<std::vector<size_t>> by_server_find;
  Address last_pair_client;
  Address last_pair_server;
  std::optional<size_t> last_pair;  // nullopt: nothing remembered
  std::vector<Stray> strays;                    // the first kStraysKept
  PairMap<std::vector<size_t>> strays_by_pair;  // (stray, server TID) -> strays
  std::optional<Duration> min_timer;  // shortest timer-driven retransmission interval seen
  bool strays_answered_somewhere = false;

  // --- helpers -------------------------------------------------------------------------------

  Instant start() const { return first_at; }
  std::string when(Instant t) const { return "t=" + ms(t - start()); }

  std::string label(const TransferState& t) const;

  // `detail` (stable, no numbers) refines the rule's cause where one rule covers several bugs,
  // e.g. the parse error of a malformed datagram, so two different bugs stay two findings.
  void report(const RuleSpec& rule, const std::string& subject, std::string message, std::vector<size_t> evidence,
              std::string_view detail = {});
  void report(const RuleSpec& rule, const TransferState& t, std::string message, std::vector<size_t> evidence);

  // The log of the datagrams sent to `server`: nullptr if none yet / created if none yet.
  // The last one looked up is remembered: most datagrams go where the previous one went.
  const InputLog* find_inputs(const Address& server) const;
  InputLog& inputs_of(const Address& server);
  // by_server's entry for `server` (its transfers, in order); nullptr when it served none.
  const std::vector<size_t>* transfers_on(const Address& server) const;
  size_t input_mark(const Address& server) const;
  // The datagrams that reached `server` from mark `from` on.
  InputsSince inputs_since(const Address& server, size_t from) const;

  // A lower bound of the server's retransmission timer: the negotiated timeout, the shortest
  // timer-driven retransmission seen, else an assumed floor. `why` says which.
  Duration timer_floor(const TransferState& t, std::string* why) const;

  // The newest transfer of (client, server TID). The last pair looked up is remembered
  // (forgotten when bind() changes by_pair).
  TransferState* find_pair(const Address& client, const Address& server);
  // Drops what a transfer superseded by a new one with the same pair no longer needs.
  static void compact(TransferState& t);
  void shrink_to_fit();
  size_t state_bytes() const;

  // The absolute block an earlier-or-equal wire number names, searching back a little.
  static std::optional<uint64_t> find_back(const TransferState& t, uint16_t wire, uint64_t lowest);
  static uint64_t search_floor(const TransferState& t);

  // A client ACK's absolute block (RRQ transfers).
  static std::optional<uint64_t> ack_block(const TransferState& t, uint16_t wire);

  // Records a send of a packet the server may retransmit; returns the previous send, if any.
  // A resend with nothing received by the server TID in between (and no repeated request)
  // is timer-driven: its interval is evidence of the retransmission timer (RFC 1123 §4.2.3.2).
  std::optional<SendRecord> record_send(TransferState& t, SendRecord& rec, bool fresh, size_t index,
                                        std::span<const uint8_t> bytes, const std::string& what);

  // --- 3a. Datagrams to the target ---------------------------------------------------------

  void on_client(size_t index);

  void on_request(size_t index, const proto::Request& r);

  void client_on_transfer(TransferState& t, size_t index, const tl::expected<proto::Packet, proto::ParseError>& packet);

  // --- 3b. Datagrams from the target -------------------------------------------------------

  void on_server(size_t index);
  // rules_format.cc
  void check_malformed(size_t index, const proto::ParseError& e);
  void check_error_code(size_t index, const proto::Packet& p);

  // Which transfer a datagram from server TID S to client C belongs to; opens a transfer for
  // a pending request when S answers it. nullptr when it belongs to none.
  TransferState* attribute(size_t index, const proto::Packet& p);

  // The first stray datagram `who` sent to `server`, if any.
  const Stray* first_stray(const Address& who, const Address& server) const;
  bool live_transfer_on(const Address& server) const;

  static bool plausible_first(Opcode request, const proto::Packet& p);

  // Whether a datagram can continue transfer `t` (which has not ended).
  static bool fits(const TransferState& t, const proto::Packet& p);

  TransferState* bind(size_t index, ClientState& c, const proto::Packet& p);

  // A datagram from the target that belongs to no transfer with its destination.
  void unattributed(size_t index, const proto::Packet& p);

  void server_on_transfer(TransferState& t, size_t index, const proto::Packet& p);

  // Whether the only datagrams the server TID received since the server last sent on `t`
  // are `stimulus`; then what the server sends now reacts to it (or to a timer).
  bool only_input_since_last_send(const TransferState& t, size_t stimulus) const;

  // DATA, ACK or OACK from the server on a transfer that has ended with an ERROR.
  void after_termination(TransferState& t, size_t index, const proto::Packet& p);

  static uint16_t last_server_ack(const TransferState& t);

  void on_server_error(TransferState& t, size_t index, const proto::ErrorPacket& e);

  // An ERROR to the real client right after a stray datagram, with nothing from the client
  // and too soon for a timer, was caused by the stray.
  void check_stray_disturbance(const TransferState& t, size_t index);

  void on_oack(TransferState& t, size_t index, const proto::Oack& oack);


  enum class Kind { kNew, kRetransmit, kStale, kJump };

  // What a DATA block number is for the transfer: the next block, a resend of a recent one,
  // an old one, or a jump forward.
  Kind classify(TransferState& t, uint16_t wire, uint64_t* abs, std::optional<uint16_t>* rolled);

  void on_data(TransferState& t, size_t index, const proto::Data& d);

  // RFC 1350 §2 lockstep; RFC 7440 §4 windows; RFC 2347: DATA 1 after the OACK waits for ACK 0.
  void check_window(TransferState& t, size_t index, uint64_t block);

  void check_tsize(TransferState& t, size_t index);

  void on_data_resend(TransferState& t, size_t index, const proto::Data& d, uint64_t block);

  // RFC 1123 §4.2.3.1. In lockstep, DATA n+1 is resent only on timeout. A resend soon after a
  // duplicate ACK n, with nothing else received, and far sooner than the server's timer, was
  // caused by the duplicate ACK.
  void check_sorcerer(TransferState& t, size_t index, const proto::Data& d, uint64_t block, const SendRecord& prev);

  void on_server_ack(TransferState& t, size_t index, const proto::Ack& a);
  // rules_sas.cc: counts a lockstep DATA resend the timer cannot explain; judged at the end.
  void count_resend(TransferState& t, size_t index, uint64_t block, const SendRecord& prev);
  void check_sorcerer_count(TransferState& t);

  // --- 4. End of the observations ----------------------------------------------------------

  void judge_end();

  // RFC 1350 §6: a full last DATA, ACKed, then silence while the client visibly waits.
  void check_missing_final(const TransferState& t, Instant end);

  // RFC 1350 §4 (SHOULD): a stray gets an ERROR. A server whose sockets only receive from the
  // peer (connect()) never sees strays; the RFC excuses that ("If the supporting protocols do
  // not allow it, this particular error condition will not arise"). So silence is a SHOULD
  // finding only for a server seen answering strays, and INFO otherwise.
  void check_unanswered_strays();
};

}  // namespace tftp::check
