// The HTML views of a run: one self-contained page (inline CSS, a few lines of optional
// JS; nothing fetched), readable with JavaScript off. Everything that came from the target
// (filenames, ERROR texts, packet descriptions) is escaped: a hostile server's text is shown,
// never interpreted.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "report/model.h"

namespace tftp::report {

// One run: header (tool, target, seed, command, catalogue), a summary by RFC group and by
// level, the run-wide findings, then every scenario; each non-pass with its evidence drawn
// as a ladder (harness and target columns, withheld and duplicated datagrams marked, the
// datagrams a finding cites highlighted with their bytes in hex). Verdict filters are
// checkboxes styled by CSS; with JS, `#only=fail,warn` in the URL sets them.
std::string render_html(const RunReport& run);

// A fleet: servers (runs) as columns, scenarios as rows, each non-pass cell linking to that
// run's evidence embedded further down the same page, then each run's findings. Columns are
// headed by `names` when given (one per run, as `report merge` names them), else by target.
std::string render_matrix_html(const std::vector<RunReport>& runs, const std::vector<std::string>& names = {});

// `text` safe as HTML text or a double- or single-quoted attribute value.
std::string html_escape(std::string_view text);

// The id attribute of `scenario_id` in the section of `run_prefix`: letters, digits, '.'
// and '-' kept, anything else (a scenario id may hold '#') as _XX, so ids never collide.
std::string html_anchor(std::string_view run_prefix, std::string_view scenario_id);

}  // namespace tftp::report
