#include "scenario/wire.h"

#include <poll.h>

#include <deque>
#include <limits>
#include <type_traits>

namespace tftp::scenario {

std::recursive_mutex& listen_port_mutex() {
  static std::recursive_mutex m;
  return m;
}

void Wire::send(Socket s, const Address& to, std::span<const uint8_t> bytes) {
  std::unique_lock<std::recursive_mutex> lock(listen_port_mutex(), std::defer_lock);
  if (to == listen_) lock.lock();
  observe({now(), check::Direction::kToTarget, local(s), to, {bytes.begin(), bytes.end()}});
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
  const size_t index = observe({t, check::Direction::kFromTarget, a->from, local(a->at), a->bytes});
  return Received{index, a->at, a->from, std::move(a->bytes), t};
}

void Wire::wait_until(Instant deadline) {
  while (auto a = next_arrival(deadline)) {
    const Instant t = a->time;
    const size_t index = observe({t, check::Direction::kFromTarget, a->from, local(a->at), a->bytes});
    if (queued_.size() >= kMaxQueued) {
      ++dropped_;  // a flood: bounded memory beats keeping every datagram
      continue;
    }
    queued_.push_back({index, a->at, a->from, std::move(a->bytes), t});
  }
}

size_t Wire::observe(const check::Observation& o) {
  const size_t index = rules_.observe(o);
  if (capture_) capture_->record(index, o.from, o.to, o.bytes, o.at);
  return index;
}

std::vector<uint64_t> Wire::finish_capture() {
  if (!capture_) return {};
  capture_->finish();
  return capture_->frames();
}

Result<std::vector<Socket>> Wire::extra_sockets(size_t n) {
  constexpr size_t kFirst = 2;  // after kMain and kOther
  if (kFirst + n > std::numeric_limits<std::underlying_type_t<Socket>>::max()) {
    return make_error("tftp.scenario.too_many_sockets", "too many concurrent transfers: " + std::to_string(n));
  }
  if (auto opened = open_sockets(kFirst + n); !opened) return tl::unexpected(opened.error());
  std::vector<Socket> out;
  for (size_t i = 0; i < n; ++i) out.push_back(static_cast<Socket>(kFirst + i));
  return out;
}

Result<std::unique_ptr<UdpWire>> UdpWire::open(const Address& target) {
  std::unique_ptr<UdpWire> w(new UdpWire(target));
  if (auto opened = w->open_sockets(2); !opened) return tl::unexpected(opened.error());
  return w;
}

Result<void> UdpWire::open_sockets(size_t n) {
  while (sockets_.size() < n) {
    auto socket = net::UdpSocket::ephemeral_for(listen());
    if (!socket) return tl::unexpected(socket.error());
    socket->set_buffer_sizes(4 << 20);
    // Best effort: without kernel stamps, arrivals are timed when read.
    (void)socket->enable_timestamps();
    sockets_.push_back(std::move(*socket));
    pending_.emplace_back();
  }
  return {};
}

void UdpWire::transmit(Socket s, const Address& to, std::span<const uint8_t> bytes) {
  (void)sockets_[static_cast<size_t>(s)].send_to(to, bytes);  // a failed send is a lost datagram
}

std::optional<Wire::Arrival> UdpWire::read(size_t socket) {
  auto got = sockets_[socket].receive(buffer_);
  if (!got || !*got) return std::nullopt;
  const auto& r = **got;
  return Arrival{static_cast<Socket>(socket), r.from,
                 std::vector<uint8_t>(buffer_.begin(), buffer_.begin() + static_cast<long>(r.size)), r.time};
}

std::optional<Wire::Arrival> UdpWire::next_arrival(Instant deadline) {
  const size_t n = sockets_.size();
  for (;;) {
    // One datagram per socket per round, the sockets taking turns, and the deadline judged
    // on every datagram: a target flooding one socket neither starves the others nor holds
    // the step past its deadline.
    for (size_t k = 0; k < n; ++k) {
      const size_t i = (turn_ + k) % n;
      if (!pending_[i]) pending_[i] = read(i);
      if (pending_[i] && pending_[i]->time <= deadline) {
        turn_ = (i + 1) % n;
        Arrival a = std::move(*pending_[i]);
        pending_[i].reset();
        return a;
      }
    }
    // A pending datagram here arrived after the deadline, so the deadline has passed.
    const Instant now = real_now();
    if (now >= deadline || cancelled()) return std::nullopt;
    const auto left = std::chrono::ceil<std::chrono::milliseconds>(std::min<Duration>(deadline - now, kWaitSlice));
    std::vector<pollfd> fds;
    for (const auto& s : sockets_) fds.push_back({s.fd(), POLLIN, 0});
    ::poll(fds.data(), fds.size(), static_cast<int>(left.count()));
  }
}

// Our sockets on the virtual network: 127.0.0.2, ports from 50000 in Socket order.
constexpr uint16_t kVirtualFirstPort = 50000;

class VirtualWire::Harness : public net::Node {
 public:
  bool owns(const Address& a) const override { return socket_of(a).has_value(); }
  void receive(Instant now, const net::Datagram& d) override { inbox_.push_back({*socket_of(d.to), d.from, d.bytes, now}); }
  void on_timer(Instant) override {}
  std::optional<Instant> next_timer() override { return std::nullopt; }
  void flush(net::VirtualNetwork&) override {}
  static Address address(Socket s) { return Address::ipv4(0x7f000002u, static_cast<uint16_t>(kVirtualFirstPort + static_cast<uint16_t>(s))); }
  std::optional<Socket> socket_of(const Address& a) const {
    if (!a.same_host(address(Socket::kMain)) || a.port() < kVirtualFirstPort || a.port() >= kVirtualFirstPort + count_) return std::nullopt;
    return static_cast<Socket>(a.port() - kVirtualFirstPort);
  }
  std::deque<Wire::Arrival> inbox_;
  size_t count_ = 2;  // sockets open
};

Address VirtualWire::local(Socket s) const { return Harness::address(s); }

Result<void> VirtualWire::open_sockets(size_t n) {
  harness_->count_ = std::max(harness_->count_, n);
  return {};
}

VirtualWire::VirtualWire(server::ServerConfig config, std::shared_ptr<server::MemoryFileStore> files, uint64_t seed)
    : Wire(Address::loopback_v4(69)), files_(std::move(files)), sim_(seed) {
  server_ = std::make_unique<server::ServerNode>(listen(), std::move(config), *files_);
  harness_ = std::make_unique<Harness>();
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
