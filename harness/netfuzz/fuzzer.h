// `tftpspec fuzz`: stateful network fuzzing of a remote TFTP server. Cases come from
// CaseDriver (mutator.h) and are sent over real UDP, following the target's TID; after each
// batch a known-good request (an RRQ of the probe file) must be answered. When it is not,
// even after re-checks, the batch since the last good check is shrunk (shrink.h) against a
// restarted target to a minimal reproducer, saved as a scenario file `tftpspec run` replays
// and as a pcap capture (reproducer.h).
#pragma once

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "common/address.h"
#include "common/result.h"
#include "common/time.h"
#include "netfuzz/case.h"
#include "netfuzz/mutator.h"

namespace tftp::netfuzz {

// One datagram on the wire, for captures and evidence.
struct WireEvent {
  Instant time;
  bool sent = true;  // harness -> target
  Address from;
  Address to;
  std::vector<uint8_t> bytes;
};

struct Timing {
  Duration reply = std::chrono::milliseconds(50);       // wait for an answer within a case
  Duration liveness = std::chrono::seconds(1);          // wait for the probe's answer
  int liveness_tries = 3;                               // probes per liveness check
  int rechecks = 2;                                     // further checks before calling it dead
};

// Sends cases to the target over UDP and probes it. One client port per case (a new TID,
// RFC 1350 §4), one per probe.
class TargetLink {
 public:
  TargetLink(Address target, Timing timing, std::string probe_file);
  // Generates and runs case `number` of the campaign with `seed`.
  Case run_generated(uint64_t seed, uint64_t number, const MutatorConfig& config, std::vector<WireEvent>* log);
  // Sends a recorded case again (datagrams to the server TID are skipped if none answered).
  void replay(const Case& c, std::vector<WireEvent>* log);
  // A liveness check: up to liveness_tries probes, each an RRQ of the probe file; true at the
  // first answer of any kind from the target's host (DATA, ERROR, OACK: it is alive).
  bool alive(std::vector<WireEvent>* log = nullptr);
  const Address& target() const { return target_; }
  const std::string& probe_file() const { return probe_file_; }
  const Timing& timing() const { return timing_; }

 private:
  bool probe_once(std::vector<WireEvent>* log);
  Address target_;
  Timing timing_;
  std::string probe_file_;
  std::vector<uint8_t> rx_;
};

struct Finding {
  int index = 0;                  // 1, 2, ...
  uint64_t first_case = 0;        // the batch since the last good liveness check
  uint64_t last_case = 0;
  std::vector<Case> batch;        // as run
  std::vector<Case> reproducer;   // shrunk, or the batch when it could not be shrunk
  bool shrunk = false;
  bool reproduced = false;        // replaying the batch against a restarted target killed it again
  size_t shrink_attempts = 0;
  std::string note;               // why not shrunk, or how
  std::vector<WireEvent> events;  // the reproducer's datagrams and the unanswered probes
  std::filesystem::path scenario_file;
  std::filesystem::path capture_file;
  std::string scenario_id;
};

struct Progress {
  uint64_t cases = 0;
  uint64_t datagrams = 0;
  uint64_t liveness_checks = 0;
  uint64_t stalls = 0;  // a check failed, a re-check passed: slow, not dead
  Duration elapsed{};
  std::string last_state;
  std::string last_mutation;
  std::string phase;    // "fuzzing", "re-checking", "shrinking", "done"
  size_t findings = 0;
};

struct CampaignConfig {
  Address target;
  uint64_t seed = 1;
  std::optional<uint64_t> cases;       // stop after this many
  std::optional<Duration> duration;    // ... or after this long
  size_t batch = 1;                    // cases between liveness checks
  Timing timing;
  MutatorConfig mutator;
  std::string probe_file = "f1.bin";   // what the liveness check reads
  // Restarts the target (--restart-cmd); false with a reason when it failed. Empty: the
  // target cannot be restarted, so a death ends the campaign unshrunk.
  std::function<bool(std::string* why)> restart;
  size_t shrink_budget = 150;          // replays (each: restart, replay, probe) per finding
  size_t max_findings = 5;
  std::filesystem::path out;           // finding-N/ directories go here
  std::string command;                 // the command line, for the reproducer's comment
};

struct CampaignResult {
  Progress progress;
  std::vector<Finding> findings;
  bool target_answered = false;  // the first liveness check passed
  bool interrupted = false;
  std::string stopped_because;   // empty: the budget was used up
  // Stalls: the last case of each batch after which a liveness check failed and a re-check
  // passed (the first 100), to look at by hand: slow, or briefly down.
  std::vector<uint64_t> stalls_after;
};

using ProgressFn = std::function<void(const Progress&)>;

// Runs the campaign; writes each finding's files as soon as it is shrunk.
Result<CampaignResult> run_campaign(const CampaignConfig& config, const std::atomic<bool>& stop,
                                    const ProgressFn& progress = {});

}  // namespace tftp::netfuzz
