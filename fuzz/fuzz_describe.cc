// Fuzz target for the one-line description of a datagram (harness/proto/packet.h
// describe_datagram, which reports, the rule engine and the pcap analyser show for every
// datagram they quote). Property: any bytes get a description, never a crash or an empty
// line: a packet's fields quoted, or "malformed (<the parse error>), N bytes".
//
// Its own target, not a check inside fuzz_packet: describing quotes every byte of the
// datagram and costs several times the parse, so inside the parser's target it took a third
// of the time the round-trip property had.
#include <cstddef>
#include <cstdint>
#include <span>

#include "fuzz_support.h"
#include "proto/packet.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FUZZ_CHECK(!tftp::proto::describe_datagram(std::span<const uint8_t>(data, size)).empty());
  return 0;
}
