#include "net/udp_socket.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>

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

Result<void> UdpSocket::enable_destination() {
  const int on = 1;
  const bool v6 = local_.is_v6();
  if (::setsockopt(fd_, v6 ? IPPROTO_IPV6 : IPPROTO_IP, v6 ? IPV6_RECVPKTINFO : IP_PKTINFO, &on, sizeof on) != 0) {
    return make_error("tftp.net.pktinfo_failed", std::string(v6 ? "IPV6_RECVPKTINFO: " : "IP_PKTINFO: ") + errno_text());
  }
  return {};
}

Result<void> UdpSocket::send_to(const Address& to, std::span<const uint8_t> bytes) {
  return send_from(Address(), to, bytes);
}

Result<void> UdpSocket::send_from(const Address& from, const Address& to, std::span<const uint8_t> bytes) {
  // With a source address: a control message names it (and, for IPv6, its interface
  // stays the kernel's choice). Without one (the default Address): plain sendto.
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(in6_pktinfo))] = {};
  iovec iov{const_cast<uint8_t*>(bytes.data()), bytes.size()};
  msghdr msg{};
  msg.msg_name = const_cast<sockaddr*>(to.sockaddr_ptr());
  msg.msg_namelen = to.sockaddr_len();
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  if (from.family() == to.family() && from.family() != AF_UNSPEC) {
    msg.msg_control = control;
    cmsghdr* c = reinterpret_cast<cmsghdr*>(control);
    if (from.is_v6()) {
      in6_pktinfo info{};
      info.ipi6_addr = reinterpret_cast<const sockaddr_in6*>(from.sockaddr_ptr())->sin6_addr;
      c->cmsg_level = IPPROTO_IPV6;
      c->cmsg_type = IPV6_PKTINFO;
      c->cmsg_len = CMSG_LEN(sizeof info);
      std::memcpy(CMSG_DATA(c), &info, sizeof info);
      msg.msg_controllen = CMSG_SPACE(sizeof info);
    } else {
      in_pktinfo info{};
      info.ipi_spec_dst = reinterpret_cast<const sockaddr_in*>(from.sockaddr_ptr())->sin_addr;
      c->cmsg_level = IPPROTO_IP;
      c->cmsg_type = IP_PKTINFO;
      c->cmsg_len = CMSG_LEN(sizeof info);
      std::memcpy(CMSG_DATA(c), &info, sizeof info);
      msg.msg_controllen = CMSG_SPACE(sizeof info);
    }
  }
  for (;;) {
    const ssize_t n = ::sendmsg(fd_, &msg, 0);
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

Instant realtime_to_steady(std::chrono::nanoseconds since_epoch, Instant now) {
  timespec rt{};
  ::clock_gettime(CLOCK_REALTIME, &rt);
  const auto rt_now = std::chrono::seconds(rt.tv_sec) + std::chrono::nanoseconds(rt.tv_nsec);
  // `now` was read just before: the offset is exact to the cost of one clock read.
  const Instant t = now - (rt_now - since_epoch);
  return std::min(t, now);
}

Result<void> UdpSocket::enable_timestamps() {
  const int on = 1;
  if (::setsockopt(fd_, SOL_SOCKET, SO_TIMESTAMPNS, &on, sizeof on) != 0) {
    return make_error("tftp.net.timestamps_failed", "SO_TIMESTAMPNS: " + errno_text());
  }
  return {};
}

Result<std::optional<Received>> UdpSocket::receive(std::span<uint8_t> buffer) {
  for (;;) {
    sockaddr_storage from{};
    iovec iov{buffer.data(), buffer.size()};
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(timespec)) + CMSG_SPACE(sizeof(in6_pktinfo))];
    msghdr msg{};
    msg.msg_name = &from;
    msg.msg_namelen = sizeof from;
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    const ssize_t n = ::recvmsg(fd_, &msg, MSG_TRUNC);
    if (n >= 0) {
      const Instant now = real_now();
      // MSG_TRUNC reports the real size; a datagram larger than the buffer is cut to it.
      Received r{Address::from_sockaddr(reinterpret_cast<sockaddr*>(&from), msg.msg_namelen),
                 std::min(static_cast<size_t>(n), buffer.size()), now, false, std::nullopt};
      for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPNS) {
          timespec ts{};
          std::memcpy(&ts, CMSG_DATA(c), sizeof ts);
          r.time = realtime_to_steady(std::chrono::seconds(ts.tv_sec) + std::chrono::nanoseconds(ts.tv_nsec), now);
          r.kernel_time = true;
        } else if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO) {
          in_pktinfo info{};
          std::memcpy(&info, CMSG_DATA(c), sizeof info);
          sockaddr_in sa{};
          sa.sin_family = AF_INET;
          sa.sin_addr = info.ipi_addr;  // the header's destination address
          sa.sin_port = htons(local_.port());
          r.to = Address::from_sockaddr(reinterpret_cast<sockaddr*>(&sa), sizeof sa);
        } else if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_PKTINFO) {
          in6_pktinfo info{};
          std::memcpy(&info, CMSG_DATA(c), sizeof info);
          sockaddr_in6 sa{};
          sa.sin6_family = AF_INET6;
          sa.sin6_addr = info.ipi6_addr;
          sa.sin6_port = htons(local_.port());
          // A link-local destination is only meaningful on its interface.
          if (IN6_IS_ADDR_LINKLOCAL(&info.ipi6_addr)) sa.sin6_scope_id = info.ipi6_ifindex;
          r.to = Address::from_sockaddr(reinterpret_cast<sockaddr*>(&sa), sizeof sa);
        }
      }
      return r;
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return std::optional<Received>();
    // ICMP port unreachable from an earlier send surfaces here; it is not fatal for UDP.
    if (errno == ECONNREFUSED) continue;
    return make_error("tftp.net.receive_failed", "recvmsg: " + errno_text());
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
