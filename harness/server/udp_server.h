// The reference server on real UDP: one thread, one epoll loop, one socket per session
// (the session's TID), any number of listening addresses (IPv4 and IPv6).
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "net/event_loop.h"
#include "net/udp_socket.h"
#include "server/server_core.h"

namespace tftp::server {

class UdpServer {
 public:
  using Logger = std::function<void(const std::string&)>;

  static Result<std::unique_ptr<UdpServer>> start(const std::vector<Address>& listen, ServerConfig config,
                                                  FileStore& files, Logger log = {});
  ~UdpServer();

  // Requests read from a listening socket before the loop serves the sessions again: a
  // flood of requests cannot starve the transfers in progress.
  static constexpr size_t kListenBatch = 32;

  // Serves until `stop` becomes true (checked at least every 100 ms).
  Result<void> run(const std::atomic<bool>& stop);
  // The bound listening addresses (with the real port when 0 was asked for).
  std::vector<Address> listening() const;
  // Sees every datagram before the core does; returning false drops it. For tests that
  // plant a fault in an otherwise correct server (harness/tests/support/planted_tftpd.cc).
  using InboundTap = std::function<bool(std::span<const uint8_t> bytes, bool at_listener)>;
  void set_inbound_tap(InboundTap tap) { tap_ = std::move(tap); }

 private:
  UdpServer(ServerConfig config, FileStore& files, net::EventLoop loop, Logger log);
  void on_listener_readable(size_t index);
  void on_session_readable(SessionId id);
  size_t drain();  // returns the number of datagrams sent

  // Where a request arrived: the listener and the address the client asked (IP_PKTINFO),
  // from which its session and any refusal must answer.
  struct Arrival {
    size_t listener = 0;
    Address local;  // unspecified when unknown (the session then binds the wildcard)
  };
  struct SessionSocket {
    net::UdpSocket socket;
    Arrival arrival;
  };
  // Sends from a listener, with the source address the request was sent to.
  void send_from_listener(const Arrival& a, const Address& to, std::span<const uint8_t> bytes);

  ServerCore core_;
  net::EventLoop loop_;
  Logger log_;
  InboundTap tap_;
  std::vector<net::UdpSocket> listeners_;
  std::unordered_map<SessionId, SessionSocket> sessions_;
  Arrival arrival_;  // of the request being handled
  std::vector<uint8_t> rx_;
  std::vector<uint8_t> tx_;
};

}  // namespace tftp::server
