// From a captured frame to the UDP datagram it carries: link layer (Ethernet with 802.1Q/
// 802.1ad tags, Linux cooked v1/v2, raw IP, BSD loopback), IPv4 (options, fragments) and IPv6
// (extension headers, fragments), then UDP. Views into the frame where possible; a reassembled
// datagram lives in the decoder until the next call. No I/O, no clock: time is the frame's.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <tl/expected.hpp>

#include "common/address.h"
#include "common/time.h"

namespace tftp::pcap {

// Link types: the values pcap files carry (LINKTYPE_*) and those libpcap reports (DLT_*),
// which differ for raw IP (LINKTYPE_RAW 101 is DLT_RAW, 12 on Linux and 14 on OpenBSD).
inline constexpr int kLinkNull = 0;        // BSD loopback, host byte order of the writer
inline constexpr int kLinkEthernet = 1;
inline constexpr int kLinkRaw = 101;       // raw IPv4 or IPv6 (LINKTYPE_RAW)
inline constexpr int kLinkDltRaw12 = 12;   // DLT_RAW on most BSDs
inline constexpr int kLinkDltRaw14 = 14;   // DLT_RAW on OpenBSD
inline constexpr int kLinkLoop = 108;      // OpenBSD loopback, network byte order
inline constexpr int kLinkLinuxSll = 113;
inline constexpr int kLinkIpv4 = 228;
inline constexpr int kLinkIpv6 = 229;
inline constexpr int kLinkLinuxSll2 = 276;

// Why a frame yields no UDP datagram. Ids are stable (reports count by them); a frame that is
// simply not UDP is "skipped", one that breaks its own headers is "malformed".
enum class DecodeErrc : uint8_t {
  kUnsupportedLinkType,
  kTruncatedLinkHeader,
  kNotIp,               // ARP, LLDP, ... (an EtherType or family other than IPv4/IPv6)
  kTruncatedIpHeader,
  kBadIpVersion,        // the version nibble disagrees with the link layer's type
  kBadIpHeaderLength,   // IHL < 5 or beyond the total length
  kIpLengthBeyondFrame, // total length beyond the bytes captured, the frame not cut by snaplen
  kSnaplenCut,          // caplen < len cut the IP packet: its datagram is incomplete
  kNotUdp,              // TCP, ICMP, ESP, ...
  kTruncatedExtensionHeader,
  kTooManyExtensionHeaders,
  kTruncatedUdpHeader,
  kBadUdpLength,        // UDP length < 8 or beyond the IP payload
  kFragmentOverlap,     // fragments overlap: the datagram is dropped (RFC 5722's rule, for both families)
  kFragmentTooLarge,    // beyond 65535 bytes or the per-datagram fragment limit
  kFragmentTableFull,   // too many datagrams in reassembly: the oldest is dropped
  kFragmentTimeout,     // never completed within the timeout (capture time)
};

struct DecodeError {
  DecodeErrc code;
  size_t offset;  // in the frame, where the problem was found

  std::string_view id() const;       // "tftp.pcap.snaplen_cut"
  std::string_view message() const;  // "the capture's snaplen cut the packet: its datagram is incomplete"
  bool skipped() const;              // not UDP at all (not a defect of the frame)
  std::string to_string() const;     // "tftp.pcap.x at offset N: message"
};

// One captured frame, as the capture reader gives it; `bytes` views the reader's buffer.
struct Frame {
  uint64_t number = 0;  // 1-based, as Wireshark numbers frames
  Instant at{};         // capture time (since the Unix epoch)
  uint32_t caplen = 0;
  uint32_t len = 0;     // the length on the wire
  int linktype = kLinkEthernet;
  std::span<const uint8_t> bytes;
};

struct Datagram {
  Address from;
  Address to;
  std::span<const uint8_t> payload;  // the UDP payload; valid until the next decode()
  bool reassembled = false;          // rebuilt from IP fragments
};

// Bounds of the fragment table: memory stays at most datagrams x bytes (64 x 64 KiB = 4 MiB).
struct ReassemblyLimits {
  size_t datagrams = 64;         // in reassembly at once; the oldest is dropped beyond
  size_t fragments = 64;         // per datagram (a 65464-byte block over a 1500 MTU takes 45)
  size_t bytes = 65535;          // per datagram, the IP maximum
  Duration timeout = std::chrono::seconds(30);  // capture time, as Linux's ipfrag_time
};

// IPv4 and IPv6 fragments, reassembled by (family, source, destination, id, protocol).
class Reassembler {
 public:
  explicit Reassembler(ReassemblyLimits limits = {}) : limits_(limits) {}

  struct Key {
    int family;
    std::array<uint8_t, 16> src, dst;
    uint32_t id;
    uint8_t protocol;
    friend auto operator<=>(const Key&, const Key&) = default;
  };
  // Adds a fragment at byte `offset` of the original payload. Returns the whole payload once
  // complete (valid until the next call), nullopt while incomplete, or why it dropped it.
  tl::expected<std::optional<std::span<const uint8_t>>, DecodeErrc> add(const Key& key, Instant at, size_t offset,
                                                                        bool more, std::span<const uint8_t> data);
  // Datagrams given up since the last call, for counting: never completed within the timeout,
  // or evicted (the oldest) to make room for a new one in a full table.
  struct Dropped {
    size_t timeout = 0;
    size_t table_full = 0;
  };
  Dropped take_dropped() { return std::exchange(dropped_, Dropped{}); }
  size_t in_progress() const { return table_.size(); }

 private:
  struct Partial {
    Instant first_at;
    std::vector<uint8_t> bytes;
    std::vector<std::pair<size_t, size_t>> pieces;  // [begin, end)
    std::optional<size_t> total;
    size_t have = 0;
  };
  void expire(Instant now);
  ReassemblyLimits limits_;
  std::map<Key, Partial> table_;
  std::vector<uint8_t> done_;
  Dropped dropped_;
};

class Decoder {
 public:
  explicit Decoder(ReassemblyLimits limits = {}) : reassembler_(limits) {}

  // The UDP datagram in `frame`; nullopt while it is a fragment held for reassembly.
  tl::expected<std::optional<Datagram>, DecodeError> decode(const Frame& frame);
  // Fragmented datagrams given up since the last call (timeout, table full).
  Reassembler::Dropped take_dropped() { return reassembler_.take_dropped(); }

 private:
  tl::expected<std::optional<Datagram>, DecodeError> ipv4(const Frame& f, size_t at);
  tl::expected<std::optional<Datagram>, DecodeError> ipv6(const Frame& f, size_t at);
  tl::expected<std::optional<Datagram>, DecodeError> udp(size_t at, std::span<const uint8_t> ip_payload,
                                                         const Reassembler::Key& addresses, bool reassembled);
  Reassembler reassembler_;
};

}  // namespace tftp::pcap
