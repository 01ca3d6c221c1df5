// TFTP conversations in captures built in memory: recognition on any port, the TID change,
// servers answering from their listen port, the transfer log's counts, findings with frame
// numbers, extraction (netascii, hostile names, incomplete files) and the memory bound.
#include "pcap/analyzer.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <optional>

#include "pcap/capture_writer.h"
#include "pcap/capture_reader.h"
#include "pcap/extractor.h"
#include "proto/netascii.h"

namespace tftp::pcap {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

const Address kClient = Address::ipv4(0xc0a80001, 40000);
const Address kListen = Address::ipv4(0xc0a80002, 69);
const Address kTid = Address::ipv4(0xc0a80002, 50123);

std::vector<uint8_t> content_of(size_t n) {
  std::vector<uint8_t> p(n);
  for (size_t i = 0; i < n; ++i) p[i] = static_cast<uint8_t>('a' + i % 26);
  return p;
}

// A capture written as a conversation: each send() is one datagram (fragmented if asked).
struct Script {
  explicit Script(int linktype = kLinkEthernet) : linktype(linktype), cap(linktype) {}
  int linktype;
  CaptureWriter cap;
  Instant t = Instant{} + seconds(1'700'000'000);
  std::optional<size_t> fragment;

  void send(const Address& from, const Address& to, std::span<const uint8_t> payload, Duration after = milliseconds(1)) {
    t += after;
    const auto udp = udp_header_and_payload(from, to, payload);
    const auto packets = from.is_v6() ? ipv6_packets(from, to, udp, fragment) : ipv4_packets(from, to, udp, ++ip_id, fragment);
    for (const auto& ip : packets) cap.frame(link_frame(linktype, ip), t);
  }
  void rrq(const Address& from, const Address& to, std::string_view file, std::string_view mode = "octet",
           std::vector<proto::OwnedOption> options = {}) {
    request(proto::Opcode::kRrq, from, to, file, mode, options);
  }
  void request(proto::Opcode op, const Address& from, const Address& to, std::string_view file, std::string_view mode,
               const std::vector<proto::OwnedOption>& options) {
    std::vector<uint8_t> b(1024);
    const auto views = proto::views_of(options);
    b.resize(*proto::write_request(b, op, file, mode, views));
    send(from, to, b);
  }
  void data(const Address& from, const Address& to, uint16_t block, std::span<const uint8_t> payload) {
    std::vector<uint8_t> b(payload.size() + 4);
    b.resize(*proto::write_data(b, block, payload));
    send(from, to, b);
  }
  void ack(const Address& from, const Address& to, uint16_t block) {
    std::vector<uint8_t> b(4);
    proto::write_ack(b, block);
    send(from, to, b);
  }
  void error(const Address& from, const Address& to, uint16_t code, std::string_view msg) {
    std::vector<uint8_t> b(msg.size() + 5);
    b.resize(*proto::write_error(b, code, msg));
    send(from, to, b);
  }
  void oack(const Address& from, const Address& to, const std::vector<proto::OwnedOption>& options) {
    std::vector<uint8_t> b(512);
    const auto views = proto::views_of(options);
    b.resize(*proto::write_oack(b, views));
    send(from, to, b);
  }
  // The server at `tid` sends `file` block by block, each acknowledged.
  void serve(const Address& client, const Address& tid, std::span<const uint8_t> file, size_t blksize = 512) {
    for (size_t block = 1, at = 0;; ++block, at += blksize) {
      const size_t n = std::min(blksize, file.size() - at);
      data(tid, client, static_cast<uint16_t>(block), file.subspan(at, n));
      ack(client, tid, static_cast<uint16_t>(block));
      if (n < blksize) break;
    }
  }
  uint16_t ip_id = 0;
};

struct Collected : TransferListener {
  std::vector<TransferLog> logs;
  std::map<size_t, std::vector<uint8_t>> content;
  void on_content(const TransferLog& t, std::span<const uint8_t> block) override {
    content[t.id].insert(content[t.id].end(), block.begin(), block.end());
  }
  void on_end(TransferLog&& t) override { logs.push_back(std::move(t)); }
  const FindingLog* finding(size_t transfer, std::string_view id) const {
    for (const auto& f : logs.at(transfer).findings) {
      if (f.finding.id == id) return &f;
    }
    return nullptr;
  }
};

struct Analysis {
  Collected out;
  CaptureStats stats;
};

Analysis analyze(Script& s, std::vector<uint16_t> ports = {}, AnalyzerLimits limits = {},
                 TransferListener* also = nullptr) {
  Analysis a;
  struct Tee : TransferListener {
    Collected* c;
    TransferListener* other;
    void on_content(const TransferLog& t, std::span<const uint8_t> b) override {
      c->on_content(t, b);
      if (other) other->on_content(t, b);
    }
    void on_end(TransferLog&& t) override {
      if (other) {
        TransferLog copy = t;
        other->on_end(std::move(copy));
      }
      c->on_end(std::move(t));
    }
  } tee;
  tee.c = &a.out;
  tee.other = also;
  auto reader = CaptureReader::open_memory(s.cap.bytes());
  EXPECT_TRUE(reader);
  Analyzer analyzer(tee, std::move(ports), limits);
  EXPECT_TRUE(analyze_all(*reader, analyzer));
  a.stats = analyzer.stats();
  return a;
}

TEST(CaptureAnalysis, ReadIsFollowedAcrossTheTidChange) {
  Script s;
  const auto file = content_of(1300);
  s.rrq(kClient, kListen, "boot/pxelinux.0");
  s.serve(kClient, kTid, file);
  auto a = analyze(s);
  ASSERT_EQ(a.out.logs.size(), 1u);
  const auto& t = a.out.logs[0];
  EXPECT_EQ(t.outcome, Outcome::kComplete);
  EXPECT_EQ(t.filename, "boot/pxelinux.0");
  EXPECT_EQ(t.mode, "octet");
  EXPECT_EQ(t.client, kClient);
  EXPECT_EQ(t.server, kTid);
  EXPECT_EQ(t.listen, kListen);
  EXPECT_EQ(t.bytes, 1300u);
  EXPECT_EQ(t.blocks_sent, 3u);
  EXPECT_EQ(t.blocks_acked, 3u);
  EXPECT_EQ(t.retransmissions, 0u);
  EXPECT_EQ(t.duplicates, 0u);
  EXPECT_EQ(t.first_frame, 1u);
  EXPECT_EQ(t.last_frame, 7u);
  EXPECT_TRUE(t.content_complete);
  EXPECT_TRUE(t.findings.empty()) << t.findings[0].finding.message;
  EXPECT_EQ(a.out.content[1], file);
  EXPECT_EQ(a.stats.tftp_datagrams, 7u);
  EXPECT_EQ(a.stats.not_tftp, 0u);
}

TEST(CaptureAnalysis, EveryLinkTypeAndIpv6) {
  for (int lt : {kLinkEthernet, kLinkLinuxSll, kLinkLinuxSll2, kLinkNull, kLinkLoop, kLinkRaw}) {
    for (bool ipv6 : {false, true}) {
      Script s(lt);
      const Address c = ipv6 ? *Address::parse("[2001:db8::1]", 5555) : kClient;
      const Address l = ipv6 ? *Address::parse("[2001:db8::2]", 69) : kListen;
      const Address tid = l.with_port(3333);
      s.rrq(c, l, "f");
      s.serve(c, tid, content_of(700));
      auto a = analyze(s);
      ASSERT_EQ(a.out.logs.size(), 1u) << "link type " << lt;
      EXPECT_EQ(a.out.logs[0].bytes, 700u);
      EXPECT_EQ(a.out.logs[0].outcome, Outcome::kComplete);
    }
  }
}

TEST(CaptureAnalysis, FragmentedLargeBlocksAreReassembled) {
  Script s;
  s.fragment = 1480;
  const auto file = content_of(20000);
  s.rrq(kClient, kListen, "big.bin", "octet", {{"blksize", "8192"}});
  s.oack(kTid, kClient, {{"blksize", "8192"}});
  s.ack(kClient, kTid, 0);
  s.serve(kClient, kTid, file, 8192);
  auto a = analyze(s);
  ASSERT_EQ(a.out.logs.size(), 1u);
  const auto& t = a.out.logs[0];
  EXPECT_EQ(t.outcome, Outcome::kComplete);
  EXPECT_TRUE(t.oack);
  EXPECT_EQ(t.blksize, 8192u);
  EXPECT_EQ(t.bytes, 20000u);
  EXPECT_EQ(t.blocks_sent, 3u);
  EXPECT_EQ(a.out.content[1], file);
}

TEST(CaptureAnalysis, ServerAnsweringFromItsListenPortIsFollowed) {
  Script s;
  s.rrq(kClient, kListen, "a");
  s.serve(kClient, kListen, content_of(600));
  s.rrq(kClient, kListen, "b");  // the same ports again: a new transfer
  s.serve(kClient, kListen, content_of(100));
  auto a = analyze(s);
  ASSERT_EQ(a.out.logs.size(), 2u);
  EXPECT_EQ(a.out.logs[0].filename, "a");
  EXPECT_EQ(a.out.logs[0].bytes, 600u);
  EXPECT_EQ(a.out.logs[1].filename, "b");
  EXPECT_EQ(a.out.logs[1].bytes, 100u);
  EXPECT_NE(a.out.finding(0, "tftp.note.reply_from_listen_port"), nullptr);
}

TEST(CaptureAnalysis, RequestOnAnyPortIsRecognisedByShapeAndConfirmedByTheAnswer) {
  Script s;
  const Address listen = kListen.with_port(6969);
  s.rrq(kClient, listen, "x.txt", "NetAscii");
  s.serve(kClient, kTid, content_of(10));
  // Request-shaped but never answered, on another port: not a transfer.
  s.rrq(kClient.with_port(1234), kListen.with_port(7000), "y");
  // Other UDP: counted, not TFTP.
  const uint8_t dns[] = {0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0};
  s.send(kClient.with_port(5353), kListen.with_port(53), dns);
  auto a = analyze(s);
  ASSERT_EQ(a.out.logs.size(), 1u);
  EXPECT_EQ(a.out.logs[0].listen, listen);
  EXPECT_EQ(a.stats.requests_unanswered, 1u);
  EXPECT_EQ(a.stats.not_tftp, 2u);
}

TEST(CaptureAnalysis, AnUnknownModeNeedsPort69OrPort) {
  for (bool forced : {false, true}) {
    Script s;
    const Address listen = kListen.with_port(1069);
    s.rrq(kClient, listen, "f", "binary");
    s.error(kTid, kClient, 4, "bad mode");
    auto a = analyze(s, forced ? std::vector<uint16_t>{1069} : std::vector<uint16_t>{});
    ASSERT_EQ(a.out.logs.size(), forced ? 1u : 0u);
    if (forced) {
      EXPECT_EQ(a.out.logs[0].outcome, Outcome::kError);
      ASSERT_TRUE(a.out.logs[0].error);
      EXPECT_EQ(a.out.logs[0].error->code, 4);
      EXPECT_TRUE(a.out.logs[0].error->from_server);
    }
  }
}

TEST(CaptureAnalysis, UnansweredRequestToPort69IsLogged) {
  Script s;
  s.rrq(kClient, kListen, "missing");
  s.rrq(kClient, kListen, "missing");
  s.t += seconds(1);
  auto a = analyze(s);
  ASSERT_EQ(a.out.logs.size(), 1u);
  EXPECT_EQ(a.out.logs[0].outcome, Outcome::kIncomplete);
  EXPECT_EQ(a.out.logs[0].reason, "no answer from the server");
  EXPECT_EQ(a.out.logs[0].request_retransmissions, 1u);
}

TEST(CaptureAnalysis, WriteWithOptionsCountsBlocksFromTheClient) {
  Script s;
  const auto file = content_of(1000);
  s.request(proto::Opcode::kWrq, kClient, kListen, "up.bin", "octet", {{"blksize", "600"}, {"tsize", "1000"}});
  s.oack(kTid, kClient, {{"blksize", "600"}, {"tsize", "1000"}});
  s.data(kClient, kTid, 1, std::span<const uint8_t>(file).first(600));
  s.ack(kTid, kClient, 1);
  s.data(kClient, kTid, 2, std::span<const uint8_t>(file).subspan(600));
  s.ack(kTid, kClient, 2);
  auto a = analyze(s);
  ASSERT_EQ(a.out.logs.size(), 1u);
  const auto& t = a.out.logs[0];
  EXPECT_EQ(t.opcode, proto::Opcode::kWrq);
  EXPECT_EQ(t.outcome, Outcome::kComplete);
  EXPECT_EQ(t.requested.size(), 2u);
  EXPECT_EQ(t.negotiated.size(), 2u);
  EXPECT_EQ(t.bytes, 1000u);
  EXPECT_EQ(t.blocks_sent, 2u);
  EXPECT_EQ(t.blocks_acked, 2u);
  EXPECT_EQ(a.out.content[1], file);
}

TEST(CaptureAnalysis, RetransmissionsAndDuplicatesAreCounted) {
  Script s;
  const auto file = content_of(700);
  s.rrq(kClient, kListen, "r");
  s.data(kTid, kClient, 1, std::span<const uint8_t>(file).first(512));
  s.t += seconds(1);
  s.data(kTid, kClient, 1, std::span<const uint8_t>(file).first(512));  // timer-driven resend
  s.ack(kClient, kTid, 1);
  s.ack(kClient, kTid, 1);  // duplicate
  s.data(kTid, kClient, 2, std::span<const uint8_t>(file).subspan(512));
  s.ack(kClient, kTid, 2);
  auto a = analyze(s);
  ASSERT_EQ(a.out.logs.size(), 1u);
  EXPECT_EQ(a.out.logs[0].retransmissions, 1u);
  EXPECT_EQ(a.out.logs[0].duplicates, 1u);
  EXPECT_EQ(a.out.logs[0].bytes, 700u);
  EXPECT_EQ(a.out.content[1], file);
}

TEST(CaptureAnalysis, AMustFindingNamesItsFrames) {
  Script s;
  s.rrq(kClient, kListen, "f");  // frame 1, no options
  s.oack(kTid, kClient, {{"blksize", "1024"}});  // frame 2: an OACK to a request without options
  auto a = analyze(s);
  ASSERT_EQ(a.out.logs.size(), 1u);
  const auto* f = a.out.finding(0, "tftp.rule.oack_without_options");
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->finding.level, check::Level::kMust);
  EXPECT_FALSE(f->frames.empty());
  EXPECT_EQ(f->frames.back(), 2u);
}

TEST(CaptureAnalysis, LiveTransfersAreBounded) {
  Script s;
  AnalyzerLimits limits;
  limits.live_transfers = 4;
  for (uint16_t i = 0; i < 20; ++i) {
    s.rrq(kClient.with_port(static_cast<uint16_t>(1000 + i)), kListen, "f");
    s.data(kTid.with_port(static_cast<uint16_t>(2000 + i)), kClient.with_port(static_cast<uint16_t>(1000 + i)), 1,
           content_of(512));
  }
  auto a = analyze(s, {}, limits);
  EXPECT_EQ(a.out.logs.size(), 20u);
  EXPECT_EQ(a.stats.transfers_evicted, 16u);
  EXPECT_EQ(a.stats.peak_live_transfers, 4u);
  EXPECT_NE(a.out.logs[0].reason.find("evicted"), std::string::npos);
}

TEST(CaptureAnalysis, EndedTransfersMakeRoomWithoutCountingAsEvicted) {
  Script s;
  AnalyzerLimits limits;
  limits.live_transfers = 4;
  for (uint16_t i = 0; i < 20; ++i) {  // each complete, lingering for late datagrams
    s.rrq(kClient.with_port(static_cast<uint16_t>(1000 + i)), kListen, "f");
    s.serve(kClient.with_port(static_cast<uint16_t>(1000 + i)), kTid.with_port(static_cast<uint16_t>(2000 + i)), content_of(3));
  }
  auto a = analyze(s, {}, limits);
  ASSERT_EQ(a.out.logs.size(), 20u);
  EXPECT_EQ(a.stats.transfers_evicted, 0u);
  for (const auto& t : a.out.logs) EXPECT_EQ(t.outcome, Outcome::kComplete);
}

TEST(CaptureAnalysis, SilentTransfersExpireByCaptureTime) {
  Script s;
  s.rrq(kClient, kListen, "f");
  s.data(kTid, kClient, 1, content_of(512));
  s.t += seconds(200);
  s.rrq(kClient.with_port(1), kListen, "g");
  s.serve(kClient.with_port(1), kTid.with_port(2), content_of(3));
  auto a = analyze(s);
  ASSERT_EQ(a.out.logs.size(), 2u);
  EXPECT_EQ(a.out.logs[0].filename, "f");  // ended by the sweep, before the capture ended
  EXPECT_EQ(a.out.logs[0].outcome, Outcome::kIncomplete);
  EXPECT_NE(a.out.logs[0].reason.find("silent"), std::string::npos);
}

// One long transfer: the state held stays under the per-transfer bound however many blocks.
TEST(CaptureAnalysis, ALongTransferHoldsBoundedMemory) {
  struct Probe : TransferListener {
    void on_end(TransferLog&&) override {}
  } sink;
  Analyzer analyzer(sink);
  Decoder unused;
  size_t peak = 0;
  uint64_t number = 0;
  Instant t = Instant{} + seconds(100);
  auto push = [&](const Address& from, const Address& to, std::span<const uint8_t> payload) {
    const auto ip = ipv4_packets(from, to, udp_header_and_payload(from, to, payload))[0];
    Frame f{++number, t += milliseconds(1), static_cast<uint32_t>(ip.size()), static_cast<uint32_t>(ip.size()), kLinkRaw, ip};
    analyzer.add(f);
  };
  std::vector<uint8_t> b(600);
  b.resize(*proto::write_request(b, proto::Opcode::kRrq, "big", "octet", {}));
  push(kClient, kListen, b);
  const auto block = content_of(512);
  for (uint32_t i = 1; i <= 40000; ++i) {
    std::vector<uint8_t> d(516);
    proto::write_data(d, static_cast<uint16_t>(i), block);
    push(kTid, kClient, d);
    std::vector<uint8_t> ack(4);
    proto::write_ack(ack, static_cast<uint16_t>(i));
    push(kClient, kTid, ack);
    if (i % 5000 == 0) peak = std::max(peak, analyzer.retained_bytes());
  }
  std::printf("retained after 80,000 datagrams of one transfer: %zu bytes\n", peak);
  EXPECT_LT(peak, size_t{1} << 20);  // the per-transfer bound stated in analyzer.h
  EXPECT_EQ(analyzer.live_transfers(), 1u);
}

// An extractor into a fresh temporary directory (removed at the end), fed by the analyser:
// the name each transfer's file got, or the error.
struct ExtractSink : TransferListener {
  explicit ExtractSink(const std::string& name)
      : dir(std::filesystem::temp_directory_path() / (name + "-" + std::to_string(::getpid()))) {
    std::filesystem::remove_all(dir);
    auto opened = Extractor::open(dir.string());
    if (!opened) ADD_FAILURE() << opened.error().to_string();
    else extractor.emplace(std::move(*opened));
  }
  ~ExtractSink() override { std::filesystem::remove_all(dir); }
  void on_content(const TransferLog& t, std::span<const uint8_t> b) override { extractor->on_content(t, b); }
  void on_end(TransferLog&& t) override {
    auto n = extractor->on_end(t);
    names.push_back(n ? *n : "error: " + n.error().to_string());
  }
  std::string read(const std::string& name) const {
    std::ifstream in(dir / name, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
  }
  std::filesystem::path dir;
  std::optional<Extractor> extractor;
  std::vector<std::string> names;
};

TEST(Extraction, NetasciiIsDecodedAndNamesAreSafe) {
  ExtractSink sink("tftpspec-extract");
  ASSERT_TRUE(sink.extractor);
  const auto& dir = sink.dir;
  Script s;
  const std::string text = "line one\nline two\r\nbare\rcr\n";
  const auto wire = proto::netascii_encode(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(text.data()), text.size()));
  s.rrq(kClient, kListen, "../../etc/passwd", "netascii");
  s.serve(kClient, kTid, wire);
  s.rrq(kClient.with_port(2), kListen, "C:\\boot\\..\\passwd", "octet");  // the same name after sanitising
  s.serve(kClient.with_port(2), kTid.with_port(3), content_of(5));
  s.rrq(kClient.with_port(4), kListen, "..", "octet");
  s.serve(kClient.with_port(4), kTid.with_port(5), content_of(0));
  s.rrq(kClient.with_port(6), kListen, "cut\x01name", "octet");
  s.data(kTid.with_port(7), kClient.with_port(6), 1, content_of(512));  // then nothing: incomplete
  analyze(s, {}, {}, &sink);

  ASSERT_EQ(sink.names.size(), 4u);
  EXPECT_EQ(sink.names[0], "0001-passwd");
  EXPECT_EQ(sink.names[1], "0002-passwd");
  EXPECT_EQ(sink.names[2], "0003-unnamed");
  EXPECT_EQ(sink.names[3], "0004-cut_name.incomplete");
  EXPECT_EQ(sink.read("0001-passwd"), text);
  EXPECT_EQ(sink.read("0002-passwd").size(), 5u);
  EXPECT_TRUE(std::filesystem::exists(dir / "0003-unnamed"));
  EXPECT_EQ(sink.read("0004-cut_name.incomplete").size(), 512u);
  size_t files = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    (void)e;
    ++files;
  }
  EXPECT_EQ(files, 4u);  // nothing else, nowhere else
}

// Content is buffered and written in pieces: files larger than the buffer, and one the size
// of the buffer exactly, come out whole.
TEST(Extraction, LargeFilesAreWrittenWhole) {
  ExtractSink sink("tftpspec-extract-large");
  ASSERT_TRUE(sink.extractor);
  Script s;
  const auto big = content_of(100'000);
  const auto exact = content_of(32 << 10);
  s.rrq(kClient, kListen, "big", "octet");
  s.serve(kClient, kTid, big);
  s.rrq(kClient.with_port(2), kListen, "exact", "octet");
  s.serve(kClient.with_port(2), kTid.with_port(3), exact);
  analyze(s, {}, {}, &sink);
  ASSERT_EQ(sink.names, (std::vector<std::string>{"0001-big", "0002-exact"}));
  EXPECT_EQ(sink.read("0001-big"), std::string(big.begin(), big.end()));
  EXPECT_EQ(sink.read("0002-exact"), std::string(exact.begin(), exact.end()));
}

TEST(Extraction, SafeNameKeepsOnlyTheLastComponent) {
  EXPECT_EQ(safe_name("/etc/shadow"), "shadow");
  EXPECT_EQ(safe_name("a/b/"), "unnamed");
  EXPECT_EQ(safe_name("...hidden"), "hidden");
  EXPECT_EQ(safe_name("pxelinux.cfg\\default"), "default");
  EXPECT_EQ(safe_name("sp ace$"), "sp_ace_");
  EXPECT_EQ(safe_name(std::string(300, 'x')).size(), 128u);
}

}  // namespace
}  // namespace tftp::pcap
