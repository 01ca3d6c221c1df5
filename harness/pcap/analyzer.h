// TFTP conversations in a capture: requests recognised by their shape on any port, confirmed
// by the server's answer, each transfer followed across the TID change (or from the listening
// port), logged like Zeek's tftp.log and judged by the one rule engine (check::RuleEngine),
// with the capture's frame numbers as evidence.
//
// Streaming and bounded: frames go in one at a time and every finished transfer goes out to a
// listener at once, so memory does not grow with the capture. The state held is at most
// `live_transfers` transfers (each with its own rule engine, at most about 1 MiB, see
// the test ALongTransferHoldsBoundedMemory), `pending_requests` unanswered requests (a few KiB each) and the
// fragment table (4 MiB): about 300 MiB with the defaults, whatever the capture's size.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "check/rules.h"
#include "common/address.h"
#include "common/result.h"
#include "common/time.h"
#include "pcap/decode.h"
#include "proto/options.h"
#include "proto/packet.h"

namespace tftp::pcap {

enum class Outcome { kComplete, kError, kIncomplete };
std::string_view outcome_name(Outcome o);  // "complete", "error", "incomplete"

struct FindingLog {
  check::Finding finding;        // as the rule engine reported it (evidence: observation indices)
  std::vector<uint64_t> frames;  // the capture frames of its evidence, as far as still known
};

struct TransferError {
  uint16_t code = 0;
  std::string message;   // as sent (may hold any byte)
  bool from_server = true;
};

// One transfer, in the spirit of Zeek's tftp.log.
struct TransferLog {
  size_t id = 0;            // 1, 2, ... in the order transfers were recognised
  Instant start{};          // the request (capture time since the Unix epoch)
  Instant end{};            // the last datagram
  uint64_t first_frame = 0;
  uint64_t last_frame = 0;
  Address client;
  Address server;           // the server's TID (its address for this transfer)
  Address listen;           // where the request went
  proto::Opcode opcode = proto::Opcode::kRrq;
  std::string filename;     // as on the wire (hostile: quote before showing)
  std::string mode;
  std::vector<proto::OwnedOption> requested;
  std::vector<proto::OwnedOption> negotiated;  // the OACK's, empty without one
  bool oack = false;
  uint64_t blksize = proto::kDefaultBlockSize;
  uint64_t windowsize = 1;
  uint64_t bytes = 0;            // file bytes on the wire (distinct blocks; netascii not decoded)
  uint64_t blocks_sent = 0;      // highest DATA block sent
  uint64_t blocks_acked = 0;     // highest block acknowledged
  uint64_t retransmissions = 0;  // DATA blocks sent again
  uint64_t duplicates = 0;       // ACKs of a block already acknowledged
  uint64_t request_retransmissions = 0;
  uint64_t datagrams = 0;        // judged with the transfer (strays to its TID included)
  Outcome outcome = Outcome::kIncomplete;
  std::optional<TransferError> error;
  std::string reason;            // why incomplete (empty otherwise)
  bool content_complete = false; // blocks 1..final all seen: the content is the whole file
  std::vector<FindingLog> findings;
};

// Receives what the analyzer learns, as soon as it learns it.
class TransferListener {
 public:
  virtual ~TransferListener() = default;
  // The next block of a transfer's file, in order, as on the wire (only while no block is
  // missing; a gap makes the content incomplete).
  virtual void on_content(const TransferLog& transfer, std::span<const uint8_t> block) {
    (void)transfer;
    (void)block;
  }
  // Each datagram judged with the transfer, in capture order (its requests first, once the
  // answer confirmed them), with its frame: for those who replay or convert a transfer.
  virtual void on_datagram(const TransferLog& transfer, const check::Observation& o, uint64_t frame) {
    (void)transfer;
    (void)o;
    (void)frame;
  }
  // The transfer has ended (completed and lingered, failed, fell silent, or the capture ended).
  virtual void on_end(TransferLog&& transfer) = 0;
};

struct AnalyzerLimits {
  size_t live_transfers = 256;      // beyond: the least recently active one ends, "evicted"
  size_t pending_requests = 1024;   // unanswered requests; beyond: the oldest is dropped
  Duration idle = std::chrono::seconds(70);     // an unfinished transfer silent this long ends
                                                // (tftpd-hpa's retries span 63 s)
  Duration linger = std::chrono::seconds(10);   // an ended one is watched for late datagrams
  Duration request_timeout = std::chrono::seconds(30);  // a request unanswered this long
  // Per transfer, what its rule engine keeps of the datagrams: nothing, since a finding's
  // evidence is named by its frames (the capture holds the datagrams), and copying and
  // describing each one cost more than judging it. Verdicts do not depend on it (see
  // check::RetentionLimits).
  check::RetentionLimits retention{0, 0, 0};
  ReassemblyLimits reassembly;
};

struct CaptureStats {
  uint64_t frames = 0;
  uint64_t udp_datagrams = 0;
  uint64_t tftp_datagrams = 0;  // given to a transfer (requests included)
  uint64_t not_tftp = 0;        // UDP datagrams outside any TFTP conversation
  std::map<std::string, uint64_t> skipped;    // frames without UDP, by decode id (not_ip, not_udp)
  std::map<std::string, uint64_t> malformed;  // frames that break their own headers, by decode id
  uint64_t transfers = 0;
  uint64_t requests_unanswered = 0;
  uint64_t requests_dropped = 0;     // over the pending-request cap
  uint64_t transfers_evicted = 0;    // unfinished ones ended early over the live-transfer cap
  size_t peak_live_transfers = 0;
  std::optional<Error> read_error;   // the file ended inside a record: frames before were read
};

class Analyzer {
 public:
  // Requests to port 69 and to `ports` are taken as TFTP whatever their mode; elsewhere a
  // request must have a known mode (netascii, octet, mail).
  Analyzer(TransferListener& listener, std::vector<uint16_t> ports = {}, AnalyzerLimits limits = {});
  ~Analyzer();
  Analyzer(const Analyzer&) = delete;
  Analyzer& operator=(const Analyzer&) = delete;

  void add(const Frame& frame);
  // Ends every open transfer (and unanswered request): call once, after the last frame.
  void finish();
  // A read error that ended the capture early (counted, reported; not fatal).
  void note_read_error(Error e);

  const CaptureStats& stats() const;
  // Live transfers and their rule engines' retained bytes (tests of the memory bound).
  size_t live_transfers() const;
  size_t retained_bytes() const;

 private:
  struct State;
  std::unique_ptr<State> s_;
};

class CaptureReader;

// Feeds every frame of `reader` to `analyzer`, then finishes it. A read error (truncated
// file) ends the reading and is noted. Returns false when `cancel` became true first (the
// transfers so far are still ended and reported).
bool analyze_all(CaptureReader& reader, Analyzer& analyzer, const std::atomic<bool>* cancel = nullptr);

// Opens `path` and analyses every frame. Errors: tftp.pcap.open_failed (nothing analysed).
// A truncated file is not an error: stats().read_error says where it ended.
Result<CaptureStats> analyze_file(const std::string& path, TransferListener& listener, std::vector<uint16_t> ports = {},
                                  AnalyzerLimits limits = {});

}  // namespace tftp::pcap
