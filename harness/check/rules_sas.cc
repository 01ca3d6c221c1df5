#include "check/transfer_tracker.h"

#include "common/hash.h"
#include "common/text.h"

namespace tftp::check {

using namespace rule;

// RFC 1123 §4.2.3.1. In lockstep, DATA n+1 is resent only on timeout. A resend soon after a
// duplicate ACK n, with nothing else received, and far sooner than the server's timer, was
// caused by the duplicate ACK.
void RuleEngine::State::check_sorcerer(TransferState& t, size_t index, const proto::Data& d, uint64_t block, const SendRecord& prev) {
  const Observation& o = seen(index);
  if (t.window != 1 || block != t.highest || t.ack_max >= static_cast<int64_t>(block) || block < 1 || prev.sends == 0) {
    return;
  }
  auto dup = t.acks.find(block - 1);
  if (dup == t.acks.end() || dup->second.count < 2 || dup->second.last_at > o.at || o.at - dup->second.last_at > reaction()) {
    return;
  }
  const auto since = inputs_since(t.server, prev.input_mark);
  if (!since.complete) return;  // more than kInputsKept since: not provably only duplicates
  for (const Input& in : since.items) {
    if (in.from != t.client || !in.ack || *in.ack != t.wire(block - 1)) return;
  }
  std::string why;
  const Duration gap = o.at - prev.last_at;
  if (!too_soon_for_timer(t, gap, &why)) return;
  t.sas_reported = true;
  report(kSorcerer, t,
         "DATA " + std::to_string(d.block) + " was re-sent at " + when(o.at) + ", " +
             ms(o.at - dup->second.last_at) + " after a duplicate ACK " + std::to_string(t.wire(block - 1)) +
             " (ACK " + std::to_string(t.wire(block - 1)) + " received " + std::to_string(dup->second.count) +
             " times) and only " + ms(gap) + " after its previous transmission at " + when(prev.last_at) +
             "; the server's retransmission timer is " + why,
         {dup->second.first_index, dup->second.last_index, prev.last_index, index});
}

// In lockstep a DATA is sent once per ACK that moves the transfer on, again only when the
// server's timer fires, and block 1 again for a repeated request. A resend sooner than the
// timer, however the client's duplicates and the server's answers interleave (both ACK
// copies may arrive before the first DATA), is one the ACKs do not explain.
void RuleEngine::State::count_resend(TransferState& t, size_t index, uint64_t block, const SendRecord& prev) {
  if (t.window != 1 || block != t.highest || prev.sends == 0) return;
  const Instant at = seen(index).at;
  const auto& client = clients[t.client];
  if (block == 1 && client.pending && client.pending->at > prev.last_at) return;  // a repeated request
  // The Apprentice sends one DATA n per copy of ACK n-1. A send beyond the copies received so
  // far has no ACK to blame: the server's own timer sent it, however short it was (dnsmasq's
  // timer wanders by milliseconds). Copies may reach the server before its first DATA n, so
  // this counts copies, not their order.
  const auto copies_of = t.acks.find(block - 1);
  const uint32_t copies = copies_of == t.acks.end() ? (block == 1 ? 1 : 0) : copies_of->second.count;
  if (copies < 2 || prev.sends + 1 > copies) return;
  std::string why;
  if (!too_soon_for_timer(t, at - prev.last_at, &why)) return;
  if (t.unexplained_resends++ == 0) {
    t.first_unexplained = index;
    t.first_unexplained_at = at;
  }
  t.last_unexplained = index;
}

// RFC 1123 §4.2.3.1 by count: more DATA than the ACKs and the timer explain. Two or more such
// resends (one could be a timer the measurement missed) make the finding, unless the
// transfer already has one by cause.
void RuleEngine::State::check_sorcerer_count(TransferState& t) {
  if (t.sas_reported || t.unexplained_resends < 2) return;
  std::string why;
  too_soon_for_timer(t, Duration::zero(), &why);
  report(kSorcererCount, t,
         "the server sent " + std::to_string(t.data_sends) + " DATA for " + std::to_string(t.highest) +
             " blocks; " + std::to_string(t.unexplained_resends) + " of them (the first at " +
             when(t.first_unexplained_at) + ") were resends sooner than its retransmission timer (" + why +
             ") could fire, which only the client's duplicate ACKs explain",
         {t.first_unexplained, t.last_unexplained});
}

}  // namespace tftp::check
