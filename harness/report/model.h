// The results of a conformance run, as every report format renders them (JSON is the
// primary artefact; JUnit XML and HTML are views of the same model).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace tftp::report {

// The level model (README "Verdicts"): pass; note (a pass, with behaviour the RFCs only
// encourage or leave open, worth knowing: the rollover value, no dally); warn (a SHOULD
// broken); fail (a MUST broken); skip (the target lacks an optional capability); error
// (the harness could not judge: setup, a dead target, the budget, an interruption).
enum class Verdict { kPass, kNote, kWarn, kFail, kSkip, kError };
// Every verdict, in the order reports count them (the JSON summary's order).
inline constexpr Verdict kAllVerdicts[] = {Verdict::kPass, Verdict::kNote, Verdict::kWarn,
                                           Verdict::kFail, Verdict::kSkip, Verdict::kError};
std::string_view verdict_name(Verdict v);
std::optional<Verdict> verdict_from_name(std::string_view name);
// For combining verdicts: pass < note < warn < skip < fail < error. A skip never hides a
// fail: a MUST seen broken before the scenario found a capability missing still fails.
int severity(Verdict v);
// The verdict a broken requirement of this RFC 2119 level earns: MUST fail, SHOULD warn,
// anything else (NOTE, MAY, INFO) a note.
Verdict verdict_for_level(std::string_view level);

struct EvidenceLine {
  size_t index;           // position in the scenario's datagram log
  double t_ms;            // since the scenario started
  std::string direction;  // "sent" (harness -> target) or "received"
  std::string from;
  std::string to;
  std::string packet;     // decoded, e.g. `DATA block=2 size=0`
  size_t size;
  // What the harness's own fault injection did to it, so a reader does not blame the
  // target: kMarkWithheld (never sent, the "lost" datagram; `index` is that of the datagram
  // observed next), kMarkDuplicate (the second copy of one sent twice), or empty.
  std::string mark;
  // Its first bytes in hex (text.h hex_bytes), for the datagrams a finding cites and the
  // withheld ones; empty for the others, to keep reports small.
  std::string hex;
  // Its frame number in the run's capture (`run --pcap FILE`), as Wireshark numbers frames;
  // 0 when the run wrote no capture (or, a withheld datagram, it was never sent).
  uint64_t frame = 0;
  friend bool operator==(const EvidenceLine&, const EvidenceLine&) = default;
};
inline constexpr std::string_view kMarkWithheld = "withheld";
inline constexpr std::string_view kMarkDuplicate = "duplicate";

// One rule-engine finding, as a report shows it.
struct FindingRecord {
  std::string id;           // the rule's stable id
  std::string requirement;  // checklist id
  std::string citation;
  std::string level;        // MUST, SHOULD, NOTE
  std::string cause;        // stable text without numbers: with `id`, what makes two sightings one bug
  std::string category;     // "security" or empty
  std::string message;      // the first sighting, with its block numbers and times
  std::vector<size_t> evidence;           // indices into the scenario's datagram log
  std::vector<EvidenceLine> datagrams;    // those datagrams, decoded (at most kFindingDatagrams)
  std::string key() const { return id + "|" + cause; }
  friend bool operator==(const FindingRecord&, const FindingRecord&) = default;
};
inline constexpr size_t kFindingDatagrams = 16;

// A finding of a rule other than the one a scenario checks, seen along the way: collected
// once per run, whatever the number of scenarios that saw it (one bug, one finding).
struct RunFinding {
  FindingRecord finding;             // as first seen
  Verdict verdict = Verdict::kNote;  // from its own level
  std::string first_seen_in;         // scenario id
  std::vector<std::string> scenarios;  // every scenario that saw it, sorted
  size_t sightings = 0;
  friend bool operator==(const RunFinding&, const RunFinding&) = default;
};

// A retransmission schedule a scenario measured (RFC 1123 §4.2.3.2, T1123-RTO): the packet
// the harness left unacknowledged, the gaps between its sends as the harness's clock saw
// them (the first: from the original to the first retransmission), how it ended and what
// the timer's shape says.
struct RetransmissionCurve {
  std::string packet;            // decoded, e.g. `DATA block=1 size=512`
  std::vector<double> gaps_ms;
  std::string end;               // "gave up silently after ...", "ERROR 0 ...", "measured 3 retransmissions"
  std::string judgement;         // "backs off", "never adapts", ...
  std::string text() const;      // one line: the curve, the end and the judgement
  friend bool operator==(const RetransmissionCurve&, const RetransmissionCurve&) = default;
};

struct ScenarioResult {
  std::string id;
  std::string title;
  std::string citation;
  std::string requirement;                // the first of `requirements`
  std::vector<std::string> requirements;  // whose breach sets the verdict
  std::string level;  // MUST, SHOULD, MAY
  std::string summary;
  std::string file;   // scenario source, "scenarios/rfc1350/x.yaml:3"
  std::vector<std::string> tags;
  Verdict verdict = Verdict::kPass;
  std::string reason;    // why not pass (empty on pass)
  std::string decided_by;  // the requirement whose breach set a fail, warn or note verdict
  std::string expected;  // for a failed expectation
  std::string observed;
  double duration_ms = 0;
  std::vector<EvidenceLine> evidence;
  size_t evidence_elided = 0;  // datagrams left out of a long transfer's evidence
  size_t datagrams_dropped = 0;  // a flood: datagrams the harness did not keep for its steps
  std::string category;  // "security" when a security scenario does not pass
  std::vector<FindingRecord> findings;    // about this scenario's own requirement: they set the verdict
  std::vector<FindingRecord> incidental;  // other rules' findings; the runner moves them to RunReport::findings
  std::vector<std::string> see_also;      // keys of the run findings this scenario saw
  std::vector<RetransmissionCurve> retransmissions;  // schedules measured by `schedule:` steps
  friend bool operator==(const ScenarioResult&, const ScenarioResult&) = default;
};

// What discovery measured of the path to the target; every timing judgement derives from it.
struct PathMeasurement {
  int samples = 0;       // round trips timed
  double rtt_ms = 0;     // median request-to-first-reply time
  double jitter_ms = 0;  // spread of the samples (max - min)
  friend bool operator==(const PathMeasurement&, const PathMeasurement&) = default;
};

// A fixture the selected scenarios need, as the target serves it.
struct FixtureCheck {
  std::string name;
  std::string status;  // "ok", "missing", "different", "unreadable"
  std::string detail;
  friend bool operator==(const FixtureCheck&, const FixtureCheck&) = default;
};

struct TargetInfo {
  std::string address;      // "127.0.0.1:69" or "embedded"
  std::string description;  // "reference server (in-process, virtual time)"
  bool alive = false;
  std::vector<std::string> capabilities;
  double rto_ms = 0;        // measured retransmission timeout before any round trip
  double srto_ms = 0;       // measured mid-transfer, after prompt ACKs (adaptive: shorter)
  PathMeasurement path;
  std::vector<FixtureCheck> fixtures;
  std::vector<std::string> notes;
  friend bool operator==(const TargetInfo&, const TargetInfo&) = default;
};

struct Summary {
  int pass = 0, note = 0, fail = 0, warn = 0, skip = 0, error = 0;
  // Run-wide findings by verdict (each counted once, however many scenarios saw it).
  int findings_fail = 0, findings_warn = 0, findings_note = 0;
  friend bool operator==(const Summary&, const Summary&) = default;
};

// How the run was asked for: the flags that choose the target, the scenarios and the
// catalogue, not where the output goes, so that `tftpspec rerun` repeats the run exactly.
// Stored structured (not only as the command line) so a rerun needs no shell parsing.
struct RunSettings {
  std::optional<std::string> target;   // --target; none: the embedded reference server
  std::optional<std::string> root;     // --root
  bool upload_fixtures = false;
  std::vector<std::string> include;    // --scenario globs
  std::vector<std::string> exclude;    // --exclude globs
  bool slow = false;
  int jobs = 0;                        // --jobs; 0: the default for the target
  std::vector<std::string> reference_faults;
  std::optional<std::string> scenarios;  // --scenarios DIR; none: the default catalogue
  friend bool operator==(const RunSettings&, const RunSettings&) = default;
};

// What changed against a baseline (`run --baseline FILE`): an earlier report, or an
// expectations file (the known deviations of a server; a scenario not listed is expected to
// pass). For an expectations file every scenario change is an expectation no longer met.
enum class BaselineKind { kReport, kExpectations };
enum class ChangeKind {
  kNewFail,         // now fail, before anything else
  kNewWarn,         // now warn, before pass, note, skip or error
  kNewError,        // now error: the harness could no longer judge it
  kNewlySkipped,    // now skip
  kFixed,           // was fail or warn, now pass or note
  kImproved,        // was fail, now warn
  kChanged,         // any other change (pass <-> note, error or skip -> pass)
  kAdded,           // in the run, not in the baseline report
  kRemoved,         // in the baseline, no longer in the catalogue
  kNewFinding,      // a run-wide finding (rule id | cause) the baseline does not have
  kFindingGone,     // a baseline finding not seen in this run
  kFindingChanged,  // the same finding with another verdict
};
std::string_view change_kind_name(ChangeKind k);  // "new_fail", ...
std::optional<ChangeKind> change_kind_from_name(std::string_view name);

struct BaselineChange {
  ChangeKind kind = ChangeKind::kChanged;
  std::string id;                 // scenario id, or the finding's key (rule id|cause)
  std::optional<Verdict> before;  // the baseline's (or the expected) verdict; none when added
  std::optional<Verdict> after;   // this run's; none when removed or gone
  std::string reason;             // this run's reason for `after`
  std::string why;                // an expectations file's recorded why for `before`
  bool regression = false;        // see baseline.h for the policy
  friend bool operator==(const BaselineChange&, const BaselineChange&) = default;
};

struct BaselineComparison {
  std::string file;
  BaselineKind kind = BaselineKind::kReport;
  std::string description;  // a report: its target and start; expectations: the server
  std::vector<BaselineChange> changes;
  // Baseline scenarios still in the catalogue but outside this run's selection: not
  // compared, and counted rather than listed (a narrower --scenario is no removal).
  size_t not_selected = 0;
  bool regression() const;
  friend bool operator==(const BaselineComparison&, const BaselineComparison&) = default;
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
  std::vector<RunFinding> findings;  // incidental findings, deduplicated by rule id and cause
  bool interrupted = false;
  std::optional<std::string> target_died_after;  // scenario id after which the target stopped answering
  std::optional<RunSettings> run;  // none in reports of tftpspec before `rerun`
  std::optional<BaselineComparison> baseline;  // with --baseline
  friend bool operator==(const RunReport&, const RunReport&) = default;
};

Summary summarize(const std::vector<ScenarioResult>& results, const std::vector<RunFinding>& findings = {});

// Puts the results in id order (whatever order they finished in), collects their
// incidental findings and counts the summary: the last step of every run, interrupted or not.
void order_and_summarize(RunReport& run);

// Moves each result's incidental findings into `findings` (one entry per rule id and
// cause, listing the scenarios that saw it) and leaves the keys in the results' see_also.
void collect_findings(std::vector<ScenarioResult>& results, std::vector<RunFinding>& findings);

}  // namespace tftp::report
