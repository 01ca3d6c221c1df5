// Frames of every supported link type, built in memory, down to their UDP datagram; and what
// the decoder says of frames it cannot use (cut, garbage, not UDP), without crashing.
#include "pcap/decode.h"

#include <gtest/gtest.h>

#include <random>

#include "pcap/capture_reader.h"
#include "pcap/capture_writer.h"

namespace tftp::pcap {
namespace {

const Address kClient = Address::ipv4(0x0a000001, 40000);
const Address kServer = Address::ipv4(0x0a000002, 69);

Address v6(const char* text, uint16_t port) { return *Address::parse(std::string("[") + text + "]", port); }

std::vector<uint8_t> payload_of(size_t n) {
  std::vector<uint8_t> p(n);
  for (size_t i = 0; i < n; ++i) p[i] = static_cast<uint8_t>(i * 7);
  return p;
}

Frame frame_of(int linktype, std::span<const uint8_t> bytes, uint64_t number = 1, Instant at = Instant{}) {
  return Frame{number, at, static_cast<uint32_t>(bytes.size()), static_cast<uint32_t>(bytes.size()), linktype, bytes};
}

// Decodes one frame that must hold a whole datagram.
Datagram must_decode(Decoder& d, const Frame& f) {
  auto r = d.decode(f);
  EXPECT_TRUE(r.has_value()) << (r ? "" : r.error().to_string());
  EXPECT_TRUE(r && r->has_value());
  return r && *r ? **r : Datagram{};
}

TEST(DecodeFrame, EveryLinkTypeCarriesIpv4AndIpv6) {
  const auto payload = payload_of(30);
  const Address c6 = v6("2001:db8::1", 40000), s6 = v6("2001:db8::2", 69);
  const auto p4 = ipv4_packets(kClient, kServer, udp_header_and_payload(kClient, kServer, payload))[0];
  const auto p6 = ipv6_packets(c6, s6, udp_header_and_payload(c6, s6, payload))[0];
  for (int lt : {kLinkEthernet, kLinkLinuxSll, kLinkLinuxSll2, kLinkNull, kLinkLoop, kLinkRaw, kLinkDltRaw12, kLinkDltRaw14}) {
    for (bool big_endian : {false, true}) {
      Decoder d;
      const auto f4 = link_frame(lt, p4, {}, big_endian);
      const auto d4 = must_decode(d, frame_of(lt, f4));
      EXPECT_EQ(d4.from, kClient) << "link type " << lt;
      EXPECT_EQ(d4.to, kServer);
      EXPECT_EQ(std::vector<uint8_t>(d4.payload.begin(), d4.payload.end()), payload);
      const auto f6 = link_frame(lt, p6, {}, big_endian);
      const auto d6 = must_decode(d, frame_of(lt, f6));
      EXPECT_EQ(d6.from, c6) << "link type " << lt;
      EXPECT_EQ(d6.to, s6);
      EXPECT_EQ(d6.payload.size(), payload.size());
    }
  }
  Decoder d;
  EXPECT_EQ(must_decode(d, frame_of(kLinkIpv4, p4)).to, kServer);
  EXPECT_EQ(must_decode(d, frame_of(kLinkIpv6, p6)).to, s6);
  auto wrong = d.decode(frame_of(kLinkIpv6, p4));
  ASSERT_FALSE(wrong);
  EXPECT_EQ(wrong.error().id(), "tftp.pcap.bad_ip_version");
}

TEST(DecodeFrame, VlanAndQinQTagsAreSkipped) {
  const auto p4 = ipv4_packets(kClient, kServer, udp_header_and_payload(kClient, kServer, payload_of(4)))[0];
  Decoder d;
  const uint16_t one[] = {100};
  const uint16_t two[] = {200, 100};
  EXPECT_EQ(must_decode(d, frame_of(kLinkEthernet, link_frame(kLinkEthernet, p4, one))).from, kClient);
  EXPECT_EQ(must_decode(d, frame_of(kLinkEthernet, link_frame(kLinkEthernet, p4, two))).from, kClient);
}

TEST(DecodeFrame, Ipv4OptionsAndEthernetPaddingAreSkipped) {
  const uint8_t options[] = {1, 1, 1, 0};  // NOP NOP NOP EOL
  auto p4 = ipv4_packets(kClient, kServer, udp_header_and_payload(kClient, kServer, payload_of(2)), 1, std::nullopt, 17,
                         options)[0];
  auto frame = link_frame(kLinkEthernet, p4);
  frame.resize(60, 0);  // a short Ethernet frame is padded to 60 bytes
  Decoder d;
  EXPECT_EQ(must_decode(d, frame_of(kLinkEthernet, frame)).payload.size(), 2u);
}

TEST(DecodeFrame, Ipv6ExtensionHeadersAreSkipped) {
  const Address c6 = v6("::1", 5000), s6 = v6("::1", 69);
  const auto p6 = ipv6_packets(c6, s6, udp_header_and_payload(c6, s6, payload_of(9)), std::nullopt, 7, true)[0];
  Decoder d;
  EXPECT_EQ(must_decode(d, frame_of(kLinkRaw, p6)).payload.size(), 9u);
}

TEST(DecodeFrame, Ipv4FragmentsAreReassembledInAnyOrder) {
  const auto payload = payload_of(4000);
  const auto udp = udp_header_and_payload(kClient, kServer, payload);
  auto fragments = ipv4_packets(kClient, kServer, udp, 42, 1480);
  ASSERT_EQ(fragments.size(), 3u);
  std::swap(fragments[0], fragments[2]);
  Decoder d;
  for (size_t i = 0; i + 1 < fragments.size(); ++i) {
    auto r = d.decode(frame_of(kLinkRaw, fragments[i]));
    ASSERT_TRUE(r) << r.error().to_string();
    EXPECT_FALSE(r->has_value());
  }
  const auto whole = must_decode(d, frame_of(kLinkRaw, fragments.back()));
  EXPECT_TRUE(whole.reassembled);
  EXPECT_EQ(std::vector<uint8_t>(whole.payload.begin(), whole.payload.end()), payload);
}

TEST(DecodeFrame, Ipv6FragmentsAreReassembled) {
  const Address c6 = v6("fe80::1", 5000), s6 = v6("fe80::2", 69);
  const auto payload = payload_of(3000);
  auto fragments = ipv6_packets(c6, s6, udp_header_and_payload(c6, s6, payload), 1232, 99);
  ASSERT_EQ(fragments.size(), 3u);
  Decoder d;
  EXPECT_FALSE(d.decode(frame_of(kLinkRaw, fragments[0]))->has_value());
  EXPECT_FALSE(d.decode(frame_of(kLinkRaw, fragments[1]))->has_value());
  const auto whole = must_decode(d, frame_of(kLinkRaw, fragments[2]));
  EXPECT_EQ(whole.payload.size(), payload.size());
}

TEST(DecodeFrame, FragmentTableIsBoundedAndTimesOut) {
  ReassemblyLimits limits;
  limits.datagrams = 4;
  Decoder d(limits);
  const auto udp = udp_header_and_payload(kClient, kServer, payload_of(2000));
  for (uint16_t id = 0; id < 10; ++id) {
    const auto first = ipv4_packets(kClient, kServer, udp, id, 1480)[0];
    EXPECT_FALSE(d.decode(frame_of(kLinkRaw, first))->has_value());
  }
  EXPECT_EQ(d.take_dropped().table_full, 6u);
  const auto late = ipv4_packets(kClient, kServer, udp, 99, 1480)[0];
  EXPECT_FALSE(d.decode(frame_of(kLinkRaw, late, 2, Instant{} + std::chrono::seconds(31)))->has_value());
  EXPECT_EQ(d.take_dropped().timeout, 4u);
}

TEST(DecodeFrame, OverlappingFragmentsDropTheDatagram) {
  const auto udp = udp_header_and_payload(kClient, kServer, payload_of(2000));
  auto a = ipv4_packets(kClient, kServer, udp, 5, 1480);
  auto b = ipv4_packets(kClient, kServer, udp, 5, 1000);  // first fragment overlaps a's
  Decoder d;
  EXPECT_FALSE(d.decode(frame_of(kLinkRaw, a[0]))->has_value());
  auto r = d.decode(frame_of(kLinkRaw, b[1]));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().id(), "tftp.pcap.fragment_overlap");
}

TEST(DecodeFrame, SnaplenCutIsNamed) {
  auto p4 = link_frame(kLinkEthernet, ipv4_packets(kClient, kServer, udp_header_and_payload(kClient, kServer, payload_of(600)))[0]);
  Frame f = frame_of(kLinkEthernet, std::span<const uint8_t>(p4).first(100));
  f.len = static_cast<uint32_t>(p4.size());
  Decoder d;
  auto r = d.decode(f);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().id(), "tftp.pcap.snaplen_cut");
  f.len = f.caplen;  // the same bytes uncut: the IP header lies
  EXPECT_EQ(d.decode(f).error().id(), "tftp.pcap.ip_length_beyond_frame");
}

TEST(DecodeFrame, NotUdpAndNotIpAreSkippedNotMalformed) {
  Decoder d;
  const auto tcp = link_frame(kLinkEthernet, ipv4_packets(kClient, kServer, payload_of(40), 1, std::nullopt, 6)[0]);
  auto r = d.decode(frame_of(kLinkEthernet, tcp));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().id(), "tftp.pcap.not_udp");
  EXPECT_TRUE(r.error().skipped());
  Bytes arp;
  arp.zeros(12).be16(0x0806).zeros(28);
  r = d.decode(frame_of(kLinkEthernet, arp));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().id(), "tftp.pcap.not_ip");
  EXPECT_EQ(d.decode(frame_of(147, arp)).error().id(), "tftp.pcap.unsupported_link_type");
}

// Random bytes and every prefix of a valid frame, on every link type: errors, never a crash
// (run under ASan in the asan preset).
TEST(DecodeFrame, GarbageAndPrefixesNeverCrash) {
  std::mt19937 rng(1);
  const auto p4 = ipv4_packets(kClient, kServer, udp_header_and_payload(kClient, kServer, payload_of(64)), 3, 32);
  for (int lt : {kLinkEthernet, kLinkLinuxSll, kLinkLinuxSll2, kLinkNull, kLinkLoop, kLinkRaw, kLinkIpv4, kLinkIpv6}) {
    Decoder d;
    for (int i = 0; i < 2000; ++i) {
      std::vector<uint8_t> junk(rng() % 120);
      for (auto& b : junk) b = static_cast<uint8_t>(rng());
      if (!junk.empty() && i % 2 == 0) junk[0] = static_cast<uint8_t>(i % 4 == 0 ? 0x45 : 0x60);
      (void)d.decode(frame_of(lt, junk));
    }
    const auto whole = link_frame(lt, p4[0]);
    for (size_t n = 0; n <= whole.size(); ++n) (void)d.decode(frame_of(lt, std::span<const uint8_t>(whole).first(n)));
  }
}

TEST(CaptureReader, ReadsFramesThenReportsATruncatedFile) {
  CaptureWriter b(kLinkRaw);
  const auto p4 = ipv4_packets(kClient, kServer, udp_header_and_payload(kClient, kServer, payload_of(10)))[0];
  b.frame(p4, Instant{} + std::chrono::seconds(5));
  b.frame(p4, Instant{} + std::chrono::seconds(6));
  const std::vector<uint8_t> bytes(b.bytes().begin(), b.bytes().end() - 7);  // the last record ends early
  auto reader = CaptureReader::open_memory(bytes);
  ASSERT_TRUE(reader) << reader.error().to_string();
  // libpcap reports LINKTYPE_RAW (101) as the platform's DLT_RAW (12 on Linux).
  EXPECT_TRUE(reader->linktype() == kLinkRaw || reader->linktype() == kLinkDltRaw12) << reader->linktype();
  auto first = reader->next();
  ASSERT_TRUE(first && *first);
  EXPECT_EQ((*first)->number, 1u);
  EXPECT_EQ((*first)->at, Instant{} + std::chrono::seconds(5));
  auto second = reader->next();
  ASSERT_FALSE(second);
  EXPECT_EQ(second.error().id, "tftp.pcap.truncated_file");
}

// pcapng (what Wireshark and dumpcap write) through the same reader: a section header, an
// interface description and one enhanced packet block, microsecond timestamps.
TEST(CaptureReader, ReadsPcapng) {
  const auto ip = ipv4_packets(kClient, kServer, udp_header_and_payload(kClient, kServer, payload_of(10)))[0];
  const auto frame = link_frame(kLinkEthernet, ip);
  const uint64_t us = 1'700'000'000'000'123ull;
  const size_t padded = (frame.size() + 3) / 4 * 4;
  Bytes b;
  b.le32(0x0a0d0d0a).le32(28).le32(0x1a2b3c4d).le16(1).le16(0).le32(0xffffffff).le32(0xffffffff).le32(28);
  b.le32(1).le32(20).le16(kLinkEthernet).le16(0).le32(65535).le32(20);
  b.le32(6).le32(static_cast<uint32_t>(32 + padded)).le32(0).le32(static_cast<uint32_t>(us >> 32)).le32(static_cast<uint32_t>(us));
  b.le32(static_cast<uint32_t>(frame.size())).le32(static_cast<uint32_t>(frame.size())).add(frame).zeros(padded - frame.size());
  b.le32(static_cast<uint32_t>(32 + padded));
  auto reader = CaptureReader::open_memory(b);
  ASSERT_TRUE(reader) << reader.error().to_string();
  auto f = reader->next();
  ASSERT_TRUE(f && *f);
  EXPECT_EQ((*f)->at, Instant{} + std::chrono::microseconds(us));
  Decoder d;
  EXPECT_EQ(must_decode(d, **f).to, kServer);
  auto end = reader->next();
  ASSERT_TRUE(end);
  EXPECT_FALSE(end->has_value());
}

TEST(CaptureReader, GarbageIsNotACapture) {
  const std::vector<uint8_t> junk(100, 0x5a);
  auto reader = CaptureReader::open_memory(junk);
  ASSERT_FALSE(reader);
  EXPECT_EQ(reader.error().id, "tftp.pcap.open_failed");
  EXPECT_FALSE(CaptureReader::open("/nonexistent/x.pcap"));
}

}  // namespace
}  // namespace tftp::pcap
