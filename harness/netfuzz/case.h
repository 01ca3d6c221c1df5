// The unit of network fuzzing: a case is the datagrams the harness sent in one short
// conversation with the target (one client port, one transfer), in order. Generated cases
// are built reactively by CaseDriver; a case kept for shrinking or a reproducer is replayed
// exactly as recorded.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace tftp::netfuzz {

// Where a datagram goes: the well-known port, or the TID the target answered from
// (RFC 1350 §4) during this case.
enum class Destination : uint8_t { kListen, kServer };

struct Datagram {
  Destination to = Destination::kListen;
  std::vector<uint8_t> bytes;
  bool await = false;  // wait for the target's reply before the next datagram
  friend bool operator==(const Datagram&, const Datagram&) = default;
};

struct Case {
  uint64_t number = 0;    // its index in the campaign (the mutator derives it from the seed)
  std::string state;      // the protocol state mutated: request, after-oack, mid-transfer, none
  std::string mutation;   // what was done, e.g. "request: blksize value of 9 digits"
  std::vector<Datagram> datagrams;
  friend bool operator==(const Case&, const Case&) = default;
};

}  // namespace tftp::netfuzz
