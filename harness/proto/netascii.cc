#include "proto/netascii.h"

namespace tftp::proto {

namespace {
constexpr uint8_t kCr = '\r';
constexpr uint8_t kLf = '\n';
constexpr uint8_t kNul = 0;
}  // namespace

NetasciiEncoder::Progress NetasciiEncoder::encode(std::span<const uint8_t> in, std::span<uint8_t> out) {
  Progress p{0, 0};
  if (pending_ && p.produced < out.size()) {
    out[p.produced++] = *pending_;
    pending_.reset();
  }
  while (p.consumed < in.size() && p.produced < out.size() && !pending_) {
    const uint8_t c = in[p.consumed++];
    if (c == kLf || c == kCr) {
      out[p.produced++] = kCr;
      const uint8_t second = (c == kLf) ? kLf : kNul;
      if (p.produced < out.size()) {
        out[p.produced++] = second;
      } else {
        pending_ = second;
      }
    } else {
      out[p.produced++] = c;
    }
  }
  return p;
}

void NetasciiDecoder::decode(std::span<const uint8_t> in, std::vector<uint8_t>& out) {
  for (const uint8_t c : in) {
    if (pending_cr_) {
      pending_cr_ = false;
      if (c == kLf) {
        out.push_back(kLf);
        continue;
      }
      if (c == kNul) {
        out.push_back(kCr);
        continue;
      }
      ++stray_cr_;
      out.push_back(kCr);
    }
    if (c == kCr) {
      pending_cr_ = true;
    } else {
      out.push_back(c);
    }
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
  uint64_t size = local.size();
  for (const uint8_t c : local) size += (c == kLf || c == kCr) ? 1 : 0;
  return size;
}

}  // namespace tftp::proto
