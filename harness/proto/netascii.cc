#include "proto/netascii.h"

#include <algorithm>
#include <cstring>

namespace tftp::proto {

namespace {
constexpr uint8_t kCr = '\r';
constexpr uint8_t kLf = '\n';
constexpr uint8_t kNul = 0;

// Occurrences of `c`, found by memchr: text is mostly runs without it.
uint64_t count_byte(std::span<const uint8_t> bytes, uint8_t c) {
  uint64_t n = 0;
  const uint8_t* p = bytes.data();
  const uint8_t* const end = p + bytes.size();
  while (p != end) {
    const auto* hit = static_cast<const uint8_t*>(std::memchr(p, c, static_cast<size_t>(end - p)));
    if (hit == nullptr) break;
    ++n;
    p = hit + 1;
  }
  return n;
}
}  // namespace

NetasciiEncoder::Progress NetasciiEncoder::encode(std::span<const uint8_t> in, std::span<uint8_t> out) {
  if (out.empty()) return {0, 0};
  uint8_t* dst = out.data();
  uint8_t* const dst_end = dst + out.size();
  if (pending_) {
    *dst++ = *pending_;
    pending_.reset();
  }
  const uint8_t* src = in.data();
  const uint8_t* const src_end = src + in.size();
  // The next LF and CR at or after `src` (src_end: none left), each found by memchr once and
  // looked for again only after it is passed: text is mostly runs without either, copied
  // whole, and no byte is scanned twice for the same character however the two interleave.
  const uint8_t* next_lf = nullptr;
  const uint8_t* next_cr = nullptr;
  const auto next = [&](const uint8_t*& cached, uint8_t c) {
    if (cached == nullptr || cached < src) {
      const auto* hit = static_cast<const uint8_t*>(std::memchr(src, c, static_cast<size_t>(src_end - src)));
      cached = hit ? hit : src_end;
    }
    return cached;
  };
  while (src != src_end && dst != dst_end) {
    const size_t room = std::min(static_cast<size_t>(src_end - src), static_cast<size_t>(dst_end - dst));
    const uint8_t* const stop = std::min({next(next_lf, kLf), next(next_cr, kCr), src + room});
    const auto run = static_cast<size_t>(stop - src);
    std::memcpy(dst, src, run);
    src += run;
    dst += run;
    if (src == src_end || dst == dst_end) break;
    const uint8_t c = *src++;  // an LF or a CR: it becomes a pair
    *dst++ = kCr;
    const uint8_t second = (c == kLf) ? kLf : kNul;
    if (dst == dst_end) {
      pending_ = second;  // completed at the start of the next call
      break;
    }
    *dst++ = second;
  }
  return {static_cast<size_t>(src - in.data()), static_cast<size_t>(dst - out.data())};
}

void NetasciiDecoder::decode(std::span<const uint8_t> in, std::vector<uint8_t>& out) {
  const uint8_t* p = in.data();
  const uint8_t* const end = p + in.size();
  while (p != end) {
    if (pending_cr_) {
      // The byte after a CR, perhaps the first of this call (the CR ended the last block).
      pending_cr_ = false;
      if (*p == kLf || *p == kNul) {
        out.push_back(*p == kLf ? kLf : kCr);
        ++p;
        continue;
      }
      ++stray_cr_;
      out.push_back(kCr);  // kept as is; the byte after it is read as usual
    }
    // Everything up to the next CR is the text itself.
    const auto* cr = static_cast<const uint8_t*>(std::memchr(p, kCr, static_cast<size_t>(end - p)));
    out.insert(out.end(), p, cr ? cr : end);
    if (cr == nullptr) break;
    pending_cr_ = true;
    p = cr + 1;
  }
}

void NetasciiDecoder::finish(std::vector<uint8_t>& out) {
  if (pending_cr_) {
    ++stray_cr_;
    out.push_back(kCr);
    pending_cr_ = false;
  }
}

std::vector<uint8_t> netascii_encode(std::span<const uint8_t> local) {
  std::vector<uint8_t> out(netascii_encoded_size(local));
  NetasciiEncoder encoder;
  encoder.encode(local, out);
  return out;
}

std::vector<uint8_t> netascii_decode(std::span<const uint8_t> wire) {
  std::vector<uint8_t> out;
  out.reserve(wire.size());
  NetasciiDecoder decoder;
  decoder.decode(wire, out);
  decoder.finish(out);
  return out;
}

uint64_t netascii_encoded_size(std::span<const uint8_t> local) {
  return local.size() + count_byte(local, kLf) + count_byte(local, kCr);
}

}  // namespace tftp::proto
