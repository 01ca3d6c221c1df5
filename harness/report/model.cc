#include "report/model.h"

#include <algorithm>
#include <cstdio>
#include <map>
#include <utility>

namespace tftp::report {

std::string RetransmissionCurve::text() const {
  std::string out = packet + ": gaps";
  if (gaps_ms.empty()) out += " (none)";
  for (double g : gaps_ms) {
    char buf[32];
    std::snprintf(buf, sizeof buf, " %.2f", g / 1000.0);
    out += buf;
  }
  if (!gaps_ms.empty()) out += " s";
  if (!end.empty()) out += "; " + end;
  if (!judgement.empty()) out += "; " + judgement;
  return out;
}

std::string_view verdict_name(Verdict v) {
  switch (v) {
    case Verdict::kPass: return "pass";
    case Verdict::kNote: return "note";
    case Verdict::kWarn: return "warn";
    case Verdict::kFail: return "fail";
    case Verdict::kSkip: return "skip";
    case Verdict::kError: return "error";
  }
  return "error";
}

std::optional<Verdict> verdict_from_name(std::string_view name) {
  for (Verdict v : kAllVerdicts) {
    if (verdict_name(v) == name) return v;
  }
  return std::nullopt;
}

namespace {
// One table for both directions, so a name cannot be written one way and read another.
constexpr std::pair<ChangeKind, std::string_view> kChangeNames[] = {
    {ChangeKind::kNewFail, "new_fail"},         {ChangeKind::kNewWarn, "new_warn"},
    {ChangeKind::kNewError, "new_error"},       {ChangeKind::kNewlySkipped, "newly_skipped"},
    {ChangeKind::kFixed, "fixed"},              {ChangeKind::kImproved, "improved"},
    {ChangeKind::kChanged, "changed"},          {ChangeKind::kAdded, "added"},
    {ChangeKind::kRemoved, "removed"},          {ChangeKind::kNewFinding, "new_finding"},
    {ChangeKind::kFindingGone, "finding_gone"}, {ChangeKind::kFindingChanged, "finding_changed"},
};
}  // namespace

std::string_view change_kind_name(ChangeKind k) {
  for (const auto& entry : kChangeNames) {
    if (entry.first == k) return entry.second;
  }
  return "changed";
}

std::optional<ChangeKind> change_kind_from_name(std::string_view name) {
  for (const auto& entry : kChangeNames) {
    if (entry.second == name) return entry.first;
  }
  return std::nullopt;
}

bool BaselineComparison::regression() const {
  return std::any_of(changes.begin(), changes.end(), [](const BaselineChange& c) { return c.regression; });
}

int severity(Verdict v) {
  switch (v) {
    case Verdict::kPass: return 0;
    case Verdict::kNote: return 1;
    case Verdict::kWarn: return 2;
    case Verdict::kSkip: return 3;
    case Verdict::kFail: return 4;
    case Verdict::kError: return 5;
  }
  return 5;
}

Verdict verdict_for_level(std::string_view level) {
  if (level == "MUST") return Verdict::kFail;
  if (level == "SHOULD") return Verdict::kWarn;
  return Verdict::kNote;
}

Summary summarize(const std::vector<ScenarioResult>& results, const std::vector<RunFinding>& findings) {
  Summary s;
  for (const auto& r : results) {
    switch (r.verdict) {
      case Verdict::kPass: ++s.pass; break;
      case Verdict::kNote: ++s.note; break;
      case Verdict::kWarn: ++s.warn; break;
      case Verdict::kFail: ++s.fail; break;
      case Verdict::kSkip: ++s.skip; break;
      case Verdict::kError: ++s.error; break;
    }
  }
  for (const auto& f : findings) {
    if (f.verdict == Verdict::kFail) ++s.findings_fail;
    if (f.verdict == Verdict::kWarn) ++s.findings_warn;
    if (f.verdict == Verdict::kNote) ++s.findings_note;
  }
  return s;
}

void order_and_summarize(RunReport& run) {
  std::stable_sort(run.results.begin(), run.results.end(), [](const auto& a, const auto& b) { return a.id < b.id; });
  collect_findings(run.results, run.findings);
  run.summary = summarize(run.results, run.findings);
}

void collect_findings(std::vector<ScenarioResult>& results, std::vector<RunFinding>& findings) {
  std::map<std::string, size_t> by_key;
  for (size_t i = 0; i < findings.size(); ++i) by_key[findings[i].finding.key()] = i;
  for (auto& r : results) {
    for (auto& f : r.incidental) {
      const std::string key = f.key();
      auto it = by_key.find(key);
      if (it == by_key.end()) {
        RunFinding run;
        run.verdict = verdict_for_level(f.level);
        run.first_seen_in = r.id;
        run.finding = std::move(f);
        it = by_key.emplace(key, findings.size()).first;
        findings.push_back(std::move(run));
      }
      RunFinding& run = findings[it->second];
      ++run.sightings;
      if (std::find(run.scenarios.begin(), run.scenarios.end(), r.id) == run.scenarios.end()) run.scenarios.push_back(r.id);
      if (std::find(r.see_also.begin(), r.see_also.end(), key) == r.see_also.end()) r.see_also.push_back(key);
    }
    r.incidental.clear();
  }
  for (auto& f : findings) std::sort(f.scenarios.begin(), f.scenarios.end());
  // Worst first, then by rule id: the order a reader triages in.
  std::stable_sort(findings.begin(), findings.end(), [](const RunFinding& a, const RunFinding& b) {
    if (severity(a.verdict) != severity(b.verdict)) return severity(a.verdict) > severity(b.verdict);
    return a.finding.key() < b.finding.key();
  });
}

}  // namespace tftp::report
