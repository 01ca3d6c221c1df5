#include "net/virtual_network.h"

namespace tftp::net {

FaultDecision roll_faults(const FaultProfile& faults, std::mt19937_64& rng, FilterAction scripted) {
  std::uniform_real_distribution<double> chance(0.0, 1.0);
  if (scripted == FilterAction::kDrop || (faults.loss > 0 && chance(rng) < faults.loss)) return {true, false};
  return {false, scripted == FilterAction::kDuplicate || (faults.duplicate > 0 && chance(rng) < faults.duplicate)};
}

VirtualNetwork::VirtualNetwork(uint64_t seed, Instant start) : now_(start), rng_(seed) {}

void VirtualNetwork::send(const Address& from, const Address& to, std::span<const uint8_t> bytes) {
  Datagram d{from, to, std::vector<uint8_t>(bytes.begin(), bytes.end()), now_};
  log_.push_back(d);
  const FaultDecision fault = roll_faults(faults_, rng_, filter_ ? filter_(d) : FilterAction::kPass);
  if (fault.drop) {
    ++dropped_;
    return;
  }
  if (fault.duplicate) schedule(d, faults_.delay);
  std::uniform_real_distribution<double> chance(0.0, 1.0);
  Duration extra{};
  if (faults_.reorder > 0 && chance(rng_) < faults_.reorder) {
    std::uniform_int_distribution<int64_t> hold(1, std::max<int64_t>(1, faults_.reorder_delay.count()));
    extra = Duration(hold(rng_));
  }
  schedule(std::move(d), faults_.delay + extra);
}

void VirtualNetwork::schedule(Datagram d, Duration after) {
  queue_.push(Scheduled{now_ + after, seq_++, std::move(d)});
}

std::optional<Instant> VirtualNetwork::next_delivery() const {
  if (queue_.empty()) return std::nullopt;
  return queue_.top().at;
}

std::optional<Datagram> VirtualNetwork::deliver_next(Instant until) {
  if (queue_.empty() || queue_.top().at > until) return std::nullopt;
  Scheduled s = std::move(const_cast<Scheduled&>(queue_.top()));
  queue_.pop();
  advance_to(s.at);
  return std::move(s.datagram);
}

void VirtualNetwork::advance_to(Instant t) {
  if (t > now_) now_ = t;
}

}  // namespace tftp::net
