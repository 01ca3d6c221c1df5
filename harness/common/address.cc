#include "common/address.h"

#include <arpa/inet.h>
#include <netdb.h>

#include <algorithm>
#include <cstring>

namespace tftp {

Address Address::from_sockaddr(const sockaddr* sa, socklen_t len) {
  Address a;
  // Only the IP families are kept: anything else (or a truncated one) stays unspecified.
  if (len >= sizeof(sockaddr_in) && sa->sa_family == AF_INET) std::memcpy(&a.storage_.v4, sa, sizeof(sockaddr_in));
  if (len >= sizeof(sockaddr_in6) && sa->sa_family == AF_INET6) std::memcpy(&a.storage_.v6, sa, sizeof(sockaddr_in6));
  return a;
}

Result<Address> Address::parse(std::string_view text, uint16_t default_port) {
  std::string host;
  std::string port_text;
  if (!text.empty() && text.front() == '[') {
    const auto close = text.find(']');
    if (close == std::string_view::npos) {
      return make_error("tftp.address.invalid", "missing ']' in address '" + std::string(text) + "'");
    }
    host = std::string(text.substr(1, close - 1));
    auto rest = text.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') {
        return make_error("tftp.address.invalid", "expected ':PORT' after ']' in '" + std::string(text) + "'");
      }
      port_text = std::string(rest.substr(1));
    }
  } else if (std::count(text.begin(), text.end(), ':') > 1) {
    host = std::string(text);  // bare IPv6 literal, no port
  } else if (const auto colon = text.find(':'); colon != std::string_view::npos) {
    host = std::string(text.substr(0, colon));
    port_text = std::string(text.substr(colon + 1));
  } else {
    host = std::string(text);
  }
  if (host.empty()) {
    return make_error("tftp.address.invalid", "no host in address '" + std::string(text) + "'");
  }
  uint16_t port = default_port;
  if (!port_text.empty()) {
    unsigned long value = 0;
    for (char c : port_text) {
      if (c < '0' || c > '9' || value > 65535) {
        return make_error("tftp.address.invalid", "port '" + port_text + "' is not a number in 0..65535");
      }
      value = value * 10 + static_cast<unsigned long>(c - '0');
    }
    if (value > 65535) {
      return make_error("tftp.address.invalid", "port '" + port_text + "' is not a number in 0..65535");
    }
    port = static_cast<uint16_t>(value);
  }
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_DGRAM;
  addrinfo* found = nullptr;
  if (const int rc = getaddrinfo(host.c_str(), nullptr, &hints, &found); rc != 0 || found == nullptr) {
    return make_error("tftp.address.unresolved", "cannot resolve '" + host + "': " + gai_strerror(rc));
  }
  Address a = from_sockaddr(found->ai_addr, found->ai_addrlen);
  freeaddrinfo(found);
  return a.with_port(port);
}

Address Address::with_port(uint16_t port) const {
  Address a = *this;
  if (family() == AF_INET) a.storage_.v4.sin_port = htons(port);
  if (family() == AF_INET6) a.storage_.v6.sin6_port = htons(port);
  return a;
}

bool Address::same_host(const Address& other) const {
  return with_port(0) == other.with_port(0);
}

socklen_t Address::sockaddr_len() const {
  if (family() == AF_INET) return sizeof(sockaddr_in);
  if (family() == AF_INET6) return sizeof(sockaddr_in6);
  return sizeof(storage_);
}

std::string Address::host_string() const {
  char buf[INET6_ADDRSTRLEN] = {};
  if (family() == AF_INET) {
    inet_ntop(AF_INET, &storage_.v4.sin_addr, buf, sizeof buf);
  } else if (family() == AF_INET6) {
    inet_ntop(AF_INET6, &storage_.v6.sin6_addr, buf, sizeof buf);
  } else {
    return "unspecified";
  }
  return buf;
}

std::string Address::to_string() const {
  if (is_v6()) return "[" + host_string() + "]:" + std::to_string(port());
  return host_string() + ":" + std::to_string(port());
}

bool operator<(const Address& a, const Address& b) {
  if (a.family() != b.family()) return a.family() < b.family();
  if (a.port() != b.port()) return a.port() < b.port();
  return a.host_string() < b.host_string();
}

}  // namespace tftp
