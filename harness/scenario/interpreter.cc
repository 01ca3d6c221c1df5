#include "scenario/interpreter.h"

#include <algorithm>
#include <sstream>

#include "common/hash.h"
#include "common/text.h"
#include "proto/block_number.h"
#include "proto/netascii.h"
#include "scenario/fixtures.h"

namespace tftp::scenario {

using proto::Opcode;
using report::Verdict;

namespace {

constexpr size_t kEvidenceHead = 100;
constexpr size_t kEvidenceTail = 60;

// "{A*600}" in a scenario string stands for 600 'A's (long filenames, modes, options).
std::string expand(const std::string& text) {
  std::string out;
  size_t i = 0;
  while (i < text.size()) {
    const size_t open = text.find('{', i);
    const size_t star = open == std::string::npos ? open : text.find('*', open);
    const size_t close = star == std::string::npos ? star : text.find('}', star);
    if (close == std::string::npos) {
      out += text.substr(i);
      break;
    }
    out += text.substr(i, open - i);
    const std::string unit = text.substr(open + 1, star - open - 1);
    const int count = std::atoi(text.substr(star + 1, close - star - 1).c_str());
    for (int k = 0; k < count; ++k) out += unit;
    i = close + 1;
  }
  return out;
}

std::string seconds_text(Duration d) {
  std::ostringstream s;
  s.precision(3);
  s << std::fixed << to_seconds(d) << " s";
  return s.str();
}

Verdict default_verdict(Level level) {
  switch (level) {
    case Level::kMust: return Verdict::kFail;
    case Level::kShould: return Verdict::kWarn;
    case Level::kMay: return Verdict::kNote;  // left open by the RFCs: worth knowing, never a warn
  }
  return Verdict::kFail;
}

// Identifies a datagram to tell a repeat from a new one: socket, sender and a hash of the
// bytes (not the bytes: a flood of 64 KiB datagrams must not be kept twice).
std::string key_of(const Received& r) {
  std::string k = std::to_string(static_cast<int>(r.at));
  k += r.from.to_string();
  k += '|';
  k += std::to_string(fnv1a(r.bytes)) + ":" + std::to_string(r.bytes.size());
  return k;
}

// Datagrams waiting for a later step, at most: beyond it the oldest are dropped (and
// counted), so a flooding target cannot grow the harness without bound.
constexpr size_t kMaxInbox = Wire::kMaxQueued;

class Interpreter {
 public:
  Interpreter(const Scenario& sc, Wire& wire, const TargetProfile& profile, std::string unique,
              const std::atomic<bool>* cancel)
      : sc_(sc), wire_(wire), profile_(profile), unique_(std::move(unique)), cancel_(cancel), start_(wire.now()) {}

  report::ScenarioResult run() {
    result_ = result_header(sc_);
    // Every timing window of the rule engine derives from the path discovery measured.
    wire_.rules().set_timing({profile_.rtt, profile_.jitter, profile_.rto, profile_.srto});
    for (const Step& step : sc_.steps) {
      if (ended_) break;
      if (cancelled()) {
        judge(Verdict::kError, kInterruptedReason);
        break;
      }
      if (wire_.now() - start_ > sc_.deadline) {
        judge(Verdict::kError, "the scenario exceeded its deadline of " + seconds_text(sc_.deadline));
        break;
      }
      current_ = &step;
      // Consecutive sends to the well-known port go out with no other scenario's in between.
      const bool to_listen = step.kind == StepKind::kSend && sends_to_listen(step.send);
      if (to_listen && !listen_hold_.owns_lock()) listen_hold_.lock();
      if (!to_listen && listen_hold_.owns_lock()) listen_hold_.unlock();
      switch (step.kind) {
        case StepKind::kSend: do_send(step.send); break;
        case StepKind::kExpect: do_expect(step); break;
        case StepKind::kSilence: do_silence(step); break;
        case StepKind::kWait: wire_.wait_until(wire_.now() + profile_.resolve(step.within)); break;
        case StepKind::kDownload:
        case StepKind::kUpload: do_transfer(step); break;
        case StepKind::kDownloads: do_downloads(step); break;
        case StepKind::kSchedule: do_schedule(step); break;
      }
    }
    if (listen_hold_.owns_lock()) listen_hold_.unlock();
    if (cancelled() && !ended_) judge(Verdict::kError, kInterruptedReason);  // a cut-short wait proves nothing
    apply_findings();
    fill_evidence();
    result_.datagrams_dropped = dropped_ + wire_.dropped();
    if (result_.datagrams_dropped > 0 && result_.verdict != Verdict::kPass) {
      result_.reason += " [the target sent more than the harness keeps: " + std::to_string(result_.datagrams_dropped) +
                        " datagrams dropped unread, all of them seen by the rule engine]";
    }
    if (result_.verdict == Verdict::kFail &&
        std::find(sc_.tags.begin(), sc_.tags.end(), "security") != sc_.tags.end()) {
      result_.category = "security";
    }
    result_.duration_ms = to_ms(wire_.now() - start_);
    return std::move(result_);
  }

 private:
  bool cancelled() const {
    return (cancel_ != nullptr && cancel_->load(std::memory_order_relaxed)) || wire_.cancelled();
  }

  // --- verdicts ------------------------------------------------------------------------
  // Keeps the worst verdict. A fail, skip or error ends the scenario; a warn or note lets
  // it go on (a later step may still find a MUST broken). `requirement`: whose breach this
  // is (default: the scenario's own).
  void judge(Verdict v, std::string reason, std::string expected = "", std::string observed = "",
             std::string requirement = "") {
    if (v == Verdict::kPass) return;
    if (v == Verdict::kFail || v == Verdict::kSkip || v == Verdict::kError) ended_ = true;
    if (report::severity(v) <= report::severity(result_.verdict) && result_.verdict != Verdict::kPass) return;
    result_.verdict = v;
    result_.reason = current_ ? reason + " (" + current_->where.to_string() + ")" : reason;
    result_.expected = std::move(expected);
    result_.observed = std::move(observed);
    const bool judged_target = v == Verdict::kFail || v == Verdict::kWarn || v == Verdict::kNote;
    result_.decided_by = judged_target ? (requirement.empty() ? sc_.requirement : std::move(requirement)) : "";
  }

  Verdict mismatch_verdict(const Step& step) const { return step.otherwise.value_or(default_verdict(sc_.level)); }

  // --- sending ---------------------------------------------------------------------------
  std::vector<uint8_t> build(const SendSpec& s) {
    std::vector<uint8_t> out(proto::kMaxDatagramSize * 2);
    if (!s.op) {
      if (s.request) server_.reset();  // a new transfer, as for a typed request below
      return s.raw;
    }
    proto::WriteResult n;
    std::vector<std::string> names;
    std::vector<std::string> values;
    for (const auto& [k, v] : s.options) {
      names.push_back(expand(k));
      values.push_back(expand(v));
    }
    std::vector<proto::Option> options;
    for (size_t i = 0; i < names.size(); ++i) options.push_back({names[i], values[i]});
    switch (*s.op) {
      case Opcode::kRrq:
      case Opcode::kWrq: {
        std::string file = expand(s.file);
        if (file.rfind("new:", 0) == 0) {
          const std::string fixture = file.substr(4);
          upload_content_ = fixture_bytes(fixture).value_or(std::vector<uint8_t>{});
          file = "tftpspec-up-" + unique_ + "-" + fixture;
        }
        if (*s.op == Opcode::kRrq) rrq_file_ = file;
        request_file_ = file;
        // A new request starts a new transfer: forget the previous server TID.
        server_.reset();
        blksize_ = proto::kDefaultBlockSize;
        requested_ = s.options;
        n = proto::write_request(out, *s.op, file, expand(s.mode), options);
        break;
      }
      case Opcode::kData: {
        std::vector<uint8_t> payload;
        if (s.content) {
          const size_t offset = (s.block == 0 ? 0 : s.block - 1) * blksize_;
          if (offset < upload_content_.size()) {
            const size_t len = std::min(blksize_, upload_content_.size() - offset);
            payload.assign(upload_content_.begin() + static_cast<long>(offset),
                           upload_content_.begin() + static_cast<long>(offset + len));
          }
        } else {
          payload.assign(s.size.value_or(0), 'x');
        }
        n = proto::write_data(out, static_cast<uint16_t>(s.block), payload);
        break;
      }
      case Opcode::kAck: n = proto::write_ack(out, static_cast<uint16_t>(s.block)); break;
      case Opcode::kError: n = proto::write_error(out, s.code, expand(s.message)); break;
      case Opcode::kOack: n = proto::write_oack(out, options); break;
    }
    if (!n) {
      judge(Verdict::kError, "cannot build the packet: " + n.error().to_string());
      return {};
    }
    out.resize(*n);
    return out;
  }

  bool sends_to_listen(const SendSpec& s) const {
    return s.to == Destination::kListen || (s.to == Destination::kAuto && !server_);
  }

  void do_send(const SendSpec& s) {
    auto bytes = build(s);
    if (ended_) return;
    Address to = wire_.listen();
    if (!sends_to_listen(s)) {
      if (!server_) {
        judge(Verdict::kError, "the step sends to the server's TID, but the target has not answered yet");
        return;
      }
      to = *server_;
    }
    last_sent_at_ = wire_.now();
    for (int i = 0; i < s.count; ++i) wire_.send(s.from, to, bytes);
  }

  // --- receiving -------------------------------------------------------------------------
  // The next datagram at `socket` that is not a repeat of an earlier one (unless
  // `repeats` is allowed), waiting until `deadline`. Others stay queued for later steps.
  std::optional<Received> next(Socket socket, bool repeats, Instant deadline, bool* fresh = nullptr) {
    for (;;) {
      for (size_t i = 0; i < inbox_.size(); ++i) {
        if (inbox_[i].at != socket) continue;
        Received r = std::move(inbox_[i]);
        inbox_.erase(inbox_.begin() + static_cast<long>(i));
        const bool repeated = !seen_.insert(key_of(r)).second;
        if (repeated && !repeats) {
          --i;
          continue;  // a retransmission of something already judged
        }
        if (fresh != nullptr) *fresh = !repeated;
        observe(r);
        return r;
      }
      auto r = wire_.receive_until(deadline);
      if (!r) return std::nullopt;
      if (inbox_.size() >= kMaxInbox) {
        inbox_.erase(inbox_.begin());
        ++dropped_;
      }
      inbox_.push_back(std::move(*r));
    }
  }

  // Learns the server's TID and the negotiated block size from what the target sends.
  void observe(const Received& r) {
    if (!server_ && r.at == Socket::kMain && r.from.same_host(wire_.listen())) server_ = r.from;
    auto p = proto::parse(r.bytes, proto::Strictness::kLenient);
    if (!p) return;
    if (const auto* o = std::get_if<proto::Oack>(&*p)) {
      if (auto b = o->options.find(proto::kBlksize)) {
        if (auto v = proto::parse_decimal(*b); v && proto::blksize_in_range(*v)) blksize_ = static_cast<size_t>(*v);
      }
    }
  }

  bool matches(const Pattern& pat, const Received& r, std::string* why) const {
    auto p = proto::parse(r.bytes, proto::Strictness::kLenient);
    if (pat.malformed) return !p;
    if (!p) {
      *why = "malformed: " + p.error().to_string();
      return false;
    }
    const Opcode op = proto::opcode_of(*p);
    if (pat.op && *pat.op != op) return false;
    if (pat.from_listen && r.from != wire_.listen()) {
      *why = "came from " + r.from.to_string() + ", not the well-known port";
      return false;
    }
    if (pat.from_new_port && r.from.port() == wire_.listen().port()) {
      *why = "came from the well-known port " + std::to_string(r.from.port());
      return false;
    }
    if (const auto* d = std::get_if<proto::Data>(&*p)) {
      if (pat.block && *pat.block != d->block) return false;
      if (pat.size && *pat.size != d->payload.size()) return false;
      if (pat.size_full && d->payload.size() != blksize_) return false;
      if (pat.size_short && d->payload.size() >= blksize_) return false;
      if (pat.content) {
        const std::string& name = pat.content_of.empty() ? rrq_file_ : pat.content_of;
        const auto fixture = fixture_bytes(name);
        const size_t offset = (d->block == 0 ? 0 : d->block - 1u) * blksize_;
        if (!fixture || offset > fixture->size()) return false;
        const size_t len = std::min(blksize_, fixture->size() - offset);
        if (d->payload.size() != len ||
            !std::equal(d->payload.begin(), d->payload.end(), fixture->begin() + static_cast<long>(offset))) {
          *why = "DATA " + std::to_string(d->block) + " does not carry the bytes of " + name;
          return false;
        }
      }
      if (pat.payload && !std::ranges::equal(d->payload, *pat.payload)) {
        *why = "DATA " + std::to_string(d->block) + " does not carry the expected (captured) bytes";
        return false;
      }
    } else if (const auto* a = std::get_if<proto::Ack>(&*p)) {
      if (pat.block && *pat.block != a->block) return false;
    } else if (const auto* e = std::get_if<proto::ErrorPacket>(&*p)) {
      if (!pat.codes.empty() && std::find(pat.codes.begin(), pat.codes.end(), e->code) == pat.codes.end()) return false;
    } else if (const auto* o = std::get_if<proto::Oack>(&*p)) {
      for (const auto& [name, value] : pat.options) {
        auto got = o->options.find(name);
        if (!got || (value != "*" && *got != value)) return false;
      }
      for (const auto& name : pat.options_absent) {
        if (o->options.find(name)) return false;
      }
    }
    if ((pat.block || pat.size) && !std::holds_alternative<proto::Data>(*p) && !std::holds_alternative<proto::Ack>(*p)) return false;
    return true;
  }

  std::string describe_alternatives(const Step& step) const {
    std::string out;
    for (const auto& a : step.alternatives) {
      if (!out.empty()) out += " | ";
      out += a.pattern.describe();
    }
    return out + " within " + seconds_text(profile_.resolve(step.within));
  }

  std::string describe_received(const Received& r) const {
    return proto::describe_datagram(r.bytes) + " from " + r.from.to_string() + " at +" + seconds_text(r.time - start_);
  }

  void do_expect(const Step& step) {
    const Socket socket = step.alternatives.front().pattern.at.value_or(Socket::kMain);
    const Instant deadline = wire_.now() + profile_.resolve(step.within);
    std::optional<Received> r;
    std::string why;
    for (bool fresh = true;;) {
      r = next(socket, step.repeat, deadline, &fresh);
      if (!r && cancelled()) {
        judge(Verdict::kError, kInterruptedReason);
        return;
      }
      if (!r) {
        judge(mismatch_verdict(step), step.reason.empty() ? "no reply in time" : step.reason,
              describe_alternatives(step), "nothing within " + seconds_text(profile_.resolve(step.within)));
        return;
      }
      for (const auto& alt : step.alternatives) {
        if (!matches(alt.pattern, *r, &why)) continue;
        check_backoff(step, r->time);
        last_matched_ = *r;
        if (alt.verdict != Verdict::kPass) {
          judge(alt.verdict, alt.reason.empty() ? "observed " + alt.pattern.describe() : alt.reason,
                "", describe_received(*r));
        }
        if (alt.end) ended_ = true;
        return;
      }
      // A step that waits for a repeat may meet a timer retransmission of an earlier
      // datagram first (an adaptive timer fires within milliseconds): that was judged when
      // it first came, and says nothing about what this step waits for.
      if (fresh) break;
      why.clear();
    }
    // A fixture the target does not have makes the scenario unjudgeable, not failed.
    if (auto p = proto::parse(r->bytes, proto::Strictness::kLenient)) {
      if (const auto* e = std::get_if<proto::ErrorPacket>(&*p); e && e->code == 1 && is_fixture(request_file_)) {
        judge(Verdict::kError, "the target lacks the fixture " + request_file_ +
                                   " (write the fixtures with `tftpspec fixtures DIR` or use --root)",
              describe_alternatives(step), describe_received(*r));
        return;
      }
    }
    judge(mismatch_verdict(step), (step.reason.empty() ? std::string("unexpected reply") : step.reason) +
                                      (why.empty() ? "" : ": " + why),
          describe_alternatives(step), describe_received(*r));
  }

  void check_backoff(const Step& step, Instant t) {
    if (step.backoff && last_match_) {
      const Duration gap = t - *last_match_;
      if (last_gap_ && gap < *last_gap_ * 9 / 10) {
        judge(mismatch_verdict(step),
              "the retransmission interval shrank from " + seconds_text(*last_gap_) + " to " + seconds_text(gap) +
                  " (RFC 1123 §4.2.3.2 asks for an adaptive, backing-off timeout)");
      }
      last_gap_ = gap;
    }
    last_match_ = t;
  }

  // A window shorter than the target's mid-transfer timeout (srto) is written to tell a
  // reaction to what the harness sent from the target's own timer. A copy of the datagram the
  // last expect matched, arriving when that timer could have fired (3/4 srto after it, for an
  // adaptive timer that has shrunk since it was measured), is the timer's: under load the
  // harness sends late, and the timer's resend then falls inside the window. Not judged here;
  // the rule engine still sees it.
  bool timer_resend(const Step& step, const Received& r) const {
    if (!last_matched_ || profile_.resolve(step.within) >= profile_.srto) return false;
    return r.bytes == last_matched_->bytes && r.time - last_matched_->time >= profile_.srto * 3 / 4;
  }

  void do_silence(const Step& step) {
    const auto& pat = step.alternatives.front().pattern;
    const Socket socket = pat.at.value_or(Socket::kMain);
    const Instant deadline = wire_.now() + profile_.resolve(step.within);
    std::vector<Received> kept;
    bool fresh = false;
    while (auto r = next(socket, step.repeat, deadline, &fresh)) {
      std::string why;
      // What reached us before the last send cannot answer it: under load the harness may
      // send late, after the target's own timer already resent (a kept, not a judged, one).
      const bool before_last_send = last_sent_at_ && r->time < *last_sent_at_;
      if (!before_last_send && !timer_resend(step, *r) && matches(pat, *r, &why)) {
        judge(mismatch_verdict(step), step.reason.empty() ? "the target sent what it must not" : step.reason,
              "no " + pat.describe() + " for " + seconds_text(profile_.resolve(step.within)), describe_received(*r));
        break;
      }
      if (fresh) seen_.erase(key_of(*r));  // not judged here: a later expect still sees it as new
      if (kept.size() >= kMaxInbox) {
        kept.erase(kept.begin());
        ++dropped_;
      }
      kept.push_back(std::move(*r));
    }
    if (cancelled()) judge(Verdict::kError, kInterruptedReason);  // a silence cut short proves nothing
    inbox_.insert(inbox_.begin(), std::make_move_iterator(kept.begin()), std::make_move_iterator(kept.end()));
  }

  // --- the retransmission schedule (RFC 1123 §4.2.3.2) ----------------------------------
  // Times the resends of what the previous expect matched while the harness answers
  // nothing: `tries` of them, or until the target gives up (no resend within 2.5 times the
  // last gap plus a second: a doubling timer's next one comes at twice; an ERROR; anything
  // else). The curve goes into the report whatever the verdict.
  void do_schedule(const Step& step) {
    if (!last_matched_) {
      judge(Verdict::kError, "a schedule step needs an expect before it (the packet whose resends it times)");
      return;
    }
    const Received first = *last_matched_;
    const std::string key = key_of(first);
    const Instant deadline = wire_.now() + profile_.resolve(step.within);
    std::vector<Instant> sends{first.time};
    std::string end;
    for (;;) {
      const int resent = static_cast<int>(sends.size()) - 1;
      if (step.tries > 0 && resent >= step.tries) {
        end = "measured " + std::to_string(resent) + " retransmissions";
        break;
      }
      const Duration last_gap = sends.size() > 1 ? sends.back() - sends[sends.size() - 2] : profile_.rto;
      const Duration patience = std::max(last_gap * 5 / 2, profile_.rto * 3 / 2) + std::chrono::seconds(1);
      const Instant until = std::min(deadline, sends.back() + patience);
      bool fresh = false;
      auto r = next(first.at, /*repeats=*/true, until, &fresh);
      if (cancelled()) {
        judge(Verdict::kError, kInterruptedReason);
        return;
      }
      if (!r) {
        if (wire_.now() >= deadline && until == deadline) {
          end = "still resending after " + seconds_text(wire_.now() - first.time) + " (the step's budget)";
        } else {
          end = "gave up silently (no ERROR) after " + std::to_string(resent) + " retransmissions: nothing within " +
                seconds_text(patience) + " of the last";
        }
        break;
      }
      if (key_of(*r) == key) {
        sends.push_back(r->time);
        continue;
      }
      if (!fresh) continue;  // an older datagram resent: not what is timed here
      end = std::string(proto::parse(r->bytes, proto::Strictness::kLenient) ? "then sent " : "then sent a malformed ") +
            describe_received(*r) + " [" + hex_bytes(r->bytes) + "] after " + std::to_string(resent) + " retransmissions";
      break;
    }
    report::RetransmissionCurve curve;
    curve.packet = proto::describe_datagram(first.bytes);
    for (size_t i = 1; i < sends.size(); ++i) curve.gaps_ms.push_back(to_ms(sends[i] - sends[i - 1]));
    curve.end = end;
    judge_schedule(step, sends, curve);
    result_.retransmissions.push_back(std::move(curve));
  }

  // RFC 1123 §4.2.3.2: "A TFTP implementation MUST use an adaptive timeout." and, under
  // IMPLEMENTATION, "At least an exponential backoff of retransmission timeout is
  // necessary." A timer adapts when its gaps grow (backoff) or when it was seeded from the
  // round trip (its first gap mid-transfer well below its timeout before any round trip,
  // S1). It never adapts when three or more gaps are all equal (within the jitter, or 10%)
  // and not below S1, and discovery saw no round-trip estimation either (S = S1). A late
  // timer on a loaded machine only makes gaps unequal: it can hide a fixed timer, never
  // make an adaptive one look fixed.
  void judge_schedule(const Step& step, const std::vector<Instant>& sends, report::RetransmissionCurve& curve) {
    if (sends.size() < 2) {
      curve.judgement = "no retransmission to time";
      judge(mismatch_verdict(step), step.reason.empty() ? "no retransmission of the unacknowledged packet: " + curve.end
                                                        : step.reason,
            "retransmissions of " + curve.packet, curve.end);
      return;
    }
    std::vector<Duration> gaps;
    for (size_t i = 1; i < sends.size(); ++i) gaps.push_back(sends[i] - sends[i - 1]);
    const Duration shortest = *std::min_element(gaps.begin(), gaps.end());
    const Duration longest = *std::max_element(gaps.begin(), gaps.end());
    const Duration jitter = profile_.jitter.value_or(std::chrono::milliseconds(25));
    const Duration tolerance = std::max<Duration>(shortest / 10, jitter * 4 + std::chrono::milliseconds(20));
    bool grows = false;
    for (size_t i = 1; i < gaps.size(); ++i) grows = grows || gaps[i] > gaps[i - 1] + tolerance;
    const bool seeded_from_rtt = gaps.front() < profile_.rto * 3 / 4 - tolerance ||
                                 profile_.srto < profile_.rto * 3 / 4 - tolerance;
    if (grows) {
      curve.judgement = "backs off (adaptive)";
    } else if (longest - shortest > tolerance) {
      curve.judgement = "uneven, not growing";
    } else if (seeded_from_rtt) {
      curve.judgement = "constant after a start taken from the round trip";
      judge(Verdict::kNote, "the timer follows the round trip (timeout " + seconds_text(gaps.front()) +
                                " against " + seconds_text(profile_.rto) + " before any round trip) but does not back "
                                "off on retransmission (RFC 1123 §4.2.3.2: \"At least an exponential backoff of "
                                "retransmission timeout is necessary\")",
            "", curve.text());
    } else if (gaps.size() >= 3) {
      curve.judgement = "never adapts: a fixed " + seconds_text(gaps.front()) + " timer";
      judge(mismatch_verdict(step), "the timer never adapts: " + std::to_string(gaps.size()) + " gaps of " +
                                        seconds_text(gaps.front()) + " (" + curve.text() +
                                        "), no backoff and no round-trip estimation (mid-transfer timeout " +
                                        seconds_text(profile_.srto) + ", first " + seconds_text(profile_.rto) +
                                        "); RFC 1123 §4.2.3.2: \"A TFTP implementation MUST use an adaptive timeout\"",
            "gaps that grow (backoff), or a timeout taken from the round trip", curve.text());
    } else {
      curve.judgement = "too few retransmissions to judge the timer";
    }
  }

  // --- whole transfers -------------------------------------------------------------------
  struct FaultState {
    std::vector<OutgoingFault> faults;
    // Absolute block numbers of what the harness sends, per opcode, across a wrap to 0 or 1.
    proto::BlockUnwrapper blocks[7];
  };

  static uint64_t absolute(FaultState& fs, Opcode op, uint16_t wire) {
    return fs.blocks[static_cast<size_t>(op)].unwrap(wire);
  }

  void send_with_faults(FaultState& fs, Socket socket, const Address& to, std::span<const uint8_t> bytes) {
    int copies = 1;
    std::optional<uint64_t> ahead;  // an extra ACK for this absolute block, sent after
    if (auto p = proto::parse(bytes, proto::Strictness::kLenient)) {
      std::optional<uint16_t> wire;
      if (const auto* a = std::get_if<proto::Ack>(&*p)) wire = a->block;
      if (const auto* d = std::get_if<proto::Data>(&*p)) wire = d->block;
      if (wire) {
        const Opcode op = proto::opcode_of(*p);
        const uint64_t abs = absolute(fs, op, *wire);
        for (auto& f : fs.faults) {
          if (f.op == op && f.block == abs && f.times > 0) {
            --f.times;
            if (f.ahead_by > 0) {
              ahead = abs + f.ahead_by;
            } else {
              copies = f.duplicate ? 2 : 0;
            }
            break;
          }
        }
      }
    }
    // The report marks what the fault did (the rule engine sees only what was sent), so a
    // reader of the evidence tells the harness's loss from the target's.
    if (copies == 0 && withheld_.size() < kEvidenceHead + kEvidenceTail) {
      withheld_.push_back(report::EvidenceLine{wire_.rules().observed_count(), to_ms(wire_.now() - start_), "sent",
                                               wire_.local(socket).to_string(), to.to_string(),
                                               proto::describe_datagram(bytes), bytes.size(),
                                               std::string(report::kMarkWithheld), hex_bytes(bytes)});
    }
    for (int i = 0; i < copies; ++i) {
      if (i > 0) duplicates_.insert(wire_.rules().observed_count());
      wire_.send(socket, to, bytes);
    }
    if (ahead) {
      std::vector<uint8_t> ack(4);  // opcode, block
      ack.resize(*proto::write_ack(ack, proto::wire_block(*ahead)));
      wire_.send(socket, to, ack);
    }
  }

  std::optional<engine::Outcome> run_transfer(engine::Transfer& t, FaultState& fs, Instant deadline,
                                              Socket socket = Socket::kMain) {
    return drive_transfer(wire_, t, socket, deadline, cancel_, [&](const Address& to, std::span<const uint8_t> bytes) {
      send_with_faults(fs, socket, to, bytes);
    });
  }

  engine::TransferConfig client_config() const {
    engine::TransferConfig config;
    // Half the target's timeout: a harness retransmission lands before the target's own
    // timer fires, so a deliberately lost datagram is recovered the same way on every run.
    config.retransmit.initial = std::max<Duration>(profile_.rto / 2, std::chrono::milliseconds(200));
    config.retransmit.min = config.retransmit.initial;  // fixed: the scenario's timing must not drift
    config.retransmit.max_retries = 5;
    config.dally = Duration::zero();
    return config;
  }

  void do_transfer(const Step& step) {
    const TransferSpec& spec = step.transfer;
    const bool upload = step.kind == StepKind::kUpload;
    const auto fixture = fixture_bytes(spec.file);
    if (!fixture && (upload || !spec.expect_failure)) {
      judge(Verdict::kError, "the scenario names an unknown fixture '" + spec.file + "'");
      return;
    }
    engine::TransferConfig config = client_config();
    std::vector<proto::OwnedOption> options;
    for (const auto& [k, v] : spec.options) options.push_back({expand(k), expand(v)});
    const size_t required_options = options.size();
    for (const auto& [k, v] : spec.options_if_supported) {
      if (profile_.capabilities.count(k)) options.push_back({k, expand(v)});
    }
    const auto mode = proto::mode_from_text(spec.mode);
    const Instant deadline = wire_.now() + profile_.resolve(step.within);
    const std::string remote = upload ? "tftpspec-up-" + unique_ + "-" + spec.file : spec.file;
    request_file_ = spec.file;

    std::optional<engine::Outcome> outcome;
    std::shared_ptr<const engine::MemorySink::Contents> contents;
    for (;;) {
      FaultState fs{spec.faults, {}};
      auto sink = std::make_unique<engine::MemorySink>(download_limit(fixture));
      contents = sink->contents();
      std::unique_ptr<engine::ByteSink> snk = std::move(sink);
      if (mode == proto::Mode::kNetascii) snk = std::make_unique<engine::NetasciiDecodingSink>(std::move(snk));
      std::unique_ptr<engine::ByteSource> src = std::make_unique<engine::MemorySource>(fixture.value_or(std::vector<uint8_t>{}));
      if (mode == proto::Mode::kNetascii) src = std::make_unique<engine::NetasciiEncodingSource>(std::move(src), std::nullopt);
      auto transfer = upload ? engine::Transfer::client_write(config, wire_.listen(), remote, mode, options, std::move(src), wire_.now())
                             : engine::Transfer::client_read(config, wire_.listen(), remote, mode, options, std::move(snk), wire_.now());
      outcome = run_transfer(transfer, fs, deadline);
      // An optional option the target refuses in this combination (atftpd refuses a window
      // whose OACK would not fit in an 8-byte block) is its right (RFC 2347, ERROR 8): the
      // transfer is what is judged, so it runs again with the required options only.
      const bool refused = outcome && outcome->kind == engine::OutcomeKind::kPeerError && outcome->error_code == 8;
      if (!refused || options.size() == required_options) break;
      options.resize(required_options);
    }
    const std::string what = std::string(upload ? "upload of " : "download of ") + spec.file;
    if (!outcome) {
      judge(Verdict::kError, cancelled() ? std::string(kInterruptedReason)
                                         : what + " did not finish within " + seconds_text(profile_.resolve(step.within)));
      return;
    }
    if (spec.expect_failure) {
      if (outcome->ok()) judge(mismatch_verdict(step), step.reason.empty() ? what + " was not refused" : step.reason);
      return;
    }
    if (!outcome->ok()) {
      if (outcome->kind == engine::OutcomeKind::kPeerError && outcome->error_code == 1 && !upload) {
        judge(Verdict::kError, "the target lacks the fixture " + spec.file);
        return;
      }
      judge(mismatch_verdict(step), (step.reason.empty() ? what + " failed" : step.reason) + ": " + outcome->to_string());
      return;
    }
    if (!upload) {
      if (contents->bytes != *fixture) {
        judge(mismatch_verdict(step), what + " delivered " + std::to_string(contents->bytes.size()) +
                                          " bytes that differ from the fixture's " + std::to_string(fixture->size()));
      }
      return;
    }
    // Read the upload back, from the second port: the server may still be dallying on the
    // first. It must store exactly what it acknowledged. A server that sends its final ACK
    // before the file is fully written (atftpd, on a loaded machine) can serve a short copy
    // for a moment: a differing copy is read once more, one retransmission timeout later,
    // and only a copy that stays wrong is judged.
    std::optional<engine::Outcome> back_outcome;
    std::shared_ptr<const engine::MemorySink::Contents> back;
    for (int attempt = 0; attempt < 2; ++attempt) {
      if (attempt > 0) wire_.wait_until(std::min(deadline, wire_.now() + profile_.rto));
      auto back_sink = std::make_unique<engine::MemorySink>(download_limit(fixture));
      back = back_sink->contents();
      auto readback = engine::Transfer::client_read(config, wire_.listen(), remote, proto::Mode::kOctet, {},
                                                    std::move(back_sink), wire_.now());
      FaultState none{};
      back_outcome = run_transfer(readback, none, deadline, Socket::kOther);
      const bool stored = back_outcome && back_outcome->ok() && (mode != proto::Mode::kOctet || back->bytes == *fixture);
      if (stored || cancelled()) break;
    }
    if (!back_outcome || !back_outcome->ok()) {
      judge(Verdict::kWarn, "the upload succeeded but reading it back failed: " +
                                (back_outcome ? back_outcome->to_string() : std::string("timed out")));
    } else if (mode == proto::Mode::kOctet && back->bytes != *fixture) {
      judge(mismatch_verdict(step), "the uploaded file reads back as " + std::to_string(back->bytes.size()) +
                                        " bytes that differ from the " + std::to_string(fixture->size()) +
                                        " sent, twice, one retransmission timeout apart");
    } else if (mode == proto::Mode::kNetascii) {
      judge_stored_text(step, *fixture, back->bytes);
    }
  }

  // Every download of the step at once, each from a port of its own; all must deliver
  // their fixture's bytes. A refusal by ERROR is a denial RFC 1350 §4 allows: a warn (the
  // server cannot serve that many at once), not a fail. Silence, a stall or wrong bytes
  // (another session's data) break the connection the request opened: the step's verdict.
  void do_downloads(const Step& step) {
    const ConcurrentSpec& spec = step.concurrent;
    auto sockets = wire_.extra_sockets(spec.count);
    if (!sockets) {
      judge(Verdict::kError, "cannot open " + std::to_string(spec.count) + " client ports: " + sockets.error().to_string());
      return;
    }
    engine::TransferConfig config = client_config();
    std::vector<engine::Transfer> transfers;
    std::vector<std::shared_ptr<const engine::MemorySink::Contents>> contents;
    for (size_t i = 0; i < spec.count; ++i) {
      auto sink = std::make_unique<engine::MemorySink>(download_limit(fixture_bytes(file_of(spec, i))));
      contents.push_back(sink->contents());
      transfers.push_back(engine::Transfer::client_read(config, wire_.listen(), file_of(spec, i), proto::Mode::kOctet, {},
                                                        std::move(sink), wire_.now()));
    }
    const auto outcomes = drive_transfers(wire_, transfers, *sockets, wire_.now() + profile_.resolve(step.within), cancel_);
    if (cancelled()) {
      judge(Verdict::kError, kInterruptedReason);
      return;
    }
    std::vector<std::string> failed;
    std::vector<std::string> refused;
    for (size_t i = 0; i < spec.count; ++i) {
      const std::string name = file_of(spec, i) + " #" + std::to_string(i + 1);
      const auto& outcome = outcomes[i];
      const auto fixture = fixture_bytes(file_of(spec, i));
      if (!outcome) {
        failed.push_back(name + " did not finish within " + seconds_text(profile_.resolve(step.within)));
      } else if (outcome->kind == engine::OutcomeKind::kPeerError) {
        refused.push_back(name + " " + outcome->to_string());
      } else if (!outcome->ok()) {
        failed.push_back(name + " " + outcome->to_string());
      } else if (!fixture || contents[i]->bytes != *fixture) {
        failed.push_back(name + " delivered " + std::to_string(contents[i]->bytes.size()) + " bytes that differ from the fixture's " +
                         std::to_string(fixture ? fixture->size() : 0));
      }
    }
    auto listing = [&](const std::vector<std::string>& what, const char* verb) {
      constexpr size_t kNamed = 5;  // the rest are counted: 200 reasons are not read
      std::string out = std::to_string(what.size()) + " of " + std::to_string(spec.count) + " simultaneous downloads " + verb + ": ";
      for (size_t i = 0; i < std::min(what.size(), kNamed); ++i) out += (i ? "; " : "") + what[i];
      if (what.size() > kNamed) out += "; and " + std::to_string(what.size() - kNamed) + " more";
      return out;
    };
    if (!failed.empty()) {
      judge(mismatch_verdict(step), (step.reason.empty() ? "" : step.reason + ": ") + listing(failed, "failed"));
    } else if (!refused.empty()) {
      judge(Verdict::kWarn, listing(refused, "were refused") +
                                " (RFC 1350 §4 lets a server deny a request with an ERROR, but this one cannot serve " +
                                std::to_string(spec.count) + " transfers at once)");
    }
  }

  static const std::string& file_of(const ConcurrentSpec& spec, size_t i) { return spec.files[i % spec.files.size()]; }

  // RFC 1350 §1: netascii is a transfer format; the receiver stores the text in its own
  // local form. Read back as octets, the stored file is the text with LF line ends (a Unix
  // host), or with CR LF ones (a host whose local form that is: noted); keeping the wire
  // bytes as they came (CR NUL for a bare CR) or anything else did not decode the text.
  void judge_stored_text(const Step& step, const std::vector<uint8_t>& text, const std::vector<uint8_t>& stored) {
    if (stored == text) return;
    std::vector<uint8_t> crlf;
    for (uint8_t c : text) {
      if (c == '\n') crlf.push_back('\r');
      crlf.push_back(c);
    }
    if (stored == crlf) {
      judge(Verdict::kNote, "the server stores netascii text with CR LF line ends (its local form, RFC 1350 §1)");
      return;
    }
    const auto wire = proto::netascii_encode(text);
    judge(mismatch_verdict(step),
          stored == wire ? "the server stored the netascii bytes as they came (CR LF, CR NUL) instead of converting "
                           "them to its local text form (RFC 1350 §1)"
                         : "the uploaded text reads back as " + std::to_string(stored.size()) +
                               " bytes that are neither the " + std::to_string(text.size()) +
                               " bytes of the text nor its CR LF form: the netascii decoding lost or changed bytes");
  }

  // --- the rule engine's findings and the evidence ----------------------------------------
  // A finding about one of the scenario's own requirements sets its verdict, by the
  // finding's level (MUST fail, SHOULD warn, NOTE note), and a later skip does not hide it.
  // Any other rule's finding is incidental: the runner lists it once per run with every
  // scenario that saw it, so one bug is one finding (issue 7).
  void apply_findings() {
    const auto& own = sc_.requirements;
    for (const auto& f : wire_.rules().finish()) {
      offending_.insert(f.evidence.begin(), f.evidence.end());  // before datagrams(): they carry their hex
      report::FindingRecord record{f.id, f.requirement, f.citation, std::string(check::level_name(f.level)),
                                   f.cause, f.category, f.message, f.evidence, datagrams(f.evidence)};
      if (std::find(own.begin(), own.end(), f.requirement) == own.end()) {
        result_.incidental.push_back(std::move(record));
        continue;
      }
      const Verdict v = report::verdict_for_level(record.level);
      result_.findings.push_back(std::move(record));
      current_ = nullptr;
      const bool was_ended = ended_;
      judge(v, f.citation + " (" + f.id + "): " + f.message, "", "", f.requirement);
      ended_ = was_ended;
    }
  }

  // Observation `i` as evidence, unless the rule engine no longer keeps it.
  std::optional<report::EvidenceLine> evidence_line(size_t i) const {
    const check::KeptObservation* k = wire_.rules().observation(i);
    if (!k) return std::nullopt;
    const auto& o = k->observation;
    return report::EvidenceLine{i,
                                to_ms(o.at - start_),
                                o.direction == check::Direction::kToTarget ? "sent" : "received",
                                o.from.to_string(),
                                o.to.to_string(),
                                k->packet,
                                k->size,
                                duplicates_.count(i) ? std::string(report::kMarkDuplicate) : std::string(),
                                offending_.count(i) ? hex_bytes(o.bytes) : std::string()};
  }

  std::vector<report::EvidenceLine> datagrams(const std::vector<size_t>& indices) const {
    std::vector<report::EvidenceLine> out;
    for (size_t i : indices) {
      if (out.size() == report::kFindingDatagrams) break;
      if (auto line = evidence_line(i)) out.push_back(std::move(*line));
    }
    return out;
  }

  // The first kEvidenceHead and last kEvidenceTail datagrams the rule engine still keeps;
  // evidence_elided counts all the others.
  void fill_evidence() {
    const size_t n = wire_.rules().observed_count();
    const size_t before = result_.evidence.size();
    auto line = [&](size_t i) {
      if (auto l = evidence_line(i)) result_.evidence.push_back(std::move(*l));
    };
    if (n <= kEvidenceHead + kEvidenceTail) {
      for (size_t i = 0; i < n; ++i) line(i);
    } else {
      for (size_t i = 0; i < kEvidenceHead; ++i) line(i);
      for (size_t i = n - kEvidenceTail; i < n; ++i) line(i);
    }
    result_.evidence_elided = n - (result_.evidence.size() - before);
    // Withheld datagrams were never observed: each goes before the datagram observed next,
    // if that part of the log is kept.
    auto kept = [&](size_t i) { return n <= kEvidenceHead + kEvidenceTail || i < kEvidenceHead || i >= n - kEvidenceTail; };
    for (auto& w : withheld_) {
      if (!kept(w.index)) continue;
      auto at = std::find_if(result_.evidence.begin() + static_cast<long>(before), result_.evidence.end(),
                             [&](const report::EvidenceLine& e) { return e.index >= w.index && e.mark != report::kMarkWithheld; });
      result_.evidence.insert(at, std::move(w));
    }
  }

  const Scenario& sc_;
  Wire& wire_;
  const TargetProfile& profile_;
  std::string unique_;
  const std::atomic<bool>* cancel_;
  std::unique_lock<std::recursive_mutex> listen_hold_{listen_port_mutex(), std::defer_lock};  // see wire.h
  Instant start_;
  const Step* current_ = nullptr;
  report::ScenarioResult result_;
  bool ended_ = false;
  size_t dropped_ = 0;  // datagrams dropped from a full inbox

  std::optional<Address> server_;
  size_t blksize_ = proto::kDefaultBlockSize;
  std::string rrq_file_;
  std::string request_file_;
  std::vector<std::pair<std::string, std::string>> requested_;
  std::vector<uint8_t> upload_content_;
  std::vector<Received> inbox_;
  std::set<std::string> seen_;
  std::optional<Instant> last_match_;
  std::optional<Instant> last_sent_at_;  // when the last `send` step began (do_silence)
  std::optional<Received> last_matched_;  // what the last expect matched: a schedule times its resends
  std::optional<Duration> last_gap_;
  // For the evidence: datagrams the fault injection withheld (never observed), the indices
  // of second copies it sent, and the indices the findings cite (shown with their bytes).
  std::vector<report::EvidenceLine> withheld_;
  std::set<size_t> duplicates_;
  std::set<size_t> offending_;
};

}  // namespace

std::optional<engine::Outcome> drive_transfer(Wire& wire, engine::Transfer& t, Socket socket, Instant deadline,
                                              const std::atomic<bool>* cancel, const SendFunction& send) {
  std::vector<uint8_t> buffer(proto::kMaxDatagramSize + 1);
  for (;;) {
    while (auto tx = t.poll_transmit(buffer)) {
      const auto bytes = std::span<const uint8_t>(buffer).first(tx->size);
      if (send) send(tx->to, bytes);
      else wire.send(socket, tx->to, bytes);
    }
    if (t.finished()) return t.outcome();
    if (wire.now() >= deadline || (cancel != nullptr && cancel->load())) return std::nullopt;
    Instant until = t.poll_timeout().value_or(deadline);
    until = std::min(until, deadline);
    if (auto r = wire.receive_until(until)) {
      if (r->at == socket) t.handle_datagram(r->time, r->from, r->bytes);
    }
    t.handle_timeout(wire.now());
  }
}

std::vector<std::optional<engine::Outcome>> drive_transfers(Wire& wire, std::span<engine::Transfer> transfers,
                                                            std::span<const Socket> sockets, Instant deadline,
                                                            const std::atomic<bool>* cancel) {
  std::vector<uint8_t> buffer(proto::kMaxDatagramSize + 1);
  std::vector<std::optional<engine::Outcome>> out(transfers.size());
  for (;;) {
    bool all_finished = true;
    std::optional<Instant> until;
    for (size_t i = 0; i < transfers.size(); ++i) {
      auto& t = transfers[i];
      while (auto tx = t.poll_transmit(buffer)) wire.send(sockets[i], tx->to, std::span<const uint8_t>(buffer).first(tx->size));
      if (t.finished()) {
        out[i] = t.outcome();
        continue;
      }
      all_finished = false;
      if (auto at = t.poll_timeout()) until = until ? std::min(*until, *at) : *at;
    }
    if (all_finished || wire.now() >= deadline || (cancel != nullptr && cancel->load())) return out;
    if (auto r = wire.receive_until(std::min(until.value_or(deadline), deadline))) {
      for (size_t i = 0; i < transfers.size(); ++i) {
        if (r->at == sockets[i] && !transfers[i].finished()) transfers[i].handle_datagram(r->time, r->from, r->bytes);
      }
    }
    const Instant now = wire.now();
    for (auto& t : transfers) {
      if (!t.finished()) t.handle_timeout(now);
    }
  }
}

size_t download_limit(const std::optional<std::vector<uint8_t>>& fixture) {
  return (fixture ? fixture->size() : 0) + proto::kMaxBlockSize;
}

Fetched fetch(Wire& wire, const std::string& file, const std::vector<proto::OwnedOption>& options, Duration rto,
              Duration budget, size_t limit, const std::atomic<bool>* cancel) {
  engine::TransferConfig config;
  config.retransmit.initial = std::max<Duration>(rto / 2, std::chrono::milliseconds(200));
  config.retransmit.min = config.retransmit.initial;
  config.retransmit.max_retries = 5;
  config.dally = Duration::zero();
  auto sink = std::make_unique<engine::MemorySink>(limit);
  const auto contents = sink->contents();
  auto transfer = engine::Transfer::client_read(config, wire.listen(), file, proto::Mode::kOctet, options,
                                                std::move(sink), wire.now());
  Fetched out;
  out.outcome = drive_transfer(wire, transfer, Socket::kMain, wire.now() + budget, cancel, nullptr);
  out.bytes = std::move(contents->bytes);
  return out;
}

std::string Pattern::describe() const {
  std::string out = malformed ? "malformed datagram" : op ? std::string(proto::opcode_name(*op)) : "any packet";
  if (block) out += " block=" + std::to_string(*block);
  if (size) out += " size=" + std::to_string(*size);
  if (size_full) out += " size=blksize";
  if (size_short) out += " size<blksize";
  if (!codes.empty()) {
    out += " code=";
    for (size_t i = 0; i < codes.size(); ++i) out += (i ? "|" : "") + std::to_string(codes[i]);
  }
  for (const auto& [k, v] : options) out += " " + k + "=" + v;
  for (const auto& k : options_absent) out += " no " + k;
  if (content) out += content_of.empty() ? " (fixture content)" : " (the content of " + content_of + ")";
  if (payload) out += " (the captured bytes)";
  if (from_listen) out += " from the well-known port";
  if (from_new_port) out += " from a new port";
  if (at == Socket::kOther) out += " at the second port";
  return out;
}

report::ScenarioResult result_header(const Scenario& s) {
  report::ScenarioResult r;
  r.id = s.id;
  r.title = s.title;
  r.citation = s.citation;
  r.requirement = s.requirement;
  r.requirements = s.requirements;
  r.level = std::string(level_name(s.level));
  r.summary = s.summary;
  r.file = s.where.to_string();
  r.tags = s.tags;
  return r;
}

std::string_view level_name(Level l) {
  switch (l) {
    case Level::kMust: return "MUST";
    case Level::kShould: return "SHOULD";
    case Level::kMay: return "MAY";
  }
  return "MUST";
}

report::ScenarioResult run_scenario(const Scenario& scenario, Wire& wire, const TargetProfile& profile,
                                    const std::string& unique, const std::atomic<bool>* cancel) {
  return Interpreter(scenario, wire, profile, unique, cancel).run();
}

}  // namespace tftp::scenario
