#include "check/transfer_tracker.h"

#include "common/hash.h"
#include "common/text.h"

namespace tftp::check {

using namespace rule;

// What a DATA block number is for the transfer: the next block, a resend of a recent one,
// an old one, or a jump forward.
RuleEngine::State::Kind RuleEngine::State::classify(TransferState& t, uint16_t wire, uint64_t* abs, std::optional<uint16_t>* rolled) {
  if (!t.data_seen) {
    *abs = 1;
    return wire == 1 ? Kind::kNew : Kind::kJump;
  }
  const uint64_t next = t.highest + 1;
  if (next > proto::kLastBlockBeforeWrap && !t.rollover) {
    // De facto (DF-ROLLOVER): after 65535 a server wraps to 0 or to 1; both are accepted.
    if (auto w = proto::wrap_value(t.wire(t.highest), wire)) {
      *rolled = *w;
      *abs = next;
      return Kind::kNew;
    }
  }
  if (wire == t.wire(next)) {
    *abs = next;
    return Kind::kNew;
  }
  if (auto a = find_back(t, wire, std::max<uint64_t>(search_floor(t), 1))) {
    *abs = *a;
    return Kind::kRetransmit;
  }
  return proto::wire_ahead(t.wire(t.highest), wire) ? Kind::kJump : Kind::kStale;
}

void RuleEngine::State::on_data(TransferState& t, size_t index, const proto::Data& d) {
  const Observation& o = seen(index);
  const size_t size = d.payload.size();
  if (size > t.blksize) {
    report(kOversize, t,
           "DATA " + std::to_string(d.block) + " at " + when(o.at) + " carries " + std::to_string(size) +
               " bytes, more than the block size " + std::to_string(t.blksize) +
               (t.blksize_negotiated ? " the OACK announced" : " (512: no blksize was negotiated)"),
           {index});
  }
  if (t.final_block) {
    if (proto::wire_ahead(t.wire(*t.final_block), d.block)) {
      const auto& fin = t.blocks.count(*t.final_block) ? t.blocks[*t.final_block] : SendRecord{};
      report(kDataAfterFinal, t,
             "DATA " + std::to_string(d.block) + " sent at " + when(o.at) + " after DATA " +
                 std::to_string(t.wire(*t.final_block)) + " (" + std::to_string(fin.size) +
                 " bytes, shorter than the block size " + std::to_string(t.blksize) + ") ended the transfer",
             {fin.first_index, index});
      return;
    }
  }
  if (t.sequence_broken) return;
  uint64_t abs = 0;
  std::optional<uint16_t> rolled;
  switch (classify(t, d.block, &abs, &rolled)) {
    case Kind::kJump: {
      if (t.data_seen) {
        const uint64_t target = t.highest + proto::wire_distance(t.wire(t.highest), d.block);
        if (t.ack_max >= static_cast<int64_t>(target) - 1) {
          // The client acknowledged a block never sent, and the server believed it: the
          // blocks between were never sent, so the client's file has a hole. Follow the
          // server from there (the byte count is lost) so that later rules still judge.
          report(kSkipOnUnsentAck, t,
                 "DATA " + std::to_string(d.block) + " at " + when(o.at) + " follows DATA " +
                     std::to_string(t.wire(t.highest)) + ": the server skipped " +
                     std::to_string(target - t.highest - 1) + " block(s) after an ACK " + std::to_string(t.wire(target - 1)) +
                     " for a block it had not sent",
                 {t.blocks[t.highest].last_index, index});
          t.sequence_gap = true;
          abs = target;
          break;
        }
      }
      t.sequence_broken = true;
      std::string msg;
      if (!t.data_seen) {
        msg = "the first DATA, at " + when(o.at) + ", is block " + std::to_string(d.block) +
              "; block numbers begin with 1";
        report(kBlockSequence, t, msg, {index});
      } else {
        const auto& last = t.blocks[t.highest];
        msg = "DATA " + std::to_string(d.block) + " at " + when(o.at) + " follows DATA " +
              std::to_string(t.wire(t.highest)) + "; the next block is " +
              std::to_string(t.wire(t.highest + 1));
        report(kBlockSequence, t, msg, {last.last_index, index});
      }
      return;
    }
    case Kind::kStale:
      return;
    case Kind::kRetransmit:
      return on_data_resend(t, index, d, abs);
    case Kind::kNew:
      break;
  }
  if (rolled) {
    t.rollover = *rolled;
    report(*rolled == 0 ? kRolloverTo0 : kRolloverTo1, "rollover",
           "after block 65535 the server continued with block " + std::to_string(*rolled) + " (" + label(t) + ")",
           {index});
  }
  check_window(t, index, abs);
  t.data_seen = true;
  t.highest = abs;
  record_send(t, t.blocks[abs], true, index, d.payload, "");
  ++t.data_sends;
  t.bytes += size;
  if (size < t.blksize) {
    t.final_block = abs;
    check_tsize(t, index);
  }
  const uint64_t keep = 2 * t.window + kSearchBack + 8;
  while (!t.blocks.empty() && t.blocks.begin()->first + keep < abs) t.blocks.erase(t.blocks.begin());
}

// RFC 1350 §2 lockstep; RFC 7440 §4 windows; RFC 2347: DATA 1 after the OACK waits for ACK 0.
void RuleEngine::State::check_window(TransferState& t, size_t index, uint64_t block) {
  const Observation& o = seen(index);
  const bool after_oack = t.oack_index.has_value();
  if (!after_oack && block == 1) return;  // DATA 1 answers the RRQ itself
  int64_t need = static_cast<int64_t>(block) - static_cast<int64_t>(t.window);
  if (after_oack) need = std::max<int64_t>(need, 0);
  // The ACK that unlocked this block: when the client sent it (for the stray rules).
  if (auto it = t.acks.lower_bound(static_cast<uint64_t>(std::max<int64_t>(need, 0))); it != t.acks.end()) {
    if (!t.last_trigger_at || it->second.first_at > *t.last_trigger_at) t.last_trigger_at = it->second.first_at;
  }
  if (t.ack_max >= need) return;
  std::vector<size_t> ev{index};
  std::string last_ack = "no ACK from the client yet";
  if (t.ack_max >= 0 && t.acks.count(static_cast<uint64_t>(t.ack_max))) {
    const auto& a = t.acks[static_cast<uint64_t>(t.ack_max)];
    last_ack = "the client's last ACK was " + std::to_string(t.wire(static_cast<uint64_t>(t.ack_max))) +
               " at " + when(a.last_at);
    ev.push_back(a.last_index);
  }
  if (t.blocks.count(block - 1)) ev.push_back(t.blocks[block - 1].first_index);
  const std::string sent = "DATA " + std::to_string(t.wire(block)) + " sent at " + when(o.at);
  if (t.window == 1 && after_oack && block == 1) {
    ev.push_back(*t.oack_index);
    report(kDataBeforeAck0, t, sent + " before the client acknowledged the OACK with ACK 0", ev);
  } else if (t.window == 1) {
    report(kLockstep, t,
           sent + " before ACK " + std::to_string(t.wire(block - 1)) + " was received (" + last_ack + ")", ev);
  } else {
    report(kWindow, t,
           sent + " with windowsize " + std::to_string(t.window) + " before any ACK of block " +
               std::to_string(need) + " or later was received (" + last_ack + ")",
           ev);
  }
}

void RuleEngine::State::on_data_resend(TransferState& t, size_t index, const proto::Data& d, uint64_t block) {
  const Observation& o = seen(index);
  SendRecord& rec = t.blocks[block];
  if (rec.sends > 0 && (rec.size != d.payload.size() || rec.hash != content_digest(d.payload))) {
    report(kRetransmissionDiffers, t,
           "DATA " + std::to_string(d.block) + " was sent at " + when(rec.first_at) + " with " +
               std::to_string(rec.size) + " bytes and again at " + when(o.at) + " with " +
               std::to_string(d.payload.size()) + " bytes of different contents",
           {rec.first_index, index});
  }
  const SendRecord before = rec;
  check_sorcerer(t, index, d, block, before);
  count_resend(t, index, block, before);
  record_send(t, rec, rec.sends == 0, index, d.payload, "DATA " + std::to_string(d.block));
  ++t.data_sends;
}

void RuleEngine::State::on_server_ack(TransferState& t, size_t index, const proto::Ack& a) {
  const Observation& o = seen(index);
  auto it = t.server_acks.find(a.block);
  const bool fresh = it == t.server_acks.end();
  SendRecord& rec = t.server_acks[a.block];
  record_send(t, rec, fresh, index, o.bytes, "ACK " + std::to_string(a.block));
  if (fresh) {
    if (auto d = t.client_data.find(a.block); d != t.client_data.end()) {
      if (!t.last_trigger_at || d->second.first_at > *t.last_trigger_at) t.last_trigger_at = d->second.first_at;
    }
    prune_oldest(t.server_acks, [](const SendRecord& r) { return r.first_index; });
  }
  if (t.client_final && a.block == *t.client_final) t.completed = true;
  // ACK 0 grants the request; any other ACK claims a DATA of that number arrived. Judged on
  // fresh ACKs once per transfer: one such bug is one finding. After the client's ERROR a
  // new ACK is tftp.rule.ack_for_error's to judge (rules_errors.cc), not a second finding.
  const bool ahead = t.client_data_highest ? proto::wire_ahead(*t.client_data_highest, a.block) : a.block != 0;
  if (fresh && ahead && !t.unsent_ack_reported && !t.rrq && !t.client_error) {
    t.unsent_ack_reported = true;
    report(kAckForUnsentData, t,
           "ACK " + std::to_string(a.block) + " at " + when(o.at) + " acknowledges a block the client never sent (" +
               (t.client_data_highest ? "its last DATA was block " + std::to_string(*t.client_data_highest)
                                      : std::string("it had sent no DATA yet")) +
               ")",
           {index});
  }
}

// RFC 1350 §6: a full last DATA, ACKed, then silence while the client visibly waits.
void RuleEngine::State::check_missing_final(const TransferState& t, Instant end) {
  if (!t.rrq || !t.data_seen || t.sequence_broken || t.final_block || t.server_error) return;
  auto last = t.blocks.find(t.highest);
  if (last == t.blocks.end() || last->second.size != t.blksize || t.wire(t.highest) == proto::kLastBlockBeforeWrap) return;
  auto ack = t.acks.find(t.highest);
  if (ack == t.acks.end()) return;
  const ClientRecord& a = ack->second;
  if (t.last_server_index && *t.last_server_index > a.first_index) return;  // the server did answer
  if (t.client_error && t.client_error_at < a.first_at + kPatience) return;
  const bool waited = end - a.first_at >= kPatience;
  const bool repeated = a.count >= 2 && a.last_at - a.first_at >= reaction();
  if (!waited && !repeated) return;
  report(kMissingFinal, t,
         "DATA " + std::to_string(t.wire(t.highest)) + " carried a full block (" +
             std::to_string(last->second.size) + " bytes) and the client ACKed it at " + when(a.first_at) +
             (a.count >= 2 ? " (" + std::to_string(a.count) + " times)" : "") + ", but the server sent no " +
             "further DATA (a 0-byte block must end the transfer) in the " + ms(end - a.first_at) +
             " observed after",
         {last->second.first_index, a.first_index});
}

}  // namespace tftp::check
