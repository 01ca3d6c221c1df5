// The results of a conformance run, as every report format renders them (JSON is the
// primary artefact; JUnit XML and HTML are views of the same model).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace tftp::report {

// DESIGN.md: pass; fail (a MUST broken); warn (a SHOULD broken); skip (the target lacks
// an optional capability); error (the harness could not judge).
enum class Verdict { kPass, kWarn, kFail, kSkip, kError };
std::string_view verdict_name(Verdict v);
std::optional<Verdict> verdict_from_name(std::string_view name);
// For combining verdicts: pass < warn < skip < fail < error.
int severity(Verdict v);

struct EvidenceLine {
  size_t index;           // position in the scenario's datagram log
  double t_ms;            // since the scenario started
  std::string direction;  // "sent" (harness -> target) or "received"
  std::string from;
  std::string to;
  std::string packet;     // decoded, e.g. `DATA block=2 size=0`
  size_t size;
};

struct FindingRecord {
  std::string id;
  std::string requirement;
  std::string citation;
  std::string level;  // MUST, SHOULD, INFO
  std::string message;
  std::vector<size_t> evidence;
};

struct ScenarioResult {
  std::string id;
  std::string title;
  std::string citation;
  std::string requirement;
  std::string level;  // MUST, SHOULD, MAY
  std::string summary;
  std::string file;   // scenario source, "scenarios/rfc1350/x.yaml:3"
  std::vector<std::string> tags;
  Verdict verdict = Verdict::kPass;
  std::string reason;    // why not pass (empty on pass)
  std::string expected;  // for a failed expectation
  std::string observed;
  double duration_ms = 0;
  std::vector<EvidenceLine> evidence;
  size_t evidence_elided = 0;  // datagrams left out of a long transfer's evidence
  std::vector<FindingRecord> findings;
};

struct TargetInfo {
  std::string address;      // "127.0.0.1:69" or "embedded"
  std::string description;  // "reference server (in-process, virtual time)"
  bool alive = false;
  std::vector<std::string> capabilities;
  double rto_ms = 0;        // measured retransmission timeout before any round trip
  double srto_ms = 0;       // measured mid-transfer, after prompt ACKs (adaptive: shorter)
  std::vector<std::string> notes;
};

struct Summary {
  int pass = 0, fail = 0, warn = 0, skip = 0, error = 0;
};

struct RunReport {
  std::string tool_name = "tftpspec";
  std::string tool_version;
  std::string catalogue_version;  // digest of the scenario files
  std::string command;            // the exact command line, to re-run
  uint64_t seed = 0;
  std::string started;            // ISO 8601 UTC
  std::string finished;
  double duration_ms = 0;
  TargetInfo target;
  std::vector<std::string> selection;  // --scenario/--exclude globs, groups
  Summary summary;
  std::vector<ScenarioResult> results;
  bool interrupted = false;
  std::optional<std::string> target_died_after;  // scenario id after which the target stopped answering
};

Summary summarize(const std::vector<ScenarioResult>& results);

}  // namespace tftp::report
