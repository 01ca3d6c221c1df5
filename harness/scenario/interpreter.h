// Runs one scenario's steps against a target through a Wire and judges the result,
// combining the steps' verdict with the rule engine's findings.
#pragma once

#include <atomic>
#include <set>
#include <string>

#include "report/model.h"
#include "scenario/model.h"
#include "scenario/wire.h"

namespace tftp::scenario {

// What discovery learned about the target before the run.
struct TargetProfile {
  Duration rto = std::chrono::seconds(1);   // its first retransmission timeout (measured)
  Duration srto = std::chrono::seconds(1);  // its timeout mid-transfer (measured; see Wait)
  Duration resolve(const Wait& w) const { return w.resolve(rto, srto); }
  std::set<std::string> capabilities;      // write, options, blksize, windowsize, tsize, timeout, netascii
};

// `unique` makes upload names distinct across runs and scenarios; `cancel` (optional)
// ends the scenario early with verdict error when it becomes true.
report::ScenarioResult run_scenario(const Scenario& scenario, Wire& wire, const TargetProfile& profile,
                                    const std::string& unique, const std::atomic<bool>* cancel = nullptr);

// The scenario's fields copied into a result (verdict still pass).
report::ScenarioResult result_header(const Scenario& scenario);

}  // namespace tftp::scenario
