// The reference server as a node of the virtual network: the same ServerCore as the UDP
// server, with each session given its own virtual port (its TID).
#pragma once

#include <unordered_map>

#include "net/simulation.h"
#include "server/server_core.h"

namespace tftp::server {

class ServerNode : public net::Node {
 public:
  // `listen` is the server's well-known address; sessions get ports from `first_port` on.
  ServerNode(Address listen, ServerConfig config, FileStore& files, uint16_t first_port = 40000);

  bool owns(const Address& a) const override;
  void receive(Instant now, const net::Datagram& d) override;
  void on_timer(Instant now) override { core_.handle_timeout(now); }
  std::optional<Instant> next_timer() override { return core_.poll_timeout(); }
  void flush(net::VirtualNetwork& network) override;

  ServerCore& core() { return core_; }
  const Address& listen() const { return listen_; }
  // Sessions that have ended, in order, for tests to inspect.
  const std::vector<SessionEvent>& closed() const { return closed_; }

 private:
  void handle_events();
  Address listen_;
  ServerCore core_;
  uint16_t next_port_;
  std::unordered_map<SessionId, Address> session_address_;
  std::unordered_map<Address, SessionId> address_session_;
  std::vector<SessionEvent> closed_;
  std::vector<uint8_t> buffer_;
};

}  // namespace tftp::server
