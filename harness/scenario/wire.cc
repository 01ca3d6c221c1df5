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
  if (cancelled()) return std::nullopt;
  auto a = next_arrival(deadline);
  if (!a) return std::nullopt;
  const Instant t = a->time;
  const size_t index = rules_.observe({t, check::Direction::kFromTarget, a->from, local(a->at), a->bytes});
  return Received{index, a->at, a->from, std::move(a->bytes), t};
}

void Wire::wait_until(Instant deadline) {
  while (auto a = next_arrival(deadline)) {
    const Instant t = a->time;
    const size_t index = rules_.observe({t, check::Direction::kFromTarget, a->from, local(a->at), a->bytes});
    if (queued_.size() >= kMaxQueued) {
      ++dropped_;  // a flood: bounded memory beats keeping every datagram
      continue;
    }
    queued_.push_back({index, a->at, a->from, std::move(a->bytes), t});
  }
}

Result<std::unique_ptr<UdpWire>> UdpWire::open(const Address& target) {
  std::unique_ptr<UdpWire> w(new UdpWire(target));
  for (auto& s : w->sockets_) {
    auto socket = net::UdpSocket::ephemeral_for(target);
    if (!socket) return tl::unexpected(socket.error());
    socket->set_buffer_sizes(4 << 20);
    // Best effort: without kernel stamps, arrivals are timed when read.
    (void)socket->enable_timestamps();
    s = std::move(*socket);
  }
  return w;
}

void UdpWire::transmit(Socket s, const Address& to, std::span<const uint8_t> bytes) {
  (void)sockets_[s == Socket::kMain ? 0 : 1].send_to(to, bytes);  // a failed send is a lost datagram
}

std::optional<Wire::Arrival> UdpWire::read(int socket) {
  auto got = sockets_[socket].receive(buffer_);
  if (!got || !*got) return std::nullopt;
  const auto& r = **got;
  return Arrival{socket == 0 ? Socket::kMain : Socket::kOther, r.from,
                 std::vector<uint8_t>(buffer_.begin(), buffer_.begin() + static_cast<long>(r.size)), r.time};
}

std::optional<Wire::Arrival> UdpWire::next_arrival(Instant deadline) {
  for (;;) {
    // One datagram per socket per round, the sockets taking turns, and the deadline judged
    // on every datagram: a target flooding one socket neither starves the other nor holds
    // the step past its deadline.
    for (int k = 0; k < 2; ++k) {
      const int i = (turn_ + k) % 2;
      if (!pending_[i]) pending_[i] = read(i);
      if (pending_[i] && pending_[i]->time <= deadline) {
        turn_ = 1 - i;
        Arrival a = std::move(*pending_[i]);
        pending_[i].reset();
        return a;
      }
    }
    // A pending datagram here arrived after the deadline, so the deadline has passed.
    const Instant now = real_now();
    if (now >= deadline || cancelled()) return std::nullopt;
    const auto left = std::chrono::ceil<std::chrono::milliseconds>(std::min<Duration>(deadline - now, kWaitSlice));
    pollfd fds[2] = {{sockets_[0].fd(), POLLIN, 0}, {sockets_[1].fd(), POLLIN, 0}};
    ::poll(fds, 2, static_cast<int>(left.count()));
  }
}

class VirtualWire::Harness : public net::Node {
 public:
  Harness(Address main, Address other) : main_(main), other_(other) {}
  bool owns(const Address& a) const override { return a == main_ || a == other_; }
  void receive(Instant now, const net::Datagram& d) override {
    inbox_.push_back({d.to == main_ ? Socket::kMain : Socket::kOther, d.from, d.bytes, now});
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
    sim_.run([&] { return !harness_->inbox_.empty() || cancelled(); }, {.max_steps = 10'000'000, .max_time = deadline - sim_.now()});
  }
  if (harness_->inbox_.empty()) {
    if (!cancelled()) sim_.network().advance_to(deadline);
    return std::nullopt;
  }
  Arrival a = std::move(harness_->inbox_.front());
  harness_->inbox_.pop_front();
  return a;
}

}  // namespace tftp::scenario
