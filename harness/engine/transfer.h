// A sans-IO TFTP transfer: one side (client or server) of one file transfer.
//
// Inputs:  handle_datagram(now, from, bytes)  -- a datagram addressed to this transfer
//          handle_timeout(now)                -- call when now >= poll_timeout()
// Outputs: poll_transmit(buffer)             -- drain until nullopt after every input
//          poll_timeout()                     -- the next deadline, if any
//          finished() / outcome() / stats()
// No sockets, no clock reads, no threads: time is the `now` argument. The same object
// runs over real UDP, over the virtual network in tests, and under the fuzzers.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "common/address.h"
#include "common/time.h"
#include "engine/io.h"
#include "engine/negotiation.h"
#include "proto/packet.h"

namespace tftp::engine {

// RFC 1123 §4.2.3.2: "TFTP MUST use an adaptive timeout". The side that sends DATA
// measures round trips (RFC 6298, Karn's rule: never across a retransmission) and waits
// clamp(SRTT + 4·RTTVAR, min, initial) for an ACK; every timeout doubles the wait up to
// `max`. Before the first measurement, and on the receiving side, it waits `initial`: a
// receiver's early re-ACK recovers nothing the sender's timer does not, and provokes
// duplicate DATA from a Sorcerer's Apprentice peer. A negotiated `timeout` option (RFC 2349)
// overrides all of this with a fixed timer.
struct RetransmitPolicy {
  Duration initial = std::chrono::seconds(1);     // also the adaptive timeout's ceiling
  // The adaptive timeout's floor (>= initial: a fixed timer). Round trips on a LAN are well
  // under a millisecond, but a busy peer (a PXE ROM writing flash, one of 200 booting at once,
  // a loaded host) answers late now and then: a 10 ms floor resent DATA the peer was about to
  // ACK (24 spurious DATA in a 200-client boot storm on a loaded machine), and a peer with the
  // Sorcerer's Apprentice bug doubles each spurious copy for the rest of the transfer. 200 ms
  // is Linux TCP's minimum RTO for the same reason; it costs only when a datagram is really
  // lost, and still recovers five times sooner than a 1 s timer.
  Duration min = std::chrono::milliseconds(200);
  Duration max = std::chrono::seconds(8);         // the backoff's ceiling
  int max_retries = 5;  // retransmissions of one packet before giving up
};

// Deliberate misbehaviours, for showing that conformance scenarios can fail. Never set
// outside tests; each names the rule it breaks.
struct Faults {
  bool no_final_empty_block = false;   // RFC 1350 §6: skip the 0-byte DATA after a full block
  bool resend_on_duplicate_ack = false;  // RFC 1123 §4.2.3.1: Sorcerer's Apprentice
  bool resend_on_stale_ack = false;    // RFC 1123 §4.2.3.1: an ACK older than the last one brings DATA again
  bool accept_stray_tid = false;       // RFC 1350 §4: treat any source port as the peer
  bool no_error_to_stray_tid = false;  // RFC 1350 §4: drop strays silently instead of ERROR 5
  bool no_retransmission = false;      // RFC 1350 §2: never retransmit on timeout
  bool no_dally = false;               // RFC 1350 §6: forget the transfer right after the final ACK
  bool ignore_peer_error = false;      // RFC 1350 §7: keep sending after the peer's ERROR
  bool unsolicited_window = false;     // RFC 1350 §2: send two blocks per ACK without windowsize
  bool data_before_oack_ack = false;   // RFC 2347: send DATA 1 without waiting for ACK 0
  bool corrupt_data = false;           // RFC 1350 §5: flip the last byte of every DATA payload
  bool window_as_lockstep = false;     // RFC 7440: grant a window but send one block per ACK
  bool no_rewind = false;              // RFC 7440 §4: after a partial ACK, go on past the lost blocks
  bool ignore_window_loss_ack = false;  // RFC 7440 §4: a repeated ACK (first block of a window lost) waits for the timer
  bool window_past_loss = false;       // RFC 7440 §4: a repeated ACK sends the next window past the blocks sent
  bool no_gap_ack = false;             // RFC 7440 §4: a receiver that sees a gap waits for its timer to re-ACK
  bool data_after_short_final = false;  // RFC 1350 §6: one more (empty) DATA after the final one is ACKed
  bool wrq_acked_with_1 = false;       // RFC 1350 §4: a granted WRQ is answered with ACK 1, not ACK 0
  bool duplicate_data_advances = false;  // RFC 1350 §2: a repeat of the last DATA is taken as the next block
  bool jump_on_future_ack = false;     // RFC 1350 §2, §5: an ACK of a block not yet sent skips the blocks before it
};

struct TransferConfig {
  RetransmitPolicy retransmit;
  // RFC 1350 §6: how long the side that sent the final ACK waits to re-ACK a
  // retransmitted final DATA; at least twice a negotiated `timeout`. Zero: do not dally.
  Duration dally = std::chrono::seconds(2);
  // The block number our DATA wraps to after 65535 (de facto: 0; some use 1). As the
  // receiver, a transfer follows whichever wrap the peer's DATA uses.
  uint16_t rollover_block = 0;
  Faults faults;
};

enum class OutcomeKind {
  kSuccess,
  kPeerError,      // the peer sent ERROR
  kTimedOut,       // retransmissions exhausted
  kProtocolError,  // the peer broke the protocol; we sent ERROR 4
  kOptionRefused,  // an OACK we could not accept; we sent ERROR 8
  kLocalError,     // our source/sink failed; we sent ERROR
  kCancelled,
};
std::string_view outcome_kind_name(OutcomeKind kind);

struct Outcome {
  OutcomeKind kind = OutcomeKind::kSuccess;
  uint16_t error_code = 0;  // the ERROR code sent or received, where there was one
  std::string message;
  bool ok() const { return kind == OutcomeKind::kSuccess; }
  std::string to_string() const;
};

struct TransferStats {
  uint64_t bytes = 0;            // payload bytes (as on the wire) delivered in order
  uint64_t blocks = 0;           // DATA blocks delivered in order
  uint64_t datagrams_sent = 0;
  uint64_t retransmissions = 0;  // datagrams re-sent on timeout or rewind
  uint64_t request_retransmissions = 0;  // of those, the client's RRQ/WRQ (no reply yet)
  uint64_t timeouts = 0;
  uint64_t duplicates_received = 0;
  uint64_t stray_datagrams = 0;  // from a wrong TID
  uint64_t rtt_samples = 0;      // round trips measured (the DATA sender only)
  Duration srtt{};               // smoothed round trip, zero before the first sample
  // The receiving side: the block number the peer's DATA wrapped to after 65535 (0 or 1,
  // RFC 1350 §5 leaves it open), once it has wrapped. The sending side wraps to
  // TransferConfig::rollover_block and leaves this empty.
  std::optional<uint16_t> peer_wrapped_to;
};

struct Transmit {
  Address to;
  size_t size;  // bytes written at the start of the caller's buffer
};

class Transfer {
 public:
  // Client side. The request goes to `server` (usually port 69); the first reply
  // fixes the server's TID.
  static Transfer client_read(const TransferConfig& config, const Address& server, std::string filename,
                              proto::Mode mode, std::vector<proto::OwnedOption> options,
                              std::unique_ptr<ByteSink> sink, Instant now);
  static Transfer client_write(const TransferConfig& config, const Address& server, std::string filename,
                               proto::Mode mode, std::vector<proto::OwnedOption> options,
                               std::unique_ptr<ByteSource> source, Instant now);
  // Server side, after the request was accepted and negotiated. An empty `oack` means
  // no options were accepted: an RRQ starts with DATA 1, a WRQ with ACK 0.
  static Transfer server_read(const TransferConfig& config, const Address& client, const ServerNegotiation& n,
                              std::unique_ptr<ByteSource> source, Instant now);
  static Transfer server_write(const TransferConfig& config, const Address& client, const ServerNegotiation& n,
                               std::unique_ptr<ByteSink> sink, Instant now);

  Transfer(Transfer&&) noexcept;
  Transfer& operator=(Transfer&&) noexcept;
  ~Transfer();

  void handle_datagram(Instant now, const Address& from, std::span<const uint8_t> bytes);
  void handle_timeout(Instant now);
  // Ends the transfer now, telling the peer with ERROR 0 (e.g. the user pressed Ctrl-C).
  void cancel(std::string_view reason);

  std::optional<Transmit> poll_transmit(std::span<uint8_t> buffer);
  std::optional<Instant> poll_timeout() const;

  // An outcome exists once the result is known; the transfer may still be dallying.
  const std::optional<Outcome>& outcome() const;
  // Nothing left to do: no datagram to send and no timer.
  bool finished() const;
  const TransferStats& stats() const;
  const TransferParams& params() const;
  const Address& peer() const;
  // What the transfer waits for a reply to what it sent last, before backoff.
  Duration current_timeout() const;
  // The largest datagram this transfer can emit (buffer size for poll_transmit).
  size_t max_datagram_size() const;

  struct State;  // defined in transfer.cc

 private:
  explicit Transfer(std::unique_ptr<State> state);
  std::unique_ptr<State> s_;
};

}  // namespace tftp::engine
