// What can answer a request and so open its transfer (RFC 1350 §4, RFC 2347): the one home
// of this knowledge for the rule engine and the capture analyzer.
#pragma once

#include <variant>

#include "proto/packet.h"

namespace tftp::proto {

// DATA 1 to a read, ACK 0 to a write, an OACK (RFC 2347) or an ERROR.
inline bool answers_request(Opcode request, const Packet& p) {
  if (std::holds_alternative<ErrorPacket>(p) || std::holds_alternative<Oack>(p)) return true;
  if (request == Opcode::kRrq) {
    const auto* d = std::get_if<Data>(&p);
    return d != nullptr && d->block == 1;
  }
  const auto* a = std::get_if<Ack>(&p);
  return a != nullptr && a->block == 0;
}

}  // namespace tftp::proto
