// Builds capture files in memory, byte by byte: the frames of every supported link type
// around IPv4/IPv6 UDP datagrams (fragmented if asked), in the classic pcap format. For
// tests (captures built in memory) and for generating large synthetic captures (bench).
#pragma once

#include <netinet/in.h>

#include <cstdint>
#include <cstring>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "common/address.h"
#include "common/time.h"
#include "pcap/decode.h"

namespace tftp::pcap {

class Bytes {
 public:
  Bytes& u8(uint8_t v) { b_.push_back(v); return *this; }
  Bytes& be16(uint16_t v) { return u8(static_cast<uint8_t>(v >> 8)).u8(static_cast<uint8_t>(v)); }
  Bytes& be32(uint32_t v) { return be16(static_cast<uint16_t>(v >> 16)).be16(static_cast<uint16_t>(v)); }
  Bytes& le16(uint16_t v) { return u8(static_cast<uint8_t>(v)).u8(static_cast<uint8_t>(v >> 8)); }
  Bytes& le32(uint32_t v) { return le16(static_cast<uint16_t>(v)).le16(static_cast<uint16_t>(v >> 16)); }
  Bytes& add(std::span<const uint8_t> s) { b_.insert(b_.end(), s.begin(), s.end()); return *this; }
  Bytes& zeros(size_t n) { b_.insert(b_.end(), n, 0); return *this; }
  std::vector<uint8_t>& vec() { return b_; }
  operator std::span<const uint8_t>() const { return b_; }

 private:
  std::vector<uint8_t> b_;
};

// The 4 or 16 address bytes of an endpoint.
inline std::vector<uint8_t> ip_bytes(const Address& a) {
  if (a.is_v6()) {
    const auto* sa = reinterpret_cast<const sockaddr_in6*>(a.sockaddr_ptr());
    return {sa->sin6_addr.s6_addr, sa->sin6_addr.s6_addr + 16};
  }
  const auto* sa = reinterpret_cast<const sockaddr_in*>(a.sockaddr_ptr());
  const auto* p = reinterpret_cast<const uint8_t*>(&sa->sin_addr.s_addr);
  return {p, p + 4};
}

inline std::vector<uint8_t> udp_header_and_payload(const Address& from, const Address& to, std::span<const uint8_t> payload) {
  Bytes b;
  b.be16(from.port()).be16(to.port()).be16(static_cast<uint16_t>(8 + payload.size())).be16(0).add(payload);
  return std::move(b.vec());
}

// IPv4 packets carrying `payload` (a UDP header and data, or anything with `protocol`), cut
// into fragments of at most `fragment_size` payload bytes (a multiple of 8) when given.
// `options` (a multiple of 4 bytes) go into the header.
inline std::vector<std::vector<uint8_t>> ipv4_packets(const Address& from, const Address& to, std::span<const uint8_t> payload,
                                                      uint16_t id = 1, std::optional<size_t> fragment_size = std::nullopt,
                                                      uint8_t protocol = 17, std::span<const uint8_t> options = {}) {
  std::vector<std::vector<uint8_t>> out;
  const size_t step = fragment_size.value_or(payload.size() + 1);
  for (size_t at = 0; at < payload.size() || (at == 0 && payload.empty()); at += step) {
    const size_t n = std::min(step, payload.size() - at);
    const bool more = at + n < payload.size();
    Bytes b;
    const size_t ihl = 20 + options.size();
    b.u8(static_cast<uint8_t>(0x40 | ihl / 4)).u8(0).be16(static_cast<uint16_t>(ihl + n)).be16(id);
    b.be16(static_cast<uint16_t>((more ? 0x2000 : 0) | at / 8)).u8(64).u8(protocol).be16(0);
    b.add(ip_bytes(from)).add(ip_bytes(to)).add(options).add(payload.subspan(at, n));
    out.push_back(std::move(b.vec()));
    if (payload.empty()) break;
  }
  return out;
}

// An IPv6 packet; `extension` is a chain of extension headers (their first next-header byte
// is set here) placed before UDP. With `fragment_size`, fragment headers cut the payload.
inline std::vector<std::vector<uint8_t>> ipv6_packets(const Address& from, const Address& to, std::span<const uint8_t> payload,
                                                      std::optional<size_t> fragment_size = std::nullopt, uint32_t id = 7,
                                                      bool hop_by_hop = false) {
  std::vector<std::vector<uint8_t>> out;
  const size_t step = fragment_size.value_or(payload.size() + 1);
  for (size_t at = 0; at < payload.size(); at += step) {
    const size_t n = std::min(step, payload.size() - at);
    const bool more = at + n < payload.size();
    Bytes ext;
    uint8_t first = 17;
    if (fragment_size) {
      ext.u8(17).u8(0).be16(static_cast<uint16_t>(at | (more ? 1 : 0))).be32(id);
      first = 44;
    }
    if (hop_by_hop) {
      Bytes h;
      h.u8(first).u8(0).zeros(6);  // 8 bytes: Pad1/PadN not needed for a decoder
      h.add(ext);
      ext = h;
      first = 0;
    }
    Bytes b;
    b.be32(0x60000000).be16(static_cast<uint16_t>(ext.vec().size() + n)).u8(first).u8(64);
    b.add(ip_bytes(from)).add(ip_bytes(to)).add(ext).add(payload.subspan(at, n));
    out.push_back(std::move(b.vec()));
    if (!fragment_size) break;
  }
  return out;
}

// The link-layer frame around an IP packet.
inline std::vector<uint8_t> link_frame(int linktype, std::span<const uint8_t> ip, std::span<const uint16_t> vlans = {},
                                       bool big_endian_null = false) {
  const bool v6 = !ip.empty() && (ip[0] >> 4) == 6;
  const uint16_t ethertype = v6 ? 0x86dd : 0x0800;
  Bytes b;
  switch (linktype) {
    case kLinkEthernet:
      b.zeros(5).u8(2).zeros(5).u8(1);
      for (size_t i = 0; i < vlans.size(); ++i) b.be16(i + 1 < vlans.size() ? 0x88a8 : 0x8100).be16(vlans[i]);
      b.be16(ethertype);
      break;
    case kLinkLinuxSll: b.be16(0).be16(1).be16(6).zeros(8).be16(ethertype); break;
    case kLinkLinuxSll2: b.be16(ethertype).be16(0).be32(1).be16(1).u8(0).u8(6).zeros(8); break;
    case kLinkNull:
      if (big_endian_null) b.be32(v6 ? 30 : 2);
      else b.le32(v6 ? 10 : 2);
      break;
    case kLinkLoop: b.be32(v6 ? 24 : 2); break;
    default: break;  // raw IP
  }
  b.add(ip);
  return std::move(b.vec());
}

// A classic pcap file (microsecond timestamps, little-endian).
class CaptureBuilder {
 public:
  explicit CaptureBuilder(int linktype, uint32_t snaplen = 262144) : snaplen_(snaplen) {
    out_.le32(0xa1b2c3d4).le16(2).le16(4).le32(0).le32(0).le32(snaplen).le32(static_cast<uint32_t>(linktype));
  }
  // A frame captured at `at`; cut to the snaplen (its wire length stays whole).
  CaptureBuilder& frame(std::span<const uint8_t> bytes, Instant at) {
    const auto us = std::chrono::duration_cast<std::chrono::microseconds>(at.time_since_epoch()).count();
    const size_t caplen = std::min<size_t>(bytes.size(), snaplen_);
    out_.le32(static_cast<uint32_t>(us / 1000000)).le32(static_cast<uint32_t>(us % 1000000));
    out_.le32(static_cast<uint32_t>(caplen)).le32(static_cast<uint32_t>(bytes.size())).add(bytes.first(caplen));
    return *this;
  }
  const std::vector<uint8_t>& bytes() { return out_.vec(); }
  // The bytes built so far, handed over (to write a large capture out piece by piece).
  std::vector<uint8_t> drain() { return std::exchange(out_.vec(), {}); }

 private:
  uint32_t snaplen_;
  Bytes out_;
};

}  // namespace tftp::pcap
