// The capture writer: what it writes reads back through libpcap and the decoder as the same
// datagrams, at the frame numbers it gave out, in both formats and both link types; its
// checksums are right; what it cannot write is an error, not a broken capture.
#include "pcap/capture_writer.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "pcap/capture_reader.h"

namespace tftp::pcap {
namespace {

const Address kClient = Address::ipv4(0x7f000001, 40000);
const Address kServer = Address::ipv4(0x7f000001, 69);

std::vector<uint8_t> payload_of(size_t n, uint8_t salt = 0) {
  std::vector<uint8_t> p(n);
  for (size_t i = 0; i < n; ++i) p[i] = static_cast<uint8_t>(i * 13 + salt);
  return p;
}

struct Written {
  uint64_t number;
  Address from, to;
  std::vector<uint8_t> payload;
  Instant at;
};

// Reads every frame back and checks it holds what was written under its number.
void expect_reads_back(std::span<const uint8_t> capture, const std::vector<Written>& written, int linktype) {
  auto reader = CaptureReader::open_memory(capture);
  ASSERT_TRUE(reader) << reader.error().to_string();
  EXPECT_TRUE(reader->linktype() == linktype || (linktype == kLinkRaw && reader->linktype() == kLinkDltRaw12));
  Decoder d;
  size_t i = 0;
  for (;;) {
    auto f = reader->next();
    ASSERT_TRUE(f) << f.error().to_string();
    if (!*f) break;
    ASSERT_LT(i, written.size());
    EXPECT_EQ((*f)->number, written[i].number);
    EXPECT_EQ((*f)->at, written[i].at);
    auto dg = d.decode(**f);
    ASSERT_TRUE(dg && *dg) << (dg ? "fragment?" : dg.error().to_string());
    EXPECT_EQ((*dg)->from, written[i].from);
    EXPECT_EQ((*dg)->to, written[i].to);
    EXPECT_TRUE(std::ranges::equal((*dg)->payload, written[i].payload)) << "frame " << written[i].number;
    ++i;
  }
  EXPECT_EQ(i, written.size());
}

class CaptureWriterFormats : public ::testing::TestWithParam<std::tuple<CaptureFormat, int>> {};

TEST_P(CaptureWriterFormats, DatagramsReadBackAtTheirFrameNumbers) {
  const auto [format, linktype] = GetParam();
  CaptureWriter w(CaptureWriterOptions{.format = format, .linktype = linktype});
  const Address c6 = *Address::parse("[::1]:40001", 0), s6 = *Address::parse("[::1]:69", 0);
  std::vector<Written> written;
  Instant at = Instant{} + std::chrono::seconds(1'700'000'000);
  for (size_t n : {0, 1, 3, 516, 1468, 65468}) {  // odd sizes: pcapng pads, checksums end on a half word
    at += std::chrono::microseconds(1234567);
    const bool v6 = n % 2 == 1;
    const Address from = v6 ? c6 : kClient, to = v6 ? s6 : kServer;
    auto payload = payload_of(n, static_cast<uint8_t>(n));
    auto number = w.datagram(from, to, payload, at);
    ASSERT_TRUE(number) << number.error().to_string();
    written.push_back({*number, from, to, std::move(payload), at});
  }
  EXPECT_EQ(written.back().number, 6u);
  EXPECT_EQ(w.frames(), 6u);
  expect_reads_back(w.bytes(), written, linktype);
}

INSTANTIATE_TEST_SUITE_P(All, CaptureWriterFormats,
                         ::testing::Combine(::testing::Values(CaptureFormat::kPcap, CaptureFormat::kPcapng),
                                            ::testing::Values(kLinkRaw, kLinkEthernet)));

// Checksums verified independently: summing a header with its checksum gives 0xffff.
TEST(CaptureWriter, ChecksumsVerify) {
  CaptureWriter w(kLinkRaw);
  ASSERT_TRUE(w.datagram(kClient, kServer.with_port(1069), payload_of(33), Instant{}));
  const auto& b = w.bytes();
  const std::span<const uint8_t> ip = std::span(b).subspan(24 + 16);
  EXPECT_EQ(internet_checksum(ip.first(20)), 0);
  // UDP: the pseudo-header (addresses, protocol, length) plus the UDP header and data.
  Bytes pseudo;
  pseudo.add(ip.subspan(12, 8)).u8(0).u8(17).be16(static_cast<uint16_t>(ip.size() - 20)).add(ip.subspan(20));
  EXPECT_EQ(internet_checksum(pseudo), 0);
}

TEST(CaptureWriter, StreamsToAFileAndNamesWhatItCannotWrite) {
  const auto path = std::filesystem::temp_directory_path() / ("capture_writer_test_" + std::to_string(::getpid()) + ".pcapng");
  std::vector<Written> written;
  {
    auto w = CaptureWriter::open(path.string(), {.format = CaptureFormat::kPcapng});
    ASSERT_TRUE(w) << w.error().to_string();
    for (uint8_t i = 0; i < 200; ++i) {  // beyond the 64 KiB the writer holds: it writes out on the way
      auto payload = payload_of(1000, i);
      auto n = w->datagram(kServer, kClient, payload, Instant{} + std::chrono::milliseconds(i));
      ASSERT_TRUE(n);
      written.push_back({*n, kServer, kClient, std::move(payload), Instant{} + std::chrono::milliseconds(i)});
    }
    ASSERT_TRUE(w->close());
  }
  std::ifstream in(path, std::ios::binary);
  const std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)), {});
  std::filesystem::remove(path);
  expect_reads_back(bytes, written, kLinkRaw);

  auto bad = CaptureWriter::open("/nonexistent-dir/x.pcap");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().id, "tftp.pcap.write_failed");
  EXPECT_NE(bad.error().message.find("/nonexistent-dir/x.pcap"), std::string::npos);
}

TEST(CaptureWriter, RefusesWhatOneFrameCannotHold) {
  CaptureWriter w(kLinkRaw);
  const auto big = payload_of(65508);
  auto r = w.datagram(kClient, kServer, big, Instant{});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().id, "tftp.pcap.datagram_too_large");
  auto mixed = w.datagram(kClient, *Address::parse("[::1]:69", 0), payload_of(4), Instant{});
  ASSERT_FALSE(mixed);
  EXPECT_EQ(mixed.error().id, "tftp.pcap.address_family");
  CaptureWriter sll(kLinkLinuxSll);
  EXPECT_EQ(sll.datagram(kClient, kServer, payload_of(4), Instant{}).error().id, "tftp.pcap.unsupported_link_type");
  EXPECT_EQ(w.frames(), 0u);  // nothing half-written
  EXPECT_EQ(w.bytes().size(), 24u);
}

}  // namespace
}  // namespace tftp::pcap
