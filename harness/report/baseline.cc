#include "report/baseline.h"

#include <algorithm>
#include <map>

namespace tftp::report {

namespace {

bool is_regression(ChangeKind k, std::optional<Verdict> after) {
  switch (k) {
    case ChangeKind::kNewFail:
    case ChangeKind::kNewWarn:
    case ChangeKind::kNewError: return true;
    case ChangeKind::kNewFinding:
    case ChangeKind::kFindingChanged: return after == Verdict::kFail;
    default: return false;
  }
}

// The sanity scenario runs twice, as "<id>#first" and "<id>#last"; the catalogue knows "<id>".
std::string catalogue_id(const std::string& result_id) { return result_id.substr(0, result_id.find('#')); }

void add(BaselineComparison& out, ChangeKind kind, std::string id, std::optional<Verdict> before,
         std::optional<Verdict> after, std::string reason, std::string why) {
  BaselineChange c;
  c.kind = kind;
  c.id = std::move(id);
  c.before = before;
  c.after = after;
  c.reason = std::move(reason);
  c.why = std::move(why);
  c.regression = is_regression(kind, after);
  out.changes.push_back(std::move(c));
}

// A verdict each scenario had before: the baseline report's, or the expected one.
struct Before {
  Verdict verdict;
  std::string why;
};

// Scenarios: `before` holds the baseline's entries by id; `implicit` is the verdict of a
// scenario the baseline does not list (none for a report: the scenario was added; pass for
// expectations).
void compare_scenarios(const std::map<std::string, Before>& before, std::optional<Verdict> implicit, const RunReport& run,
                       const std::set<std::string>& catalogue_ids, BaselineComparison& out) {
  std::set<std::string> ran;
  for (const auto& r : run.results) {
    ran.insert(r.id);
    const auto it = before.find(r.id);
    if (it == before.end() && !implicit) {
      add(out, ChangeKind::kAdded, r.id, std::nullopt, r.verdict, r.reason, "");
      continue;
    }
    const Verdict was = it == before.end() ? *implicit : it->second.verdict;
    if (was == r.verdict) continue;
    add(out, classify(was, r.verdict), r.id, was, r.verdict, r.reason, it == before.end() ? "" : it->second.why);
  }
  for (const auto& [id, was] : before) {
    if (ran.count(id)) continue;
    if (catalogue_ids.count(catalogue_id(id))) {
      ++out.not_selected;
    } else {
      add(out, ChangeKind::kRemoved, id, was.verdict, std::nullopt, "no longer in the catalogue", was.why);
    }
  }
}

// Run-wide findings, by key. `observable(key)` says whether this run could have seen a
// baseline finding at all (a report knows which scenarios saw it; an expectations file
// does not, so there every listed finding is observable).
template <class Observable>
void compare_findings(const std::map<std::string, Before>& before, const RunReport& run, Observable observable,
                      BaselineComparison& out) {
  std::set<std::string> seen;
  for (const auto& f : run.findings) {
    const std::string key = f.finding.key();
    seen.insert(key);
    const auto it = before.find(key);
    if (it == before.end()) {
      add(out, ChangeKind::kNewFinding, key, std::nullopt, f.verdict, f.finding.message, "");
    } else if (it->second.verdict != f.verdict) {
      add(out, ChangeKind::kFindingChanged, key, it->second.verdict, f.verdict, f.finding.message, it->second.why);
    }
  }
  for (const auto& [key, was] : before) {
    if (!seen.count(key) && observable(key)) add(out, ChangeKind::kFindingGone, key, was.verdict, std::nullopt, "", was.why);
  }
}

}  // namespace

ChangeKind classify(Verdict before, Verdict after) {
  switch (after) {
    case Verdict::kFail: return ChangeKind::kNewFail;
    case Verdict::kError: return ChangeKind::kNewError;
    case Verdict::kSkip: return ChangeKind::kNewlySkipped;
    case Verdict::kWarn: return before == Verdict::kFail ? ChangeKind::kImproved : ChangeKind::kNewWarn;
    case Verdict::kPass:
    case Verdict::kNote:
      return before == Verdict::kFail || before == Verdict::kWarn ? ChangeKind::kFixed : ChangeKind::kChanged;
  }
  return ChangeKind::kChanged;
}

BaselineComparison compare(const RunReport& baseline, const RunReport& run, const std::set<std::string>& catalogue_ids) {
  BaselineComparison out;
  out.kind = BaselineKind::kReport;
  out.description = baseline.target.address + " at " + baseline.started;
  std::map<std::string, Before> scenarios;
  for (const auto& r : baseline.results) scenarios.emplace(r.id, Before{r.verdict, ""});
  compare_scenarios(scenarios, std::nullopt, run, catalogue_ids, out);

  std::map<std::string, Before> findings;
  std::map<std::string, std::vector<std::string>> seen_by;
  for (const auto& f : baseline.findings) {
    findings.emplace(f.finding.key(), Before{f.verdict, ""});
    seen_by[f.finding.key()] = f.scenarios;
  }
  std::set<std::string> ran;
  for (const auto& r : run.results) ran.insert(r.id);
  // A finding is gone only if a scenario that saw it ran again.
  compare_findings(findings, run, [&](const std::string& key) {
    const auto& saw = seen_by[key];
    return std::any_of(saw.begin(), saw.end(), [&](const std::string& id) { return ran.count(id) > 0; });
  }, out);
  return out;
}

BaselineComparison compare(const Expectations& expected, const RunReport& run, const std::set<std::string>& catalogue_ids) {
  BaselineComparison out;
  out.kind = BaselineKind::kExpectations;
  out.description = expected.server;
  std::map<std::string, Before> scenarios;
  for (const auto& [id, e] : expected.scenarios) scenarios.emplace(id, Before{e.verdict, e.why});
  compare_scenarios(scenarios, Verdict::kPass, run, catalogue_ids, out);
  std::map<std::string, Before> findings;
  for (const auto& [key, e] : expected.findings) findings.emplace(key, Before{e.verdict, e.why});
  compare_findings(findings, run, [](const std::string&) { return true; }, out);
  return out;
}

}  // namespace tftp::report
