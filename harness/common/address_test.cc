#include "common/address.h"

#include <gtest/gtest.h>

#include <unordered_set>

namespace tftp {
namespace {

Address v6(std::string_view text, uint16_t port) { return *Address::parse(text, port); }

// Equality is what the capture analyser and the rule engine key transfers by: family, address
// and port all count (an IPv4 address compares its first 8 bytes at once).
TEST(Address, EqualityTellsFamilyAddressAndPortApart) {
  const Address a = Address::ipv4(0x0a000001, 69);
  EXPECT_EQ(a, Address::ipv4(0x0a000001, 69));
  EXPECT_NE(a, Address::ipv4(0x0a000001, 70));
  EXPECT_NE(a, Address::ipv4(0x0a000002, 69));
  EXPECT_NE(a, Address::ipv4(0x0100000a, 69));  // the same bytes the other way round
  EXPECT_NE(a, Address{});
  EXPECT_EQ(Address{}, Address{});
  const Address six = v6("[::1]:69", 0);
  EXPECT_EQ(six, v6("[::1]:69", 0));
  EXPECT_NE(six, v6("[::1]:70", 0));
  EXPECT_NE(six, v6("[::2]:69", 0));
  EXPECT_NE(six, Address::loopback_v4(69));
  EXPECT_NE(Address::loopback_v4(69), six);
  EXPECT_NE(v6("[::ffff:127.0.0.1]:69", 0), Address::loopback_v4(69));  // a mapped address is IPv6
  // from_sockaddr of what the kernel fills in (sin_zero included) equals the built address.
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(69);
  sa.sin_addr.s_addr = htonl(0x0a000001);
  EXPECT_EQ(Address::from_sockaddr(reinterpret_cast<const sockaddr*>(&sa), sizeof sa), a);
  std::unordered_set<Address> set{a, Address::ipv4(0x0a000001, 69), six};
  EXPECT_EQ(set.size(), 2u);
}

}  // namespace
}  // namespace tftp
