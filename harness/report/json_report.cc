#include "report/json_report.h"

#include <unistd.h>

#include <cstdio>
#include <fstream>

namespace tftp::report {

using nlohmann::json;

namespace {

json evidence_json(const std::vector<EvidenceLine>& lines) {
  json out = json::array();
  for (const auto& e : lines) {
    json j = {{"index", e.index}, {"t_ms", e.t_ms}, {"direction", e.direction}, {"from", e.from},
              {"to", e.to}, {"packet", e.packet}, {"size", e.size}};
    if (!e.mark.empty()) j["mark"] = e.mark;
    if (!e.hex.empty()) j["hex"] = e.hex;
    if (e.frame != 0) j["frame"] = e.frame;
    out.push_back(std::move(j));
  }
  return out;
}

json finding_json(const FindingRecord& f) {
  json j = {{"id", f.id},           {"requirement", f.requirement}, {"citation", f.citation},
            {"level", f.level},     {"cause", f.cause},             {"message", f.message},
            {"evidence", f.evidence}, {"datagrams", evidence_json(f.datagrams)}};
  if (!f.category.empty()) j["category"] = f.category;
  return j;
}

json result_json(const ScenarioResult& r) {
  json findings = json::array();
  for (const auto& f : r.findings) findings.push_back(finding_json(f));
  json j = {{"id", r.id},           {"title", r.title},       {"citation", r.citation},
            {"requirement", r.requirement}, {"level", r.level}, {"summary", r.summary},
            {"file", r.file},       {"tags", r.tags},         {"verdict", std::string(verdict_name(r.verdict))},
            {"reason", r.reason},   {"duration_ms", r.duration_ms}, {"evidence", evidence_json(r.evidence)},
            {"evidence_elided", r.evidence_elided},
            {"datagrams_dropped", r.datagrams_dropped}, {"findings", findings}, {"see_also", r.see_also}};
  j["requirements"] = r.requirements;
  if (!r.decided_by.empty()) j["decided_by"] = r.decided_by;
  if (!r.category.empty()) j["category"] = r.category;
  if (!r.expected.empty()) j["expected"] = r.expected;
  if (!r.observed.empty()) j["observed"] = r.observed;
  if (!r.retransmissions.empty()) {
    json curves = json::array();
    for (const auto& c : r.retransmissions) {
      curves.push_back({{"packet", c.packet}, {"gaps_ms", c.gaps_ms}, {"end", c.end}, {"judgement", c.judgement}});
    }
    j["retransmissions"] = curves;
  }
  return j;
}

json run_finding_json(const RunFinding& f) {
  json j = finding_json(f.finding);
  j["key"] = f.finding.key();
  j["verdict"] = std::string(verdict_name(f.verdict));
  j["first_seen_in"] = f.first_seen_in;
  j["scenarios"] = f.scenarios;
  j["sightings"] = f.sightings;
  return j;
}

json optional_string(const std::optional<std::string>& s) { return s ? json(*s) : json(nullptr); }

json optional_verdict(const std::optional<Verdict>& v) { return v ? json(std::string(verdict_name(*v))) : json(nullptr); }

json run_settings_json(const RunSettings& s) {
  return {{"target", optional_string(s.target)},
          {"root", optional_string(s.root)},
          {"upload_fixtures", s.upload_fixtures},
          {"include", s.include},
          {"exclude", s.exclude},
          {"slow", s.slow},
          {"jobs", s.jobs},
          {"reference_faults", s.reference_faults},
          {"catalogue_dir", optional_string(s.scenarios)}};
}

json baseline_json(const BaselineComparison& b) {
  json changes = json::array();
  for (const auto& c : b.changes) {
    changes.push_back({{"kind", std::string(change_kind_name(c.kind))},
                       {"id", c.id},
                       {"before", optional_verdict(c.before)},
                       {"after", optional_verdict(c.after)},
                       {"reason", c.reason},
                       {"why", c.why},
                       {"regression", c.regression}});
  }
  return {{"file", b.file},
          {"kind", b.kind == BaselineKind::kReport ? "report" : "expectations"},
          {"description", b.description},
          {"regression", b.regression()},
          {"not_selected", b.not_selected},
          {"changes", changes}};
}

}  // namespace

json to_json(const RunReport& r) {
  json results = json::array();
  for (const auto& s : r.results) results.push_back(result_json(s));
  json findings = json::array();
  for (const auto& f : r.findings) findings.push_back(run_finding_json(f));
  json fixtures = json::array();
  for (const auto& f : r.target.fixtures) fixtures.push_back({{"name", f.name}, {"status", f.status}, {"detail", f.detail}});
  json j = {
      {"$schema", kSchemaId},
      {"tool", {{"name", r.tool_name}, {"version", r.tool_version}}},
      {"catalogue_version", r.catalogue_version},
      {"command", r.command},
      {"seed", r.seed},
      {"started", r.started},
      {"finished", r.finished},
      {"duration_ms", r.duration_ms},
      {"target",
       {{"address", r.target.address},
        {"description", r.target.description},
        {"alive", r.target.alive},
        {"capabilities", r.target.capabilities},
        {"rto_ms", r.target.rto_ms},
        {"srto_ms", r.target.srto_ms},
        {"path",
         {{"samples", r.target.path.samples}, {"rtt_ms", r.target.path.rtt_ms}, {"jitter_ms", r.target.path.jitter_ms}}},
        {"fixtures", fixtures},
        {"notes", r.target.notes}}},
      {"selection", r.selection},
      {"summary",
       {{"pass", r.summary.pass}, {"note", r.summary.note}, {"fail", r.summary.fail}, {"warn", r.summary.warn},
        {"skip", r.summary.skip}, {"error", r.summary.error},
        {"findings", {{"fail", r.summary.findings_fail}, {"warn", r.summary.findings_warn}, {"note", r.summary.findings_note}}}}},
      {"interrupted", r.interrupted},
      {"target_died_after", optional_string(r.target_died_after)},
      {"results", results},
      {"findings", findings},
  };
  if (r.run) j["run"] = run_settings_json(*r.run);
  if (r.baseline) j["baseline"] = baseline_json(*r.baseline);
  return j;
}

}  // namespace tftp::report
