// Runs a catalogue against a target: discovery first (alive? WRQ? which options? what
// retransmission timeout?), then a sanity scenario, the selected scenarios concurrently
// (each on its own sockets, each with a deadline), and the sanity scenario again.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "report/model.h"
#include "scenario/interpreter.h"
#include "scenario/model.h"
#include "scenario/wire.h"

namespace tftp::scenario {

class Target {
 public:
  virtual ~Target() = default;
  virtual Result<std::unique_ptr<Wire>> open(uint64_t seed) = 0;
  // open() with the run's cancel flag set on the wire, so every wait ends when it turns true.
  Result<std::unique_ptr<Wire>> open_wire(uint64_t seed) {
    auto wire = open(seed);
    if (wire) (*wire)->set_cancel(cancel_);
    if (wire && capture_ != nullptr) (*wire)->set_capture(capture_->session());
    return wire;
  }
  void set_cancel(const std::atomic<bool>* cancel) { cancel_ = cancel; }
  // Every wire opened from now on writes its datagrams to `capture` (run --pcap).
  void set_capture(WireCapture* capture) { capture_ = capture; }
  virtual report::TargetInfo describe() const = 0;
  // True when the harness itself put the fixtures in the target's root (embedded, --root):
  // then a fixture served with other bytes is the target's doing, judged by the scenarios,
  // and only a missing one is a set-up problem.
  virtual bool fixtures_written_by_harness() const = 0;
  // True when a canary lies outside the target's root (scenario/fixtures.h): the scenarios
  // that need it run, the others skip.
  virtual bool canary_planted() const = 0;

 private:
  const std::atomic<bool>* cancel_ = nullptr;
  WireCapture* capture_ = nullptr;
};

// The reference server in-process, over the virtual network, in virtual time.
class EmbeddedTarget : public Target {
 public:
  explicit EmbeddedTarget(server::ServerConfig config = default_config());
  static server::ServerConfig default_config();
  Result<std::unique_ptr<Wire>> open(uint64_t seed) override;
  report::TargetInfo describe() const override;
  bool fixtures_written_by_harness() const override { return true; }
  // Outside the virtual root lies the canary: only the allow_traversal fault reaches it.
  bool canary_planted() const override { return true; }

 private:
  server::ServerConfig config_;
  std::vector<std::pair<std::string, std::shared_ptr<const std::vector<uint8_t>>>> fixtures_;
};

// Any server over real UDP (IPv4 or IPv6).
class UdpTarget : public Target {
 public:
  explicit UdpTarget(Address address, bool fixtures_written = false, bool canary_planted = false)
      : address_(address), fixtures_written_(fixtures_written), canary_planted_(canary_planted) {}
  Result<std::unique_ptr<Wire>> open(uint64_t) override { return UdpWire::open(address_); }
  report::TargetInfo describe() const override;
  bool fixtures_written_by_harness() const override { return fixtures_written_; }
  bool canary_planted() const override { return canary_planted_; }

 private:
  Address address_;
  bool fixtures_written_;
  bool canary_planted_;
};

struct RunOptions {
  int jobs = 8;
  uint64_t seed = 1;
  bool include_slow = false;
  std::vector<std::string> include;  // globs over ids; empty: all
  std::vector<std::string> exclude;
  std::function<void(const report::ScenarioResult&)> on_result;  // called as each finishes
  std::function<void(const std::string& id)> on_start;             // called as each starts (progress)
  const std::atomic<bool>* cancel = nullptr;
  // Every datagram of the run (discovery included) goes to this capture, and the evidence
  // cites its frame numbers (run --pcap).
  WireCapture* capture = nullptr;
};

// Probes the target; fills `info` (alive, capabilities, timeouts, round trip, the state of
// each of `fixtures`) and returns the profile the scenarios are judged with.
TargetProfile discover(Target& target, report::TargetInfo& info, uint64_t seed,
                       const std::vector<std::string>& fixtures = {}, const std::atomic<bool>* cancel = nullptr);

// The scenarios a run would execute, in order.
std::vector<const Scenario*> select(const std::vector<Scenario>& catalogue, const RunOptions& options);

report::RunReport run_catalogue(const std::vector<Scenario>& catalogue, Target& target, const RunOptions& options);

bool glob_match(const std::string& pattern, const std::string& text);

}  // namespace tftp::scenario
