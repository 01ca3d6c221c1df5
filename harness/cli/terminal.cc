#include "cli/terminal.h"

#include <unistd.h>

#include <algorithm>
#include <cstdlib>

namespace tftp::cli {

using report::BaselineKind;
using report::ChangeKind;

bool colour_wanted(std::FILE* out) { return ::isatty(::fileno(out)) == 1 && std::getenv("NO_COLOR") == nullptr; }

const char* verdict_colour(report::Verdict v) {
  switch (v) {
    case report::Verdict::kPass: return "\033[32m";
    case report::Verdict::kNote: return "\033[36m";
    case report::Verdict::kWarn: return "\033[33m";
    case report::Verdict::kFail: return "\033[1;31m";
    case report::Verdict::kSkip: return "\033[2m";
    case report::Verdict::kError: return "\033[35m";
  }
  return "";
}

size_t display_width(const std::string& text) {
  return static_cast<size_t>(std::count_if(text.begin(), text.end(), [](char ch) { return (ch & 0xC0) != 0x80; }));
}

void print_table(std::FILE* out, const std::vector<std::vector<std::string>>& rows, const CellColour& colour) {
  std::vector<size_t> width;
  for (const auto& row : rows) {
    if (width.size() < row.size()) width.resize(row.size(), 0);
    for (size_t c = 0; c < row.size(); ++c) width[c] = std::max(width[c], display_width(row[c]));
  }
  for (size_t r = 0; r < rows.size(); ++r) {
    std::string line;
    for (size_t c = 0; c < rows[r].size(); ++c) {
      const char* sgr = colour ? colour(r, c) : nullptr;
      line += sgr ? sgr + rows[r][c] + kColourReset : rows[r][c];
      if (c + 1 < rows[r].size()) line += std::string(width[c] - display_width(rows[r][c]) + 2, ' ');
    }
    std::fprintf(out, "%s\n", line.c_str());
  }
}

namespace {

// The groups a comparison is printed in, regressions first. An expectations file names
// each scenario change "an expectation no longer met", by direction.
struct Group {
  std::vector<ChangeKind> kinds;
  const char* against_report;
  const char* against_expectations;
};
const Group kGroups[] = {
    {{ChangeKind::kNewFail}, "new fail", "expectation no longer met, worse: now fail"},
    {{ChangeKind::kNewWarn}, "new warn", "expectation no longer met, worse: now warn"},
    {{ChangeKind::kNewError}, "newly error (the harness could not judge)", "expectation no longer met, worse: now error"},
    {{ChangeKind::kNewFinding}, "new run-wide finding", "run-wide finding not in the expectations"},
    {{ChangeKind::kFindingChanged}, "run-wide finding with another verdict", "run-wide finding with another verdict than expected"},
    {{ChangeKind::kFixed, ChangeKind::kImproved}, "fixed (or fail now only warn)",
     "expectation no longer met, better: fixed, update your expectations"},
    {{ChangeKind::kNewlySkipped}, "newly skipped", "expectation no longer met: now skip"},
    {{ChangeKind::kChanged}, "other change", "expectation no longer met"},
    {{ChangeKind::kAdded}, "scenario added (not in the baseline)", "scenario added"},
    {{ChangeKind::kRemoved}, "scenario removed from the catalogue", "expected scenario no longer in the catalogue"},
    {{ChangeKind::kFindingGone}, "run-wide finding gone", "expected run-wide finding not seen"},
};

std::string verdict_or(const std::optional<report::Verdict>& v, const char* none) {
  return v ? std::string(report::verdict_name(*v)) : none;
}

std::string shortened(const std::string& text, size_t max) {
  return display_width(text) <= max ? text : text.substr(0, max - 3) + "...";
}

}  // namespace

void print_comparison(std::FILE* out, const report::BaselineComparison& b, bool colour) {
  const bool expectations = b.kind == BaselineKind::kExpectations;
  const auto regressions = std::count_if(b.changes.begin(), b.changes.end(), [](const auto& c) { return c.regression; });
  std::fprintf(out, "compared with %s %s (%s): %zu change%s\n", expectations ? "expectations" : "report", b.file.c_str(),
               b.description.c_str(), b.changes.size(), b.changes.size() == 1 ? "" : "s");
  for (const auto& group : kGroups) {
    std::vector<const report::BaselineChange*> in;
    for (const auto& c : b.changes) {
      if (std::find(group.kinds.begin(), group.kinds.end(), c.kind) != group.kinds.end()) in.push_back(&c);
    }
    if (in.empty()) continue;
    std::fprintf(out, "  %s (%zu):\n", expectations ? group.against_expectations : group.against_report, in.size());
    for (const auto* c : in) {
      const std::string was = verdict_or(c->before, expectations ? "not expected" : "absent");
      const std::string now = verdict_or(c->after, "absent");
      const std::string arrow = expectations ? "expected " + was + ", now " + now : was + " -> " + now;
      const char* sgr = colour && c->after ? verdict_colour(*c->after) : nullptr;
      std::fprintf(out, "    %s%s: %s%s%s\n", c->regression ? "REGRESSION " : "", c->id.c_str(), sgr ? sgr : "",
                   arrow.c_str(), sgr ? kColourReset : "");
      if (!c->reason.empty() && c->after) std::fprintf(out, "        %s\n", shortened(c->reason, 200).c_str());
      if (!c->why.empty()) std::fprintf(out, "        why expected: %s\n", shortened(c->why, 200).c_str());
    }
  }
  if (b.not_selected > 0) {
    std::fprintf(out, "  %zu %s outside this run's selection: not compared\n", b.not_selected,
                 expectations ? "expected verdicts" : "baseline scenarios");
  }
  if (regressions > 0) {
    std::fprintf(out, "%ld regression%s against the baseline\n", static_cast<long>(regressions), regressions == 1 ? "" : "s");
  } else {
    std::fprintf(out, "no regression against the baseline\n");
  }
}

}  // namespace tftp::cli
