#include "tests/support/delay_proxy.h"

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <random>
#include <unordered_map>
#include <vector>

#include "net/udp_socket.h"

namespace tftp::testing {

namespace {

// One of the proxy's sockets. Upstream sockets (to the server) are keyed by the client
// they stand for and carry that client's ordering state for both directions.
struct Endpoint {
  enum class Kind { kListener, kUpstream, kDownstream };
  Kind kind;
  net::UdpSocket socket;
  Address key;  // listener: the server's well-known address; upstream: the client; downstream: the server TID
  Instant last_used{};
  Instant last_due_to_server{};
  Instant last_due_to_client{};
};

struct Pending {
  Instant due;
  uint64_t seq;
  std::shared_ptr<Endpoint> from;  // keeps the socket open until the datagram leaves
  Address to;
  bool to_server;
  std::vector<uint8_t> bytes;
};

// Min-heap order: earliest due first, then arrival order.
bool later(const Pending& a, const Pending& b) {
  if (a.due != b.due) return a.due > b.due;
  return a.seq > b.seq;
}

constexpr size_t kMaxDatagram = 65536;
constexpr int kDrainPerWake = 64;  // per socket and wake, so one flood cannot starve the others

}  // namespace

class DelayProxy::Loop {
 public:
  explicit Loop(DelayProxyConfig config) : config_(std::move(config)), rng_(config_.seed), rx_(kMaxDatagram) {}
  ~Loop() {
    for (int fd : {epoll_, timer_, wake_}) {
      if (fd >= 0) ::close(fd);
    }
  }

  Result<void> init() {
    epoll_ = ::epoll_create1(EPOLL_CLOEXEC);
    timer_ = ::timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    wake_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (epoll_ < 0 || timer_ < 0 || wake_ < 0) {
      return make_error("tftp.test.proxy_setup", std::string("epoll/timerfd/eventfd: ") + std::strerror(errno));
    }
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.ptr = &timer_;
    ::epoll_ctl(epoll_, EPOLL_CTL_ADD, timer_, &ev);
    ev.data.ptr = &wake_;
    ::epoll_ctl(epoll_, EPOLL_CTL_ADD, wake_, &ev);
    auto listener = open_endpoint(Endpoint::Kind::kListener, config_.listen, config_.server);
    if (!listener) return tl::unexpected(listener.error());
    listener_ = *listener;
    address_ = listener_->socket.local_address();
    return {};
  }

  Address address() const { return address_; }

  void run() {
    epoll_event events[64];
    while (!stop_.load()) {
      arm_timer();
      const int n = ::epoll_wait(epoll_, events, 64, 1000);
      if (n < 0 && errno != EINTR) break;
      for (int i = 0; i < n; ++i) {
        void* tag = events[i].data.ptr;
        if (tag == &timer_) {
          uint64_t expirations;
          (void)!::read(timer_, &expirations, sizeof expirations);
        } else if (tag == &wake_) {
          uint64_t value;
          (void)!::read(wake_, &value, sizeof value);
        } else {
          on_readable(*static_cast<Endpoint*>(tag));
        }
      }
      send_due(real_now());
      evict_if_needed();  // after the batch: no event above may name a closed endpoint
    }
    queue_.clear();
    upstream_.clear();
    downstream_.clear();
    listener_.reset();
  }

  void request_stop() {
    stop_ = true;
    const uint64_t one = 1;
    (void)!::write(wake_, &one, sizeof one);
  }

  DelayProxyStats stats() const {
    DelayProxyStats s;
    s.to_server = to_server_.load();
    s.to_client = to_client_.load();
    s.dropped = dropped_.load();
    s.endpoints = endpoints_.load();
    s.evicted = evicted_.load();
    return s;
  }

 private:
  Result<std::shared_ptr<Endpoint>> open_endpoint(Endpoint::Kind kind, const Address& bind_to, const Address& key) {
    auto socket = net::UdpSocket::bind(bind_to);
    if (!socket) return tl::unexpected(socket.error());
    socket->set_buffer_sizes(1 << 20);
    auto e = std::make_shared<Endpoint>(Endpoint{kind, std::move(*socket), key});
    e->last_used = real_now();
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.ptr = e.get();
    if (::epoll_ctl(epoll_, EPOLL_CTL_ADD, e->socket.fd(), &ev) != 0) {
      return make_error("tftp.test.proxy_setup", std::string("epoll_ctl: ") + std::strerror(errno));
    }
    if (kind != Endpoint::Kind::kListener) endpoints_++;
    return e;
  }

  // The socket that speaks for client `c` to the server (bound on the server's host).
  std::shared_ptr<Endpoint> upstream_for(const Address& c) {
    auto it = upstream_.find(c);
    if (it != upstream_.end()) return it->second;
    auto e = open_endpoint(Endpoint::Kind::kUpstream, config_.server.with_port(0), c);
    if (!e) return nullptr;
    upstream_.emplace(c, *e);
    return *e;
  }

  // The socket that speaks for server TID `t` to clients (bound on the listening host).
  std::shared_ptr<Endpoint> downstream_for(const Address& t) {
    if (t == config_.server) return listener_;
    auto it = downstream_.find(t);
    if (it != downstream_.end()) return it->second;
    auto e = open_endpoint(Endpoint::Kind::kDownstream, config_.listen.with_port(0), t);
    if (!e) return nullptr;
    downstream_.emplace(t, *e);
    return *e;
  }

  void on_readable(Endpoint& at) {
    for (int i = 0; i < kDrainPerWake; ++i) {
      auto got = at.socket.receive(rx_);
      if (!got || !*got) return;
      const Instant now = real_now();
      at.last_used = now;
      const Address from = (*got)->from;
      const size_t size = std::min((*got)->size, rx_.size());
      const std::span<const uint8_t> bytes(rx_.data(), size);
      if (at.kind == Endpoint::Kind::kUpstream) {
        // The server (TID `from`) to the client this socket stands for.
        auto down = downstream_for(from);
        if (!down) {
          dropped_++;
          continue;
        }
        down->last_used = now;
        enqueue(now, std::move(down), at.key, /*to_server=*/false, at, bytes);
      } else {
        // A client to the server TID this socket stands for (the listener: the well-known port).
        auto up = upstream_for(from);
        if (!up) {
          dropped_++;
          continue;
        }
        up->last_used = now;
        Endpoint& flow = *up;
        enqueue(now, std::move(up), at.key, /*to_server=*/true, flow, bytes);
      }
    }
  }

  void enqueue(Instant now, std::shared_ptr<Endpoint> from, const Address& to, bool to_server, Endpoint& flow,
               std::span<const uint8_t> bytes) {
    if (queued_bytes_ + bytes.size() > config_.max_queued_bytes) {
      dropped_++;
      return;
    }
    Duration extra{};
    if (config_.jitter.count() > 0) {
      std::uniform_int_distribution<int64_t> pick(0, config_.jitter.count());
      extra = Duration(pick(rng_));
    }
    Instant due = now + config_.delay + extra;
    if (!config_.reorder) {
      Instant& last = to_server ? flow.last_due_to_server : flow.last_due_to_client;
      due = std::max(due, last);
      last = due;
    }
    queued_bytes_ += bytes.size();
    queue_.push_back(Pending{due, seq_++, std::move(from), to, to_server, {bytes.begin(), bytes.end()}});
    std::push_heap(queue_.begin(), queue_.end(), later);
  }

  void send_due(Instant now) {
    while (!queue_.empty() && queue_.front().due <= now) {
      std::pop_heap(queue_.begin(), queue_.end(), later);
      Pending p = std::move(queue_.back());
      queue_.pop_back();
      queued_bytes_ -= p.bytes.size();
      // MSG_DONTWAIT: a full buffer drops the datagram, as a router would, rather than stall
      // every other flow.
      const ssize_t n = ::sendto(p.from->socket.fd(), p.bytes.data(), p.bytes.size(), MSG_DONTWAIT,
                                 p.to.sockaddr_ptr(), p.to.sockaddr_len());
      if (n < 0) {
        dropped_++;
      } else if (p.to_server) {
        to_server_++;
      } else {
        to_client_++;
      }
    }
  }

  void arm_timer() {
    itimerspec spec{};
    if (!queue_.empty()) {
      const auto ns = queue_.front().due.time_since_epoch().count();
      spec.it_value.tv_sec = static_cast<time_t>(ns / 1'000'000'000);
      spec.it_value.tv_nsec = static_cast<long>(ns % 1'000'000'000);
      if (spec.it_value.tv_sec == 0 && spec.it_value.tv_nsec == 0) spec.it_value.tv_nsec = 1;  // 0 disarms
    }
    ::timerfd_settime(timer_, TFD_TIMER_ABSTIME, &spec, nullptr);
  }

  // Closes least recently used sockets until at most max_endpoints are open. A datagram
  // still queued on one keeps its socket alive until it leaves.
  void evict_if_needed() {
    while (upstream_.size() + downstream_.size() > config_.max_endpoints) {
      auto oldest = [](auto& map) {
        auto best = map.end();
        for (auto it = map.begin(); it != map.end(); ++it) {
          if (best == map.end() || it->second->last_used < best->second->last_used) best = it;
        }
        return best;
      };
      auto up = oldest(upstream_);
      auto down = oldest(downstream_);
      const bool take_up = down == downstream_.end() ||
                           (up != upstream_.end() && up->second->last_used <= down->second->last_used);
      auto& map = take_up ? upstream_ : downstream_;
      auto victim = take_up ? up : down;
      ::epoll_ctl(epoll_, EPOLL_CTL_DEL, victim->second->socket.fd(), nullptr);
      map.erase(victim);
      evicted_++;
    }
  }

  DelayProxyConfig config_;
  std::mt19937_64 rng_;
  std::vector<uint8_t> rx_;
  int epoll_ = -1;
  int timer_ = -1;
  int wake_ = -1;
  std::atomic<bool> stop_{false};
  Address address_;
  std::shared_ptr<Endpoint> listener_;
  std::unordered_map<Address, std::shared_ptr<Endpoint>> upstream_;    // by client address
  std::unordered_map<Address, std::shared_ptr<Endpoint>> downstream_;  // by server TID
  std::vector<Pending> queue_;  // a heap by `later`
  size_t queued_bytes_ = 0;
  uint64_t seq_ = 0;
  std::atomic<uint64_t> to_server_{0}, to_client_{0}, dropped_{0}, endpoints_{0}, evicted_{0};
};

Result<std::unique_ptr<DelayProxy>> DelayProxy::start(DelayProxyConfig config) {
  if (!config.server.is_specified()) return make_error("tftp.test.proxy_setup", "no server address");
  auto loop = std::make_unique<Loop>(std::move(config));
  if (auto ok = loop->init(); !ok) return tl::unexpected(ok.error());
  std::unique_ptr<DelayProxy> proxy(new DelayProxy(std::move(loop)));
  proxy->thread_ = std::thread([p = proxy.get()] { p->loop_->run(); });
  return proxy;
}

DelayProxy::DelayProxy(std::unique_ptr<Loop> loop) : loop_(std::move(loop)) {}

DelayProxy::~DelayProxy() { stop(); }

Address DelayProxy::address() const { return loop_->address(); }

void DelayProxy::stop() {
  if (!thread_.joinable()) return;
  loop_->request_stop();
  thread_.join();
}

DelayProxyStats DelayProxy::stats() const { return loop_->stats(); }

}  // namespace tftp::testing
