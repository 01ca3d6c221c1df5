// The JUnit XML view of a run, for CI dashboards (GitLab, Jenkins, GitHub test reporters).
// It validates against reports/tftpspec-junit.xsd: the subset of the Jenkins
// xunit plugin's junit-10.xsd (the Surefire format) that tftpspec writes.
//
// Mapping: one <testsuite> per group (the scenario id up to its first dot: rfc1350,
// rfc2347, security, sanity...), one <testcase classname="tftpspec.GROUP" name="ID"> per
// scenario. fail -> <failure>, error -> <error>, skip -> <skipped>. JUnit has no word for
// warn or note: they pass (a SHOULD broken exits 0, so must not turn a dashboard red) and
// stay visible as a <system-out> starting "WARN:" or "NOTE:" and as counts in the suite's
// properties. Run-wide findings form a last suite "tftpspec.findings" where a MUST finding
// is a <failure>, since it makes the run exit 1 and CI must show why.
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
