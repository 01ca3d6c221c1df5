// A run compared with a baseline: an earlier report, or an expectations file. What changed,
// and which changes are regressions (`run --baseline` exits 1 on those alone).
//
// The regression policy (README "Baselines and expectations"):
//  - a scenario now fail, warn or error that was not (new_fail, new_warn, new_error);
//  - a run-wide finding of a MUST (verdict fail) not in the baseline, or one that was only a
//    warn or note there. A new SHOULD or NOTE finding is listed but is no regression: it is
//    seen incidentally, by scenarios judging other rules, so whether it shows depends on
//    the selection and on timing; a scenario's own SHOULD (new_warn) is judged by design.
// Not regressions, but listed: fixed, improved (fail -> warn), newly skipped (a capability
// withdrawn or a budget exceeded on a slow path), other changes (pass <-> note), scenarios
// added to or removed from the catalogue, findings gone.
// For an expectations file, "before" is the expected verdict (pass for a scenario not
// listed; not seen for a finding not listed), so every change is an expectation no longer
// met, in the worse direction (a regression), the better one (fixed: update the file) or
// neither (a skip).
#pragma once

#include <set>
#include <string>

#include "report/json_reader.h"
#include "report/model.h"

namespace tftp::report {

// `catalogue_ids`: every scenario id of the catalogue the run was selected from, so that a
// baseline scenario the run did not select is counted as not_selected, not as removed.
BaselineComparison compare(const RunReport& baseline, const RunReport& run, const std::set<std::string>& catalogue_ids);
BaselineComparison compare(const Expectations& expected, const RunReport& run, const std::set<std::string>& catalogue_ids);

// The classification of one scenario's verdict change, before -> after (before != after).
ChangeKind classify(Verdict before, Verdict after);

}  // namespace tftp::report
