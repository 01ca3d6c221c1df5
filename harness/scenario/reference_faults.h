// Named fault switches of the embedded reference server. They exist to prove that the
// catalogue can fail: `tftpspec run --reference-fault NAME` runs it against a reference
// server that breaks one rule on purpose, and the catalogue test checks each is caught.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "server/server_core.h"

namespace tftp::scenario {

struct ReferenceFault {
  std::string name;
  std::string breaks;  // the rule it breaks, with its citation
  std::function<void(server::ServerConfig&)> apply;
};

const std::vector<ReferenceFault>& reference_faults();
const ReferenceFault* find_reference_fault(const std::string& name);

}  // namespace tftp::scenario
