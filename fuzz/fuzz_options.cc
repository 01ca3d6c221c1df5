// Fuzz target for option negotiation (harness/engine/negotiation.h; RFC 2347, 2348, 2349,
// 7440). Property: whatever a request asks, the server's answer is one its own client
// accepts and the rule engine's OACK review finds nothing wrong with: only requested
// options, each once, values in range and within the server's limits, the window within
// its memory cap; accept_oack reads back the parameters the server runs with. A second,
// arbitrary OACK is reviewed against the request too (never crashes, and accept_oack never
// accepts what review_oack calls a MUST violation).
//
// Input layout: byte 0 = opcode (even: RRQ, odd: WRQ) and whether the file size is known;
// bytes 1..6 the server limits (within what the CLI lets a user set); then a request's
// option bytes ("name\0value\0"...) up to the first 0xff byte, then an OACK's.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <vector>

#include "engine/negotiation.h"
#include "fuzz_support.h"
#include "proto/packet.h"

using namespace tftp;
using namespace tftp::engine;
using proto::Opcode;

namespace {

// Builds a datagram (RRQ "f" octet + options, or OACK + options) and parses it the way
// the server and client do, so the option bytes are validated by the real parser.
std::vector<uint8_t> with_header(std::span<const uint8_t> header, std::span<const uint8_t> options) {
  std::vector<uint8_t> d(header.begin(), header.end());
  d.insert(d.end(), options.begin(), options.end());
  return d;
}

bool is_known(std::string_view name) {
  return proto::iequals(name, proto::kBlksize) || proto::iequals(name, proto::kTimeout) ||
         proto::iequals(name, proto::kTsize) || proto::iequals(name, proto::kWindowsize);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::ScriptReader in(data, size);
  const uint8_t flags = in.byte();
  const Opcode opcode = (flags & 1) ? Opcode::kWrq : Opcode::kRrq;
  const std::optional<uint64_t> file_size =
      (flags & 2) ? std::optional<uint64_t>(static_cast<uint64_t>(flags >> 2) * 100003) : std::nullopt;
  ServerLimits limits;
  limits.max_blksize = proto::kMinBlockSize + in.u16() % (proto::kMaxBlockSize - proto::kMinBlockSize + 1);
  limits.max_windowsize = static_cast<uint16_t>(1 + in.byte() % 255);
  limits.max_window_bytes = uint64_t{1} << (in.byte() % 24);
  limits.max_file_size = uint64_t{1} << (in.byte() % 40);
  limits.options_enabled = (in.byte() & 7) != 0;

  const auto rest = in.bytes(size);
  // memchr, not a loop: the fuzz build traces each comparison a loop makes.
  const auto* mark = rest.empty() ? nullptr : static_cast<const uint8_t*>(std::memchr(rest.data(), 0xff, rest.size()));
  const size_t cut = mark ? static_cast<size_t>(mark - rest.data()) : rest.size();
  const auto request_options = rest.first(cut);
  const auto oack_options = cut < rest.size() ? rest.subspan(cut + 1) : rest.subspan(cut);

  const uint8_t request_header[] = {0, static_cast<uint8_t>(opcode), 'f', 0, 'o', 'c', 't', 'e', 't', 0};
  const auto request_bytes = with_header(request_header, request_options);
  const auto request = proto::parse(request_bytes, proto::Strictness::kLenient);
  if (!request) return 0;  // not a run of option pairs: the parser's target covers it
  const auto& requested = std::get<proto::Request>(*request).options;
  const auto requested_owned = requested.to_owned();

  const auto n = negotiate_as_server(opcode, requested, file_size, limits);
  if (!n) {
    // Only a WRQ announcing more than the server takes is refused (ERROR 3, RFC 2349).
    FUZZ_CHECK(opcode == Opcode::kWrq && n.error().code == 3);
  } else {
    const auto& p = n->params;
    FUZZ_CHECK(p.blksize >= proto::kMinBlockSize && p.blksize <= proto::kMaxBlockSize);
    FUZZ_CHECK(p.blksize <= limits.max_blksize || p.blksize == proto::kDefaultBlockSize);
    FUZZ_CHECK(p.windowsize >= 1 && p.windowsize <= std::max<uint16_t>(1, limits.max_windowsize));
    FUZZ_CHECK(p.windowsize == 1 || uint64_t{p.windowsize} * p.blksize <= limits.max_window_bytes);
    FUZZ_CHECK(!limits.options_enabled ? n->oack.empty() : n->oack.size() <= requested_owned.size());
    for (const auto& o : n->oack) {
      FUZZ_CHECK(is_known(o.name));
      FUZZ_CHECK(requested.find(o.name).has_value());
    }
    if (!n->oack.empty()) {
      // The server's OACK on the wire, as its own client and the rule engine read it.
      // Made once: zeroing 64 KiB per input cost more than the negotiation itself.
      static std::vector<uint8_t> buffer(proto::kMaxDatagramSize);
      const auto options = proto::views_of(n->oack);
      const auto written = proto::write_oack(buffer, options);
      FUZZ_CHECK(written.has_value());
      const auto wire = std::span<const uint8_t>(buffer).first(*written);
      const auto oack = proto::parse(wire, proto::Strictness::kStrict);
      FUZZ_CHECK(oack.has_value());
      const auto& view = std::get<proto::Oack>(*oack).options;
      const auto review = review_oack(opcode, requested_owned, view);
      FUZZ_CHECK(review.violations.empty());
      const auto accepted = accept_oack(requested_owned, view);
      FUZZ_CHECK(accepted.has_value());
      FUZZ_CHECK(accepted->blksize == p.blksize && accepted->windowsize == p.windowsize);
      FUZZ_CHECK(accepted->fixed_timeout == p.fixed_timeout);
    }
  }

  // Any OACK against this request: reviewing never crashes, and the client never accepts
  // an OACK the review finds an unrequested or out-of-range option in.
  const uint8_t oack_header[] = {0, 6};
  const auto oack_bytes = with_header(oack_header, oack_options);
  const auto oack = proto::parse(oack_bytes, proto::Strictness::kLenient);
  if (!oack || !std::holds_alternative<proto::Oack>(*oack)) return 0;
  const auto& view = std::get<proto::Oack>(*oack).options;
  const auto review = review_oack(opcode, requested_owned, view);
  for (const auto& v : review.violations) FUZZ_CHECK(!v.describe().empty());
  const auto accepted = accept_oack(requested_owned, view);
  if (accepted) {
    for (const auto& v : review.violations) {
      FUZZ_CHECK(v.problem != OackProblem::kUnrequestedOption && v.problem != OackProblem::kBlksizeRange &&
                 v.problem != OackProblem::kBlksizeAboveRequest && v.problem != OackProblem::kWindowsizeRange);
    }
    FUZZ_CHECK(accepted->blksize >= proto::kMinBlockSize && accepted->blksize <= proto::kMaxBlockSize);
    FUZZ_CHECK(accepted->windowsize >= 1);
  }
  return 0;
}
