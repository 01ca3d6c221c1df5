// Fuzz target for the wire codec (harness/proto/packet.h).
// Property: any datagram either fails to parse with an error inside it, or parses to a
// packet that the write_* functions serialise back and that re-parses to the same packet;
// in strict mode the serialised bytes are the input itself. Lenient accepts whatever strict
// accepts, and every option name can be found again (in lists over 32 options: the first 32
// names and the last, see below). describe_datagram has its own target (fuzz_describe.cc).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <iterator>
#include <span>
#include <vector>

#include "proto/packet.h"

using namespace tftp::proto;

namespace {

__extension__ typedef unsigned __int128 u128;

#define FUZZ_CHECK(cond) \
  do {                   \
    if (!(cond)) __builtin_trap(); \
  } while (0)

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::span<const uint8_t> in(data, size);
  const auto strict = parse(in, Strictness::kStrict);
  const auto lenient = parse(in, Strictness::kLenient);
  FUZZ_CHECK(!strict || (lenient && same_packet(*strict, *lenient)));

  for (const auto s : {Strictness::kStrict, Strictness::kLenient}) {
    const auto& parsed = s == Strictness::kStrict ? strict : lenient;
    if (!parsed) {
      FUZZ_CHECK(parsed.error().offset <= size);
      FUZZ_CHECK(parsed.error().id().starts_with("tftp.parse."));
      continue;
    }
    // Strict accepted it: its round trip gave back the input itself, and the lenient packet
    // has the same fields, so the lenient round trip would write and re-parse those very
    // bytes again. Nothing left to learn from it.
    if (s == Strictness::kLenient && strict) continue;
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
  }

  // Options as the engine reads them: every name is found again, and values are ASCII
  // decimal (RFC 2347) exactly when parse_decimal says so.
  if (lenient) {
    const OptionsView* options = nullptr;
    if (const auto* r = std::get_if<Request>(&*lenient)) options = &r->options;
    if (const auto* o = std::get_if<Oack>(&*lenient)) options = &o->options;
    if (options) {
      size_t index = 0;
      for (auto it = options->begin(); it != options->end(); ++it, ++index) {
        const Option o = *it;
        FUZZ_CHECK(!o.name.empty());
        // find() walks the list from the start: asked for every name of a long list it
        // costs N^2 / 2 steps, which made a 600-byte input of 150 options the slowest case.
        // Every name is looked up among the first kFindChecked options (more than any real
        // request carries), and beyond them only the last name, whose lookup walks the
        // whole list: find() has no state that depends on the position.
        constexpr size_t kFindChecked = 32;
        if (index < kFindChecked || std::next(it) == options->end()) FUZZ_CHECK(options->find(o.name).has_value());
        // parse_decimal against a 128-bit reference (20 digits cannot overflow it).
        const bool digits = !o.value.empty() && o.value.size() <= 20 &&
                            o.value.find_first_not_of("0123456789") == std::string_view::npos;
        const auto parsed = parse_decimal(o.value);
        if (!digits) {
          FUZZ_CHECK(!parsed);
          continue;
        }
        u128 reference = 0;
        for (const char c : o.value) reference = reference * 10 + static_cast<unsigned>(c - '0');
        FUZZ_CHECK(parsed.has_value() == (reference <= UINT64_MAX));
        FUZZ_CHECK(!parsed || *parsed == reference);
      }
    }
  }
  return 0;
}
