#include "check/transfer_tracker.h"

#include "common/hash.h"
#include "common/text.h"

namespace tftp::check {

using namespace rule;

// DATA, ACK or OACK from the server on a transfer that has ended with an ERROR.
void RuleEngine::State::after_termination(TransferState& t, size_t index, const proto::Packet& p) {
  const Observation& o = seen(index);
  bool acked = false;
  if (t.client_error && std::holds_alternative<proto::Ack>(p)) {
    const auto* a = std::get_if<proto::Ack>(&p);
    const Instant err_at = t.client_error_at;
    bool reacted = t.last_server_index && only_input_since_last_send(t, *t.client_error) &&
                    o.at - err_at <= this->reaction();
    if (reacted && !t.rrq) {
      // On a write the server ACKs anyway: a new block number, or a resend too early for a
      // timer, is the reaction to the ERROR.
      auto last = t.server_acks.empty() ? std::nullopt : std::optional<uint16_t>(last_server_ack(t));
      std::string why;
      reacted = (last && *last != a->block) || too_soon_for_timer(t, o.at - t.last_server_at, &why);
    }
    if (reacted) {
      acked = true;
      report(kAckForError, t,
             "the client's " + t.client_error_packet + " at " + when(err_at) +
                 " was answered with " + proto::describe(p) + " at " + when(o.at),
             {*t.client_error, index});
    }
  }
  if (!acked && t.client_error && t.client_error_code != 5 && o.at - t.client_error_at > grace()) {
    report(kSentAfterError, t,
           "the client ended the transfer with " + t.client_error_packet + " at " +
               when(t.client_error_at) + ", yet the server sent " + proto::describe(p) + " at " + when(o.at) + " (" +
               ms(o.at - t.client_error_at) + " later)",
           {*t.client_error, index});
  }
  if (t.server_error && o.at - t.server_error_at > grace()) {
    report(kSentAfterOwnError, t,
           "the server ended the transfer with " + t.server_error_packet + " at " +
               when(t.server_error_at) + ", yet sent " + proto::describe(p) + " at " + when(o.at),
           {*t.server_error, index});
  }
}

void RuleEngine::State::on_server_error(TransferState& t, size_t index, const proto::ErrorPacket& e) {
  const Observation& o = seen(index);
  const uint64_t hash = content_digest(o.bytes);
  if (t.last_server_error && t.last_server_error_size == o.bytes.size() && t.last_server_error_hash == hash &&
      t.client_inputs == t.client_inputs_at_last_error) {
    report(kErrorRetransmitted, t,
           "ERROR code " + std::to_string(e.code) + " " + quote(e.message) + " sent at " +
               when(t.last_server_error_at) + " was sent again at " + when(o.at) +
               " with nothing received from the client in between",
           {*t.last_server_error, index});
  }
  check_stray_disturbance(t, index);
  if (!t.server_error) {
    t.server_error = index;
    t.server_error_at = o.at;
    t.server_error_packet = summarize(o.bytes);
  }
  t.last_server_error = index;
  t.last_server_error_at = o.at;
  t.last_server_error_size = o.bytes.size();
  t.last_server_error_hash = hash;
  t.client_inputs_at_last_error = t.client_inputs;
}

}  // namespace tftp::check
