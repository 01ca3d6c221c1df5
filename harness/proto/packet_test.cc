// The wire codec: golden bytes from real captures, every parse error at its offset,
// strict vs lenient, serialisation bounds, and parse/serialise round trips.
#include "proto/packet.h"

#include <gtest/gtest.h>

#include <array>
#include <cstring>
#include <functional>
#include <ostream>
#include <random>
#include <set>
#include <string>
#include <vector>

namespace tftp::proto {

// Found by ADL for gtest's failure messages; internal linkage keeps it private to this file.
static void PrintTo(const ParseError& e, std::ostream* os) { *os << e.to_string(); }

namespace {

// Builds datagrams without the pitfalls of "\x00..." escapes in string literals.
class Wire {
 public:
  Wire& u16(uint16_t v) {
    bytes_.push_back(static_cast<uint8_t>(v >> 8));
    bytes_.push_back(static_cast<uint8_t>(v & 0xff));
    return *this;
  }
  Wire& raw(std::string_view s) {
    bytes_.insert(bytes_.end(), s.begin(), s.end());
    return *this;
  }
  Wire& str(std::string_view s) { return raw(s).nul(); }
  Wire& nul() {
    bytes_.push_back(0);
    return *this;
  }
  Wire& fill(size_t n, uint8_t c) {
    bytes_.insert(bytes_.end(), n, c);
    return *this;
  }
  const std::vector<uint8_t>& bytes() const { return bytes_; }
  operator std::span<const uint8_t>() const { return bytes_; }

 private:
  std::vector<uint8_t> bytes_;
};

std::vector<uint8_t> serialise(const Packet& p) {
  std::vector<uint8_t> buf(kMaxDatagramSize + 1024);
  auto n = write_packet(buf, p);
  EXPECT_TRUE(n.has_value()) << describe(p);
  buf.resize(n.value_or(0));
  return buf;
}

ParseError error_of(std::span<const uint8_t> bytes, Strictness s = Strictness::kStrict) {
  auto r = parse(bytes, s);
  if (r) {
    ADD_FAILURE() << "parsed as " << describe(*r);
    return {ParseErrc::kEmpty, ~size_t{0}};
  }
  return r.error();
}

// ---- Golden bytes: UDP payloads of ../shared/pcaps/*.pcap ----

// tftp_rrq.pcap frame 1: RRQ "rfc1350.txt" octet.
constexpr std::array<uint8_t, 20> kCapturedRrq = {0x00, 0x01, 0x72, 0x66, 0x63, 0x31, 0x33, 0x35, 0x30, 0x2e,
                                                  0x74, 0x78, 0x74, 0x00, 0x6f, 0x63, 0x74, 0x65, 0x74, 0x00};
// tftp_wrq.pcap frame 1: WRQ "rfc1350.txt" octet.
constexpr std::array<uint8_t, 20> kCapturedWrq = {0x00, 0x02, 0x72, 0x66, 0x63, 0x31, 0x33, 0x35, 0x30, 0x2e,
                                                  0x74, 0x78, 0x74, 0x00, 0x6f, 0x63, 0x74, 0x65, 0x74, 0x00};
// tftp_oack.pcap frame 1: RRQ "hello.txt" octet blksize=256.
constexpr std::array<uint8_t, 30> kCapturedRrqBlksize = {
    0x00, 0x01, 0x68, 0x65, 0x6c, 0x6c, 0x6f, 0x2e, 0x74, 0x78, 0x74, 0x00, 0x6f, 0x63, 0x74,
    0x65, 0x74, 0x00, 0x62, 0x6c, 0x6b, 0x73, 0x69, 0x7a, 0x65, 0x00, 0x32, 0x35, 0x36, 0x00};
// tftp_oack.pcap frame 2: OACK blksize=256.
constexpr std::array<uint8_t, 14> kCapturedOack = {0x00, 0x06, 0x62, 0x6c, 0x6b, 0x73, 0x69,
                                                   0x7a, 0x65, 0x00, 0x32, 0x35, 0x36, 0x00};
// tftp_wrq.pcap frame 2: ACK 0, the server's answer to a WRQ.
constexpr std::array<uint8_t, 4> kCapturedAck0 = {0x00, 0x04, 0x00, 0x00};
// tftp_rrq.pcap frame 98: the last, short DATA block 49 (24599 = 48 * 512 + 23 bytes).
constexpr std::array<uint8_t, 27> kCapturedLastData = {0x00, 0x03, 0x00, 0x31, 0x20, 0x20, 0x20, 0x20, 0x20,
                                                       0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x5b, 0x50,
                                                       0x61, 0x67, 0x65, 0x20, 0x31, 0x31, 0x5d, 0x0a, 0x0c};

TEST(PacketGolden, ParsesCapturedRrq) {
  auto p = parse(kCapturedRrq);
  ASSERT_TRUE(p) << p.error().to_string();
  const auto& r = std::get<Request>(*p);
  EXPECT_EQ(r.opcode, Opcode::kRrq);
  EXPECT_EQ(r.filename, "rfc1350.txt");
  EXPECT_EQ(r.mode_text, "octet");
  EXPECT_EQ(r.mode, Mode::kOctet);
  EXPECT_TRUE(r.options.empty());
}

TEST(PacketGolden, ParsesCapturedWrq) {
  auto p = parse(kCapturedWrq);
  ASSERT_TRUE(p) << p.error().to_string();
  const auto& r = std::get<Request>(*p);
  EXPECT_EQ(r.opcode, Opcode::kWrq);
  EXPECT_EQ(r.filename, "rfc1350.txt");
  EXPECT_EQ(r.mode, Mode::kOctet);
}

TEST(PacketGolden, ParsesCapturedRrqWithBlksize) {
  auto p = parse(kCapturedRrqBlksize);
  ASSERT_TRUE(p) << p.error().to_string();
  const auto& r = std::get<Request>(*p);
  EXPECT_EQ(r.filename, "hello.txt");
  EXPECT_EQ(r.options.size(), 1u);
  EXPECT_EQ(r.options.find("blksize"), "256");
}

TEST(PacketGolden, ParsesCapturedOack) {
  auto p = parse(kCapturedOack);
  ASSERT_TRUE(p) << p.error().to_string();
  EXPECT_EQ(opcode_of(*p), Opcode::kOack);
  EXPECT_EQ(std::get<Oack>(*p).options.to_vector(), (std::vector<Option>{{"blksize", "256"}}));
}

TEST(PacketGolden, ParsesCapturedAckAndLastData) {
  auto ack = parse(kCapturedAck0);
  ASSERT_TRUE(ack);
  EXPECT_EQ(std::get<Ack>(*ack).block, 0);

  auto data = parse(kCapturedLastData);
  ASSERT_TRUE(data);
  const auto& d = std::get<Data>(*data);
  EXPECT_EQ(d.block, 49);
  EXPECT_EQ(d.payload.size(), 23u);
  EXPECT_EQ(d.payload.data(), kCapturedLastData.data() + 4) << "the payload is a view, not a copy";
  EXPECT_EQ(d.payload.back(), 0x0c);
}

TEST(PacketGolden, SerialisesCapturedPacketsByteForByte) {
  std::array<uint8_t, 64> buf{};
  auto same = [&](WriteResult n, std::span<const uint8_t> golden) {
    ASSERT_TRUE(n) << n.error().to_string();
    EXPECT_TRUE(std::equal(buf.begin(), buf.begin() + static_cast<ptrdiff_t>(*n), golden.begin(), golden.end()));
  };
  same(write_request(buf, Opcode::kRrq, "rfc1350.txt", "octet"), kCapturedRrq);
  same(write_request(buf, Opcode::kWrq, "rfc1350.txt", "octet"), kCapturedWrq);
  const std::vector<Option> blksize = {{"blksize", "256"}};
  same(write_request(buf, Opcode::kRrq, "hello.txt", "octet", blksize), kCapturedRrqBlksize);
  same(write_oack(buf, blksize), kCapturedOack);
  same(write_ack(buf, 0), kCapturedAck0);
  same(write_data(buf, 49, std::span(kCapturedLastData).subspan(4)), kCapturedLastData);
}

TEST(PacketGolden, CapturedPacketsSurviveRoundTrip) {
  for (std::span<const uint8_t> golden :
       {std::span<const uint8_t>(kCapturedRrq), std::span<const uint8_t>(kCapturedWrq),
        std::span<const uint8_t>(kCapturedRrqBlksize), std::span<const uint8_t>(kCapturedOack),
        std::span<const uint8_t>(kCapturedAck0), std::span<const uint8_t>(kCapturedLastData)}) {
    auto p = parse(golden);
    ASSERT_TRUE(p);
    const auto again = serialise(*p);
    EXPECT_TRUE(std::equal(again.begin(), again.end(), golden.begin(), golden.end())) << describe(*p);
  }
}

// ---- Parsing, every packet type ----

TEST(PacketParse, ParsesRequestWithOptionsInOrder) {
  Wire w;
  w.u16(2).str("dir/f.bin").str("netascii").str("blksize").str("1428").str("tsize").str("0").str("x-vendor").str("");
  auto p = parse(w);
  ASSERT_TRUE(p) << p.error().to_string();
  const auto& r = std::get<Request>(*p);
  EXPECT_EQ(r.opcode, Opcode::kWrq);
  EXPECT_EQ(r.filename, "dir/f.bin");
  EXPECT_EQ(r.mode, Mode::kNetascii);
  EXPECT_EQ(r.options.to_vector(),
            (std::vector<Option>{{"blksize", "1428"}, {"tsize", "0"}, {"x-vendor", ""}}));
}

TEST(PacketParse, KeepsFilenameBytesAsSent) {
  Wire w;
  w.u16(1).str("\xff\x01 ../a b").str("octet");
  auto p = parse(w);
  ASSERT_TRUE(p);
  EXPECT_EQ(std::get<Request>(*p).filename, "\xff\x01 ../a b");
}

TEST(PacketParse, ParsesModeCaseInsensitively) {
  for (const auto& [text, mode] : std::vector<std::pair<std::string, Mode>>{{"OcTeT", Mode::kOctet},
                                                                           {"OCTET", Mode::kOctet},
                                                                           {"NetAscii", Mode::kNetascii},
                                                                           {"MAIL", Mode::kMail},
                                                                           {"mail", Mode::kMail},
                                                                           {"binary", Mode::kUnknown},
                                                                           {"octet ", Mode::kUnknown},
                                                                           {"octe", Mode::kUnknown}}) {
    Wire w;
    w.u16(1).str("f").str(text);
    auto p = parse(w);
    ASSERT_TRUE(p) << text;
    EXPECT_EQ(std::get<Request>(*p).mode, mode) << text;
    EXPECT_EQ(std::get<Request>(*p).mode_text, text) << "the mode is kept as sent";
  }
}

TEST(PacketParse, ParsesDataIncludingEmptyAndMaximalPayload) {
  Wire empty;
  empty.u16(3).u16(65535);
  auto p = parse(empty);
  ASSERT_TRUE(p);
  EXPECT_EQ(std::get<Data>(*p).block, 65535);
  EXPECT_TRUE(std::get<Data>(*p).payload.empty()) << "a 0-byte block ends a transfer of a multiple of blksize";

  Wire max;
  max.u16(3).u16(1).fill(kMaxBlockSize, 0xab);
  for (auto s : {Strictness::kStrict, Strictness::kLenient}) {
    auto m = parse(max, s);
    ASSERT_TRUE(m);
    EXPECT_EQ(std::get<Data>(*m).payload.size(), 65464u);
  }
}

TEST(PacketParse, ParsesErrorIncludingEmptyMessageAndUnknownCode) {
  Wire w;
  w.u16(5).u16(1).str("File not found");
  auto p = parse(w);
  ASSERT_TRUE(p);
  EXPECT_EQ(std::get<ErrorPacket>(*p).code, 1);
  EXPECT_EQ(std::get<ErrorPacket>(*p).message, "File not found");

  Wire empty;
  empty.u16(5).u16(0x1234).nul();
  auto e = parse(empty);
  ASSERT_TRUE(e);
  EXPECT_EQ(std::get<ErrorPacket>(*e).code, 0x1234);
  EXPECT_EQ(std::get<ErrorPacket>(*e).message, "");
}

TEST(PacketParse, ParsesOackWithEmptyValue) {
  Wire w;
  w.u16(6).str("tsize").str("");
  auto p = parse(w);
  ASSERT_TRUE(p);
  EXPECT_EQ(std::get<Oack>(*p).options.to_vector(), (std::vector<Option>{{"tsize", ""}}));
}

// ---- Every ParseErrc a datagram can produce, with its offset ----

struct MalformedCase {
  const char* name;
  std::vector<uint8_t> bytes;
  Strictness strictness;
  ParseError expected;
};

std::vector<MalformedCase> malformed_cases() {
  const auto strict = Strictness::kStrict;
  const auto lenient = Strictness::kLenient;
  auto w = [] { return Wire(); };
  // Request prefix "\0\1a\0octet\0" is 10 bytes: options start at offset 10.
  auto rrq = [] {
    Wire x;
    x.u16(1).str("a").str("octet");
    return x;
  };
  std::vector<MalformedCase> cases = {
      {"empty", {}, strict, {ParseErrc::kEmpty, 0}},
      {"empty lenient", {}, lenient, {ParseErrc::kEmpty, 0}},
      {"one byte 0", {0x00}, strict, {ParseErrc::kTruncatedOpcode, 0}},
      {"one byte 3", {0x03}, lenient, {ParseErrc::kTruncatedOpcode, 0}},
      {"opcode 0", w().u16(0).u16(1).bytes(), strict, {ParseErrc::kUnknownOpcode, 0}},
      {"opcode 7", w().u16(7).u16(1).bytes(), strict, {ParseErrc::kUnknownOpcode, 0}},
      {"opcode 7 lenient", w().u16(7).bytes(), lenient, {ParseErrc::kUnknownOpcode, 0}},
      {"opcode 0xffff", w().u16(0xffff).bytes(), strict, {ParseErrc::kUnknownOpcode, 0}},
      {"opcode 0x0100 (byte-swapped RRQ)", w().u16(0x0100).str("a").str("octet").bytes(), strict,
       {ParseErrc::kUnknownOpcode, 0}},
      {"DATA 2 bytes", w().u16(3).bytes(), strict, {ParseErrc::kTruncatedBlock, 2}},
      {"DATA 3 bytes", w().u16(3).fill(1, 0).bytes(), lenient, {ParseErrc::kTruncatedBlock, 3}},
      {"ACK 2 bytes", w().u16(4).bytes(), lenient, {ParseErrc::kTruncatedBlock, 2}},
      {"ACK 3 bytes", w().u16(4).fill(1, 0).bytes(), strict, {ParseErrc::kTruncatedBlock, 3}},
      {"ACK trailing strict", w().u16(4).u16(1).nul().bytes(), strict, {ParseErrc::kTrailingBytes, 4}},
      {"DATA too long", w().u16(3).u16(1).fill(kMaxBlockSize + 1, 'x').bytes(), strict,
       {ParseErrc::kDataTooLong, 65468}},
      {"DATA too long lenient", w().u16(3).u16(1).fill(kMaxBlockSize + 1, 'x').bytes(), lenient,
       {ParseErrc::kDataTooLong, 65468}},
      {"request 513 strict", w().u16(1).fill(504, 'f').nul().str("octet").bytes(), strict,
       {ParseErrc::kRequestTooLong, 512}},
      {"request opcode only", w().u16(1).bytes(), strict, {ParseErrc::kUnterminatedFilename, 2}},
      {"filename unterminated", w().u16(1).raw("abc").bytes(), strict, {ParseErrc::kUnterminatedFilename, 2}},
      {"filename unterminated WRQ", w().u16(2).raw("abc").bytes(), lenient, {ParseErrc::kUnterminatedFilename, 2}},
      {"filename empty", w().u16(1).nul().str("octet").bytes(), strict, {ParseErrc::kEmptyFilename, 2}},
      {"mode missing", w().u16(1).str("a").bytes(), strict, {ParseErrc::kUnterminatedMode, 4}},
      {"mode unterminated", w().u16(1).str("a").raw("oct").bytes(), strict, {ParseErrc::kUnterminatedMode, 4}},
      {"mode empty", w().u16(1).str("a").nul().bytes(), strict, {ParseErrc::kEmptyMode, 4}},
      {"option name unterminated", rrq().raw("blk").bytes(), strict, {ParseErrc::kUnterminatedOptionName, 10}},
      {"option name empty", rrq().nul().str("512").bytes(), strict, {ParseErrc::kEmptyOptionName, 10}},
      {"option value missing", rrq().str("blksize").bytes(), strict, {ParseErrc::kMissingOptionValue, 18}},
      {"option value unterminated", rrq().str("blksize").raw("512").bytes(), strict,
       {ParseErrc::kUnterminatedOptionValue, 18}},
      {"second option unterminated", rrq().str("blksize").str("512").raw("t").bytes(), strict,
       {ParseErrc::kUnterminatedOptionName, 22}},
      {"OACK option name unterminated", w().u16(6).raw("blksize").bytes(), strict,
       {ParseErrc::kUnterminatedOptionName, 2}},
      {"OACK option name empty", w().u16(6).nul().str("8").bytes(), strict, {ParseErrc::kEmptyOptionName, 2}},
      {"OACK option value missing", w().u16(6).str("blksize").bytes(), lenient, {ParseErrc::kMissingOptionValue, 10}},
      {"OACK option value unterminated", w().u16(6).str("blksize").raw("8").bytes(), strict,
       {ParseErrc::kUnterminatedOptionValue, 10}},
      {"OACK empty", w().u16(6).bytes(), strict, {ParseErrc::kEmptyOack, 2}},
      {"ERROR 2 bytes", w().u16(5).bytes(), strict, {ParseErrc::kTruncatedErrorCode, 2}},
      {"ERROR 3 bytes", w().u16(5).fill(1, 0).bytes(), lenient, {ParseErrc::kTruncatedErrorCode, 3}},
      {"ERROR no message", w().u16(5).u16(1).bytes(), strict, {ParseErrc::kUnterminatedErrorMessage, 4}},
      {"ERROR message unterminated", w().u16(5).u16(1).raw("oops").bytes(), lenient,
       {ParseErrc::kUnterminatedErrorMessage, 4}},
      {"ERROR trailing strict", w().u16(5).u16(1).str("oops").raw("xy").bytes(), strict,
       {ParseErrc::kTrailingBytes, 9}},
      {"ERROR trailing NUL strict", w().u16(5).u16(1).str("").nul().bytes(), strict, {ParseErrc::kTrailingBytes, 5}},
  };
  return cases;
}

TEST(PacketParse, ReportsEachMalformationWithItsOffset) {
  for (const auto& c : malformed_cases()) {
    SCOPED_TRACE(c.name);
    EXPECT_EQ(error_of(c.bytes, c.strictness), c.expected);
    EXPECT_LE(c.expected.offset, c.bytes.size()) << "an offset points into the datagram or just past it";
  }
}

TEST(PacketParse, MalformationCasesCoverEveryParseErrc) {
  std::set<ParseErrc> seen;
  for (const auto& c : malformed_cases()) seen.insert(c.expected.code);
  for (int i = 0; i <= static_cast<int>(ParseErrc::kDataTooLong); ++i) {
    EXPECT_TRUE(seen.count(static_cast<ParseErrc>(i)))
        << ParseError{static_cast<ParseErrc>(i), 0}.id() << " has no case";
  }
}

TEST(PacketParse, RejectsUnterminatedFilename) {
  EXPECT_EQ(error_of(Wire().u16(1).raw("boot.img")), (ParseError{ParseErrc::kUnterminatedFilename, 2}));
}

TEST(PacketParse, AcceptsAckTrailingBytesOnlyWhenLenient) {
  Wire w;
  w.u16(4).u16(7).raw("junk");
  EXPECT_EQ(error_of(w), (ParseError{ParseErrc::kTrailingBytes, 4}));
  auto p = parse(w, Strictness::kLenient);
  ASSERT_TRUE(p);
  EXPECT_EQ(std::get<Ack>(*p).block, 7);
}

TEST(PacketParse, AcceptsErrorTrailingBytesOnlyWhenLenient) {
  Wire w;
  w.u16(5).u16(2).str("denied").raw(std::string_view("\0\0pad", 5));
  EXPECT_EQ(error_of(w), (ParseError{ParseErrc::kTrailingBytes, 11}));
  auto p = parse(w, Strictness::kLenient);
  ASSERT_TRUE(p);
  EXPECT_EQ(std::get<ErrorPacket>(*p).message, "denied");
}

// RFC 2347's OACK lists at least one option; real servers send one with none. Strict keeps
// its typed error; lenient hands the packet over so it can be judged (and matched).
TEST(PacketParse, AcceptsEmptyOackOnlyWhenLenient) {
  Wire w;
  w.u16(6);
  EXPECT_EQ(error_of(w), (ParseError{ParseErrc::kEmptyOack, 2}));
  EXPECT_EQ(parse(w, Strictness::kStrict).error().id(), "tftp.parse.empty_oack");
  auto p = parse(w, Strictness::kLenient);
  ASSERT_TRUE(p);
  const auto* o = std::get_if<Oack>(&*p);
  ASSERT_NE(o, nullptr);
  EXPECT_TRUE(o->options.empty());
  EXPECT_EQ(o->options.size(), 0u);
  EXPECT_EQ(describe_datagram(w), "OACK");
  std::vector<uint8_t> out(2);
  EXPECT_EQ(write_packet(out, *p), 2u) << "an empty OACK writes back as its opcode alone";
}

TEST(PacketParse, AcceptsRequestOf512ButNot513WhenStrict) {
  // 2 (opcode) + 503 (name) + 1 + 6 ("octet\0") = 512.
  Wire at_limit;
  at_limit.u16(1).fill(503, 'f').nul().str("octet");
  ASSERT_EQ(at_limit.bytes().size(), 512u);
  EXPECT_TRUE(parse(at_limit, Strictness::kStrict));

  Wire over;
  over.u16(1).fill(504, 'f').nul().str("octet");
  ASSERT_EQ(over.bytes().size(), 513u);
  EXPECT_EQ(error_of(over), (ParseError{ParseErrc::kRequestTooLong, 512}));
  auto lenient = parse(over, Strictness::kLenient);
  ASSERT_TRUE(lenient);
  EXPECT_EQ(std::get<Request>(*lenient).filename.size(), 504u);
}

TEST(PacketParse, LenientAcceptsEverythingStrictAccepts) {
  std::mt19937 rng(1350);
  std::uniform_int_distribution<int> byte(0, 255);
  std::uniform_int_distribution<int> small(0, 12);
  for (int i = 0; i < 20000; ++i) {
    std::vector<uint8_t> b(small(rng));
    for (auto& x : b) x = static_cast<uint8_t>(byte(rng) % 4 == 0 ? 0 : byte(rng));
    if (b.size() >= 2) {
      b[0] = 0;
      b[1] = static_cast<uint8_t>(1 + small(rng) % 6);
    }
    auto strict = parse(b, Strictness::kStrict);
    auto lenient = parse(b, Strictness::kLenient);
    if (strict) {
      ASSERT_TRUE(lenient);
      EXPECT_TRUE(same_packet(*strict, *lenient)) << describe(*strict);
    }
  }
}

// ---- Serialisation ----

TEST(PacketWrite, RoundTripsRandomPackets) {
  std::mt19937 rng(2347);
  auto pick = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
  auto text = [&](int lo, int hi) {
    std::string s(static_cast<size_t>(pick(lo, hi)), ' ');
    for (auto& c : s) c = static_cast<char>(pick(1, 255));
    return s;
  };
  std::vector<uint8_t> buf(kMaxDatagramSize);
  for (int i = 0; i < 3000; ++i) {
    std::vector<std::string> strings;
    for (int k = 0; k < 8; ++k) strings.push_back(text(k < 2 ? 1 : 0, 40));
    std::vector<Option> options;
    for (int k = 0, n = pick(0, 3); k < n; ++k) options.push_back({strings[2 + 2 * k], strings[3 + 2 * k]});
    for (auto& o : options) {
      if (o.name.empty()) o.name = "n";
    }
    std::vector<uint8_t> payload(static_cast<size_t>(pick(0, 600)));
    for (auto& b : payload) b = static_cast<uint8_t>(pick(0, 255));
    const auto block = static_cast<uint16_t>(pick(0, 65535));

    WriteResult n = tl::unexpected(ParseError{ParseErrc::kEmpty, 0});
    Packet expected;
    switch (pick(0, 5)) {
      case 0:
      case 1: {
        const auto op = pick(0, 1) ? Opcode::kRrq : Opcode::kWrq;
        n = write_request(buf, op, strings[0], strings[1], options);
        expected = Request{op, strings[0], strings[1], mode_from_text(strings[1]), {}};
        break;
      }
      case 2:
        n = write_data(buf, block, payload);
        expected = Data{block, payload};
        break;
      case 3:
        n = write_ack(buf, block);
        expected = Ack{block};
        break;
      case 4:
        n = write_error(buf, block, strings[0]);
        expected = ErrorPacket{block, strings[0]};
        break;
      case 5:
        if (options.empty()) options.push_back({"blksize", "1024"});
        n = write_oack(buf, options);
        expected = Oack{};
        break;
    }
    ASSERT_TRUE(n) << n.error().to_string();
    auto p = parse(std::span(buf).first(*n), Strictness::kLenient);
    ASSERT_TRUE(p) << p.error().to_string();
    // The OptionsView cannot be built from a vector, so compare options separately.
    if (auto* r = std::get_if<Request>(&*p)) {
      EXPECT_EQ(r->options.to_vector(), options);
      r->options = {};
    } else if (auto* o = std::get_if<Oack>(&*p)) {
      EXPECT_EQ(o->options.to_vector(), options);
      o->options = {};
    }
    EXPECT_TRUE(same_packet(*p, expected)) << describe(*p) << " vs " << describe(expected);
    // And back again: bytes are stable.
    auto q = parse(std::span(buf).first(*n), Strictness::kLenient);
    EXPECT_EQ(serialise(*q), std::vector<uint8_t>(buf.begin(), buf.begin() + static_cast<ptrdiff_t>(*n)));
  }
}

TEST(PacketWrite, ReportsBufferTooSmallAtEveryLength) {
  const std::vector<Option> options = {{"blksize", "1428"}, {"tsize", ""}};
  const std::vector<uint8_t> payload(37, 0x5a);
  using Writer = std::function<WriteResult(std::span<uint8_t>)>;
  const std::vector<std::pair<const char*, Writer>> writers = {
      {"request", [&](auto out) { return write_request(out, Opcode::kRrq, "a.bin", "octet", options); }},
      {"request without options", [&](auto out) { return write_request(out, Opcode::kWrq, "a", "mail"); }},
      {"data", [&](auto out) { return write_data(out, 9, payload); }},
      {"empty data", [&](auto out) { return write_data(out, 9, {}); }},
      {"ack", [&](auto out) { return write_ack(out, 3); }},
      {"error", [&](auto out) { return write_error(out, 1, "File not found"); }},
      {"error empty message", [&](auto out) { return write_error(out, 0, ""); }},
      {"oack", [&](auto out) { return write_oack(out, options); }},
  };
  for (const auto& [name, write] : writers) {
    SCOPED_TRACE(name);
    std::vector<uint8_t> big(1024);
    const auto full = write(big);
    ASSERT_TRUE(full);
    for (size_t k = 0; k < *full; ++k) {
      std::vector<uint8_t> small(k);  // exact size: ASan catches any write past it
      auto r = write(small);
      ASSERT_FALSE(r) << "wrote " << *r << " bytes into " << k;
      EXPECT_EQ(r.error().code, ParseErrc::kBufferTooSmall) << k;
      EXPECT_LE(r.error().offset, k) << "the offset is where the field that did not fit starts";
    }
    for (size_t k : {*full, *full + 1}) {
      std::vector<uint8_t> exact(k, 0xee);
      auto r = write(exact);
      ASSERT_TRUE(r);
      EXPECT_EQ(*r, *full);
      EXPECT_TRUE(std::equal(exact.begin(), exact.begin() + static_cast<ptrdiff_t>(*full), big.begin()));
      if (k > *full) {
        EXPECT_EQ(exact.back(), 0xee) << "nothing written past the packet";
      }
    }
  }
}

TEST(PacketWrite, RejectsNulInsideStringField) {
  std::vector<uint8_t> buf(256);
  const std::string_view with_nul("a\0b", 3);
  auto invalid = [](WriteResult r) { return !r && r.error().code == ParseErrc::kInvalidField; };

  auto r = write_request(buf, Opcode::kRrq, with_nul, "octet");
  EXPECT_TRUE(invalid(r));
  EXPECT_EQ(r.error().offset, 2u) << "the offset is where the bad field starts";
  EXPECT_TRUE(invalid(write_request(buf, Opcode::kRrq, "a", with_nul)));
  const std::vector<Option> bad_name = {{with_nul, "1"}};
  const std::vector<Option> bad_value = {{"blksize", with_nul}};
  EXPECT_TRUE(invalid(write_request(buf, Opcode::kRrq, "a", "octet", bad_name)));
  EXPECT_TRUE(invalid(write_request(buf, Opcode::kRrq, "a", "octet", bad_value)));
  EXPECT_TRUE(invalid(write_oack(buf, bad_name)));
  EXPECT_TRUE(invalid(write_oack(buf, bad_value)));
  auto e = write_error(buf, 0, std::string_view("\0", 1));
  EXPECT_TRUE(invalid(e));
  EXPECT_EQ(e.error().offset, 4u);
}

TEST(PacketWrite, AcceptsEmptyStringViews) {
  // A default string_view has a null data(): the writer must not hand it to memchr/memcpy.
  std::vector<uint8_t> buf(16);
  auto e = write_error(buf, 4, std::string_view());
  ASSERT_TRUE(e);
  EXPECT_EQ(std::vector<uint8_t>(buf.begin(), buf.begin() + static_cast<ptrdiff_t>(*e)),
            Wire().u16(5).u16(4).nul().bytes());
  const std::vector<Option> empty_value = {{"tsize", std::string_view()}};
  auto o = write_oack(buf, empty_value);
  ASSERT_TRUE(o);
  EXPECT_EQ(*o, 2u + 6u + 1u);
}

// ---- Names and descriptions ----

TEST(PacketDescribe, DescribesEachType) {
  std::vector<uint8_t> payload(512);
  EXPECT_EQ(describe(Data{3, payload}), "DATA block=3 size=512");
  EXPECT_EQ(describe(Ack{7}), "ACK block=7");
  EXPECT_EQ(describe(ErrorPacket{1, "nope"}), "ERROR code=1 (File not found) \"nope\"");
  EXPECT_EQ(describe(ErrorPacket{99, ""}), "ERROR code=99 (Unknown error code) \"\"");
  auto rrq = parse(kCapturedRrqBlksize);
  ASSERT_TRUE(rrq);
  EXPECT_EQ(describe(*rrq), "RRQ \"hello.txt\" \"octet\" \"blksize\"=\"256\"");
  auto oack = parse(kCapturedOack);
  ASSERT_TRUE(oack);
  EXPECT_EQ(describe(*oack), "OACK \"blksize\"=\"256\"");
}

TEST(PacketDescribe, EscapesUnprintableBytes) {
  Wire w;
  w.u16(2).str("a\x01\"\\\xff").str("octet");
  auto p = parse(w);
  ASSERT_TRUE(p);
  EXPECT_EQ(describe(*p), "WRQ \"a\\x01\\x22\\x5c\\xff\" \"octet\"");
}

TEST(PacketDescribe, DescribesMalformedDatagramLeniently) {
  EXPECT_EQ(describe_datagram({}), "malformed (tftp.parse.empty at offset 0: empty datagram), 0 bytes");
  EXPECT_EQ(describe_datagram(Wire().u16(1).raw("x")),
            "malformed (tftp.parse.unterminated_filename at offset 2: filename is not NUL-terminated), 3 bytes");
  EXPECT_EQ(describe_datagram(Wire().u16(4).u16(1).raw("xx")), "ACK block=1") << "trailing bytes are tolerated";
}

TEST(PacketNames, NamesOpcodesModesAndErrorCodes) {
  EXPECT_EQ(opcode_name(Opcode::kRrq), "RRQ");
  EXPECT_EQ(opcode_name(Opcode::kWrq), "WRQ");
  EXPECT_EQ(opcode_name(Opcode::kData), "DATA");
  EXPECT_EQ(opcode_name(Opcode::kAck), "ACK");
  EXPECT_EQ(opcode_name(Opcode::kError), "ERROR");
  EXPECT_EQ(opcode_name(Opcode::kOack), "OACK");
  EXPECT_EQ(mode_name(Mode::kNetascii), "netascii");
  EXPECT_EQ(mode_name(Mode::kOctet), "octet");
  EXPECT_EQ(mode_name(Mode::kMail), "mail");
  EXPECT_EQ(mode_name(Mode::kUnknown), "unknown");
  for (Mode m : {Mode::kNetascii, Mode::kOctet, Mode::kMail}) EXPECT_EQ(mode_from_text(mode_name(m)), m);
  EXPECT_EQ(error_code_name(0), "Not defined");
  EXPECT_EQ(error_code_name(1), "File not found");
  EXPECT_EQ(error_code_name(8), "Option negotiation refused");
  EXPECT_EQ(error_code_name(9), "Unknown error code");
  EXPECT_EQ(error_code_name(0xffff), "Unknown error code");
}

TEST(PacketNames, OpcodeOfMatchesWire) {
  EXPECT_EQ(opcode_of(*parse(kCapturedRrq)), Opcode::kRrq);
  EXPECT_EQ(opcode_of(*parse(kCapturedWrq)), Opcode::kWrq);
  EXPECT_EQ(opcode_of(*parse(kCapturedLastData)), Opcode::kData);
  EXPECT_EQ(opcode_of(*parse(kCapturedAck0)), Opcode::kAck);
  EXPECT_EQ(opcode_of(*parse(Wire().u16(5).u16(0).nul())), Opcode::kError);
  EXPECT_EQ(opcode_of(*parse(kCapturedOack)), Opcode::kOack);
}

TEST(ParseErrorIds, AreDistinctStableAndDescribed) {
  std::set<std::string_view> ids;
  for (int i = 0; i <= static_cast<int>(ParseErrc::kInvalidField); ++i) {
    const ParseError e{static_cast<ParseErrc>(i), 0};
    EXPECT_TRUE(e.id().starts_with("tftp.parse.") || e.id().starts_with("tftp.write.")) << e.id();
    EXPECT_FALSE(e.message().empty()) << e.id();
    EXPECT_TRUE(ids.insert(e.id()).second) << "duplicate id " << e.id();
  }
  EXPECT_EQ((ParseError{ParseErrc::kUnterminatedFilename, 2}).to_string(),
            "tftp.parse.unterminated_filename at offset 2: filename is not NUL-terminated");
  EXPECT_EQ((ParseError{ParseErrc::kBufferTooSmall, 0}).id(), "tftp.write.buffer_too_small");
  EXPECT_EQ((ParseError{ParseErrc::kInvalidField, 0}).id(), "tftp.write.invalid_field");
}

}  // namespace
}  // namespace tftp::proto
