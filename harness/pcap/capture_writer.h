// Writes captures: the frames of every supported link type around IPv4/IPv6 UDP datagrams
// (fragmented if asked), in the classic pcap or the pcapng format, streamed to a file or built
// in memory. The one home of frame building: `run --pcap` records its datagrams with it, tests
// build captures in memory with it, the bench generates its large synthetic capture with it.
#pragma once

#include <netinet/in.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/address.h"
#include "common/result.h"
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
  const std::vector<uint8_t>& vec() const { return b_; }
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

// The Internet checksum (RFC 1071) of `sum` plus the 16-bit big-endian words of `bytes`.
inline uint16_t internet_checksum(std::span<const uint8_t> bytes, uint32_t sum = 0) {
  uint64_t s = sum;
  size_t i = 0;
  for (; i + 1 < bytes.size(); i += 2) s += static_cast<uint32_t>(bytes[i] << 8 | bytes[i + 1]);
  if (i < bytes.size()) s += static_cast<uint32_t>(bytes[i] << 8);
  while (s >> 16) s = (s & 0xffff) + (s >> 16);
  return static_cast<uint16_t>(~s);
}

// A UDP header and its payload, the checksum computed over the pseudo-header (RFC 768; RFC
// 8200 §8.1 for IPv6, where it is mandatory), so Wireshark's checksum validation agrees.
inline std::vector<uint8_t> udp_header_and_payload(const Address& from, const Address& to, std::span<const uint8_t> payload) {
  Bytes b;
  const auto length = static_cast<uint16_t>(8 + payload.size());
  b.be16(from.port()).be16(to.port()).be16(length).be16(0).add(payload);
  Bytes pseudo;
  pseudo.add(ip_bytes(from)).add(ip_bytes(to));
  if (from.is_v6()) pseudo.be32(8 + static_cast<uint32_t>(payload.size())).be32(17);
  else pseudo.u8(0).u8(17).be16(length);
  uint32_t sum = 0;
  for (size_t i = 0; i < pseudo.vec().size(); i += 2) sum += static_cast<uint32_t>(pseudo.vec()[i] << 8 | pseudo.vec()[i + 1]);
  uint16_t check = internet_checksum(b.vec(), sum);
  if (check == 0) check = 0xffff;  // 0 means "no checksum" (RFC 768)
  b.vec()[6] = static_cast<uint8_t>(check >> 8);
  b.vec()[7] = static_cast<uint8_t>(check);
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
    b.add(ip_bytes(from)).add(ip_bytes(to)).add(options);
    const uint16_t check = internet_checksum(std::span<const uint8_t>(b.vec()).first(ihl));
    b.vec()[10] = static_cast<uint8_t>(check >> 8);
    b.vec()[11] = static_cast<uint8_t>(check);
    b.add(payload.subspan(at, n));
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

enum class CaptureFormat : uint8_t { kPcap, kPcapng };

// Parses "pcap" or "pcapng" (a CLI value); nullopt for anything else.
std::optional<CaptureFormat> capture_format_named(std::string_view name);

struct CaptureWriterOptions {
  CaptureFormat format = CaptureFormat::kPcap;
  // kLinkRaw (IPv4 and IPv6 alike, the smallest frames) or kLinkEthernet (made-up MACs
  // 00:00:00:00:00:01 -> :02 whatever the direction); any other link type takes whole frames
  // through frame() only.
  int linktype = kLinkRaw;
  uint32_t snaplen = 262144;
};

// A capture written one frame at a time: to a file (buffered, at most ~64 KiB held, whatever
// the capture's length) or in memory. Classic pcap is little-endian with microsecond
// timestamps; pcapng has one section and one interface, microsecond timestamps. Frames are
// numbered 1, 2, ... as Wireshark numbers them, so a frame number given out here is the one
// Wireshark's "Go to packet" takes.
class CaptureWriter {
 public:
  // In memory: bytes() or drain() take the capture.
  explicit CaptureWriter(CaptureWriterOptions options = {});
  explicit CaptureWriter(int linktype) : CaptureWriter(CaptureWriterOptions{.linktype = linktype}) {}
  // Streams to `path` (created or truncated). Errors: tftp.pcap.write_failed.
  static Result<CaptureWriter> open(const std::string& path, CaptureWriterOptions options = {});
  ~CaptureWriter();
  CaptureWriter(CaptureWriter&&) noexcept;
  CaptureWriter& operator=(CaptureWriter&&) noexcept;

  // A whole frame of the capture's link type captured at `at` (since the Unix epoch); cut to
  // the snaplen (its wire length stays whole). Returns its frame number.
  uint64_t frame(std::span<const uint8_t> bytes, Instant at);
  // One UDP datagram as a frame: IPv4 or IPv6 and UDP headers (checksums computed, IPv4 ids
  // counting up) and the link header synthesized. Returns its frame number. Errors:
  // tftp.pcap.datagram_too_large (beyond what one IP packet carries: 65507 bytes over IPv4,
  // 65527 over IPv6), tftp.pcap.address_family (the endpoints' families differ or are
  // unspecified), tftp.pcap.unsupported_link_type.
  Result<uint64_t> datagram(const Address& from, const Address& to, std::span<const uint8_t> payload, Instant at);

  uint64_t frames() const { return frames_; }
  // Flushes and closes a file (in memory: nothing to do). Errors: tftp.pcap.write_failed,
  // the first write that failed (later frames were dropped).
  Result<void> close();

  const std::vector<uint8_t>& bytes() const { return out_.vec(); }
  // The bytes built so far, handed over (to write a large capture out piece by piece).
  std::vector<uint8_t> drain() { return std::exchange(out_.vec(), {}); }

 private:
  void header();
  void flush_if_large();
  void flush();
  CaptureWriterOptions options_;
  Bytes out_;
  std::FILE* file_ = nullptr;
  std::string path_;
  std::optional<Error> error_;
  uint64_t frames_ = 0;
  uint16_t ip_id_ = 0;
};

}  // namespace tftp::pcap
