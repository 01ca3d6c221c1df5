// A UDP proxy that puts a TFTP server "far away": every datagram, both ways, waits a one-way
// delay plus seeded uniform jitter before it is forwarded. The kernel here has no netem, so
// distance is simulated in user space, in the proxy's own thread.
//
// TFTP identifies a transfer by its ports (RFC 1350 §4), so the proxy keeps them apart both
// ways, like an endpoint-independent NAT:
//  - each client address C gets its own upstream socket U(C): everything C sends reaches the
//    server from U(C), and only from it;
//  - each server address T that sends to some U(C) gets its own downstream socket D(T): C sees
//    T's datagrams come from D(T), and what C sends to D(T) goes to T. The server's
//    well-known address maps to the listening socket, so an ERROR sent from port 69 still
//    comes from the port the client wrote to, and a new TID still looks new.
// A stray (another client address writing to D(T)) thus reaches T from another port, and
// T's answer to it comes back from D(T), as it would without the proxy.
//
// Datagrams of one direction of one client keep their order unless `reorder` is set, in
// which case each one's jitter alone decides. Memory is bounded: at most `max_queued_bytes`
// wait in the delay queue (beyond that the datagram is dropped, as a router would, and
// counted), and at most `max_endpoints` sockets are open (the least recently used is closed).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <thread>

#include "common/address.h"
#include "common/result.h"
#include "common/time.h"

namespace tftp::testing {

struct DelayProxyConfig {
  Address server;                        // the server's well-known address (its port 69)
  Address listen = Address::loopback_v4(0);  // where clients send; port 0: an ephemeral port
  Duration delay{};                      // one way, added to every datagram
  Duration jitter{};                     // plus uniform [0, jitter] per datagram
  bool reorder = false;                  // let jitter reorder datagrams of one direction
  uint64_t seed = 1;
  size_t max_queued_bytes = size_t{64} << 20;
  size_t max_endpoints = 2048;           // upstream + downstream sockets
};

struct DelayProxyStats {
  uint64_t to_server = 0;    // datagrams forwarded client -> server
  uint64_t to_client = 0;    // and server -> client
  uint64_t dropped = 0;      // queue full or send failed
  uint64_t endpoints = 0;    // sockets opened over the proxy's life (upstream + downstream)
  uint64_t evicted = 0;      // sockets closed to stay under max_endpoints
};

class DelayProxy {
 public:
  // Binds the listening socket and starts the proxy's thread.
  static Result<std::unique_ptr<DelayProxy>> start(DelayProxyConfig config);
  ~DelayProxy();  // stops
  DelayProxy(const DelayProxy&) = delete;
  DelayProxy& operator=(const DelayProxy&) = delete;

  // Where clients send their requests (the proxy's stand-in for the server's port 69).
  Address address() const;
  // Stops the thread and closes every socket; datagrams still waiting are dropped. Idempotent.
  void stop();
  DelayProxyStats stats() const;

 private:
  class Loop;
  explicit DelayProxy(std::unique_ptr<Loop> loop);
  std::unique_ptr<Loop> loop_;
  std::thread thread_;
};

}  // namespace tftp::testing
