// Fuzz target for the rule engine (harness/check/rules.h) fed an arbitrary sequence of
// datagrams between two clients and a server (its listening port and two TIDs), in both
// directions, at fuzzed times. Properties: it never crashes; indices are 0, 1, 2, ...; every
// finding (during the run and from finish()) names evidence, and only observations that
// exist; what it keeps stays within a fixed bound however long the sequence (retention
// limits cut to 8 + 8 datagrams of 64 bytes, so the rules' own state is what is measured).
//
// Script ops (fuzz_support.h for the datagram layout): op byte b; endpoints: client
// (b >> 2) & 1, server endpoint (b >> 3) % 3 (port 69, TID A, TID B); time advances by
// (b >> 5) x 37 ms before each op.
//   b % 4 == 0  a datagram from the client to the server endpoint
//            1  a datagram from the server endpoint to the client
//            2  DATA from the server endpoint: block = operand u16, operand2 bytes
//               (255: 512 bytes, a full block)
//            3  ACK from the client: block = operand u16
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <vector>

#include "check/rules.h"
#include "fuzz_support.h"
#include "proto/packet.h"

using namespace tftp;
using namespace tftp::check;
using namespace std::chrono_literals;

namespace {

constexpr size_t kRetainedBound = size_t{4} << 20;  // 4 MiB

void check_findings(const RuleEngine& engine, std::span<const Finding> findings) {
  for (const auto& f : findings) {
    FUZZ_CHECK(f.id.starts_with("tftp."));
    FUZZ_CHECK(!f.message.empty() && !f.citation.empty());
    if (f.evidence.empty()) std::fprintf(stderr, "finding without evidence: %s: %s\n", f.id.c_str(), f.message.c_str());
    FUZZ_CHECK(!f.evidence.empty());
    for (const size_t e : f.evidence) FUZZ_CHECK(e < engine.observed_count());
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::ScriptReader in(data, size);
  const Address listen = Address::loopback_v4(69);
  const Address servers[3] = {listen, Address::loopback_v4(40000), Address::loopback_v4(40001)};
  const Address clients[2] = {Address::loopback_v4(5000), Address::loopback_v4(5001)};
  RetentionLimits limits;
  limits.head = 8;
  limits.tail = 8;
  limits.bytes = 64;
  RuleEngine engine(listen, limits);

  Instant now{};
  Observation o;
  size_t expected_index = 0;
  size_t findings_seen = 0;
  static std::vector<uint8_t> out(proto::kMaxDatagramSize);  // made once, not per input
  while (!in.done()) {
    const uint8_t op = in.byte();
    now += (op >> 5) * 37ms;
    const Address& client = clients[(op >> 2) & 1];
    const Address& server = servers[(op >> 3) % 3];
    o.at = now;
    switch (op % 4) {
      case 0: {
        o.direction = Direction::kToTarget;
        o.from = client;
        o.to = server;
        const auto d = in.datagram();
        o.bytes.assign(d.begin(), d.end());
        break;
      }
      case 1: {
        o.direction = Direction::kFromTarget;
        o.from = server;
        o.to = client;
        const auto d = in.datagram();
        o.bytes.assign(d.begin(), d.end());
        break;
      }
      case 2: {
        o.direction = Direction::kFromTarget;
        o.from = server;
        o.to = client;
        const uint16_t block = in.u16();
        const uint8_t len = in.byte();
        static const std::vector<uint8_t> full_block(512, 'x');  // each payload a prefix of it
        const auto payload = std::span<const uint8_t>(full_block).first(len == 255 ? 512 : len);
        o.bytes.assign(out.begin(), out.begin() + static_cast<std::ptrdiff_t>(*proto::write_data(out, block, payload)));
        break;
      }
      case 3: {
        o.direction = Direction::kToTarget;
        o.from = client;
        o.to = server;
        o.bytes.assign(out.begin(), out.begin() + static_cast<std::ptrdiff_t>(*proto::write_ack(out, in.u16())));
        break;
      }
    }
    FUZZ_CHECK(engine.observe(o) == expected_index++);
    // Each new finding once (a finding never changes after it is made, and the count of
    // observations its evidence must stay below only grows).
    if (engine.finding_count() != findings_seen) {
      check_findings(engine, engine.findings_from(findings_seen));
      findings_seen = engine.finding_count();
    }
    FUZZ_CHECK(engine.retained_bytes() <= kRetainedBound);
  }
  FUZZ_CHECK(engine.observed_count() == expected_index);
  FUZZ_CHECK(engine.kept().size() <= limits.head + limits.tail);
  const auto all = engine.finish();
  // finish() returns every finding; those made during the run were checked when made, but
  // checking all again is one pass, and proves finish() returns them intact.
  check_findings(engine, all);
  FUZZ_CHECK(engine.retained_bytes() <= kRetainedBound);
  return 0;
}
