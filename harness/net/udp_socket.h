// A non-blocking UDP socket (IPv4 or IPv6). Every socket of the product goes through here.
#pragma once

#include <cstdint>
#include <optional>
#include <span>

#include "common/address.h"
#include "common/result.h"
#include "common/time.h"

namespace tftp::net {

struct Received {
  Address from;
  size_t size;
  // When the datagram reached the socket: the kernel's receive time (SO_TIMESTAMPNS, see
  // enable_timestamps) on our steady clock, else the time it was read.
  Instant time;
  bool kernel_time = false;  // `time` came from the kernel
  // The address the datagram was sent to (port: this socket's), when enable_destination
  // was called: on a wildcard socket, which of the host's addresses the peer asked.
  std::optional<Address> to;
};

// A CLOCK_REALTIME reading (a kernel receive time) on our steady clock, by the offset
// between the two clocks now. Never later than `now` (the realtime clock may step).
Instant realtime_to_steady(std::chrono::nanoseconds since_epoch, Instant now);

class UdpSocket {
 public:
  // Binds to `local` (port 0: an ephemeral port). Non-blocking, close-on-exec.
  static Result<UdpSocket> bind(const Address& local);
  // An ephemeral socket of the same family as `peer`, on the wildcard address.
  static Result<UdpSocket> ephemeral_for(const Address& peer);

  UdpSocket() = default;
  UdpSocket(UdpSocket&& other) noexcept : fd_(other.fd_), local_(other.local_) { other.fd_ = -1; }
  UdpSocket& operator=(UdpSocket&& other) noexcept;
  UdpSocket(const UdpSocket&) = delete;
  UdpSocket& operator=(const UdpSocket&) = delete;
  ~UdpSocket();

  int fd() const { return fd_; }
  bool is_open() const { return fd_ >= 0; }
  const Address& local_address() const { return local_; }

  // Sends one datagram. A full socket buffer is an error (the caller retransmits on timeout).
  Result<void> send_to(const Address& to, std::span<const uint8_t> bytes);
  // Receives one datagram if one is waiting; nullopt when none is (EAGAIN). A datagram
  // larger than `buffer` is cut to it (Received::size is what was stored).
  Result<std::optional<Received>> receive(std::span<uint8_t> buffer);
  // Blocks up to `timeout` for a datagram (poll); nullopt on timeout.
  Result<std::optional<Received>> receive_wait(std::span<uint8_t> buffer, Duration timeout);
  // Asks the kernel to stamp each datagram with its receive time (SO_TIMESTAMPNS), so
  // receive() reports when a datagram arrived rather than when it was read.
  Result<void> enable_timestamps();
  // Reports each datagram's destination address (IP_PKTINFO / IPV6_RECVPKTINFO) in
  // Received::to, so a server on a wildcard address can answer from the address asked.
  Result<void> enable_destination();
  // Sends one datagram with `from` as its source address (IP_PKTINFO / IPV6_PKTINFO), for
  // a socket bound to the wildcard address; `from`'s port is ignored.
  Result<void> send_from(const Address& from, const Address& to, std::span<const uint8_t> bytes);
  // Grows the kernel buffers (e.g. for a large window); best effort.
  void set_buffer_sizes(int bytes);

 private:
  int fd_ = -1;
  Address local_;
};

}  // namespace tftp::net
