// Fuzz target for the wire codec (harness/proto/packet.h).
// Property: any datagram either fails to parse with an error inside it, or parses to a
// packet that the write_* functions serialise back and that re-parses to the same packet;
// in strict mode the serialised bytes are the input itself. describe() never crashes,
// and lenient accepts whatever strict accepts.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>
#include <vector>

#include "proto/packet.h"

using namespace tftp::proto;

namespace {

#define FUZZ_CHECK(cond) \
  do {                   \
    if (!(cond)) __builtin_trap(); \
  } while (0)

std::vector<Option> options_of(const OptionsView& v) {
  std::vector<Option> out;
  for (const Option o : v) out.push_back(o);
  return out;
}

bool same_packet(const Packet& a, const Packet& b) {
  if (a.index() != b.index()) return false;
  if (const auto* r = std::get_if<Request>(&a)) {
    const auto& s = std::get<Request>(b);
    return r->opcode == s.opcode && r->filename == s.filename && r->mode_text == s.mode_text && r->mode == s.mode &&
           options_of(r->options) == options_of(s.options);
  }
  if (const auto* d = std::get_if<Data>(&a)) {
    const auto& e = std::get<Data>(b);
    return d->block == e.block && std::equal(d->payload.begin(), d->payload.end(), e.payload.begin(), e.payload.end());
  }
  if (const auto* k = std::get_if<Ack>(&a)) return k->block == std::get<Ack>(b).block;
  if (const auto* e = std::get_if<ErrorPacket>(&a)) {
    const auto& f = std::get<ErrorPacket>(b);
    return e->code == f.code && e->message == f.message;
  }
  return options_of(std::get<Oack>(a).options) == options_of(std::get<Oack>(b).options);
}

WriteResult write_packet(std::span<uint8_t> out, const Packet& p) {
  if (const auto* r = std::get_if<Request>(&p)) {
    const auto options = options_of(r->options);
    return write_request(out, r->opcode, r->filename, r->mode_text, options);
  }
  if (const auto* d = std::get_if<Data>(&p)) return write_data(out, d->block, d->payload);
  if (const auto* k = std::get_if<Ack>(&p)) return write_ack(out, k->block);
  if (const auto* e = std::get_if<ErrorPacket>(&p)) return write_error(out, e->code, e->message);
  return write_oack(out, options_of(std::get<Oack>(p).options));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::span<const uint8_t> in(data, size);
  const auto strict = parse(in, Strictness::kStrict);
  const auto lenient = parse(in, Strictness::kLenient);
  FUZZ_CHECK(!strict || (lenient && same_packet(*strict, *lenient)));
  FUZZ_CHECK(!describe_datagram(in).empty());

  for (const auto s : {Strictness::kStrict, Strictness::kLenient}) {
    const auto& parsed = s == Strictness::kStrict ? strict : lenient;
    if (!parsed) {
      FUZZ_CHECK(parsed.error().offset <= size);
      FUZZ_CHECK(parsed.error().id().starts_with("tftp.parse."));
      continue;
    }
    FUZZ_CHECK(!describe(*parsed).empty());
    // Re-serialising never needs more room than the datagram had: only ignored
    // trailing bytes (lenient) can be dropped. An exact-size heap buffer lets ASan see
    // any write past it.
    std::vector<uint8_t> out(size);
    const auto written = write_packet(out, *parsed);
    FUZZ_CHECK(written.has_value());
    FUZZ_CHECK(*written <= size);
    if (s == Strictness::kStrict) FUZZ_CHECK(*written == size && std::equal(out.begin(), out.end(), in.begin()));
    const auto again = parse(std::span<const uint8_t>(out).first(*written), s);
    FUZZ_CHECK(again.has_value());
    FUZZ_CHECK(same_packet(*parsed, *again));
    FUZZ_CHECK(describe(*parsed) == describe(*again));
  }
  return 0;
}
