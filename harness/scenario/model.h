// A conformance scenario as loaded from a file under scenarios/: what it checks (id,
// citation, level) and the steps that provoke and observe the target's behaviour.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/time.h"
#include "proto/packet.h"
#include "report/model.h"

namespace tftp::scenario {

using report::Verdict;

enum class Level { kMust, kShould, kMay };
std::string_view level_name(Level l);

// Where a file came from, for error messages: "scenarios/rfc1350/x.yaml:12".
struct SourceLocation {
  std::string file;
  int line = 0;
  std::string to_string() const { return file + ":" + std::to_string(line); }
};

// Durations in scenario files are absolute ("2s", "250ms") or multiples of the target's
// retransmission timeouts, measured by discovery before the run:
//   rto   how long it waits before resending DATA 1, when it has seen no round trip yet;
//   srto  how long it waits mid-transfer after prompt ACKs. An adaptive timer (RFC 1123
//         §4.2.3.2) makes this shorter than rto; for a fixed timer the two are equal.
// A window meant to tell a reaction from a timer retransmission mid-transfer ("no resend
// within 0.5srto") must use srto, or it calls an adaptive server's timer a reaction.
struct Wait {
  double seconds = 0;
  double rto_multiple = 0;
  double srto_multiple = 0;
  Duration resolve(Duration rto, Duration srto) const {
    return std::chrono::duration_cast<Duration>(std::chrono::duration<double>(seconds) + rto * rto_multiple +
                                                srto * srto_multiple);
  }
};

// kOther: a second port, the "wrong TID". Concurrent transfers each take a port of their
// own beyond these two: Socket{2}, Socket{3}, ... (Wire::extra_sockets).
enum class Socket : uint16_t { kMain, kOther };
enum class Destination { kAuto, kListen, kServer };  // kAuto: the server's TID once known

// A packet to send. `op` empty means raw bytes (`hex`).
struct SendSpec {
  std::optional<proto::Opcode> op;
  std::string file;
  std::string mode = "octet";
  std::vector<std::pair<std::string, std::string>> options;  // in order; duplicates allowed
  uint32_t block = 0;      // DATA/ACK; may exceed 65535 in files only as an error
  std::optional<size_t> size;  // DATA payload size (pattern bytes); default: next fixture bytes
  bool content = false;    // DATA payload = the upload fixture's bytes for this block
  uint16_t code = 0;
  std::string message;
  std::vector<uint8_t> raw;
  Socket from = Socket::kMain;
  Destination to = Destination::kAuto;
  int count = 1;           // >1: send duplicates back to back
  bool request = false;    // RAW only: the bytes are a (perhaps malformed) request, so like
                           // a typed RRQ/WRQ they start a new transfer (forget the server TID)
};

// A pattern for a datagram from the target. Unset fields match anything.
struct Pattern {
  std::optional<proto::Opcode> op;  // nullopt: any opcode
  bool malformed = false;           // match a datagram that does not parse
  std::optional<uint32_t> block;
  std::optional<size_t> size;
  bool size_full = false;           // payload == negotiated blksize
  bool size_short = false;          // payload < negotiated blksize
  std::vector<uint16_t> codes;      // ERROR codes, any of
  std::vector<std::pair<std::string, std::string>> options;  // OACK must carry these values ("*": any)
  std::vector<std::string> options_absent;
  bool content = false;             // DATA payload equals the requested fixture's bytes
  std::string content_of;           // ... or this fixture's (a name spelled other ways: /x, a/../x)
  std::optional<std::vector<uint8_t>> payload;  // DATA payload equals these bytes (a captured block)
  std::optional<Socket> at;         // which of our sockets it must reach
  bool from_listen = false;         // must come from the well-known port
  bool from_new_port = false;       // must come from a port other than the well-known one
  std::string describe() const;
};

struct Alternative {
  Pattern pattern;
  Verdict verdict = Verdict::kPass;
  std::string reason;
  bool end = false;  // the scenario ends here with this verdict
};

enum class StepKind { kSend, kExpect, kSilence, kWait, kDownload, kUpload, kDownloads, kSchedule };

// A whole transfer run by the reference client engine, with deliberate faults on what
// the harness sends: used for long files (rollover, 1 MB) and loss/duplication of our ACKs.
struct OutgoingFault {
  proto::Opcode op;
  uint32_t block;   // absolute block number as counted by the client (0 = ACK 0)
  int times = 1;
  bool duplicate = false;  // false: drop ("lose") it; true: send it twice
  // ACK only: send it, then an ACK `ahead_by` blocks further on, for a block the sender
  // has not sent yet (RFC 1350 §2: it acknowledges nothing).
  uint32_t ahead_by = 0;
};

struct TransferSpec {
  std::string file;  // fixture to download or upload (upload: server name gets a unique suffix)
  std::string mode = "octet";
  std::vector<std::pair<std::string, std::string>> options;
  // Added when discovery found the capability of the same name (windowsize: a long
  // transfer then costs round trips per window, not per block).
  std::vector<std::pair<std::string, std::string>> options_if_supported;
  std::vector<OutgoingFault> faults;
  bool expect_failure = false;  // the transfer should be refused
};

// Transfers started at once, each from its own client port (RFC 1350 §4: a connection is
// its pair of TIDs), driven together by the reference client engine and each verified
// byte for byte. Transfer i downloads files[i % files.size()].
struct ConcurrentSpec {
  std::vector<std::string> files;
  size_t count = 0;
};

struct Step {
  StepKind kind;
  SourceLocation where;
  SendSpec send;
  // expect / silence
  std::vector<Alternative> alternatives;  // expect: one must match the next new datagram
  bool repeat = false;                    // the match may repeat an earlier datagram (a retransmission)
  Wait within{0, 0};
  std::optional<Verdict> otherwise;       // verdict when nothing matches in time (default by level)
  std::string reason;                     // why a mismatch matters, for the report
  bool backoff = false;                   // gap since the previous match must not shrink (RFC 1123 §4.2.3.2)
  TransferSpec transfer;
  ConcurrentSpec concurrent;  // kDownloads
  // kSchedule: the retransmissions of what the previous expect matched, left unanswered,
  // are timed (RFC 1123 §4.2.3.2); `tries` of them, or with 0 until the target gives up.
  int tries = 0;
};

struct Scenario {
  std::string id;
  std::string title;
  std::string citation;     // "RFC 1350 §6"
  std::string requirement;  // checklist id, "T1350-END-ZERO": the first of `requirements`
  std::vector<std::string> requirements;  // every requirement whose breach sets the verdict
  Level level = Level::kMust;
  std::string summary;      // the requirement in one sentence
  std::vector<std::string> needs;  // capabilities: write, options, windowsize, tsize, timeout, netascii
  std::vector<std::string> tags;   // e.g. security
  std::vector<std::string> fixtures;  // files the target must serve (checked by discovery)
  bool slow = false;               // opt-in group
  bool sanity = false;             // runs first and last
  Duration deadline = std::chrono::seconds(30);
  std::vector<Step> steps;
  SourceLocation where;
};

}  // namespace tftp::scenario
