// The JUnit XML view of a run, for CI dashboards (GitLab, Jenkins, GitHub test reporters):
// a suite per group of scenarios, a testcase per scenario, run-wide findings as a last
// suite; README "JUnit" describes the mapping of verdicts. It validates against
// reports/tftpspec-junit.xsd, a subset of the Jenkins xunit plugin's junit-10.xsd.
// warn and note pass in JUnit terms (with WARN:/NOTE: in system-out) because a SHOULD
// broken exits 0 and must not turn a dashboard red; a MUST among the run-wide findings is a
// failure because it makes the run exit 1.
#pragma once

#include <string>
#include <string_view>

#include "report/model.h"

namespace tftp::report {

std::string render_junit(const RunReport& report);

// `text` as XML 1.0 character data or attribute value: markup escaped, and what XML 1.0
// cannot carry at all (control characters other than tab, newline and return; U+FFFE,
// U+FFFF; bytes that are not UTF-8) written as the visible text \xNN or \uNNNN.
// In an attribute, tab, newline and return become character references, so that a
// parser's attribute normalisation does not turn them into spaces.
std::string xml_escape(std::string_view text, bool attribute = false);

}  // namespace tftp::report
