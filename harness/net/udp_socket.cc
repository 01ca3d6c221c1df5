#include "net/udp_socket.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace tftp::net {

namespace {
std::string errno_text() { return std::strerror(errno); }
}  // namespace

Result<UdpSocket> UdpSocket::bind(const Address& local) {
  const int fd = ::socket(local.family(), SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return make_error("tftp.net.socket_failed", "socket(): " + errno_text());
  UdpSocket s;
  s.fd_ = fd;
  if (local.is_v6()) {
    const int only = 1;  // "[::]:69" serves IPv6 only; IPv4 gets its own socket
    ::setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &only, sizeof only);
  }
  if (::bind(fd, local.sockaddr_ptr(), local.sockaddr_len()) != 0) {
    return make_error("tftp.net.bind_failed", "cannot bind " + local.to_string() + ": " + errno_text());
  }
  sockaddr_storage bound{};
  socklen_t len = sizeof bound;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &len);
  s.local_ = Address::from_sockaddr(reinterpret_cast<sockaddr*>(&bound), len);
  return s;
}

Result<UdpSocket> UdpSocket::ephemeral_for(const Address& peer) {
  Address any;
  if (peer.is_v6()) {
    auto parsed = Address::parse("[::]:0", 0);
    if (!parsed) return tl::unexpected(parsed.error());
    any = *parsed;
  } else {
    any = Address::ipv4(0, 0);
  }
  return bind(any);
}

UdpSocket& UdpSocket::operator=(UdpSocket&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = other.fd_;
    local_ = other.local_;
    other.fd_ = -1;
  }
  return *this;
}

UdpSocket::~UdpSocket() {
  if (fd_ >= 0) ::close(fd_);
}

Result<void> UdpSocket::send_to(const Address& to, std::span<const uint8_t> bytes) {
  for (;;) {
    const ssize_t n = ::sendto(fd_, bytes.data(), bytes.size(), 0, to.sockaddr_ptr(), to.sockaddr_len());
    if (n >= 0) return {};
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      // The socket buffer is full: wait briefly for room rather than drop our own datagram.
      pollfd p{fd_, POLLOUT, 0};
      if (::poll(&p, 1, 100) > 0) continue;
    }
    return make_error("tftp.net.send_failed", "sendto " + to.to_string() + ": " + errno_text());
  }
}

Result<std::optional<Received>> UdpSocket::receive(std::span<uint8_t> buffer) {
  for (;;) {
    sockaddr_storage from{};
    socklen_t len = sizeof from;
    const ssize_t n = ::recvfrom(fd_, buffer.data(), buffer.size(), MSG_TRUNC, reinterpret_cast<sockaddr*>(&from), &len);
    if (n >= 0) {
      // MSG_TRUNC reports the real size; a datagram larger than the buffer is cut to it.
      return Received{Address::from_sockaddr(reinterpret_cast<sockaddr*>(&from), len),
                      std::min(static_cast<size_t>(n), buffer.size())};
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return std::optional<Received>();
    // ICMP port unreachable from an earlier send surfaces here; it is not fatal for UDP.
    if (errno == ECONNREFUSED) continue;
    return make_error("tftp.net.receive_failed", "recvfrom: " + errno_text());
  }
}

Result<std::optional<Received>> UdpSocket::receive_wait(std::span<uint8_t> buffer, Duration timeout) {
  const Instant deadline = real_now() + timeout;
  for (;;) {
    auto got = receive(buffer);
    if (!got || *got) return got;
    const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - real_now());
    if (left.count() <= 0) return std::optional<Received>();
    pollfd p{fd_, POLLIN, 0};
    const int rc = ::poll(&p, 1, static_cast<int>(left.count()));
    if (rc < 0 && errno != EINTR) return make_error("tftp.net.poll_failed", "poll: " + errno_text());
  }
}

void UdpSocket::set_buffer_sizes(int bytes) {
  ::setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &bytes, sizeof bytes);
  ::setsockopt(fd_, SOL_SOCKET, SO_SNDBUF, &bytes, sizeof bytes);
}

}  // namespace tftp::net
