#include "pcap/decode.h"

#include <netinet/in.h>

#include <algorithm>
#include <cstring>

#include "pcap/byte_reader.h"

namespace tftp::pcap {

namespace {

constexpr uint16_t kEtherIpv4 = 0x0800;
constexpr uint16_t kEtherIpv6 = 0x86dd;
constexpr uint8_t kProtoUdp = 17;
constexpr size_t kMaxExtensionHeaders = 8;  // more is no sane packet: a loop guard

struct Info {
  std::string_view id;
  std::string_view message;
  bool skipped;
};

Info info(DecodeErrc c) {
  switch (c) {
    case DecodeErrc::kUnsupportedLinkType: return {"tftp.pcap.unsupported_link_type", "link type not supported (Ethernet, Linux cooked v1/v2, raw IP, BSD loopback are)", false};
    case DecodeErrc::kTruncatedLinkHeader: return {"tftp.pcap.truncated_link_header", "frame shorter than its link-layer header", false};
    case DecodeErrc::kNotIp: return {"tftp.pcap.not_ip", "not an IPv4 or IPv6 packet", true};
    case DecodeErrc::kTruncatedIpHeader: return {"tftp.pcap.truncated_ip_header", "frame shorter than its IP header", false};
    case DecodeErrc::kBadIpVersion: return {"tftp.pcap.bad_ip_version", "IP version field disagrees with the link layer", false};
    case DecodeErrc::kBadIpHeaderLength: return {"tftp.pcap.bad_ip_header_length", "IP header length out of range", false};
    case DecodeErrc::kIpLengthBeyondFrame: return {"tftp.pcap.ip_length_beyond_frame", "IP length beyond the bytes of an uncut frame", false};
    case DecodeErrc::kSnaplenCut: return {"tftp.pcap.snaplen_cut", "the capture's snaplen cut the packet (caplen < len): its datagram is incomplete", false};
    case DecodeErrc::kNotUdp: return {"tftp.pcap.not_udp", "not UDP", true};
    case DecodeErrc::kTruncatedExtensionHeader: return {"tftp.pcap.truncated_extension_header", "IPv6 extension header beyond the packet", false};
    case DecodeErrc::kTooManyExtensionHeaders: return {"tftp.pcap.too_many_extension_headers", "more than 8 IPv6 extension headers", false};
    case DecodeErrc::kTruncatedUdpHeader: return {"tftp.pcap.truncated_udp_header", "IP payload shorter than a UDP header", false};
    case DecodeErrc::kBadUdpLength: return {"tftp.pcap.bad_udp_length", "UDP length below 8 or beyond the IP payload", false};
    case DecodeErrc::kFragmentOverlap: return {"tftp.pcap.fragment_overlap", "IP fragments overlap or disagree on the length: datagram dropped", false};
    case DecodeErrc::kFragmentTooLarge: return {"tftp.pcap.fragment_too_large", "fragmented datagram beyond 65535 bytes or the fragment limit: dropped", false};
    case DecodeErrc::kFragmentTableFull: return {"tftp.pcap.fragment_table_full", "too many datagrams in reassembly: the oldest was dropped", false};
    case DecodeErrc::kFragmentTimeout: return {"tftp.pcap.fragment_timeout", "fragmented datagram not completed within 30 s of capture time: dropped", false};
  }
  return {"tftp.pcap.unknown", "unknown decode error", false};
}

tl::unexpected<DecodeError> fail(DecodeErrc code, size_t offset) { return tl::unexpected(DecodeError{code, offset}); }

// A header cut short by the end of the frame: the snaplen's doing when the frame was cut.
tl::unexpected<DecodeError> short_header(const Frame& f, DecodeErrc code, size_t offset) {
  return fail(f.caplen < f.len ? DecodeErrc::kSnaplenCut : code, offset);
}

Address make_address(int family, const std::array<uint8_t, 16>& ip, uint16_t port) {
  if (family == AF_INET) {
    return Address::ipv4(uint32_t{ip[0]} << 24 | uint32_t{ip[1]} << 16 | uint32_t{ip[2]} << 8 | ip[3], port);
  }
  sockaddr_in6 sa{};
  sa.sin6_family = AF_INET6;
  sa.sin6_port = htons(port);
  std::memcpy(&sa.sin6_addr, ip.data(), 16);
  return Address::from_sockaddr(reinterpret_cast<const sockaddr*>(&sa), sizeof sa);
}

// The BSD loopback header's address family: AF_INET is 2 everywhere; AF_INET6 is 10 (Linux),
// 24 (NetBSD, OpenBSD), 28 (FreeBSD), 30 (macOS).
std::optional<int> loopback_family(uint32_t af) {
  if (af == 2) return 4;
  if (af == 10 || af == 24 || af == 28 || af == 30) return 6;
  return std::nullopt;
}

}  // namespace

std::string_view DecodeError::id() const { return info(code).id; }
std::string_view DecodeError::message() const { return info(code).message; }
bool DecodeError::skipped() const { return info(code).skipped; }
std::string DecodeError::to_string() const {
  return std::string(id()) + " at offset " + std::to_string(offset) + ": " + std::string(message());
}

// --- Reassembly --------------------------------------------------------------------------

void Reassembler::expire(Instant now) {
  for (auto it = table_.begin(); it != table_.end();) {
    if (now - it->second.first_at > limits_.timeout) {
      ++dropped_.timeout;
      it = table_.erase(it);
    } else {
      ++it;
    }
  }
}

tl::expected<std::optional<std::span<const uint8_t>>, DecodeErrc> Reassembler::add(const Key& key, Instant at,
                                                                                   size_t offset, bool more,
                                                                                   std::span<const uint8_t> data) {
  expire(at);
  const size_t end = offset + data.size();
  auto it = table_.find(key);
  if (end > limits_.bytes) {
    if (it != table_.end()) table_.erase(it);
    return tl::unexpected(DecodeErrc::kFragmentTooLarge);
  }
  if (it == table_.end()) {
    if (table_.size() >= limits_.datagrams) {
      auto oldest = std::min_element(table_.begin(), table_.end(),
                                     [](const auto& a, const auto& b) { return a.second.first_at < b.second.first_at; });
      table_.erase(oldest);
      ++dropped_.table_full;
    }
    it = table_.emplace(key, Partial{at, {}, {}, std::nullopt, 0}).first;
  }
  Partial& p = it->second;
  for (const auto& [b, e] : p.pieces) {
    if (b == offset && e == end) return std::nullopt;  // the same fragment captured twice
    if (offset < e && end > b) {
      table_.erase(it);
      return tl::unexpected(DecodeErrc::kFragmentOverlap);
    }
  }
  if (p.pieces.size() >= limits_.fragments) {
    table_.erase(it);
    return tl::unexpected(DecodeErrc::kFragmentTooLarge);
  }
  if (!more) {
    if (p.total && *p.total != end) {
      table_.erase(it);
      return tl::unexpected(DecodeErrc::kFragmentOverlap);
    }
    p.total = end;
  }
  if (p.total && (end > *p.total || std::any_of(p.pieces.begin(), p.pieces.end(),
                                                 [&p](const auto& piece) { return piece.second > *p.total; }))) {
    table_.erase(it);
    return tl::unexpected(DecodeErrc::kFragmentOverlap);
  }
  if (p.bytes.size() < end) p.bytes.resize(end);
  std::copy(data.begin(), data.end(), p.bytes.begin() + static_cast<std::ptrdiff_t>(offset));
  p.pieces.emplace_back(offset, end);
  p.have += data.size();
  if (p.total && p.have == *p.total) {
    done_ = std::move(p.bytes);
    done_.resize(*p.total);
    table_.erase(it);
    return std::optional<std::span<const uint8_t>>(std::span<const uint8_t>(done_));
  }
  return std::nullopt;
}

// --- Layers ------------------------------------------------------------------------------

tl::expected<std::optional<Datagram>, DecodeError> Decoder::decode(const Frame& f) {
  ByteReader r(f.bytes);
  int version = 0;  // 0: from the IP header's version nibble
  switch (f.linktype) {
    case kLinkEthernet: {
      if (!r.skip(12)) return short_header(f, DecodeErrc::kTruncatedLinkHeader, r.offset());
      auto type = r.be16();
      // 802.1Q, 802.1ad and the older QinQ type: a 2-byte tag control, then the inner type.
      while (type && (*type == 0x8100 || *type == 0x88a8 || *type == 0x9100)) {
        if (!r.skip(2)) return short_header(f, DecodeErrc::kTruncatedLinkHeader, r.offset());
        type = r.be16();
      }
      if (!type) return short_header(f, DecodeErrc::kTruncatedLinkHeader, r.offset());
      if (*type == kEtherIpv4) version = 4;
      else if (*type == kEtherIpv6) version = 6;
      else return fail(DecodeErrc::kNotIp, r.offset() - 2);
      break;
    }
    case kLinkLinuxSll: {  // packet type, ARPHRD, address length, 8 address bytes, protocol
      if (!r.skip(14)) return short_header(f, DecodeErrc::kTruncatedLinkHeader, r.offset());
      const auto proto = r.be16();
      if (!proto) return short_header(f, DecodeErrc::kTruncatedLinkHeader, r.offset());
      if (*proto == kEtherIpv4) version = 4;
      else if (*proto == kEtherIpv6) version = 6;
      else return fail(DecodeErrc::kNotIp, 14);
      break;
    }
    case kLinkLinuxSll2: {  // protocol first, then reserved, ifindex, ARPHRD, type, address
      const auto proto = r.be16();
      if (!proto || !r.skip(18)) return short_header(f, DecodeErrc::kTruncatedLinkHeader, r.offset());
      if (*proto == kEtherIpv4) version = 4;
      else if (*proto == kEtherIpv6) version = 6;
      else return fail(DecodeErrc::kNotIp, 0);
      break;
    }
    case kLinkNull:
    case kLinkLoop: {
      // DLT_NULL is in the writer's byte order, DLT_LOOP in network order; a family fits in a
      // byte, so whichever order gives a small number is the right one.
      const auto raw = r.le32();
      if (!raw) return short_header(f, DecodeErrc::kTruncatedLinkHeader, 0);
      const uint32_t swapped = __builtin_bswap32(*raw);
      const uint32_t af = f.linktype == kLinkLoop ? swapped : (*raw < 256 ? *raw : swapped);
      const auto v = loopback_family(af);
      if (!v) return fail(DecodeErrc::kNotIp, 0);
      version = *v;
      break;
    }
    case kLinkRaw:
    case kLinkDltRaw12:
    case kLinkDltRaw14: break;
    case kLinkIpv4: version = 4; break;
    case kLinkIpv6: version = 6; break;
    default: return fail(DecodeErrc::kUnsupportedLinkType, 0);
  }
  const size_t at = r.offset();
  if (!r.has(1)) return short_header(f, DecodeErrc::kTruncatedIpHeader, at);
  const int nibble = f.bytes[at] >> 4;
  if (version != 0 && nibble != version) return fail(DecodeErrc::kBadIpVersion, at);
  if (nibble == 4) return ipv4(f, at);
  if (nibble == 6) return ipv6(f, at);
  return fail(version == 0 ? DecodeErrc::kNotIp : DecodeErrc::kBadIpVersion, at);
}

tl::expected<std::optional<Datagram>, DecodeError> Decoder::ipv4(const Frame& f, size_t at) {
  ByteReader r(f.bytes.subspan(at));
  if (!r.has(20)) return short_header(f, DecodeErrc::kTruncatedIpHeader, at);
  const size_t ihl = (*r.u8() & 0x0f) * size_t{4};
  r.skip(1);
  const size_t total = *r.be16();
  const uint32_t id = *r.be16();
  const uint16_t frag = *r.be16();
  r.skip(1);
  const uint8_t protocol = *r.u8();
  r.skip(2);  // checksum: not verified (a capture on the sender sees offloaded, unfilled ones)
  Reassembler::Key key{AF_INET, {}, {}, id, protocol};
  std::copy_n(r.take(4)->begin(), 4, key.src.begin());
  std::copy_n(r.take(4)->begin(), 4, key.dst.begin());
  if (ihl < 20 || total < ihl) return fail(DecodeErrc::kBadIpHeaderLength, at);
  // The IP length, not the frame, ends the packet (Ethernet pads short frames).
  if (total > f.bytes.size() - at) {
    return fail(f.caplen < f.len ? DecodeErrc::kSnaplenCut : DecodeErrc::kIpLengthBeyondFrame, at + 2);
  }
  const auto payload = f.bytes.subspan(at + ihl, total - ihl);
  if (protocol != kProtoUdp) return fail(DecodeErrc::kNotUdp, at + 9);
  const bool more = (frag & 0x2000) != 0;
  const size_t offset = (frag & 0x1fff) * size_t{8};
  if (!more && offset == 0) return udp(at + ihl, payload, key, false);
  auto whole = reassembler_.add(key, f.at, offset, more, payload);
  if (!whole) return fail(whole.error(), at + 6);
  if (!*whole) return std::nullopt;
  return udp(at + ihl, **whole, key, true);
}

tl::expected<std::optional<Datagram>, DecodeError> Decoder::ipv6(const Frame& f, size_t at) {
  ByteReader r(f.bytes.subspan(at));
  if (!r.has(40)) return short_header(f, DecodeErrc::kTruncatedIpHeader, at);
  r.skip(4);
  const size_t length = *r.be16();
  uint8_t next = *r.u8();
  r.skip(1);
  Reassembler::Key key{AF_INET6, {}, {}, 0, 0};
  std::copy_n(r.take(16)->begin(), 16, key.src.begin());
  std::copy_n(r.take(16)->begin(), 16, key.dst.begin());
  if (length > r.remaining()) {
    return fail(f.caplen < f.len ? DecodeErrc::kSnaplenCut : DecodeErrc::kIpLengthBeyondFrame, at + 4);
  }
  ByteReader p(f.bytes.subspan(at + 40, length));
  // Extension headers (RFC 8200 §4): hop-by-hop, routing, destination options, AH are
  // skipped; a fragment header sends the rest to the reassembler (the fragmentable part then
  // starts with the upper-layer header: extension headers after a fragment header are not
  // parsed, the reassembled payload counts as not UDP unless the fragment header names UDP).
  for (size_t n = 0;; ++n) {
    if (next == kProtoUdp) return udp(at + 40 + p.offset(), p.rest(), key, false);
    if (n == kMaxExtensionHeaders) return fail(DecodeErrc::kTooManyExtensionHeaders, at + 40 + p.offset());
    const size_t header_at = at + 40 + p.offset();
    if (next == 0 || next == 43 || next == 60 || next == 51) {
      const auto nh = p.u8();
      const auto len = p.u8();
      if (!nh || !len) return fail(DecodeErrc::kTruncatedExtensionHeader, header_at);
      const size_t size = next == 51 ? (*len + size_t{2}) * 4 : (*len + size_t{1}) * 8;
      if (!p.skip(size - 2)) return fail(DecodeErrc::kTruncatedExtensionHeader, header_at);
      next = *nh;
      continue;
    }
    if (next == 44) {
      const auto nh = p.u8();
      p.skip(1);
      const auto offset_flags = p.be16();
      const auto id = p.be32();
      if (!nh || !offset_flags || !id) return fail(DecodeErrc::kTruncatedExtensionHeader, header_at);
      key.id = *id;
      key.protocol = *nh;
      if (*nh != kProtoUdp) return fail(DecodeErrc::kNotUdp, header_at);
      const bool more = (*offset_flags & 1) != 0;
      const size_t offset = *offset_flags & 0xfff8u;
      if (!more && offset == 0) return udp(at + 40 + p.offset(), p.rest(), key, false);  // atomic fragment
      auto whole = reassembler_.add(key, f.at, offset, more, p.rest());
      if (!whole) return fail(whole.error(), header_at);
      if (!*whole) return std::nullopt;
      return udp(at + 40 + p.offset(), **whole, key, true);
    }
    return fail(DecodeErrc::kNotUdp, header_at);
  }
}

tl::expected<std::optional<Datagram>, DecodeError> Decoder::udp(size_t at, std::span<const uint8_t> ip_payload,
                                                                const Reassembler::Key& addresses, bool reassembled) {
  // Built where the caller receives it (every return is `out`, so the compiler places it
  // there): a Datagram made aside and then copied into the result, 88 bytes just written,
  // stalled on every frame, 4 % of an analysis (bench/RESULTS.md).
  tl::expected<std::optional<Datagram>, DecodeError> out(tl::in_place, std::in_place);
  ByteReader r(ip_payload);
  if (!r.has(8)) {
    out = fail(DecodeErrc::kTruncatedUdpHeader, at);
    return out;
  }
  const uint16_t sport = *r.be16();
  const uint16_t dport = *r.be16();
  const size_t length = *r.be16();
  if (length < 8 || length > ip_payload.size()) {
    out = fail(DecodeErrc::kBadUdpLength, at + 4);
    return out;
  }
  Datagram& d = **out;
  d.from = make_address(addresses.family, addresses.src, sport);
  d.to = make_address(addresses.family, addresses.dst, dport);
  d.payload = ip_payload.subspan(8, length - 8);
  d.reassembled = reassembled;
  return out;
}

}  // namespace tftp::pcap
