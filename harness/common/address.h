// A UDP endpoint (IPv4 or IPv6 address + port): the TFTP "transfer identifier" is its port.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <string>
#include <string_view>

#include "common/result.h"

namespace tftp {

// Stored as the sockaddr itself, IPv4 or IPv6 (28 bytes), not a sockaddr_storage (128): the
// rule engine and a capture's analysis copy, compare and hash addresses several times per
// datagram, and a quarter of the bytes made `analyze` measurably faster (bench/RESULTS.md).
// Comparison and hashing are inline for the same reason.
class Address {
 public:
  Address() {  // unspecified (AF_UNSPEC); compares unequal to every real endpoint
    std::memset(&storage_, 0, sizeof storage_);  // every byte, not only the union's first member
    storage_.sa.sa_family = AF_UNSPEC;
  }
  static Address from_sockaddr(const sockaddr* sa, socklen_t len);
  static Address ipv4(uint32_t host_order_addr, uint16_t port) {  // inline: a capture builds two per datagram
    Address a;
    a.storage_.v4.sin_family = AF_INET;
    a.storage_.v4.sin_addr.s_addr = htonl(host_order_addr);
    a.storage_.v4.sin_port = htons(port);
    return a;
  }
  static Address loopback_v4(uint16_t port) { return ipv4(0x7f000001u, port); }

  // Parses "1.2.3.4:69", "1.2.3.4", "[::1]:69", "::1", "localhost:6969".
  // `default_port` applies when none is given. Resolves names with getaddrinfo.
  static Result<Address> parse(std::string_view text, uint16_t default_port);

  int family() const { return storage_.sa.sa_family; }
  bool is_v6() const { return family() == AF_INET6; }
  bool is_specified() const { return family() == AF_INET || family() == AF_INET6; }
  uint16_t port() const {
    if (family() == AF_INET) return ntohs(storage_.v4.sin_port);
    if (family() == AF_INET6) return ntohs(storage_.v6.sin6_port);
    return 0;
  }
  Address with_port(uint16_t port) const;
  bool same_host(const Address& other) const;  // equal IP, any port

  const sockaddr* sockaddr_ptr() const { return &storage_.sa; }
  socklen_t sockaddr_len() const;

  std::string to_string() const;       // "127.0.0.1:69", "[::1]:69"
  std::string host_string() const;     // "127.0.0.1", "::1"

  friend bool operator==(const Address& a, const Address& b) {
    if (a.family() == AF_INET) {
      // sockaddr_in's first 8 bytes are its family, port and address: one comparison (a
      // capture's analysis compares addresses several times per datagram).
      static_assert(offsetof(sockaddr_in, sin_port) == 2 && offsetof(sockaddr_in, sin_addr) == 4 && sizeof(in_addr) == 4);
      uint64_t x, y;
      std::memcpy(&x, &a.storage_.v4, sizeof x);
      std::memcpy(&y, &b.storage_.v4, sizeof y);
      return x == y;
    }
    if (a.family() != b.family()) return false;
    if (a.family() == AF_INET6) {
      return a.storage_.v6.sin6_port == b.storage_.v6.sin6_port &&
             std::memcmp(&a.storage_.v6.sin6_addr, &b.storage_.v6.sin6_addr, sizeof(in6_addr)) == 0 &&
             a.storage_.v6.sin6_scope_id == b.storage_.v6.sin6_scope_id;
    }
    return a.family() == AF_UNSPEC;
  }
  friend bool operator<(const Address& a, const Address& b);
  size_t hash() const {
    size_t h = static_cast<size_t>(family()) * 31 + port();
    if (family() == AF_INET) {
      h = h * 1000003u ^ storage_.v4.sin_addr.s_addr;
    } else if (family() == AF_INET6) {
      uint64_t words[2];
      std::memcpy(words, &storage_.v6.sin6_addr, sizeof words);
      h = (h * 1000003u ^ words[0]) * 1000003u ^ words[1];
    }
    return h;
  }

 private:
  union Storage {
    sockaddr sa;
    sockaddr_in v4;
    sockaddr_in6 v6;
  };
  Storage storage_;
};

}  // namespace tftp

template <>
struct std::hash<tftp::Address> {
  size_t operator()(const tftp::Address& a) const noexcept { return a.hash(); }
};
