// Packet formats (RFC 1350 §5, RFC 2347, RFC 2348): every datagram from the server is one
// of the defined packets, parsed strictly.
#include "check/transfer_tracker.h"

#include "common/text.h"

namespace tftp::check {

using namespace rule;

namespace {
std::string direction_key(const Observation& o) { return o.from.to_string() + ">" + o.to.to_string(); }
}  // namespace

void RuleEngine::State::check_malformed(size_t index, const proto::ParseError& e) {
  // An OACK with no option parses leniently and is judged where OACKs are (rules_oack.cc,
  // oack_without_options): one finding for one bug.
  if (e.code == proto::ParseErrc::kEmptyOack) return;
  const Observation& o = seen(index);
  const uint16_t op = o.bytes.size() >= 2 ? static_cast<uint16_t>((o.bytes[0] << 8) | o.bytes[1]) : 0;
  const RuleSpec& rule = op == 5 ? kMalformedError : op == 6 ? kMalformedOack
                         : e.code == proto::ParseErrc::kDataTooLong ? kDataTooLong : kMalformedPacket;
  report(rule, direction_key(o) + "|" + std::string(e.id()),
         "datagram from " + o.from.to_string() + " to " + o.to.to_string() + " at " + when(o.at) + " (" +
             std::to_string(o.bytes.size()) + " bytes) is malformed: " + e.to_string(),
         {index}, e.id());
}

void RuleEngine::State::check_error_code(size_t index, const proto::Packet& p) {
  const Observation& o = seen(index);
  const auto* e = std::get_if<proto::ErrorPacket>(&p);
  if (!e || e->code <= 8) return;
  report(kErrorCodeUndefined, direction_key(o),
         "ERROR code " + std::to_string(e->code) + " " + quote(e->message) + " sent to " + o.to.to_string() +
             " at " + when(o.at) + " is not a defined error code (0..8)",
         {index});
}

}  // namespace tftp::check
