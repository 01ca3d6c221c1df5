// The rule engine's public face. Reading guide:
//   rule_table.h       every rule: id, checklist requirement, citation, level, family file;
//   transfer_tracker.* which transfer (client C, server TID S) a datagram belongs to, and
//                      what each transfer has sent and received so far;
//   rules_<family>.cc  the checks, run as each datagram arrives and at finish().
#include "check/rules.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <limits>

#include "check/transfer_tracker.h"

namespace tftp::check {

std::string_view level_name(Level level) {
  switch (level) {
    case Level::kMust: return "MUST";
    case Level::kShould: return "SHOULD";
    case Level::kNote: return "NOTE";
  }
  return "?";
}

std::string ms(Duration d) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f ms", to_ms(d));
  return buf;
}

std::string summarize(std::span<const uint8_t> bytes) {
  std::string s = proto::describe_datagram(bytes);
  if (s.size() > kSummaryChars) s = s.substr(0, kSummaryChars - 4) + " ...";
  s.shrink_to_fit();  // a long ERROR text or option list may have grown it far beyond
  return s;
}

RetentionLimits RetentionLimits::unbounded() {
  constexpr size_t kAll = std::numeric_limits<size_t>::max() / 4;
  return RetentionLimits{kAll, kAll, kAll};
}

void RuleEngine::State::keep(size_t index, const Observation& o) {
  // Nothing to keep (a capture's analysis names evidence by frame: limits {0, 0, 0}):
  // no copy and no description, which would cost more than judging the datagram.
  if (head.size() >= limits.head && limits.tail == 0) return;
  const size_t cut = std::min(o.bytes.size(), limits.bytes);
  KeptObservation k{index, Observation{o.at, o.direction, o.from, o.to, {o.bytes.begin(), o.bytes.begin() + static_cast<std::ptrdiff_t>(cut)}},
                    o.bytes.size(), summarize(o.bytes)};
  if (head.size() < limits.head) {
    head.push_back(std::move(k));
    return;
  }
  if (limits.tail == 0) return;
  if (tail.size() == limits.tail) tail.pop_front();
  tail.push_back(std::move(k));
}

const KeptObservation* RuleEngine::State::kept(size_t index) const {
  if (index < head.size()) return &head[index];
  if (tail.empty() || index < tail.front().index || index > tail.back().index) return nullptr;
  return &tail[index - tail.front().index];
}

void RuleEngine::State::read_past(size_t index) const {
  // A rule looking back at an earlier datagram would read what the retention limits may
  // have dropped: a bug of the engine, never of the target.
  std::fprintf(stderr, "tftp::check: a rule read observation %zu while judging %zu\n", index, current_index);
  std::abort();
}

std::vector<std::string_view> requested_values(const OwnedRequest& r, std::string_view name) {
  std::vector<std::string_view> out;
  for (const auto& o : r.options) {
    if (proto::iequals(o.name, name)) out.push_back(o.value);
  }
  return out;
}

RuleEngine::RuleEngine(Address target_listen, RetentionLimits limits)
    : s_(std::make_unique<State>(std::move(target_listen), limits)) {}
RuleEngine::~RuleEngine() = default;
RuleEngine::RuleEngine(RuleEngine&&) noexcept = default;
RuleEngine& RuleEngine::operator=(RuleEngine&&) noexcept = default;

size_t RuleEngine::observe(const Observation& observation) {
  const size_t index = s_->observed++;
  if (index == 0) s_->first_at = observation.at;
  s_->last_at = observation.at;
  s_->current = &observation;
  s_->current_index = index;
  if (observation.direction == Direction::kFromTarget) {
    s_->on_server(index);
  } else {
    s_->on_client(index);
  }
  s_->current = nullptr;
  s_->keep(index, observation);
  return index;
}

void RuleEngine::set_timing(const PathTiming& timing) { s_->timing = timing; }
const PathTiming& RuleEngine::timing() const { return s_->timing; }

std::vector<Finding> RuleEngine::findings() const { return s_->out; }
size_t RuleEngine::finding_count() const { return s_->out.size(); }
std::span<const Finding> RuleEngine::findings_from(size_t first) const {
  return std::span<const Finding>(s_->out).subspan(std::min(first, s_->out.size()));
}

std::vector<Finding> RuleEngine::finish() {
  s_->judge_end();
  return s_->out;
}

size_t RuleEngine::observed_count() const { return s_->observed; }

const KeptObservation* RuleEngine::observation(size_t index) const { return s_->kept(index); }

std::vector<const KeptObservation*> RuleEngine::kept() const {
  std::vector<const KeptObservation*> out;
  out.reserve(s_->head.size() + s_->tail.size());
  for (const auto& k : s_->head) out.push_back(&k);
  for (const auto& k : s_->tail) out.push_back(&k);
  return out;
}

std::vector<Observation> RuleEngine::observations() const {
  std::vector<Observation> out;
  for (const KeptObservation* k : kept()) out.push_back(k->observation);
  return out;
}

void RuleEngine::shrink_to_fit() { s_->shrink_to_fit(); }

size_t RuleEngine::retained_bytes() const {
  size_t n = sizeof(State);
  auto kept_bytes = [](const KeptObservation& k) {
    return sizeof(KeptObservation) + k.observation.bytes.capacity() +
           (k.packet.capacity() > 15 ? k.packet.capacity() + 1 : 0);
  };
  for (const auto& k : s_->head) n += kept_bytes(k);
  for (const auto& k : s_->tail) n += kept_bytes(k);
  return n + s_->state_bytes();
}

}  // namespace tftp::check
