#include "report/model.h"

namespace tftp::report {

std::string_view verdict_name(Verdict v) {
  switch (v) {
    case Verdict::kPass: return "pass";
    case Verdict::kWarn: return "warn";
    case Verdict::kFail: return "fail";
    case Verdict::kSkip: return "skip";
    case Verdict::kError: return "error";
  }
  return "error";
}

std::optional<Verdict> verdict_from_name(std::string_view name) {
  for (Verdict v : {Verdict::kPass, Verdict::kWarn, Verdict::kFail, Verdict::kSkip, Verdict::kError}) {
    if (verdict_name(v) == name) return v;
  }
  return std::nullopt;
}

int severity(Verdict v) {
  switch (v) {
    case Verdict::kPass: return 0;
    case Verdict::kWarn: return 1;
    case Verdict::kSkip: return 2;
    case Verdict::kFail: return 3;
    case Verdict::kError: return 4;
  }
  return 4;
}

Summary summarize(const std::vector<ScenarioResult>& results) {
  Summary s;
  for (const auto& r : results) {
    switch (r.verdict) {
      case Verdict::kPass: ++s.pass; break;
      case Verdict::kWarn: ++s.warn; break;
      case Verdict::kFail: ++s.fail; break;
      case Verdict::kSkip: ++s.skip; break;
      case Verdict::kError: ++s.error; break;
    }
  }
  return s;
}

}  // namespace tftp::report
