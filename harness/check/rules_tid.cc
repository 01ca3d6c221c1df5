#include "check/transfer_tracker.h"

#include "common/hash.h"
#include "common/text.h"

namespace tftp::check {

using namespace rule;

// A datagram from the target that belongs to no transfer with its destination.
void RuleEngine::State::unattributed(size_t index, const proto::Packet& p) {
  const Observation& o = seen(index);
  if (is_error(p)) {
    if (auto it = strays_by_pair.find({o.to, o.from}); it != strays_by_pair.end()) {
      for (size_t i : it->second) {
        if (strays[i].at > o.at) continue;
        strays[i].answered = true;
        strays_answered_somewhere = true;
      }
    }
    return;
  }
  if (const Stray* stray = first_stray(o.to, o.from)) {
    const Stray& s = *stray;
    const TransferState& t = transfers[s.transfer];
    report(kStrayAccepted, "stray " + o.from.to_string(),
           "after " + o.to.to_string() + " (not the client) sent " + s.packet +
               " to server TID " + o.from.to_string() + " at " + when(s.at) + ", the server sent it " +
               proto::describe(p) + " at " + when(o.at) + " as if it were the peer of " + label(t),
           {s.index, index});
    return;
  }
  // An ACK in reply to an ERROR sent to the listen port.
  auto c = clients.find(o.to);
  if (std::holds_alternative<proto::Ack>(p) && c != clients.end() && c->second.error_to_listen) {
    const Instant e_at = c->second.error_to_listen_at;
    if (o.at >= e_at && o.at - e_at <= reaction()) {
      report(kAckForError, "listen " + o.to.to_string(),
             "the server answered the ERROR that " + o.to.to_string() + " sent to the listen port at " + when(e_at) +
                 " with " + proto::describe(p) + " at " + when(o.at),
             {*c->second.error_to_listen, index});
    }
  }
}

// An ERROR to the real client right after a stray datagram, with nothing from the client
// and too soon for a timer, was caused by the stray.
void RuleEngine::State::check_stray_disturbance(const TransferState& t, size_t index) {
  const Observation& o = seen(index);
  if (!t.last_server_index || t.server == listen) return;  // port 69 also takes requests
  auto since = inputs_since(t.server, t.last_server_mark);
  if (since.items.empty()) return;
  const Input* stray = nullptr;
  for (const Input& in : since.items) {
    if (!in.stray) return;  // the client said something: the ERROR may answer it
    stray = &in;
  }
  // Inputs no longer kept might have come from the client; a stray past kStraysKept has no
  // description to quote.
  if (!since.complete || !stray->stray_slot) return;
  const Stray& s = strays[*stray->stray_slot];
  if (o.at - s.at > reaction()) return;
  std::string why;
  if (!too_soon_for_timer(t, o.at - t.last_server_at, &why)) return;
  report(kStrayDisturbed, t,
         s.from.to_string() + " (a stray TID) sent " + s.packet +
             " at " + when(s.at) + "; " + ms(o.at - s.at) +
             " later the server ended the real transfer with " + proto::describe_datagram(o.bytes) + " at " +
             when(o.at) + ", with nothing from the client since its previous datagram at " +
             when(t.last_server_at) + " (its timer is " + why + ")",
         {*t.last_server_index, s.index, index});
}

// RFC 1350 §4 (SHOULD): a stray gets an ERROR. A server whose sockets only receive from the
// peer (connect()) never sees strays; the RFC excuses that ("If the supporting protocols do
// not allow it, this particular error condition will not arise"). So silence is a SHOULD
// finding only for a server seen answering strays, and INFO otherwise.
void RuleEngine::State::check_unanswered_strays() {
  for (const Stray& s : strays) {
    if (s.answered || s.is_error) continue;
    const TransferState& t = transfers[s.transfer];
    if (!t.last_trigger_at || *t.last_trigger_at <= s.at) continue;  // no proof S kept reading after it
    const std::string msg = s.from.to_string() + " sent " + s.packet +
                            " to server TID " + s.to.to_string() + " at " + when(s.at) +
                            " and got no ERROR back, although the server went on serving " + label(t) +
                            " with datagrams the client sent after it";
    if (strays_answered_somewhere) {
      report(kStrayNotAnswered, "stray " + s.to.to_string(), msg, {s.index});
    } else {
      report(kStrayNotSeen, "stray " + s.to.to_string(),
             msg + " (this server answered no stray: it may not receive them, which RFC 1350 §4 allows)",
             {s.index});
    }
  }
}

}  // namespace tftp::check
