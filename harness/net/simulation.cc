#include "net/simulation.h"

namespace tftp::net {

RunResult Simulation::run(const std::function<bool()>& done, RunLimits limits) {
  const Instant start = network_.now();
  RunResult result{RunResult::Stop::kQuiet};
  for (;;) {
    for (Node* n : nodes_) n->flush(network_);
    if (done && done()) {
      result.stop = RunResult::Stop::kPredicate;
      break;
    }
    if (result.steps++ >= limits.max_steps) {
      result.stop = RunResult::Stop::kStepLimit;
      break;
    }
    std::optional<Instant> next = network_.next_delivery();
    for (Node* n : nodes_) {
      if (auto t = n->next_timer(); t && (!next || *t < *next)) next = t;
    }
    if (!next) break;  // nothing in flight, no timer: quiet
    if (*next - start > limits.max_time) {
      result.stop = RunResult::Stop::kTimeLimit;
      break;
    }
    if (auto d = network_.deliver_next(*next)) {
      for (Node* n : nodes_) {
        if (n->owns(d->to)) {
          n->receive(network_.now(), *d);
          break;
        }
      }  // no owner: the datagram is lost, as to a closed UDP port
      continue;
    }
    network_.advance_to(*next);
    for (Node* n : nodes_) {
      if (auto t = n->next_timer(); t && *t <= network_.now()) n->on_timer(network_.now());
    }
  }
  result.elapsed = network_.now() - start;
  return result;
}

}  // namespace tftp::net
