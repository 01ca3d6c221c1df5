// netascii (RFC 1350 §1, RFC 764): CR LF for a newline, CR NUL for a bare CR, and a CR
// cut by a block boundary (the FreeBSD PR 178055 bug class).
#include "proto/netascii.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <string_view>
#include <vector>

namespace tftp::proto {
namespace {

using namespace std::string_view_literals;

std::vector<uint8_t> bytes(std::string_view s) { return {s.begin(), s.end()}; }

// Random text biased towards the bytes netascii cares about.
std::vector<uint8_t> random_text(std::mt19937& rng, size_t max_size) {
  std::uniform_int_distribution<size_t> size(0, max_size);
  std::uniform_int_distribution<int> kind(0, 9);
  std::uniform_int_distribution<int> any(0, 255);
  std::vector<uint8_t> v(size(rng));
  for (auto& b : v) {
    switch (kind(rng)) {
      case 0: b = '\r'; break;
      case 1: b = '\n'; break;
      case 2: b = 0; break;
      default: b = static_cast<uint8_t>(any(rng));
    }
  }
  return v;
}

// Encodes `local` with the streaming encoder, giving it at most `out_size` bytes of room
// per call, as a sender filling fixed-size blocks does.
std::vector<uint8_t> encode_in_blocks(std::span<const uint8_t> local, size_t out_size) {
  NetasciiEncoder encoder;
  std::vector<uint8_t> wire;
  std::vector<uint8_t> block(out_size);
  size_t at = 0;
  while (at < local.size() || encoder.has_pending()) {
    const auto p = encoder.encode(local.subspan(at), block);
    EXPECT_GT(p.produced, 0u) << "no progress at " << at;
    if (p.produced == 0) break;
    wire.insert(wire.end(), block.begin(), block.begin() + static_cast<ptrdiff_t>(p.produced));
    at += p.consumed;
  }
  return wire;
}

TEST(NetasciiEncode, EncodesBareLfAsCrLf) {
  EXPECT_EQ(netascii_encode(bytes("a\nb\n")), bytes("a\r\nb\r\n"));
  EXPECT_EQ(netascii_encode(bytes("\n")), bytes("\r\n"));
}

TEST(NetasciiEncode, EncodesBareCrAsCrNul) {
  EXPECT_EQ(netascii_encode(bytes("a\rb")), bytes(std::string_view("a\r\0b", 4)));
  EXPECT_EQ(netascii_encode(bytes("\r\n")), bytes(std::string_view("\r\0\r\n", 4)))
      << "a local CR LF is a CR then a newline";
}

TEST(NetasciiEncode, LeavesOtherBytesAlone) {
  const auto text = bytes("plain\0\t\x7f\xff text"sv);
  EXPECT_EQ(netascii_encode(text), text);
  EXPECT_TRUE(netascii_encode({}).empty());
}

TEST(NetasciiDecode, DecodesCrLfAndCrNul) {
  EXPECT_EQ(netascii_decode(bytes("a\r\nb")), bytes("a\nb"));
  EXPECT_EQ(netascii_decode(bytes(std::string_view("a\r\0b", 4))), bytes("a\rb"));
  EXPECT_EQ(netascii_decode(bytes(std::string_view("x\0y", 3))), bytes(std::string_view("x\0y", 3)))
      << "a NUL not after CR is data";
}

TEST(NetasciiRoundTrip, RoundTripsCrLfAndCrNul) {
  for (std::string_view local : {"\r\n", "\n\r", "\r\r\n\n", "\r", "\n", "end with cr\r", "a\n\n\r\rb"}) {
    EXPECT_EQ(netascii_decode(netascii_encode(bytes(local))), bytes(local)) << testing::PrintToString(local);
  }
  const auto with_nul = bytes(std::string_view("\r\0\r", 3));
  EXPECT_EQ(netascii_decode(netascii_encode(with_nul)), with_nul);
}

TEST(NetasciiRoundTrip, RoundTripsRandomText) {
  std::mt19937 rng(764);
  for (int i = 0; i < 2000; ++i) {
    const auto local = random_text(rng, 300);
    const auto wire = netascii_encode(local);
    NetasciiDecoder decoder;
    std::vector<uint8_t> back;
    decoder.decode(wire, back);
    decoder.finish(back);
    ASSERT_EQ(back, local);
    EXPECT_EQ(decoder.stray_cr_count(), 0u) << "our own encoding has no stray CR";
  }
}

TEST(NetasciiEncode, EncodedSizeEqualsEncodedLength) {
  std::mt19937 rng(1350);
  for (int i = 0; i < 2000; ++i) {
    const auto local = random_text(rng, 600);
    EXPECT_EQ(netascii_encoded_size(local), netascii_encode(local).size());
  }
  EXPECT_EQ(netascii_encoded_size(bytes("\r\n")), 4u);
  EXPECT_EQ(netascii_encoded_size({}), 0u);
}

TEST(NetasciiEncode, CarriesCrCutByTheEndOfABlock) {
  // "abc\n": with 4 bytes of room the CR fills the block and the LF is held back.
  const auto local = bytes("abc\nd");
  NetasciiEncoder encoder;
  std::vector<uint8_t> block(4);
  auto p = encoder.encode(local, block);
  EXPECT_EQ(p.consumed, 4u);
  EXPECT_EQ(p.produced, 4u);
  EXPECT_EQ(block, bytes("abc\r"));
  EXPECT_TRUE(encoder.has_pending());

  p = encoder.encode(std::span(local).subspan(4), block);
  EXPECT_EQ(p.consumed, 1u);
  EXPECT_EQ(p.produced, 2u);
  EXPECT_EQ(std::vector<uint8_t>(block.begin(), block.begin() + 2), bytes("\nd"))
      << "the next block starts with the held-back LF";
  EXPECT_FALSE(encoder.has_pending());
}

TEST(NetasciiEncode, FlushesPendingByteWithEmptyInput) {
  const auto local = bytes("\r");
  NetasciiEncoder encoder;
  uint8_t one = 0;
  auto p = encoder.encode(local, {&one, 1});
  EXPECT_EQ(p.consumed, 1u);
  EXPECT_EQ(one, '\r');
  ASSERT_TRUE(encoder.has_pending());
  p = encoder.encode({}, {&one, 1});
  EXPECT_EQ(p.consumed, 0u);
  EXPECT_EQ(p.produced, 1u);
  EXPECT_EQ(one, 0) << "CR NUL completed in the next call";
  EXPECT_FALSE(encoder.has_pending());
}

TEST(NetasciiEncode, EmptyOutputTakesNothing) {
  const auto local = bytes("\nabc");
  NetasciiEncoder encoder;
  auto p = encoder.encode(local, {});
  EXPECT_EQ(p.consumed, 0u);
  EXPECT_EQ(p.produced, 0u);
  uint8_t one = 0;
  encoder.encode(local, {&one, 1});
  ASSERT_TRUE(encoder.has_pending());
  p = encoder.encode(std::span(local).subspan(1), {});
  EXPECT_EQ(p.consumed, 0u);
  EXPECT_EQ(p.produced, 0u);
  EXPECT_TRUE(encoder.has_pending()) << "the pending LF survives a call with no room";
}

TEST(NetasciiEncode, StreamingWithEveryOutSizeEqualsOneShot) {
  // CRs and LFs at every position relative to the block boundaries of sizes 1..8,
  // including a CR as the very last byte of the input.
  const auto local = bytes("a\rb\nc\r\n\n\rxy\r\r\n\n\nz\r\0q\r"sv);
  const auto expected = netascii_encode(local);
  for (size_t out_size = 1; out_size <= 8; ++out_size) {
    EXPECT_EQ(encode_in_blocks(local, out_size), expected) << "out size " << out_size;
  }
  std::mt19937 rng(2090);
  for (int i = 0; i < 500; ++i) {
    const auto text = random_text(rng, 100);
    for (size_t out_size = 1; out_size <= 8; ++out_size) {
      ASSERT_EQ(encode_in_blocks(text, out_size), netascii_encode(text)) << "out size " << out_size;
    }
  }
}

TEST(NetasciiEncode, StreamingWithSplitInputEqualsOneShot) {
  std::mt19937 rng(7440);
  for (int i = 0; i < 500; ++i) {
    const auto text = random_text(rng, 200);
    NetasciiEncoder encoder;
    std::vector<uint8_t> wire;
    std::vector<uint8_t> block(std::uniform_int_distribution<size_t>(1, 16)(rng));
    size_t at = 0;
    while (at < text.size() || encoder.has_pending()) {
      const size_t take = std::min(text.size() - at, std::uniform_int_distribution<size_t>(0, 9)(rng));
      const auto p = encoder.encode(std::span(text).subspan(at, take), block);
      ASSERT_LE(p.consumed, take);
      wire.insert(wire.end(), block.begin(), block.begin() + static_cast<ptrdiff_t>(p.produced));
      at += p.consumed;
    }
    ASSERT_EQ(wire, netascii_encode(text));
  }
}

TEST(NetasciiDecode, CrAtEndOfBlockJoinsNextBlock) {
  NetasciiDecoder decoder;
  std::vector<uint8_t> out;
  decoder.decode(bytes("abc\r"), out);
  EXPECT_EQ(out, bytes("abc")) << "the CR waits for the next block";
  decoder.decode(bytes("\ndef\r"), out);
  decoder.decode(bytes(std::string_view("\0", 1)), out);
  decoder.finish(out);
  EXPECT_EQ(out, bytes("abc\ndef\r"));
  EXPECT_EQ(decoder.stray_cr_count(), 0u);
}

TEST(NetasciiDecode, ByteAtATimeEqualsWhole) {
  std::mt19937 rng(1123);
  for (int i = 0; i < 1000; ++i) {
    const auto wire = random_text(rng, 200);  // arbitrary, often invalid, netascii
    NetasciiDecoder whole;
    std::vector<uint8_t> expected;
    whole.decode(wire, expected);
    whole.finish(expected);

    NetasciiDecoder bytewise;
    std::vector<uint8_t> got;
    for (size_t k = 0; k < wire.size(); ++k) bytewise.decode(std::span(wire).subspan(k, 1), got);
    bytewise.finish(got);
    ASSERT_EQ(got, expected);
    EXPECT_EQ(bytewise.stray_cr_count(), whole.stray_cr_count());
    EXPECT_EQ(expected, netascii_decode(wire));
  }
}

TEST(NetasciiDecode, CountsStrayCrs) {
  auto strays = [](std::string_view wire, std::vector<uint8_t>* out = nullptr) {
    NetasciiDecoder d;
    std::vector<uint8_t> local;
    d.decode(bytes(wire), local);
    d.finish(local);
    if (out) *out = local;
    return d.stray_cr_count();
  };
  std::vector<uint8_t> out;
  EXPECT_EQ(strays("a\rb", &out), 1u);
  EXPECT_EQ(out, bytes("a\rb")) << "a stray CR is kept as is";
  EXPECT_EQ(strays("\r\r\n", &out), 1u);
  EXPECT_EQ(out, bytes("\r\n"));
  EXPECT_EQ(strays("\r\r\r", &out), 3u) << "two followed by CR, one at end of stream";
  EXPECT_EQ(out, bytes("\r\r\r"));
  EXPECT_EQ(strays("end\r", &out), 1u) << "a CR ending the stream has no LF or NUL";
  EXPECT_EQ(out, bytes("end\r"));
  EXPECT_EQ(strays("ok\r\n"), 0u);
  EXPECT_EQ(strays(std::string_view("ok\r\0", 4)), 0u);
  EXPECT_EQ(strays(""), 0u);
}

TEST(NetasciiDecode, FinishIsIdempotent) {
  NetasciiDecoder d;
  std::vector<uint8_t> out;
  d.decode(bytes("x\r"), out);
  d.finish(out);
  d.finish(out);
  EXPECT_EQ(out, bytes("x\r"));
  EXPECT_EQ(d.stray_cr_count(), 1u);
}

}  // namespace
}  // namespace tftp::proto
