// A UDP endpoint (IPv4 or IPv6 address + port): the TFTP "transfer identifier" is its port.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "common/result.h"

namespace tftp {

class Address {
 public:
  Address();  // unspecified (AF_UNSPEC); compares unequal to every real endpoint
  static Address from_sockaddr(const sockaddr* sa, socklen_t len);
  static Address ipv4(uint32_t host_order_addr, uint16_t port);
  static Address loopback_v4(uint16_t port) { return ipv4(0x7f000001u, port); }

  // Parses "1.2.3.4:69", "1.2.3.4", "[::1]:69", "::1", "localhost:6969".
  // `default_port` applies when none is given. Resolves names with getaddrinfo.
  static Result<Address> parse(std::string_view text, uint16_t default_port);

  int family() const { return storage_.ss_family; }
  bool is_v6() const { return family() == AF_INET6; }
  bool is_specified() const { return family() == AF_INET || family() == AF_INET6; }
  uint16_t port() const;
  Address with_port(uint16_t port) const;
  bool same_host(const Address& other) const;  // equal IP, any port

  const sockaddr* sockaddr_ptr() const { return reinterpret_cast<const sockaddr*>(&storage_); }
  socklen_t sockaddr_len() const;

  std::string to_string() const;       // "127.0.0.1:69", "[::1]:69"
  std::string host_string() const;     // "127.0.0.1", "::1"

  friend bool operator==(const Address& a, const Address& b);
  friend bool operator<(const Address& a, const Address& b);
  size_t hash() const;

 private:
  sockaddr_storage storage_{};
};

}  // namespace tftp

template <>
struct std::hash<tftp::Address> {
  size_t operator()(const tftp::Address& a) const noexcept { return a.hash(); }
};
