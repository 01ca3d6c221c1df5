// Option negotiation (RFC 2347 framework; RFC 2348 blksize; RFC 2349 timeout and tsize;
// RFC 7440 windowsize). The OACK itself is validated by engine::review_oack, the one home
// of that knowledge; this file maps its findings to rules and keeps what was negotiated.
#include "check/transfer_tracker.h"

#include "engine/negotiation.h"
#include "common/text.h"

namespace tftp::check {

using namespace rule;

namespace {

// The rule each problem found by engine::review_oack breaks; nullptr: not the server's fault
// (the client's own text echoed) or no rule of its own (a repeated option).
const RuleSpec* rule_for(engine::OackProblem problem, bool rrq) {
  using engine::OackProblem;
  switch (problem) {
    case OackProblem::kUnrequestedOption: return &kOackUnrequested;
    case OackProblem::kBlksizeRange: return &kOackBlksizeRange;
    case OackProblem::kBlksizeAboveRequest: return &kOackBlksizeAbove;
    case OackProblem::kTimeoutRange: return &kOackTimeoutRange;
    case OackProblem::kTimeoutNotEchoed: return &kOackTimeoutNotEchoed;
    case OackProblem::kWindowsizeRange: return &kOackWindowsizeRange;
    case OackProblem::kWindowsizeAboveRequest: return &kOackWindowsizeAbove;
    case OackProblem::kTsizeNotDecimal: return rrq ? &kOackTsizeRead : &kOackTsizeWrite;
    case OackProblem::kTsizeNotEchoed: return &kOackTsizeWrite;
    case OackProblem::kDuplicateOption:
    case OackProblem::kNotDecimal:
    case OackProblem::kEchoedNotDecimal: return nullptr;
  }
  return nullptr;
}

}  // namespace

void RuleEngine::State::on_oack(TransferState& t, size_t index, const proto::Oack& oack) {
  const Observation& o = seen(index);
  if (t.oack_sends) {
    record_send(t, *t.oack_sends, false, index, o.bytes, "OACK");
    return;
  }
  if (t.data_seen || !t.client_data.empty()) return;  // an OACK in mid-transfer: not judged here
  t.oack_index = index;
  t.oack_sends.emplace();
  record_send(t, *t.oack_sends, true, index, o.bytes, "OACK");
  const std::vector<size_t> ev{t.request.index, index};
  if (t.request.options.empty()) {
    report(kOackWithoutOptions, t,
           "the request carried no option, yet the server answered with " + proto::describe(oack) + " at " +
               when(o.at) + " (expected " + (t.rrq ? "DATA 1" : "ACK 0") + ")",
           ev);
    return;
  }
  if (oack.options.empty()) {
    // RFC 2347: an OACK acknowledges the options the server accepted; accepting none, the
    // server answers as to a plain request (DATA 1 or ACK 0).
    report(kOackEmpty, t,
           "the server accepted none of the requested options, yet answered with an empty OACK at " + when(o.at) +
               " instead of " + (t.rrq ? "DATA 1" : "ACK 0"),
           ev);
    return;
  }
  const engine::OackReview review = engine::review_oack(t.request.opcode, t.request.options, oack.options);
  std::string unrequested;
  for (const auto& v : review.violations) {
    if (v.problem == engine::OackProblem::kUnrequestedOption) {
      unrequested += (unrequested.empty() ? "" : ", ") + quote(v.option);
    } else if (const RuleSpec* rule = rule_for(v.problem, t.rrq)) {
      report(*rule, t, v.describe(), ev);
    }
  }
  if (!unrequested.empty()) {
    report(kOackUnrequested, t,
           "the OACK at " + when(o.at) + " carries " + unrequested + ", which the request did not ask for",
           ev);
  }
  // The transfer is judged by what the OACK announced.
  const engine::TransferParams& p = review.params;
  if (oack.options.find(proto::kBlksize)) {
    t.blksize = p.blksize;
    t.blksize_negotiated = true;
    // An OACK naming blksize twice (echoing a request that did) announces no single size: the
    // data is judged against the largest named, so the duplicate is one finding, not two.
    for (const auto opt : oack.options) {
      if (!proto::iequals(opt.name, proto::kBlksize)) continue;
      if (auto v = proto::parse_decimal(opt.value); v && proto::blksize_in_range(*v)) {
        t.blksize = std::max(t.blksize, static_cast<size_t>(*v));
      }
    }
  }
  if (p.fixed_timeout) t.timeout_s = std::chrono::duration_cast<std::chrono::seconds>(*p.fixed_timeout).count();
  t.window = p.windowsize;
  if (t.rrq && p.tsize) t.oack_tsize = *p.tsize;  // compared with the bytes sent once the transfer completes
}

void RuleEngine::State::check_tsize(TransferState& t, size_t index) {
  if (!t.oack_tsize || t.request.mode != proto::Mode::kOctet || t.sequence_gap || *t.oack_tsize == t.bytes) return;
  report(kOackTsizeRead, t,
         "the OACK announced tsize=" + std::to_string(*t.oack_tsize) + " but the transfer carried " +
             std::to_string(t.bytes) + " bytes (octet mode) up to its final DATA " +
             std::to_string(t.wire(t.highest)),
         {*t.oack_index, index});
}

}  // namespace tftp::check
