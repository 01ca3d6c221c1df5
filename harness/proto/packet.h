// TFTP wire format (RFC 1350 §5, RFC 2347 OACK): parse a datagram into a view over its
// bytes, and serialise packets into a caller's buffer. No I/O, no clock, no allocation
// on the parse path.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <variant>

#include <tl/expected.hpp>

#include "proto/options.h"
#include "proto/parse_error.h"

namespace tftp::proto {

enum class Opcode : uint16_t { kRrq = 1, kWrq = 2, kData = 3, kAck = 4, kError = 5, kOack = 6 };
std::string_view opcode_name(Opcode op);  // "RRQ", "WRQ", ...

// RFC 1350 §5 plus RFC 2347 code 8.
enum class ErrorCode : uint16_t {
  kNotDefined = 0,
  kFileNotFound = 1,
  kAccessViolation = 2,
  kDiskFull = 3,
  kIllegalOperation = 4,
  kUnknownTransferId = 5,
  kFileExists = 6,
  kNoSuchUser = 7,
  kOptionRefused = 8,
};
std::string_view error_code_name(uint16_t code);  // "File not found", ... or "Unknown error code"

enum class Mode { kNetascii, kOctet, kMail, kUnknown };
Mode mode_from_text(std::string_view text);  // case-insensitive (RFC 1350 §5)
std::string_view mode_name(Mode mode);

inline constexpr size_t kDefaultBlockSize = 512;
inline constexpr size_t kMinBlockSize = 8;         // RFC 2348
inline constexpr size_t kMaxBlockSize = 65464;     // RFC 2348: fits one IPv4 UDP datagram
inline constexpr size_t kMaxRequestSize = 512;     // RFC 2347: the whole RRQ/WRQ
inline constexpr size_t kDataHeaderSize = 4;
inline constexpr size_t kMaxDatagramSize = kMaxBlockSize + kDataHeaderSize;

struct Request {
  Opcode opcode;              // kRrq or kWrq
  std::string_view filename;  // bytes as sent, without the NUL
  std::string_view mode_text;
  Mode mode;
  OptionsView options;
};

struct Data {
  uint16_t block;
  std::span<const uint8_t> payload;
};

struct Ack {
  uint16_t block;
};

struct ErrorPacket {
  uint16_t code;
  std::string_view message;
};

struct Oack {
  OptionsView options;
};

using Packet = std::variant<Request, Data, Ack, ErrorPacket, Oack>;
Opcode opcode_of(const Packet& p);

enum class Strictness {
  kStrict,   // what the RFCs allow: requests <= 512 bytes, nothing after an ACK or ERROR
  kLenient,  // what real peers send: trailing bytes, long requests and an OACK with no
             // option are tolerated
};

// Parses one datagram. The result views `bytes`, which must outlive it.
tl::expected<Packet, ParseError> parse(std::span<const uint8_t> bytes,
                                       Strictness strictness = Strictness::kStrict);

// Serialisation. Each returns the number of bytes written, or kBufferTooSmall.
using WriteResult = tl::expected<size_t, ParseError>;
WriteResult write_request(std::span<uint8_t> out, Opcode opcode, std::string_view filename,
                          std::string_view mode, std::span<const Option> options = {});
WriteResult write_data(std::span<uint8_t> out, uint16_t block, std::span<const uint8_t> payload);
WriteResult write_ack(std::span<uint8_t> out, uint16_t block);
WriteResult write_error(std::span<uint8_t> out, uint16_t code, std::string_view message);
WriteResult write_oack(std::span<uint8_t> out, std::span<const Option> options);
// Writes a parsed packet back with the functions above: for anything strict parsing
// accepted, the bytes it was parsed from.
WriteResult write_packet(std::span<uint8_t> out, const Packet& p);

// Field-by-field equality (the views compare by content, options in order).
bool same_packet(const Packet& a, const Packet& b);

// One-line human description, e.g. `DATA block=3 size=512` or `RRQ "a.bin" "octet" "blksize"="1024"`
// (strings quoted, bytes outside printable ASCII as \xNN).
std::string describe(const Packet& p);
// Describes any datagram (leniently): the packet, or
// `malformed (tftp.parse.x at offset N: message), M bytes`.
std::string describe_datagram(std::span<const uint8_t> bytes);

}  // namespace tftp::proto
