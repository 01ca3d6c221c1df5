// The rule engine's public face. Reading guide:
//   rule_table.h       every rule: id, checklist requirement, citation, level, family file;
//   transfer_tracker.* which transfer (client C, server TID S) a datagram belongs to, and
//                      what each transfer has sent and received so far;
//   rules_<family>.cc  the checks, run as each datagram arrives and at finish().
#include "check/rules.h"

#include <cstdio>

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

std::vector<std::string_view> requested_values(const OwnedRequest& r, std::string_view name) {
  std::vector<std::string_view> out;
  for (const auto& o : r.options) {
    if (proto::iequals(o.name, name)) out.push_back(o.value);
  }
  return out;
}

RuleEngine::RuleEngine(Address target_listen) : s_(std::make_unique<State>(std::move(target_listen))) {}
RuleEngine::~RuleEngine() = default;
RuleEngine::RuleEngine(RuleEngine&&) noexcept = default;
RuleEngine& RuleEngine::operator=(RuleEngine&&) noexcept = default;

void RuleEngine::observe(const Observation& observation) {
  s_->obs.push_back(observation);
  const size_t index = s_->obs.size() - 1;
  if (observation.direction == Direction::kFromTarget) {
    s_->on_server(index);
  } else {
    s_->on_client(index);
  }
}

void RuleEngine::set_timing(const PathTiming& timing) { s_->timing = timing; }
const PathTiming& RuleEngine::timing() const { return s_->timing; }

std::vector<Finding> RuleEngine::findings() const { return s_->out; }

std::vector<Finding> RuleEngine::finish() {
  s_->judge_end();
  return s_->out;
}

const std::vector<Observation>& RuleEngine::observations() const { return s_->obs; }

}  // namespace tftp::check
