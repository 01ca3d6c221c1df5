// Fuzz target for the client side of a transfer (harness/engine/transfer.h), driven by a
// fuzzed script of server datagrams (from the server's TID, a second TID, or the listening
// port) and timer ticks, reading into or writing from memory. Invariants:
//   - the request goes to the listening port, everything else to the server's TID, except
//     the ERROR 5 a stray gets at its own address (RFC 1350 §4);
//   - lockstep never runs ahead of the ACKs (a WRQ's DATA n only once n - windowsize is
//     acknowledged) and no DATA is larger than the negotiated block size;
//   - the block size and window in force are ones the client asked for, or the defaults
//     when the server ignored the options (RFC 2347, 2348, 7440);
//   - a successful download committed exactly the bytes counted, a failed one committed
//     nothing; every transfer ends within a bounded number of timer firings once the
//     server falls silent; the datagrams fit max_datagram_size().
//
// Input: byte 0 = RRQ/WRQ, mode and which options the request carries; byte 1 the
// requested blksize, byte 2 the windowsize, byte 3 the size of the upload (x 97 bytes);
// then a script (fuzz_support.h): op byte b, source s = (b >> 3) % 3 (TID A, TID B, port 69):
//   b % 8 == 0  tick: time advances by (operand + 1) x 10 ms, due timers fire
//            1  time jumps to the transfer's next deadline
//          2-5  a datagram from s
//            6  from s: ACK of the last DATA the client sent, minus (operand & 3)
//            7  from s: DATA of the block after the last the client acknowledged (minus
//               operand & 1), operand2 bytes (>= 200: the block size minus (255 - operand2))
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "engine/io.h"
#include "engine/transfer.h"
#include "fuzz_support.h"
#include "proto/packet.h"

using namespace tftp;
using namespace tftp::engine;
using namespace std::chrono_literals;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::ScriptReader in(data, size);
  const uint8_t flags = in.byte();
  const uint8_t blksize_byte = in.byte();
  const uint8_t window_byte = in.byte();
  const uint8_t upload_byte = in.byte();
  const bool rrq = (flags & 1) == 0;
  const proto::Mode mode = (flags & 2) ? proto::Mode::kNetascii : proto::Mode::kOctet;
  std::vector<proto::OwnedOption> options;
  size_t requested_blksize = proto::kDefaultBlockSize;
  uint64_t requested_window = 1;
  if (flags & 4) {
    requested_blksize = proto::kMinBlockSize + blksize_byte * 37u;  // 8 .. 9443
    options.push_back({"blksize", std::to_string(requested_blksize)});
  }
  if (flags & 8) {
    requested_window = 1 + window_byte % 16;
    options.push_back({"windowsize", std::to_string(requested_window)});
  }
  if (flags & 16) options.push_back({"tsize", "0"});
  if (flags & 32) options.push_back({"timeout", "1"});

  const Address listen = Address::loopback_v4(69);
  const Address sources[3] = {Address::loopback_v4(40000), Address::loopback_v4(40001), listen};
  Instant now{};
  TransferConfig config;
  std::shared_ptr<const MemorySink::Contents> received;
  // The upload of each size, made on first use and shared by the inputs that upload it
  // (a source only reads it): filling and copying up to 24 KiB per input cost more than
  // most scripts.
  static std::shared_ptr<const std::vector<uint8_t>> uploads[256];
  auto& upload = uploads[upload_byte];
  if (!upload) {
    std::vector<uint8_t> v(size_t{upload_byte} * 97);
    for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<uint8_t>(i % 251);
    upload = std::make_shared<const std::vector<uint8_t>>(std::move(v));
  }
  auto t = [&] {
    if (rrq) {
      auto sink = std::make_unique<MemorySink>();
      received = sink->contents();
      return Transfer::client_read(config, listen, "f", mode, options, std::move(sink), now);
    }
    return Transfer::client_write(config, listen, "f", mode, options, std::make_unique<MemorySource>(upload), now);
  }();

  // Made once: zeroing 128 KiB per input would cost more than a short script.
  static std::vector<uint8_t> buffer(proto::kMaxDatagramSize);
  static std::vector<uint8_t> out(proto::kMaxDatagramSize);
  // Op 7's payloads (odd blocks all CRs, even ones all 'x'), made once: each DATA is a
  // prefix of one of them.
  static const std::vector<uint8_t> payload_of[2] = {std::vector<uint8_t>(proto::kMaxBlockSize + 1, 'x'),
                                                     std::vector<uint8_t>(proto::kMaxBlockSize + 1, '\r')};
  bool request_sent = false;
  uint16_t highest_data = 0;   // WRQ: DATA sent
  uint16_t acked = 0;          // WRQ: the server's highest ACK of a block sent
  uint16_t last_ack_sent = 0;  // RRQ: what the client acknowledged last
  std::optional<Address> tid;  // the server's TID once known (not the listening port)

  const auto drain = [&] {
    while (auto x = t.poll_transmit(buffer)) {
      FUZZ_CHECK(x->size <= t.max_datagram_size() && x->size <= buffer.size());
      const auto p = proto::parse(std::span<const uint8_t>(buffer).first(x->size), proto::Strictness::kStrict);
      FUZZ_CHECK(p.has_value());
      const auto op = proto::opcode_of(*p);
      if (op == proto::Opcode::kRrq || op == proto::Opcode::kWrq) {
        FUZZ_CHECK(x->to == listen && (op == proto::Opcode::kRrq) == rrq);
        request_sent = true;
        continue;
      }
      if (op == proto::Opcode::kError && x->to != t.peer()) {
        FUZZ_CHECK(x->to == sources[0] || x->to == sources[1] || x->to == listen);
        continue;
      }
      FUZZ_CHECK(x->to == t.peer());
      if (op == proto::Opcode::kError) continue;  // e.g. ERROR 8 refusing an OACK it cannot accept
      const auto& params = t.params();
      // At most what it asked for, or 512 when the server ignored the options (RFC 2347).
      FUZZ_CHECK(params.blksize <= std::max(requested_blksize, proto::kDefaultBlockSize) &&
                 params.blksize >= proto::kMinBlockSize);
      FUZZ_CHECK(params.windowsize >= 1 && params.windowsize <= requested_window);
      if (const auto* d = std::get_if<proto::Data>(&*p)) {
        FUZZ_CHECK(!rrq);
        FUZZ_CHECK(d->payload.size() <= params.blksize);
        // Uploads here are at most 255 x 97 bytes: block numbers never wrap.
        FUZZ_CHECK(d->block >= 1 && uint64_t{d->block} <= uint64_t{acked} + params.windowsize);
        highest_data = std::max(highest_data, d->block);
      } else if (const auto* a = std::get_if<proto::Ack>(&*p)) {
        FUZZ_CHECK(rrq);
        last_ack_sent = a->block;
      }
    }
  };
  const auto deliver = [&](const Address& from, std::span<const uint8_t> bytes) {
    t.handle_datagram(now, from, bytes);
    // The peer locks on the first answer and never changes after (RFC 1350 §4).
    if (tid) FUZZ_CHECK(t.peer() == *tid);
    if (!tid && t.peer() != listen) tid = t.peer();
    if (from == t.peer()) {
      const auto p = proto::parse(bytes, proto::Strictness::kLenient);
      if (const auto* a = p ? std::get_if<proto::Ack>(&*p) : nullptr) {
        if (a->block <= highest_data) acked = std::max(acked, a->block);
      }
    }
  };

  drain();
  while (!in.done()) {
    const uint8_t op = in.byte();
    const Address& from = sources[(op >> 3) % 3];
    switch (op % 8) {
      case 0:
        now += (in.byte() + 1) * 10ms;
        if (auto d = t.poll_timeout(); d && *d <= now) t.handle_timeout(now);
        break;
      case 1:
        if (auto d = t.poll_timeout()) {
          now = std::max(now, *d);
          t.handle_timeout(now);
        }
        break;
      case 2:
      case 3:
      case 4:
      case 5: deliver(from, in.datagram()); break;
      case 6: {
        const auto n = proto::write_ack(out, static_cast<uint16_t>(highest_data - (in.byte() & 3)));
        deliver(from, std::span<const uint8_t>(out).first(*n));
        break;
      }
      case 7: {
        const size_t blksize = t.params().blksize;
        const uint16_t next = static_cast<uint16_t>(last_ack_sent + 1);
        const uint8_t k = in.byte();
        const uint8_t len = in.byte();
        size_t payload = len < 200 ? len : blksize - std::min<size_t>(blksize, 255 - len);
        payload = std::min(payload, blksize + 1);
        const auto bytes = std::span<const uint8_t>(payload_of[next & 1]).first(payload);
        const auto n = proto::write_data(out, static_cast<uint16_t>(next - (k & 1)), bytes);
        if (n) deliver(from, std::span<const uint8_t>(out).first(*n));
        break;
      }
    }
    drain();
  }

  // The server falls silent: the client's own deadlines end the transfer.
  for (int firings = 0; firings < 64 && !t.finished(); ++firings) {
    const auto d = t.poll_timeout();
    if (!d) break;
    now = std::max(now, *d);
    t.handle_timeout(now);
    drain();
  }
  FUZZ_CHECK(t.finished() && t.outcome().has_value());
  if (rrq) {
    if (t.outcome()->ok()) {
      FUZZ_CHECK(received->committed && !received->aborted);
      if (mode == proto::Mode::kOctet) FUZZ_CHECK(received->bytes.size() == t.stats().bytes);
    } else {
      FUZZ_CHECK(!received->committed);
    }
  }
  return 0;
}
