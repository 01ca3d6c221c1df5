#include "server/server_node.h"

namespace tftp::server {

ServerNode::ServerNode(Address listen, ServerConfig config, FileStore& files, uint16_t first_port)
    : listen_(listen), core_(std::move(config), files), next_port_(first_port), buffer_(proto::kMaxDatagramSize + 1) {}

bool ServerNode::owns(const Address& a) const { return a == listen_ || address_session_.count(a) != 0; }

void ServerNode::receive(Instant now, const net::Datagram& d) {
  if (d.to == listen_) {
    core_.handle_request(now, d.from, d.bytes);
  } else if (auto it = address_session_.find(d.to); it != address_session_.end()) {
    core_.handle_datagram(now, it->second, d.from, d.bytes);
  }
  handle_events();
}

void ServerNode::handle_events() {
  while (auto e = core_.poll_event()) {
    if (e->kind == SessionEvent::Kind::kOpened) {
      const Address a = listen_.with_port(next_port_++);
      if (next_port_ == 0) next_port_ = 1024;
      session_address_[e->session] = a;
      address_session_[a] = e->session;
    } else {
      if (auto it = session_address_.find(e->session); it != session_address_.end()) {
        address_session_.erase(it->second);
        session_address_.erase(it);
      }
      closed_.push_back(std::move(*e));
    }
  }
}

void ServerNode::flush(net::VirtualNetwork& network) {
  handle_events();
  while (auto t = core_.poll_transmit(buffer_)) {
    Address from = listen_;
    if (t->session != kListener && !core_.config().faults.answer_from_listen_port) {
      if (auto it = session_address_.find(t->session); it != session_address_.end()) from = it->second;
    }
    network.send(from, t->to, std::span<const uint8_t>(buffer_).first(t->size));
    handle_events();
  }
}

}  // namespace tftp::server
