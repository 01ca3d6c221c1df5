// The evidence of a scenario as a text ladder diagram: harness on the left, target on the
// right, one arrow per datagram in time order, with the ports, so a TID change is visible
// at a glance. `run -v` prints it; the JUnit report puts it in a failure's text.
#pragma once

#include <string>
#include <vector>

#include "report/model.h"

namespace tftp::report {

// One line per datagram, each starting with `indent`; `elided` datagrams left out of a long
// transfer are shown as one line at the first gap in the indices.
std::string render_ladder(const std::vector<EvidenceLine>& evidence, size_t elided, const std::string& indent);

}  // namespace tftp::report
