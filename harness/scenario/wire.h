// What a scenario talks through: two client sockets (the main TID and a second one to
// play the wrong TID), as many more as concurrent transfers ask for, and the target's
// well-known address. Over real UDP, or over the
// virtual network with the reference server in virtual time. Every datagram both ways
// is recorded and fed to the rule engine.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <vector>

#include "check/rules.h"
#include "client/transfer_node.h"
#include "net/simulation.h"
#include "net/udp_socket.h"
#include "scenario/model.h"
#include "scenario/wire_capture.h"
#include "server/server_node.h"

namespace tftp::scenario {

struct Received {
  size_t index;  // into rules().observations()
  Socket at;
  Address from;
  std::vector<uint8_t> bytes;
  Instant time;  // when it reached our socket (over UDP: the kernel's receive time)
};

// Every scenario of a run reaches the target's well-known port through the same socket
// queue at the target. Wire::send holds this for each datagram sent there, and a scenario
// that sends several in a row (a primer, then a short datagram whose parsing may read the
// primer's stale bytes) holds it across them, so no other scenario's datagram lands in
// between. Recursive: the holder's own sends take it again.
std::recursive_mutex& listen_port_mutex();

class Wire {
 public:
  explicit Wire(Address listen) : listen_(listen), rules_(listen) {}
  virtual ~Wire() = default;

  const Address& listen() const { return listen_; }
  virtual Instant now() = 0;
  virtual Address local(Socket s) const = 0;
  // `n` sockets beyond kMain and kOther, one client TID per concurrent transfer (RFC 1350
  // §4), opened on first use and kept for the wire's life: Socket{2} .. Socket{n + 1}.
  Result<std::vector<Socket>> extra_sockets(size_t n);
  void send(Socket s, const Address& to, std::span<const uint8_t> bytes);
  // The next datagram to reach one of our sockets by `deadline`, waiting until then at
  // most. Returns by the deadline however fast the target sends: a datagram that arrived
  // after it is left for the next call. Nullopt at once when the run is cancelled.
  std::optional<Received> receive_until(Instant deadline);
  // Lets time pass (virtual or real) without consuming datagrams; they queue up, at most
  // kMaxQueued of them: the rest are observed by the rule engine, then dropped and counted.
  void wait_until(Instant deadline);

  // Makes waits end within kWaitSlice once *cancel is true (the run was interrupted).
  void set_cancel(const std::atomic<bool>* cancel) { cancel_ = cancel; }
  bool cancelled() const { return cancel_ != nullptr && cancel_->load(std::memory_order_relaxed); }
  // Datagrams wait_until had no room for: the target flooded us with this many.
  size_t dropped() const { return dropped_; }

  static constexpr size_t kMaxQueued = 256;  // at most 256 x 64 KiB queued per wire
  static constexpr Duration kWaitSlice = std::chrono::milliseconds(100);

  check::RuleEngine& rules() { return rules_; }

  // Writes every datagram observed from now on to `session` (run --pcap).
  void set_capture(std::unique_ptr<WireCapture::Session> session) { capture_ = std::move(session); }
  // Ends the capture of this wire's datagrams (a virtual-time wire writes them out now) and
  // returns the frame of each observation index (empty without a capture).
  std::vector<uint64_t> finish_capture();

 protected:
  struct Arrival {
    Socket at;
    Address from;
    std::vector<uint8_t> bytes;
    Instant time;  // when it reached our socket
  };
  virtual void transmit(Socket s, const Address& to, std::span<const uint8_t> bytes) = 0;
  // Makes Socket{0} .. Socket{n - 1} exist (n only grows).
  virtual Result<void> open_sockets(size_t n) = 0;
  // The next datagram that arrived by `deadline`; nullopt once none did and the deadline
  // has passed, or the run is cancelled (checked at least every kWaitSlice).
  virtual std::optional<Arrival> next_arrival(Instant deadline) = 0;

 private:
  Address listen_;
  check::RuleEngine rules_;
  std::vector<Received> queued_;  // arrived during wait_until, not yet consumed
  size_t dropped_ = 0;
  const std::atomic<bool>* cancel_ = nullptr;
  std::unique_ptr<WireCapture::Session> capture_;
  size_t observe(const check::Observation& o);  // to the rule engine, and to the capture
};

// Real UDP: IPv4 or IPv6, following the target's family.
class UdpWire : public Wire {
 public:
  static Result<std::unique_ptr<UdpWire>> open(const Address& target);
  Instant now() override { return real_now(); }
  Address local(Socket s) const override { return sockets_[static_cast<size_t>(s)].local_address(); }

 protected:
  void transmit(Socket s, const Address& to, std::span<const uint8_t> bytes) override;
  std::optional<Arrival> next_arrival(Instant deadline) override;
  Result<void> open_sockets(size_t n) override;

 private:
  explicit UdpWire(const Address& target) : Wire(target) {}
  std::optional<Arrival> read(size_t socket);
  std::vector<net::UdpSocket> sockets_;  // indexed by Socket
  // A datagram read from each socket that arrived after the deadline it was read for.
  std::vector<std::optional<Arrival>> pending_;
  size_t turn_ = 0;  // the socket served first next time: they take turns
  std::vector<uint8_t> buffer_ = std::vector<uint8_t>(proto::kMaxDatagramSize + 1);
};

// The reference server (possibly with fault switches) on the virtual network.
class VirtualWire : public Wire {
 public:
  VirtualWire(server::ServerConfig config, std::shared_ptr<server::MemoryFileStore> files, uint64_t seed);
  ~VirtualWire() override;
  Instant now() override { return sim_.now(); }
  Address local(Socket s) const override;
  server::ServerNode& server() { return *server_; }

 protected:
  void transmit(Socket s, const Address& to, std::span<const uint8_t> bytes) override;
  std::optional<Arrival> next_arrival(Instant deadline) override;
  Result<void> open_sockets(size_t n) override;

 private:
  class Harness;  // the node that owns our addresses
  std::shared_ptr<server::MemoryFileStore> files_;
  net::Simulation sim_;
  std::unique_ptr<server::ServerNode> server_;
  std::unique_ptr<Harness> harness_;
};

}  // namespace tftp::scenario
