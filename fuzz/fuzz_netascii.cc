// Fuzz target for netascii (harness/proto/netascii.h).
// Properties: decode(encode(x)) == x with no stray CR; the encoded size is predicted
// exactly; the streaming encoder and decoder, cut at arbitrary points of input and
// output (a CR may end a block and its LF/NUL begin the next), equal the one-shot calls.
//
// Input layout: byte 0 gives the number n (0..7) of control bytes that follow; the
// control bytes choose the cut points; the rest is the text (or, for the decoder, wire).
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "proto/netascii.h"

using namespace tftp::proto;

namespace {

#define FUZZ_CHECK(cond)           \
  do {                             \
    if (!(cond)) __builtin_trap(); \
  } while (0)

// Cycles through the control bytes; with none, cuts every 3 bytes.
class Cuts {
 public:
  explicit Cuts(std::span<const uint8_t> control) : control_(control) {}
  uint8_t next() { return control_.empty() ? 3 : control_[i_++ % control_.size()]; }

 private:
  std::span<const uint8_t> control_;
  size_t i_ = 0;
};

std::vector<uint8_t> encode_streaming(std::span<const uint8_t> text, Cuts cuts) {
  NetasciiEncoder encoder;
  // Sized once to the most the text can grow to (every byte a pair) and one call's room
  // more; each call writes into its window of it: one allocation, and no insert per call
  // (the streaming loop makes hundreds of calls).
  std::vector<uint8_t> wire(2 * text.size() + 15);
  size_t written = 0;
  size_t at = 0;
  bool last_call_idle = false;
  while (at < text.size() || encoder.has_pending()) {
    const uint8_t c = cuts.next();
    // Input chunk 0..15 bytes, room 0..15 bytes; after a call that produced nothing the
    // next gets at least one of each, so the loop ends.
    size_t take = std::min<size_t>(text.size() - at, c & 0x0f);
    if (take == 0 && last_call_idle && at < text.size()) take = 1;
    size_t room = c >> 4;
    if (room == 0 && last_call_idle) room = 1;
    const bool had_pending = encoder.has_pending();
    // An encoder that wrote more than every byte as a pair is wrong, and would run past
    // the buffer: stop it here (the comparison with the one-shot encoding below names it).
    FUZZ_CHECK(written <= 2 * text.size());
    const auto p = encoder.encode(text.subspan(at, take), std::span<uint8_t>(wire).subspan(written, room));
    FUZZ_CHECK(p.consumed <= take && p.produced <= room);
    // With room, a call always makes progress when it has something to do.
    if (room > 0 && (take > 0 || had_pending)) FUZZ_CHECK(p.produced > 0);
    if (room == 0) FUZZ_CHECK(p.produced == 0 && p.consumed == 0 && encoder.has_pending() == had_pending);
    last_call_idle = p.produced == 0;
    written += p.produced;
    at += p.consumed;
  }
  wire.resize(written);
  return wire;
}

std::vector<uint8_t> decode_streaming(std::span<const uint8_t> wire, Cuts cuts, size_t* strays) {
  NetasciiDecoder decoder;
  std::vector<uint8_t> local;
  local.reserve(wire.size());  // decoding never grows the bytes
  size_t at = 0;
  while (at < wire.size()) {
    // Chunks of 1..16 bytes; a 0 in the control bytes feeds an empty chunk first.
    size_t take = cuts.next() % 17;
    if (take == 0) {
      decoder.decode(wire.subspan(at, 0), local);
      take = 1;
    }
    take = std::min(wire.size() - at, take);
    decoder.decode(wire.subspan(at, take), local);
    at += take;
  }
  decoder.finish(local);
  *strays = decoder.stray_cr_count();
  return local;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const size_t n = std::min<size_t>(data[0] & 7, size - 1);
  const std::span<const uint8_t> control(data + 1, n);
  const std::span<const uint8_t> text(data + 1 + n, size - 1 - n);

  // One shot: the round trip, the size prediction, and no stray CR in our own encoding.
  const auto wire = netascii_encode(text);
  FUZZ_CHECK(wire.size() == netascii_encoded_size(text));
  NetasciiDecoder decoder;
  std::vector<uint8_t> back;
  decoder.decode(wire, back);
  decoder.finish(back);
  FUZZ_CHECK(std::equal(back.begin(), back.end(), text.begin(), text.end()));
  FUZZ_CHECK(decoder.stray_cr_count() == 0);

  // Streaming equals one shot, encoding the text and decoding its encoding.
  FUZZ_CHECK(encode_streaming(text, Cuts(control)) == wire);
  size_t strays = 0;
  FUZZ_CHECK(decode_streaming(wire, Cuts(control), &strays) == back && strays == 0);

  // The text as arbitrary (often invalid) wire: any cut decodes the same, same stray count.
  NetasciiDecoder whole;
  std::vector<uint8_t> expected;
  whole.decode(text, expected);
  whole.finish(expected);
  FUZZ_CHECK(expected == netascii_decode(text));
  FUZZ_CHECK(decode_streaming(text, Cuts(control), &strays) == expected && strays == whole.stray_cr_count());
  return 0;
}
