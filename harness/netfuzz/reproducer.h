// What a finding leaves behind: a scenario file in the catalogue's format (scenarios/README.md)
// that `tftpspec run --scenarios DIR` replays, and a pcap capture of the datagrams.
#pragma once

#include <string>
#include <vector>

#include "netfuzz/fuzzer.h"

namespace tftp::netfuzz {

// The scenario: each case's datagrams in order (a case's first datagram to the well-known
// port is a request: `request: true` forgets the previous TID; an awaited answer is an
// `expect: ANY` that may not come), then an RRQ of the probe file that must be answered.
// Verdicts, by the runner's model (README "Verdicts"): a target that survives passes; one
// that stops answering makes the scenario an error, "the target stopped answering (noticed
// after <id>)", with the datagrams as evidence, and the report's target_died_after names it
// (exit 2). Not fail: a dead target is something the harness cannot judge requirements on,
// and when scenarios run concurrently the runner cannot tell which one killed it; the fuzz
// report, not the run report, is where the death itself is the finding.
std::string scenario_yaml(const Finding& finding, const std::string& probe_file, const std::string& provenance);

// A classic pcap (LINKTYPE_RAW) of the events, with the harness's wildcard address shown as
// the loopback address when the target is on loopback.
std::vector<uint8_t> capture_bytes(const std::vector<WireEvent>& events);

}  // namespace tftp::netfuzz
