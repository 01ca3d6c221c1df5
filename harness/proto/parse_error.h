// Why a datagram is malformed: a stable id (usable as a finding id) and a byte offset.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace tftp::proto {

enum class ParseErrc : uint8_t {
  kEmpty,                    // zero-length datagram
  kTruncatedOpcode,          // one byte
  kUnknownOpcode,            // not 1..6
  kTruncatedBlock,           // DATA/ACK shorter than 4 bytes
  kTrailingBytes,            // bytes after a complete ACK or ERROR (strict)
  kEmptyFilename,
  kUnterminatedFilename,
  kUnterminatedMode,
  kEmptyMode,
  kUnterminatedOptionName,
  kEmptyOptionName,
  kMissingOptionValue,
  kUnterminatedOptionValue,
  kRequestTooLong,           // RRQ/WRQ over 512 bytes (RFC 2347, strict)
  kTruncatedErrorCode,
  kUnterminatedErrorMessage,
  kEmptyOack,                // OACK without any option
  kDataTooLong,              // DATA payload above 65464 bytes
  kBufferTooSmall,           // serialisation: the caller's buffer cannot hold the packet
  kInvalidField,             // serialisation: a string contains NUL
};

struct ParseError {
  ParseErrc code;
  size_t offset;  // where in the datagram the problem was found

  std::string_view id() const;        // "tftp.parse.unterminated_filename"
  std::string_view message() const;  // "filename is not NUL-terminated"
  std::string to_string() const;     // "tftp.parse.unterminated_filename at offset 2: ..."
  friend bool operator==(const ParseError&, const ParseError&) = default;
};

}  // namespace tftp::proto
