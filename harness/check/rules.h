// The one rule engine: watches the datagrams exchanged with a target TFTP server (live,
// or read from a capture) and reports every RFC violation it sees, citing the rule.
// Scenarios add expectations on top of it; they never re-implement these rules.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "common/address.h"
#include "common/time.h"

namespace tftp::check {

enum class Direction {
  kToTarget,    // sent by the client side (the harness, or the client in a capture)
  kFromTarget,  // sent by the server under test
};

// One datagram, recorded once, as its sender put it on the wire (or as a capture saw it).
// Observations are given in the order they happened; a copy made by the harness's own fault
// injection is not something the target sent and must not be recorded as such.
struct Observation {
  Instant at;
  Direction direction;
  Address from;
  Address to;
  std::vector<uint8_t> bytes;
};

// What the engine keeps of an observation once observe() returns: everything but the bytes
// beyond the first few (rules judge a datagram as it arrives and copy what they need later).
struct KeptObservation {
  size_t index;              // its sequence number, as observe() returned it
  Observation observation;   // `bytes` cut to at most RetentionLimits::bytes
  size_t size;               // the datagram's true size
  std::string packet;        // proto::describe_datagram of the whole datagram (cut, see kSummaryChars)
};

// How much of a scenario's observations the engine keeps, for evidence: the first `head`
// and the last `tail` datagrams, each cut to its first `bytes` bytes; the rest are counted.
// A kept observation costs at most sizeof(KeptObservation) (144 B on x86-64) + `bytes` +
// kSummaryChars, so the defaults keep at most 4,000 x 1.4 KB, about 5.6 MB, however long the
// scenario and however large its datagrams (4,000 whole 64 KiB datagrams would be 256 MiB).
// Verdicts do not depend on these limits: rules copy what they look back at into their own
// bounded state (transfer_tracker.h) when it happens.
struct RetentionLimits {
  static constexpr size_t kHead = 2000;
  static constexpr size_t kTail = 2000;
  static constexpr size_t kBytes = 1024;  // a TFTP header is 4 bytes; an ERROR's text or a request's options fit
  size_t head = kHead;
  size_t tail = kTail;
  size_t bytes = kBytes;
  // Keeps everything (tests comparing verdicts with and without the limits).
  static RetentionLimits unbounded();
};
// How much of a datagram's description a kept observation or a rule's state holds.
inline constexpr size_t kSummaryChars = 240;

// RFC 2119 level of the broken requirement: a MUST makes a scenario fail, a SHOULD warn;
// a note records behaviour the RFCs only encourage or leave free (never a warn).
enum class Level { kMust, kShould, kNote };
std::string_view level_name(Level level);  // "MUST", "SHOULD", "NOTE"

// The path to the target as discovery measured it. Every grace or reaction window of the
// engine derives from it (see transfer_tracker.h); absent values keep conservative defaults.
struct PathTiming {
  std::optional<Duration> rtt;     // round-trip time (median of several samples)
  std::optional<Duration> jitter;  // its spread (e.g. mean absolute deviation)
  std::optional<Duration> rto;     // the target's first-block retransmission timeout
  std::optional<Duration> srto;    // its mid-transfer retransmission timeout
};

struct Finding {
  std::string id;           // stable, e.g. "tftp.rule.sorcerers_apprentice"
  std::string requirement;  // checklist id, e.g. "T1123-SAS"
  std::string citation;     // e.g. "RFC 1123 §4.2.3.1"
  Level level;
  std::string message;      // what was seen, with block numbers and times
  // Short, stable, without block numbers, times or ports (e.g. "resends DATA on a duplicate
  // ACK"): one bug seen in many transfers or scenarios deduplicates by (id, cause).
  std::string cause;
  std::string category;     // "security" for anything served or written outside the root; else empty
  std::vector<size_t> evidence;  // observation indices (observe()'s return values)
};

// Watches every transfer with one server. The target's well-known address (port 69 or
// the test port) tells requests from transfer traffic.
class RuleEngine {
 public:
  explicit RuleEngine(Address target_listen, RetentionLimits limits = {});
  ~RuleEngine();
  RuleEngine(RuleEngine&&) noexcept;
  RuleEngine& operator=(RuleEngine&&) noexcept;

  // The measured path; call before the first observe(). Without it the engine assumes a
  // nearby target with a timer of at least 200 ms.
  void set_timing(const PathTiming& timing);
  const PathTiming& timing() const;

  // Judges one datagram; returns its index, the sequence number findings and
  // observation() use (0, 1, 2, ... in the order observed).
  size_t observe(const Observation& observation);
  // Findings so far, each reported once. Call at any time; end-of-transfer rules
  // (e.g. a missing final DATA) are judged by finish().
  std::vector<Finding> findings() const;
  std::vector<Finding> finish();
  // How many findings so far, without copying them: a capture's analysis asks after each
  // datagram, to name a new finding's evidence frames while they are still recent.
  size_t finding_count() const;
  // The findings from index `first` on, without copying them (valid until the next
  // observe() or finish()): a caller following a long run reads only the new ones, where
  // findings() after each would copy every earlier finding again.
  std::span<const Finding> findings_from(size_t first) const;

  // How many datagrams were observed, kept or not.
  size_t observed_count() const;
  // What is kept of observation `index`; nullptr once dropped (or never observed).
  const KeptObservation* observation(size_t index) const;
  // Every kept observation, in order (the first RetentionLimits::head, then the last tail).
  std::vector<const KeptObservation*> kept() const;
  // Copies of the kept observations, in order, bytes cut; equal to all of them (by position)
  // only while observed_count() <= head + tail. Prefer observation(index).
  std::vector<Observation> observations() const;
  // Gives back the spare room of the rules' records, keeping every entry (so no verdict
  // changes): for a caller that keeps an engine after its transfers have ended, for late
  // datagrams, and wants the memory its records grew into for the next one (a capture's
  // analysis, with hundreds of ended transfers lingering).
  void shrink_to_fit();
  // An estimate of the heap and object bytes the engine holds (kept observations and the
  // rules' state), for tests of the memory bound.
  size_t retained_bytes() const;

 private:
  struct State;
  std::unique_ptr<State> s_;
};

}  // namespace tftp::check
