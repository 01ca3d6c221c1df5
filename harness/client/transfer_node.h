// A client-side Transfer as a node of the virtual network (tests, the embedded target).
#pragma once

#include "engine/transfer.h"
#include "net/simulation.h"

namespace tftp::client {

class TransferNode : public net::Node {
 public:
  TransferNode(Address local, engine::Transfer transfer)
      : local_(local), transfer_(std::move(transfer)), buffer_(proto::kMaxDatagramSize + 1) {}

  bool owns(const Address& a) const override { return a == local_; }
  void receive(Instant now, const net::Datagram& d) override { transfer_.handle_datagram(now, d.from, d.bytes); }
  void on_timer(Instant now) override { transfer_.handle_timeout(now); }
  std::optional<Instant> next_timer() override { return transfer_.poll_timeout(); }
  void flush(net::VirtualNetwork& network) override {
    while (auto t = transfer_.poll_transmit(buffer_)) {
      network.send(local_, t->to, std::span<const uint8_t>(buffer_).first(t->size));
    }
  }

  engine::Transfer& transfer() { return transfer_; }
  const Address& local() const { return local_; }

 private:
  Address local_;
  engine::Transfer transfer_;
  std::vector<uint8_t> buffer_;
};

}  // namespace tftp::client
