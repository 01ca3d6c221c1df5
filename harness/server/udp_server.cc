#include "server/udp_server.h"

#include <sched.h>

#include <cstdio>

namespace tftp::server {

namespace {
// Loopback has no flow control: a window of 16 x 64 KiB lands in the peer's socket at
// once, and a peer with the default 208 KiB receive buffer (the atftp client, for one)
// keeps about three and loses the rest, then the window waits for a timeout. Yielding
// the CPU within a burst, every 32 KiB (so between any two 64 KiB datagrams), lets a peer
// on the same core drain its socket; with nothing else runnable here it returns at once.
constexpr size_t kYieldEveryBytes = 32 << 10;
}  // namespace

UdpServer::UdpServer(ServerConfig config, FileStore& files, net::EventLoop loop, Logger log)
    : core_(std::move(config), files), loop_(std::move(loop)), log_(std::move(log)),
      rx_(proto::kMaxDatagramSize + 1), tx_(proto::kMaxDatagramSize + 1) {}

UdpServer::~UdpServer() = default;

Result<std::unique_ptr<UdpServer>> UdpServer::start(const std::vector<Address>& listen, ServerConfig config,
                                                    FileStore& files, Logger log) {
  auto loop = net::EventLoop::create();
  if (!loop) return tl::unexpected(loop.error());
  std::unique_ptr<UdpServer> server(new UdpServer(std::move(config), files, std::move(*loop), std::move(log)));
  for (const Address& a : listen) {
    auto socket = net::UdpSocket::bind(a);
    if (!socket) return tl::unexpected(socket.error());
    // On a wildcard address the reply must leave from the address the client asked, or a
    // client on a multi-homed host drops it as coming from a stranger (RFC 1350 §4 TIDs
    // are address and port); without this the session socket's address is the kernel's pick.
    if (auto ok = socket->enable_destination(); !ok) return tl::unexpected(ok.error());
    server->listeners_.push_back(std::move(*socket));
  }
  for (size_t i = 0; i < server->listeners_.size(); ++i) {
    UdpServer* self = server.get();
    auto ok = server->loop_.watch(server->listeners_[i].fd(), [self, i] { self->on_listener_readable(i); });
    if (!ok) return tl::unexpected(ok.error());
  }
  return server;
}

std::vector<Address> UdpServer::listening() const {
  std::vector<Address> out;
  for (const auto& l : listeners_) out.push_back(l.local_address());
  return out;
}

Result<void> UdpServer::run(const std::atomic<bool>& stop) {
  while (!stop.load(std::memory_order_relaxed)) {
    auto deadline = core_.poll_timeout();
    const Instant soon = real_now() + std::chrono::milliseconds(100);
    if (!deadline || *deadline > soon) deadline = soon;
    auto ok = loop_.run_once(deadline);
    if (!ok) return tl::unexpected(ok.error());
    const Instant now = real_now();
    // epoll hands over at most 64 ready sockets a turn: with hundreds of sessions, ACKs wait
    // in sockets it has not reached yet. Read those of the sessions about to time out first.
    for (SessionId id : core_.due_sessions(now)) on_session_readable(id);
    core_.handle_timeout(now);
    drain();
  }
  return {};
}

void UdpServer::on_listener_readable(size_t index) {
  // A bounded batch: the loop is level-triggered, so what is left comes back on the next
  // turn, after the sessions' sockets (and timers) have had theirs.
  for (size_t n = 0; n < kListenBatch; ++n) {
    auto got = listeners_[index].receive(rx_);
    if (!got || !*got) return;
    if (tap_ && !tap_(std::span(rx_).first((*got)->size), true)) continue;
    arrival_ = {index, (*got)->to ? *(*got)->to : listeners_[index].local_address()};
    core_.handle_request(real_now(), (*got)->from, std::span(rx_).first((*got)->size));
    drain();
  }
}

void UdpServer::send_from_listener(const Arrival& a, const Address& to, std::span<const uint8_t> bytes) {
  if (a.listener >= listeners_.size()) return;
  net::UdpSocket& l = listeners_[a.listener];
  (void)l.send_from(a.local.family() == to.family() ? a.local : Address(), to, bytes);  // a failure is a lost datagram
}

void UdpServer::on_session_readable(SessionId id) {
  for (;;) {
    auto it = sessions_.find(id);
    if (it == sessions_.end()) return;
    auto got = it->second.socket.receive(rx_);
    if (!got || !*got) return;
    if (tap_ && !tap_(std::span(rx_).first((*got)->size), false)) continue;
    core_.handle_datagram(real_now(), id, (*got)->from, std::span(rx_).first((*got)->size));
    // After a reply the peer sends nothing until it has it (lockstep), so another
    // recvfrom would only say EAGAIN: go back to epoll, which is level-triggered and
    // returns at once if more is queued. Mid-window DATA gets no reply: keep reading.
    if (drain() > 0) return;
  }
}

size_t UdpServer::drain() {
  size_t sent = 0;
  auto handle_events = [this] {
    while (auto e = core_.poll_event()) {
      if (e->kind == SessionEvent::Kind::kOpened) {
        // Bound to the address the request arrived at, so every reply leaves from it.
        auto socket = arrival_.local.is_specified() && arrival_.local.family() == e->client.family()
                          ? net::UdpSocket::bind(arrival_.local.with_port(0))
                          : net::UdpSocket::ephemeral_for(e->client);
        if (!socket) {
          if (log_) log_("cannot open a session socket: " + socket.error().to_string());
          continue;  // its datagrams go nowhere; the client times out
        }
        if (e->socket_buffer > 0) socket->set_buffer_sizes(static_cast<int>(e->socket_buffer));
        const SessionId id = e->session;
        (void)loop_.watch(socket->fd(), [this, id] { on_session_readable(id); });
        sessions_.emplace(id, SessionSocket{std::move(*socket), arrival_});
      } else {
        if (auto it = sessions_.find(e->session); it != sessions_.end()) {
          loop_.unwatch(it->second.socket.fd());
          sessions_.erase(it);
        }
        if (log_) {
          char line[512];
          const auto& st = e->stats;
          // The smoothed round trip is what the adaptive timer was built on.
          char rtt[64] = "";
          if (st.rtt_samples > 0) std::snprintf(rtt, sizeof rtt, ", round trip %.3f ms", to_seconds(st.srtt) * 1e3);
          std::snprintf(line, sizeof line, "%s %s: %s, %llu bytes, %llu retransmissions%s, %.3f s",
                        e->client.to_string().c_str(), e->summary.c_str(),
                        e->outcome ? e->outcome->to_string().c_str() : "refused",
                        static_cast<unsigned long long>(st.bytes), static_cast<unsigned long long>(st.retransmissions),
                        rtt, to_seconds(e->elapsed));
          log_(line);
        }
      }
    }
  };
  handle_events();
  size_t unyielded = 0;  // bytes sent since this burst last yielded
  while (auto t = core_.poll_transmit(tx_)) {
    if (unyielded >= kYieldEveryBytes) {
      ::sched_yield();
      unyielded = 0;
    }
    unyielded += t->size;
    const auto bytes = std::span<const uint8_t>(tx_).first(t->size);
    auto it = t->session == kListener ? sessions_.end() : sessions_.find(t->session);
    if (it != sessions_.end() && !core_.config().faults.answer_from_listen_port) {
      (void)it->second.socket.send_to(t->to, bytes);  // a failed send is a lost datagram
    } else {
      // A reply to the request just read ("busy"), or the single-port fault's session.
      send_from_listener(it != sessions_.end() ? it->second.arrival : arrival_, t->to, bytes);
    }
    ++sent;
    handle_events();
  }
  return sent;
}

}  // namespace tftp::server
