#include "engine/transfer.h"

#include <algorithm>
#include <stdexcept>

#include "engine/rtt.h"
#include "proto/answer.h"
#include "proto/block_number.h"

namespace tftp::engine {

using proto::ErrorCode;
using proto::Opcode;

namespace {

enum class Phase {
  kAwaitReply,    // client: request sent, no reply yet
  kAwaitOackAck,  // server RRQ: OACK sent, waiting for ACK 0 (RFC 2347)
  kSending,       // DATA goes out, ACKs come in
  kReceiving,     // DATA comes in, ACKs go out
  kDallying,      // final ACK sent; re-ACK a retransmitted final DATA (RFC 1350 §6)
  kDone,
};

std::string_view phase_name(Phase p) {
  switch (p) {
    case Phase::kAwaitReply: return "waiting for the reply to the request";
    case Phase::kAwaitOackAck: return "waiting for ACK 0 after OACK";
    case Phase::kSending: return "sending DATA";
    case Phase::kReceiving: return "receiving DATA";
    case Phase::kDallying: return "dallying after the final ACK";
    case Phase::kDone: return "done";
  }
  return "?";
}

// The TFTP error code for a sink's failure (RFC 1350 §5), from the id engine/file_io.h
// documents: a name taken meanwhile is 6, a permission 2, anything else (ENOSPC, EIO, the
// size limit) 3, "disk full or allocation exceeded".
uint16_t sink_error_code(const Error& e) {
  if (e.id == "tftp.io.exists") return static_cast<uint16_t>(ErrorCode::kFileExists);
  if (e.id == "tftp.io.access") return static_cast<uint16_t>(ErrorCode::kAccessViolation);
  return static_cast<uint16_t>(ErrorCode::kDiskFull);
}

// RFC 6298's G: the timer's resolution, the least variance a timeout allows for.
constexpr Duration kClockGranularity = std::chrono::milliseconds(1);

// The most text an ERROR carries on the wire: the datagram stays within 512 bytes, the size
// every TFTP receiver is ready for before options (RFC 1350 §5), and within
// max_datagram_size(). A refusal quoting a hostile OACK's option name (\xNN per byte) can
// be four times the OACK's size (found by fuzz/fuzz_client_transfer.cc); the outcome keeps
// the whole text.
constexpr size_t kMaxErrorText = 512 - 4 - 1;

struct Pending {
  enum class Kind { kControl, kData, kAck, kError } kind;
  uint64_t block = 0;  // absolute block number for kData / kAck
  Address to;          // kError only: strays get their ERROR 5 at their own address
  uint16_t code = 0;
  std::string message;

  static Pending control() { return {Kind::kControl, 0, Address(), 0, ""}; }
  static Pending data(uint64_t block) { return {Kind::kData, block, Address(), 0, ""}; }
  static Pending ack(uint64_t block) { return {Kind::kAck, block, Address(), 0, ""}; }
  static Pending error(const Address& to, uint16_t code, std::string message) {
    if (message.size() > kMaxErrorText) message.resize(kMaxErrorText);
    return {Kind::kError, 0, to, code, std::move(message)};
  }
};

}  // namespace

struct Transfer::State {
  TransferConfig config;
  bool sends_data = false;
  Phase phase = Phase::kAwaitReply;
  Address peer;
  bool peer_known = false;
  Address request_to;  // client: where the request went
  TransferParams params;
  std::vector<proto::OwnedOption> requested;  // client: the options it asked for
  std::unique_ptr<ByteSource> source;
  std::unique_ptr<ByteSink> sink;

  // The last non-DATA packet (request, OACK or ACK 0), re-sent on timeout.
  std::vector<uint8_t> control;
  Address control_to;

  // Sender. Block numbers are absolute (64-bit); the wire carries them modulo rollover.
  uint64_t acked = 0;  // highest block acknowledged
  uint64_t sent = 0;   // highest block sent
  std::optional<uint64_t> final_block;
  std::deque<std::vector<uint8_t>> window;  // payloads of blocks window_first.. in order
  uint64_t window_first = 1;
  std::vector<std::vector<uint8_t>> spare;  // recycled payload buffers
  std::optional<uint64_t> window_restarted_at;  // the ACK whose repeat last restarted a window (RFC 7440 §4)

  // Receiver. The wire numbers of its ACKs follow the wrap the peer's DATA used.
  uint64_t received = 0;  // highest block received in order
  // Windowed, a 1 after 65535 is either a wrap to 1 or a wrap to 0 whose block 0 was lost.
  // The receiver ACKs 65535 and decides on what the sender resends first (see learn_wrap).
  bool wrap_probe_sent = false;
  uint64_t last_ack_sent = 0;
  bool gap_reported = false;
  uint64_t old_blocks_seen = 0;  // blocks at or below `received` since the last new one

  std::optional<Instant> deadline;
  Duration rto{};
  int retries = 0;
  RttEstimator rtt;
  // When the packet being timed went out (DATA sender only): the first transmission of an
  // OACK, WRQ or window of new blocks. Cleared by any retransmission (Karn's rule).
  std::optional<Instant> timing_since;

  std::deque<Pending> queue;
  std::optional<Outcome> outcome;
  TransferStats stats;
  // The first datagram from the server's host dropped because it cannot answer our request,
  // named in the time-out message: a broken server's wrong first reply stays visible.
  std::string ignored_first_reply;

  // --- helpers ---------------------------------------------------------------------------

  // The wire number of a block we send (DATA), wrapping as configured.
  uint16_t sent_wire(uint64_t abs) const { return proto::wire_block(abs, config.rollover_block); }
  // The wire number of a block we receive (and ACK), wrapping as the peer did.
  uint16_t received_wire(uint64_t abs) const {
    return proto::wire_block(abs, stats.peer_wrapped_to.value_or(0));
  }

  // RFC 1123 §4.2.3.2; see RetransmitPolicy.
  Duration base_rto() const {
    if (params.fixed_timeout) return *params.fixed_timeout;
    const RetransmitPolicy& policy = config.retransmit;
    const auto adaptive = rtt.timeout(kClockGranularity);
    if (!adaptive || policy.min >= policy.initial) return policy.initial;
    return std::clamp(*adaptive, policy.min, policy.initial);
  }

  void arm(Instant now) { deadline = now + rto; }

  void start_timing(Instant now) {
    if (sends_data && !timing_since) timing_since = now;
  }

  void progress(Instant now) {  // the peer moved the transfer on: take a sample, reset backoff
    if (timing_since) {
      rtt.sample(now - *timing_since);
      timing_since.reset();
      ++stats.rtt_samples;
      stats.srtt = rtt.srtt();
    }
    retries = 0;
    rto = base_rto();
    arm(now);
  }

  void send_control(std::vector<uint8_t> bytes, const Address& to) {
    control = std::move(bytes);
    control_to = to;
    queue.push_back(Pending::control());
  }

  void finish(Outcome o) {
    outcome = std::move(o);
    phase = Phase::kDone;
    deadline.reset();
  }

  // Ends the transfer with an error of ours, telling the peer (RFC 1350 §7: not ACKed,
  // not retransmitted).
  void fail(OutcomeKind kind, uint16_t code, std::string message, bool tell_peer = true) {
    queue.clear();
    if (tell_peer && peer_known) {
      queue.push_back(Pending::error(peer, code, message));
    }
    if (phase == Phase::kDallying) {
      // The transfer was complete, its file committed, before this went wrong (e.g. a
      // malformed datagram while dallying): the error ends the dally, the success stays
      // (found by fuzz/fuzz_client_transfer.cc).
      finish(*outcome);
      return;
    }
    if (sink) sink->abort();
    finish({kind, code, std::move(message)});
  }

  void protocol_error(std::string message) {
    fail(OutcomeKind::kProtocolError, static_cast<uint16_t>(ErrorCode::kIllegalOperation), std::move(message));
  }

  // --- sending ---------------------------------------------------------------------------

  // Makes sure the payload of `block` is in the window; false when past the end or on error.
  bool load_block(uint64_t block) {
    while (window_first + window.size() <= block) {
      const uint64_t next = window_first + window.size();
      if (final_block && next > *final_block) return false;
      std::vector<uint8_t> buf;
      if (!spare.empty()) {
        buf = std::move(spare.back());
        spare.pop_back();
      }
      buf.resize(params.blksize);
      auto n = source->read(buf);
      if (!n) {
        fail(OutcomeKind::kLocalError, static_cast<uint16_t>(ErrorCode::kNotDefined),
             "read failed: " + n.error().message);
        return false;
      }
      buf.resize(*n);
      if (*n < params.blksize) {
        if (*n == 0 && config.faults.no_final_empty_block) {
          final_block = next - 1;
          return false;
        }
        final_block = next;
      }
      window.push_back(std::move(buf));
    }
    return true;
  }

  // Sends blocks first..first+windowsize-1 (RFC 7440; windowsize 1 is lockstep).
  void send_window_from(uint64_t first, Instant now) {
    uint16_t window = config.faults.unsolicited_window && params.windowsize == 1 ? 2 : params.windowsize;
    if (config.faults.window_as_lockstep) window = 1;
    const uint64_t last = first + window - 1;
    // Only a window of blocks never sent before gives an unambiguous round trip (Karn).
    if (first > sent) start_timing(now);
    for (uint64_t b = first; b <= last; ++b) {
      if (!load_block(b)) break;
      if (b <= sent) ++stats.retransmissions;
      queue.push_back(Pending::data(b));
      sent = std::max(sent, b);
    }
    if (phase != Phase::kDone) arm(now);
  }

  void start_sending(Instant now) {
    phase = Phase::kSending;
    progress(now);
    send_window_from(1, now);
  }

  void on_ack(Instant now, uint16_t wire) {
    // Find the block in (acked, sent] that this ACK names. Anything else is a duplicate
    // or stale ACK, and RFC 1123 §4.2.3.1 forbids answering it (Sorcerer's Apprentice).
    std::optional<uint64_t> block;
    for (uint64_t b = sent; b > acked; --b) {
      if (sent_wire(b) == wire) {
        block = b;
        break;
      }
    }
    if (!block && config.faults.jump_on_future_ack && proto::wire_ahead(sent_wire(sent), wire)) {
      // Takes an ACK of a block never sent as the ACK of everything up to it, skipping the
      // blocks between (what atftpd does): the receiver ends with a hole in its file.
      const uint64_t target = sent + proto::wire_distance(sent_wire(sent), wire);
      if (load_block(target)) {
        sent = target;
        block = target;
      }
    }
    if (!block) {
      ++stats.duplicates_received;
      // RFC 7440 §4: "In the case of a data block sequence error, the DRCV SHOULD notify the
      // DSND by sending an ACK corresponding to the last data block correctly received. The
      // notified DSND SHOULD send a new data block window whose beginning MUST be set based
      // on the ACK received out of sequence." When the first block of a window is lost,
      // that ACK repeats the one that opened the window: windowed, it is the receiver's
      // notice, not a Sorcerer's Apprentice duplicate (a lockstep concern, RFC 1123
      // §4.2.3.1), and the window restarts after it at once. Once per acknowledged block:
      // the receiver notifies once per gap, and a duplicated notice must not double the data.
      if (params.windowsize > 1 && wire == sent_wire(acked) && acked < sent && window_restarted_at != acked &&
          !config.faults.ignore_window_loss_ack) {
        window_restarted_at = acked;
        send_window_from(config.faults.window_past_loss ? sent + 1 : acked + 1, now);
        return;
      }
      if (config.faults.resend_on_duplicate_ack && wire == sent_wire(acked) && acked < sent) {
        send_window_from(acked + 1, now);
      }
      if (config.faults.resend_on_stale_ack && proto::wire_ahead(wire, sent_wire(acked)) && acked < sent) {
        send_window_from(acked + 1, now);
      }
      return;
    }
    stats.blocks += *block - acked;
    for (uint64_t b = acked + 1; b <= *block; ++b) stats.bytes += window[b - window_first].size();
    acked = *block;
    while (window_first <= acked && !window.empty()) {
      spare.push_back(std::move(window.front()));
      window.pop_front();
      ++window_first;
    }
    if (final_block && acked == *final_block) {
      if (config.faults.data_after_short_final) {
        std::vector<uint8_t> extra(proto::kDataHeaderSize);
        extra.resize(*proto::write_data(extra, sent_wire(acked + 1), {}));
        send_control(std::move(extra), peer);
      }
      finish({OutcomeKind::kSuccess, 0, ""});
      return;
    }
    progress(now);
    // After a partial ACK this rewinds (RFC 7440 §4).
    send_window_from(config.faults.no_rewind ? std::max(acked, sent) + 1 : acked + 1, now);
    // Only Faults::no_final_empty_block learns this late that the ACKed block was the last.
    if (final_block && acked == *final_block && phase != Phase::kDone) finish({OutcomeKind::kSuccess, 0, ""});
  }

  // --- receiving -------------------------------------------------------------------------

  void send_ack(uint64_t block) {
    last_ack_sent = block;
    queue.push_back(Pending::ack(block));
  }

  // The first DATA after block 65535 tells which wrap the peer uses (RFC 1350 §5 leaves it
  // open; see proto/block_number.h). False when `d` must not be taken yet.
  bool learn_wrap(const proto::Data& d) {
    if (stats.peer_wrapped_to || received != proto::kLastBlockBeforeWrap) return true;
    const auto wrap = proto::wrap_value(proto::kLastBlockBeforeWrap, d.block);
    if (!wrap) return true;
    // Block 0 is never a DATA block otherwise, and in lockstep the sender cannot send the
    // second block after 65535 before we ACK the first: either settles it.
    if (*wrap == 0 || params.windowsize == 1 || wrap_probe_sent) {
      stats.peer_wrapped_to = *wrap;
      return true;
    }
    // Windowed, a 1 may follow a lost 0. ACK 65535 (RFC 7440 §4: the sender resends from
    // the block after it): a sender wrapping to 0 then sends 0 first, one wrapping to 1 sends 1.
    wrap_probe_sent = true;
    gap_reported = true;
    send_ack(received);
    return false;
  }

  void on_data(Instant now, const proto::Data& d) {
    if (!learn_wrap(d)) return;
    const uint16_t expected = received_wire(received + 1);
    if (d.block == expected) {
      if (d.payload.size() > params.blksize) {
        protocol_error("DATA block " + std::to_string(d.block) + " carries " + std::to_string(d.payload.size()) +
                       " bytes, more than the block size " + std::to_string(params.blksize));
        return;
      }
      if (auto ok = sink->write(d.payload); !ok) {
        fail(OutcomeKind::kLocalError, sink_error_code(ok.error()), "write failed: " + ok.error().message);
        return;
      }
      ++received;
      ++stats.blocks;
      stats.bytes += d.payload.size();
      gap_reported = false;
      old_blocks_seen = 0;
      if (d.payload.size() < params.blksize) {
        if (auto ok = sink->commit(); !ok) {
          fail(OutcomeKind::kLocalError, sink_error_code(ok.error()), "commit failed: " + ok.error().message);
          return;
        }
        send_ack(received);
        outcome = Outcome{OutcomeKind::kSuccess, 0, ""};
        if (config.dally > Duration::zero() && !config.faults.no_dally) {
          phase = Phase::kDallying;
          // The peer re-sends its final DATA only after its timeout: with a negotiated one,
          // stay long enough to see that retransmission (RFC 1350 §6, RFC 2349).
          deadline = now + std::max(config.dally, 2 * params.fixed_timeout.value_or(Duration::zero()));
        } else {
          finish(*outcome);
        }
        return;
      }
      // Lockstep ACKs every block; a window ACKs its last block (RFC 7440).
      if (received - last_ack_sent >= params.windowsize) send_ack(received);
      progress(now);
      return;
    }
    if (!proto::wire_ahead(received_wire(received), d.block)) {
      // An old block: our ACK was lost (or the sender rewound). Re-ACK what we have, once
      // per window of old blocks: a whole window resent on timeout then costs one ACK, not
      // windowsize ACKs that a sender rewinding on every ACK would each answer with a window.
      ++stats.duplicates_received;
      if (config.faults.duplicate_data_advances && d.block == received_wire(received)) {
        send_ack(++received);
        return;
      }
      if (old_blocks_seen++ % params.windowsize == 0) send_ack(received);
    } else if (!gap_reported && !config.faults.no_gap_ack) {
      // A block from the future: one went missing. ACK the last in-order block once so the
      // sender rewinds (RFC 7440 §4).
      gap_reported = true;
      send_ack(received);
    }
  }

  // --- dispatch --------------------------------------------------------------------------

  void on_packet(Instant now, const proto::Packet& packet) {
    if (const auto* e = std::get_if<proto::ErrorPacket>(&packet)) {
      if (config.faults.ignore_peer_error) return;
      // RFC 1350 §7: an ERROR ends the transfer and is not acknowledged.
      queue.clear();
      if (phase == Phase::kDallying) {
        // The transfer was complete and committed when the final ACK went out (a download, or
        // the server's upload): an ERROR now (a peer giving up on a lost final ACK, a stray)
        // ends the dally, not the transfer (found by fuzz/fuzz_client_transfer.cc; issue 12).
        finish(*outcome);
        return;
      }
      if (sink) sink->abort();
      finish({OutcomeKind::kPeerError, e->code,
              std::string(proto::error_code_name(e->code)) + ": " + std::string(e->message)});
      return;
    }
    switch (phase) {
      case Phase::kAwaitReply: return on_first_reply(now, packet);
      case Phase::kAwaitOackAck:
        if (const auto* a = std::get_if<proto::Ack>(&packet)) {
          if (a->block == 0) start_sending(now);
          return;  // an ACK for a block not yet sent: ignore
        }
        return unexpected(packet);
      case Phase::kSending:
        if (const auto* a = std::get_if<proto::Ack>(&packet)) return on_ack(now, a->block);
        // A client's duplicate OACK; a server never receives an OACK legitimately.
        if (std::holds_alternative<proto::Oack>(packet) && acked == 0 && !requested.empty()) return;
        return unexpected(packet);
      case Phase::kReceiving:
        if (const auto* d = std::get_if<proto::Data>(&packet)) return on_data(now, *d);
        if (std::holds_alternative<proto::Oack>(packet) && received == 0 && !requested.empty()) {
          queue.push_back(Pending::control());  // our ACK 0 was lost: resend it
          return;
        }
        return unexpected(packet);
      case Phase::kDallying:
        if (const auto* d = std::get_if<proto::Data>(&packet); d && d->block == received_wire(received)) {
          ++stats.duplicates_received;
          send_ack(received);
        }
        return;
      case Phase::kDone:
        return;
    }
  }

  void on_first_reply(Instant now, const proto::Packet& packet) {
    if (const auto* o = std::get_if<proto::Oack>(&packet)) {
      // RFC 2347: an OACK acknowledges options the client asked for, and a server that
      // accepts none answers DATA 1 or ACK 0 instead. An empty OACK (which the lenient
      // parser lets through) acknowledges nothing: "If the client rejects the OACK, it
      // sends an ERROR packet, with error code 8, to the server and the transfer is
      // terminated."
      if (o->options.empty()) {
        fail(OutcomeKind::kOptionRefused, static_cast<uint16_t>(ErrorCode::kOptionRefused),
             requested.empty() ? "an OACK (with no option) answers a request that carried none (RFC 2347)"
                               : "an OACK with no option acknowledges none of the requested options (RFC 2347)");
        return;
      }
      auto accepted = accept_oack(requested, o->options);
      if (!accepted) {
        fail(OutcomeKind::kOptionRefused, static_cast<uint16_t>(ErrorCode::kOptionRefused), accepted.error());
        return;
      }
      params = *accepted;
      if (sends_data) return start_sending(now);
      phase = Phase::kReceiving;
      std::vector<uint8_t> ack(4);
      ack.resize(*proto::write_ack(ack, 0));
      send_control(std::move(ack), peer);
      progress(now);
      return;
    }
    if (!sends_data) {
      if (const auto* d = std::get_if<proto::Data>(&packet); d && d->block == 1) {
        params = TransferParams{};  // the server ignored our options (RFC 2347)
        phase = Phase::kReceiving;
        return on_data(now, *d);
      }
    } else if (const auto* a = std::get_if<proto::Ack>(&packet); a && a->block == 0) {
      params = TransferParams{};
      return start_sending(now);
    }
    unexpected(packet);
  }

  void unexpected(const proto::Packet& packet) {
    protocol_error("unexpected " + proto::describe(packet) + " while " + std::string(phase_name(phase)));
  }
};

std::string_view outcome_kind_name(OutcomeKind kind) {
  switch (kind) {
    case OutcomeKind::kSuccess: return "success";
    case OutcomeKind::kPeerError: return "peer error";
    case OutcomeKind::kTimedOut: return "timed out";
    case OutcomeKind::kProtocolError: return "protocol error";
    case OutcomeKind::kOptionRefused: return "option refused";
    case OutcomeKind::kLocalError: return "local error";
    case OutcomeKind::kCancelled: return "cancelled";
  }
  return "?";
}

std::string Outcome::to_string() const {
  if (ok()) return "success";
  std::string out(outcome_kind_name(kind));
  if (kind != OutcomeKind::kTimedOut) out += " (ERROR " + std::to_string(error_code) + ")";
  return out + ": " + message;
}

Transfer::Transfer(std::unique_ptr<State> state) : s_(std::move(state)) {}
Transfer::Transfer(Transfer&&) noexcept = default;
Transfer& Transfer::operator=(Transfer&&) noexcept = default;
Transfer::~Transfer() = default;

namespace {

std::unique_ptr<Transfer::State> client_state(const TransferConfig& config, const Address& server, Opcode op,
                                               std::string_view filename, proto::Mode mode,
                                               std::vector<proto::OwnedOption> options, Instant now) {
  auto s = std::make_unique<Transfer::State>();
  s->config = config;
  s->sends_data = op == Opcode::kWrq;
  s->requested = std::move(options);
  s->request_to = server;
  s->rto = config.retransmit.initial;
  std::vector<uint8_t> request(proto::kMaxDatagramSize);
  const auto views = proto::views_of(s->requested);
  auto n = proto::write_request(request, op, filename, proto::mode_name(mode), views);
  if (!n) throw std::invalid_argument("cannot build request: " + n.error().to_string());
  request.resize(*n);
  s->send_control(std::move(request), server);
  s->start_timing(now);
  s->arm(now);
  return s;
}

}  // namespace

Transfer Transfer::client_read(const TransferConfig& config, const Address& server, std::string filename,
                               proto::Mode mode, std::vector<proto::OwnedOption> options,
                               std::unique_ptr<ByteSink> sink, Instant now) {
  auto s = client_state(config, server, Opcode::kRrq, filename, mode, std::move(options), now);
  s->sink = std::move(sink);
  return Transfer(std::move(s));
}

Transfer Transfer::client_write(const TransferConfig& config, const Address& server, std::string filename,
                                proto::Mode mode, std::vector<proto::OwnedOption> options,
                                std::unique_ptr<ByteSource> source, Instant now) {
  auto s = client_state(config, server, Opcode::kWrq, filename, mode, std::move(options), now);
  s->source = std::move(source);
  return Transfer(std::move(s));
}

namespace {
std::vector<uint8_t> oack_bytes(const ServerNegotiation& n) {
  std::vector<uint8_t> oack(proto::kMaxDatagramSize);
  const auto views = proto::views_of(n.oack);
  oack.resize(proto::write_oack(oack, views).value());
  return oack;
}
}  // namespace

Transfer Transfer::server_read(const TransferConfig& config, const Address& client, const ServerNegotiation& n,
                               std::unique_ptr<ByteSource> source, Instant now) {
  auto s = std::make_unique<State>();
  s->config = config;
  s->sends_data = true;
  s->source = std::move(source);
  s->peer = client;
  s->peer_known = true;
  s->params = n.params;
  s->rto = s->base_rto();
  if (n.oack.empty()) {
    s->start_sending(now);
  } else {
    s->phase = Phase::kAwaitOackAck;
    s->send_control(oack_bytes(n), client);
    s->start_timing(now);
    s->arm(now);
    if (config.faults.data_before_oack_ack) s->start_sending(now);
  }
  return Transfer(std::move(s));
}

Transfer Transfer::server_write(const TransferConfig& config, const Address& client, const ServerNegotiation& n,
                                std::unique_ptr<ByteSink> sink, Instant now) {
  auto s = std::make_unique<State>();
  s->config = config;
  s->sends_data = false;
  s->sink = std::move(sink);
  s->peer = client;
  s->peer_known = true;
  s->params = n.params;
  s->rto = s->base_rto();
  s->phase = Phase::kReceiving;
  if (n.oack.empty()) {
    std::vector<uint8_t> ack(4);
    ack.resize(*proto::write_ack(ack, config.faults.wrq_acked_with_1 ? 1 : 0));
    s->send_control(std::move(ack), client);
  } else {
    s->send_control(oack_bytes(n), client);
  }
  s->arm(now);
  return Transfer(std::move(s));
}

void Transfer::handle_datagram(Instant now, const Address& from, std::span<const uint8_t> bytes) {
  State& s = *s_;
  if (s.phase == Phase::kDone) return;
  auto packet = proto::parse(bytes, proto::Strictness::kLenient);
  if (!s.peer_known) {
    // RFC 1350 §4: the server answers from a new port, which becomes its TID. Only what can
    // answer our request locks it: a late DATA meant for an earlier client that had our
    // port (ports are reused) is dropped as a stray, not taken for the server's reply.
    if (!from.same_host(s.request_to)) {
      ++s.stats.stray_datagrams;
      return;
    }
    if (packet && !proto::answers_request(s.sends_data ? Opcode::kWrq : Opcode::kRrq, *packet)) {
      ++s.stats.stray_datagrams;
      if (s.ignored_first_reply.empty()) {
        s.ignored_first_reply = proto::describe(*packet) + " from " + from.to_string();
      }
      return;
    }
    s.peer = from;
    s.peer_known = true;
  } else if (from != s.peer && !s.config.faults.accept_stray_tid) {
    // RFC 1350 §4: a wrong TID gets ERROR 5 and the transfer goes on undisturbed. A stray
    // ERROR gets none (§7): two transfers that are strays to each other would bounce forever.
    ++s.stats.stray_datagrams;
    const bool is_error = packet ? std::holds_alternative<proto::ErrorPacket>(*packet)
                                 : bytes.size() >= 2 && bytes[0] == 0 && bytes[1] == static_cast<uint8_t>(Opcode::kError);
    if (!s.config.faults.no_error_to_stray_tid && !is_error) {
      s.queue.push_back(
          Pending::error(from, static_cast<uint16_t>(ErrorCode::kUnknownTransferId), "Unknown transfer ID"));
    }
    return;
  }
  if (!packet) {
    s.protocol_error("malformed packet: " + packet.error().to_string());
    return;
  }
  s.on_packet(now, *packet);
}

void Transfer::handle_timeout(Instant now) {
  State& s = *s_;
  if (!s.deadline || now < *s.deadline) return;
  if (s.phase == Phase::kDallying) {
    s.finish(*s.outcome);
    return;
  }
  ++s.stats.timeouts;
  s.timing_since.reset();  // Karn: the reply may answer either transmission
  if (++s.retries > s.config.retransmit.max_retries) {
    s.fail(OutcomeKind::kTimedOut, static_cast<uint16_t>(ErrorCode::kNotDefined),
           "no reply after " + std::to_string(s.config.retransmit.max_retries) + " retransmissions while " +
               std::string(phase_name(s.phase)) +
               (s.peer_known || s.ignored_first_reply.empty()
                    ? std::string()
                    : " (ignored " + s.ignored_first_reply + ", which cannot answer the request)"),
           s.peer_known);
    return;
  }
  if (!s.params.fixed_timeout) s.rto = std::min(s.rto * 2, s.config.retransmit.max);
  s.arm(now);
  if (s.config.faults.no_retransmission) return;
  // RFC 1350 §2: on timeout, retransmit the last packet (the whole window, RFC 7440).
  switch (s.phase) {
    case Phase::kSending:
      for (uint64_t b = s.acked + 1; b <= s.sent; ++b) {
        ++s.stats.retransmissions;
        s.queue.push_back(Pending::data(b));
      }
      break;
    case Phase::kReceiving:
      ++s.stats.retransmissions;
      if (s.received == 0) {
        s.queue.push_back(Pending::control());
      } else {
        s.send_ack(s.received);
      }
      break;
    default:
      ++s.stats.retransmissions;
      if (s.phase == Phase::kAwaitReply) ++s.stats.request_retransmissions;
      s.queue.push_back(Pending::control());
      break;
  }
}

void Transfer::cancel(std::string_view reason) {
  if (s_->phase == Phase::kDone) return;
  s_->fail(OutcomeKind::kCancelled, static_cast<uint16_t>(ErrorCode::kNotDefined), std::string(reason),
           s_->peer_known);
}

std::optional<Transmit> Transfer::poll_transmit(std::span<uint8_t> buffer) {
  State& s = *s_;
  while (!s.queue.empty()) {
    Pending p = std::move(s.queue.front());
    s.queue.pop_front();
    proto::WriteResult n;
    Address to = s.peer;
    switch (p.kind) {
      case Pending::Kind::kControl:
        if (s.control.size() > buffer.size()) throw std::logic_error("poll_transmit: buffer too small");
        std::copy(s.control.begin(), s.control.end(), buffer.begin());
        n = s.control.size();
        to = s.control_to;
        break;
      case Pending::Kind::kData:
        if (p.block < s.window_first || p.block >= s.window_first + s.window.size()) continue;  // acked since
        n = proto::write_data(buffer, s.sent_wire(p.block), s.window[p.block - s.window_first]);
        // Block 1 is left intact so a corrupting server still passes the sanity scenario.
        if (n && s.config.faults.corrupt_data && p.block > 1 && *n > proto::kDataHeaderSize) buffer[*n - 1] ^= 0xff;
        break;
      case Pending::Kind::kAck:
        n = proto::write_ack(buffer, s.received_wire(p.block));
        break;
      case Pending::Kind::kError:
        n = proto::write_error(buffer, p.code, p.message);
        to = p.to.is_specified() ? p.to : s.request_to;
        break;
    }
    if (!n) throw std::logic_error("poll_transmit: " + n.error().to_string());
    ++s.stats.datagrams_sent;
    return Transmit{to, *n};
  }
  return std::nullopt;
}

std::optional<Instant> Transfer::poll_timeout() const { return s_->deadline; }
const std::optional<Outcome>& Transfer::outcome() const { return s_->outcome; }
bool Transfer::finished() const { return s_->phase == Phase::kDone && s_->queue.empty(); }
const TransferStats& Transfer::stats() const { return s_->stats; }
const TransferParams& Transfer::params() const { return s_->params; }
Duration Transfer::current_timeout() const { return s_->base_rto(); }
const Address& Transfer::peer() const { return s_->peer_known ? s_->peer : s_->request_to; }
size_t Transfer::max_datagram_size() const {
  return std::max({s_->params.blksize + proto::kDataHeaderSize, s_->control.size(), size_t{1024}});
}

}  // namespace tftp::engine
