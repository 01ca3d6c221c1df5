#include "check/transfer_tracker.h"

#include "common/hash.h"
#include "common/text.h"

namespace tftp::check {

using namespace rule;

// RFC 1123 §4.2.3.1. In lockstep, DATA n+1 is resent only on timeout. A resend soon after a
// duplicate ACK n, with nothing else received, and far sooner than the server's timer, was
// caused by the duplicate ACK.
void RuleEngine::State::check_sorcerer(TransferState& t, size_t index, const proto::Data& d, uint64_t block, const SendRecord& prev) {
  const Observation& o = obs[index];
  if (t.window != 1 || block != t.highest || t.ack_max >= static_cast<int64_t>(block) || block < 1 || prev.sends == 0) {
    return;
  }
  auto dup = t.acks.find(block - 1);
  if (dup == t.acks.end() || dup->second.count < 2 || dup->second.last_at > o.at || o.at - dup->second.last_at > kReaction) {
    return;
  }
  for (size_t i : inputs_since(t.server, prev.input_mark)) {
    const auto& in = obs[i];
    auto p = proto::parse(in.bytes, proto::Strictness::kLenient);
    const auto* a = p ? std::get_if<proto::Ack>(&*p) : nullptr;
    if (in.from != t.client || !a || a->block != t.wire(block - 1)) return;
  }
  std::string why;
  const Duration floor = timer_floor(t, &why);
  const Duration gap = o.at - prev.last_at;
  if (gap * 2 >= floor) return;
  report(kSorcerer, t,
         "DATA " + std::to_string(d.block) + " was re-sent at " + when(o.at) + ", " +
             ms(o.at - dup->second.last_at) + " after a duplicate ACK " + std::to_string(t.wire(block - 1)) +
             " (ACK " + std::to_string(t.wire(block - 1)) + " received " + std::to_string(dup->second.count) +
             " times) and only " + ms(gap) + " after its previous transmission at " + when(prev.last_at) +
             "; the server's retransmission timer is at least " + ms(floor) + " (" + why + ")",
         {dup->second.first_index, dup->second.last_index, prev.last_index, index});
}

}  // namespace tftp::check
