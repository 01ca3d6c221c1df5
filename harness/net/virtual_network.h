// An in-memory datagram network with a virtual clock: deterministic by seed, with loss,
// duplication, reordering and delay. Tests and the embedded target use it instead of
// sockets, so a "lost ACK" costs microseconds of real time, not seconds.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <queue>
#include <random>
#include <span>
#include <vector>

#include "common/address.h"
#include "common/time.h"

namespace tftp::net {

struct Datagram {
  Address from;
  Address to;
  std::vector<uint8_t> bytes;
  Instant sent_at{};
};

// Random faults applied to every datagram, each an independent probability.
struct FaultProfile {
  double loss = 0;       // dropped
  double duplicate = 0;  // delivered twice
  double reorder = 0;    // held back by up to `reorder_delay`
  Duration delay{};      // one-way latency
  Duration reorder_delay = std::chrono::milliseconds(5);
};

// What a scripted filter decides for one datagram.
enum class FilterAction { kPass, kDrop, kDuplicate };

// The fault layer's decision for one datagram: a scripted action first, then the profile's
// loss and duplication, each an independent draw from `rng`. The virtual network applies it
// to every datagram it carries; `tftpspec load` to its clients' real sockets.
struct FaultDecision {
  bool drop = false;
  bool duplicate = false;
};
FaultDecision roll_faults(const FaultProfile& faults, std::mt19937_64& rng, FilterAction scripted = FilterAction::kPass);

class VirtualNetwork {
 public:
  explicit VirtualNetwork(uint64_t seed = 1, Instant start = Instant(std::chrono::seconds(1)));

  Instant now() const { return now_; }
  void set_faults(const FaultProfile& faults) { faults_ = faults; }
  // Runs before the random faults: lets a test drop or duplicate particular datagrams.
  void set_filter(std::function<FilterAction(const Datagram&)> filter) { filter_ = std::move(filter); }

  void send(const Address& from, const Address& to, std::span<const uint8_t> bytes);

  std::optional<Instant> next_delivery() const;
  // Removes and returns the next datagram due at or before `until`, moving the clock to
  // its delivery time. nullopt when none is due.
  std::optional<Datagram> deliver_next(Instant until);
  // Moves the clock forward (never back).
  void advance_to(Instant t);

  // Every datagram handed to send(), in order, before faults: the capture of the run.
  const std::vector<Datagram>& sent_log() const { return log_; }
  void clear_log() { log_.clear(); }
  uint64_t dropped() const { return dropped_; }

 private:
  struct Scheduled {
    Instant at;
    uint64_t seq;  // FIFO among equal times
    Datagram datagram;
    bool operator>(const Scheduled& o) const { return at != o.at ? at > o.at : seq > o.seq; }
  };
  void schedule(Datagram d, Duration after);

  Instant now_;
  std::mt19937_64 rng_;
  FaultProfile faults_;
  std::function<FilterAction(const Datagram&)> filter_;
  std::priority_queue<Scheduled, std::vector<Scheduled>, std::greater<>> queue_;
  uint64_t seq_ = 0;
  uint64_t dropped_ = 0;
  std::vector<Datagram> log_;
};

}  // namespace tftp::net
