// Runs sans-IO endpoints against each other over a VirtualNetwork in virtual time.
// A bounded drive: it stops when the predicate holds, when nothing is left to happen,
// or when a step or time budget runs out (a livelock fails instead of hanging).
#pragma once

#include <functional>
#include <optional>
#include <vector>

#include "net/virtual_network.h"

namespace tftp::net {

// One endpoint (or a set of them, like a server and its sessions) on the virtual network.
class Node {
 public:
  virtual ~Node() = default;
  virtual bool owns(const Address& address) const = 0;
  virtual void receive(Instant now, const Datagram& datagram) = 0;
  virtual void on_timer(Instant now) = 0;
  virtual std::optional<Instant> next_timer() = 0;
  // Hands every datagram the node wants to send to the network.
  virtual void flush(VirtualNetwork& network) = 0;
};

struct RunLimits {
  uint64_t max_steps = 10'000'000;
  Duration max_time = std::chrono::hours(1);  // virtual
};

struct RunResult {
  enum class Stop { kPredicate, kQuiet, kStepLimit, kTimeLimit } stop;
  uint64_t steps = 0;
  Duration elapsed{};  // virtual
};

class Simulation {
 public:
  explicit Simulation(uint64_t seed = 1) : network_(seed) {}
  VirtualNetwork& network() { return network_; }
  Instant now() const { return network_.now(); }
  void add(Node& node) { nodes_.push_back(&node); }

  RunResult run(const std::function<bool()>& done, RunLimits limits = {});

 private:
  VirtualNetwork network_;
  std::vector<Node*> nodes_;
};

}  // namespace tftp::net
