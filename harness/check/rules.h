// The one rule engine: watches the datagrams exchanged with a target TFTP server (live,
// or read from a capture) and reports every RFC violation it sees, citing the rule.
// Scenarios add expectations on top of it; they never re-implement these rules.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
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
  std::vector<size_t> evidence;  // indices into the observations
};

// Watches every transfer with one server. The target's well-known address (port 69 or
// the test port) tells requests from transfer traffic.
class RuleEngine {
 public:
  explicit RuleEngine(Address target_listen);
  ~RuleEngine();
  RuleEngine(RuleEngine&&) noexcept;
  RuleEngine& operator=(RuleEngine&&) noexcept;

  // The measured path; call before the first observe(). Without it the engine assumes a
  // nearby target with a timer of at least 200 ms.
  void set_timing(const PathTiming& timing);
  const PathTiming& timing() const;

  void observe(const Observation& observation);
  // Findings so far, each reported once. Call at any time; end-of-transfer rules
  // (e.g. a missing final DATA) are judged by finish().
  std::vector<Finding> findings() const;
  std::vector<Finding> finish();
  const std::vector<Observation>& observations() const;

 private:
  struct State;
  std::unique_ptr<State> s_;
};

}  // namespace tftp::check
