#include "scenario/wire.h"

#include <poll.h>

#include <deque>

namespace tftp::scenario {

std::recursive_mutex& listen_port_mutex() {
  static std::recursive_mutex m;
  return m;
}

void Wire::send(Socket s, const Address& to, std::span<const uint8_t> bytes) {
  std::unique_lock<std::recursive_mutex> lock(listen_port_mutex(), std::defer_lock);
  if (to == listen_) lock.lock();
  rules_.observe({now(), check::Direction::kToTarget, local(s), to, {bytes.begin(), bytes.end()}});
  transmit(s, to, bytes);
}

std::optional<Received> Wire::receive_until(Instant deadline) {
  if (!queued_.empty()) {
    Received r = std::move(queued_.front());
    queued_.erase(queued_.begin());
    return r;
  }
  auto a = next_arrival(deadline);
  if (!a) return std::nullopt;
  const Instant t = now();
  rules_.observe({t, check::Direction::kFromTarget, a->from, local(a->at), a->bytes});
  return Received{rules_.observations().size() - 1, a->at, a->from, std::move(a->bytes), t};
}

void Wire::wait_until(Instant deadline) {
  while (auto a = next_arrival(deadline)) {
    const Instant t = now();
    rules_.observe({t, check::Direction::kFromTarget, a->from, local(a->at), a->bytes});
    queued_.push_back({rules_.observations().size() - 1, a->at, a->from, std::move(a->bytes), t});
  }
}

Result<std::unique_ptr<UdpWire>> UdpWire::open(const Address& target) {
  std::unique_ptr<UdpWire> w(new UdpWire(target));
  for (auto& s : w->sockets_) {
    auto socket = net::UdpSocket::ephemeral_for(target);
    if (!socket) return tl::unexpected(socket.error());
    socket->set_buffer_sizes(4 << 20);
    s = std::move(*socket);
  }
  return w;
}

void UdpWire::transmit(Socket s, const Address& to, std::span<const uint8_t> bytes) {
  (void)sockets_[s == Socket::kMain ? 0 : 1].send_to(to, bytes);  // a failed send is a lost datagram
}

std::optional<Wire::Arrival> UdpWire::next_arrival(Instant deadline) {
  for (;;) {
    for (int i = 0; i < 2; ++i) {
      auto got = sockets_[i].receive(buffer_);
      if (got && *got) {
        return Arrival{i == 0 ? Socket::kMain : Socket::kOther, (*got)->from,
                       std::vector<uint8_t>(buffer_.begin(), buffer_.begin() + static_cast<long>((*got)->size))};
      }
    }
    const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - real_now());
    if (left.count() <= 0) return std::nullopt;
    pollfd fds[2] = {{sockets_[0].fd(), POLLIN, 0}, {sockets_[1].fd(), POLLIN, 0}};
    ::poll(fds, 2, static_cast<int>(left.count()));
  }
}

class VirtualWire::Harness : public net::Node {
 public:
  Harness(Address main, Address other) : main_(main), other_(other) {}
  bool owns(const Address& a) const override { return a == main_ || a == other_; }
  void receive(Instant, const net::Datagram& d) override {
    inbox_.push_back({d.to == main_ ? Socket::kMain : Socket::kOther, d.from, d.bytes});
  }
  void on_timer(Instant) override {}
  std::optional<Instant> next_timer() override { return std::nullopt; }
  void flush(net::VirtualNetwork&) override {}
  std::deque<Wire::Arrival> inbox_;

 private:
  Address main_;
  Address other_;
};

VirtualWire::VirtualWire(server::ServerConfig config, std::shared_ptr<server::MemoryFileStore> files, uint64_t seed)
    : Wire(Address::loopback_v4(69)), files_(std::move(files)), sim_(seed),
      main_(Address::ipv4(0x7f000002u, 50000)), other_(Address::ipv4(0x7f000002u, 50001)) {
  server_ = std::make_unique<server::ServerNode>(listen(), std::move(config), *files_);
  harness_ = std::make_unique<Harness>(main_, other_);
  // A loopback-like one-way latency, so virtual durations and timings read like real ones.
  sim_.network().set_faults({.delay = std::chrono::microseconds(50)});
  sim_.add(*server_);
  sim_.add(*harness_);
}

VirtualWire::~VirtualWire() = default;

void VirtualWire::transmit(Socket s, const Address& to, std::span<const uint8_t> bytes) {
  sim_.network().send(local(s), to, bytes);
}

std::optional<Wire::Arrival> VirtualWire::next_arrival(Instant deadline) {
  if (harness_->inbox_.empty() && sim_.now() < deadline) {
    sim_.run([&] { return !harness_->inbox_.empty(); }, {.max_steps = 10'000'000, .max_time = deadline - sim_.now()});
  }
  if (harness_->inbox_.empty()) {
    sim_.network().advance_to(deadline);
    return std::nullopt;
  }
  Arrival a = std::move(harness_->inbox_.front());
  harness_->inbox_.pop_front();
  return a;
}

}  // namespace tftp::scenario
