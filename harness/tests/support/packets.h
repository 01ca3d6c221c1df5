// Datagram builders for tests: each packet as the bytes the codec writes for it.
// Header-only, so unit tests (which do not link the test-support library) can use it.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "proto/options.h"
#include "proto/packet.h"

namespace tftp::testing {

using Bytes = std::vector<uint8_t>;

inline Bytes request(proto::Opcode op, std::string_view file, std::string_view mode = "octet",
                     const std::vector<proto::OwnedOption>& options = {}) {
  Bytes b(proto::kMaxDatagramSize);
  b.resize(proto::write_request(b, op, file, mode, proto::views_of(options)).value());
  return b;
}

inline Bytes data(uint16_t block, std::span<const uint8_t> payload) {
  Bytes b(proto::kDataHeaderSize + payload.size());
  b.resize(proto::write_data(b, block, payload).value());
  return b;
}

inline Bytes ack(uint16_t block) {
  Bytes b(4);
  b.resize(proto::write_ack(b, block).value());
  return b;
}

inline Bytes error(uint16_t code, std::string_view message) {
  Bytes b(5 + message.size());
  b.resize(proto::write_error(b, code, message).value());
  return b;
}

inline Bytes oack(const std::vector<proto::OwnedOption>& options) {
  Bytes b(proto::kMaxDatagramSize);
  b.resize(proto::write_oack(b, proto::views_of(options)).value());
  return b;
}

}  // namespace tftp::testing
