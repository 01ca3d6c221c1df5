// A hostile TFTP target on loopback for the tests of issue 12 item 1: the reference server's
// sans-IO core serving the fixtures from memory, behind an I/O layer that breaks the protocol
// in one way per mode. Each mode keeps the sanity exchange (RRQ f1.bin: one DATA of one byte,
// from a new port on the address asked) intact where the misbehaviour allows it, so the
// harness gets past its sanity gate and meets the misbehaviour in every scenario, not just once.
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "common/address.h"

namespace tftp::testing {

enum class Hostility {
  kFlood,              // serves, and floods every client with an open session with small garbage
  kGarbage,            // every datagram it sends is followed by random bytes from the same port
  kHugeDatagrams,      // every datagram it sends is followed by a 65,507-byte DATA from the same port
  kRandomPorts,        // a session's first datagram comes from its port, every later one from a fresh port
  kEndless,            // every file but f1.bin never ends: full blocks forever, block numbers wrapping
  kRetransmitForever,  // each session resends its last datagram every 100 ms forever, after its end too
  kDrip,               // every datagram leaves 300 ms late
  kOversizeData,       // every full DATA carries one byte more than the negotiated blksize
  kUnaskedOack,        // every OACK adds an option the request did not ask for
  kErrorWithoutNul,    // every ERROR lacks the NUL that ends its message
  kOtherAddress,       // listens on 127.0.0.1, answers from 127.0.0.3
};

std::string_view hostility_name(Hostility h);
const std::vector<Hostility>& all_hostilities();

class HostileServer {
 public:
  // Listens on 127.0.0.1 at an ephemeral port, on a thread of its own. Throws if it cannot.
  explicit HostileServer(Hostility mode);
  ~HostileServer();
  HostileServer(const HostileServer&) = delete;
  HostileServer& operator=(const HostileServer&) = delete;

  const Address& address() const { return address_; }
  // Datagrams it has sent, misbehaviour included.
  uint64_t sent() const { return sent_.load(); }

  class Loop;

 private:
  Address address_;
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> sent_{0};
  std::unique_ptr<Loop> loop_;
  std::thread thread_;
  std::thread flood_;
};

}  // namespace tftp::testing
