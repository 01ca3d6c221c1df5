#include "proto/parse_error.h"

namespace tftp::proto {
namespace {

struct Entry {
  std::string_view id;
  std::string_view message;
};

Entry entry(ParseErrc code) {
  switch (code) {
    case ParseErrc::kEmpty: return {"tftp.parse.empty", "empty datagram"};
    case ParseErrc::kTruncatedOpcode: return {"tftp.parse.truncated_opcode", "datagram shorter than the 2-byte opcode"};
    case ParseErrc::kUnknownOpcode: return {"tftp.parse.unknown_opcode", "opcode is not 1..6 (RRQ, WRQ, DATA, ACK, ERROR, OACK)"};
    case ParseErrc::kTruncatedBlock: return {"tftp.parse.truncated_block", "DATA/ACK shorter than opcode + 2-byte block number"};
    case ParseErrc::kTrailingBytes: return {"tftp.parse.trailing_bytes", "bytes after the end of the packet"};
    case ParseErrc::kEmptyFilename: return {"tftp.parse.empty_filename", "request has an empty filename"};
    case ParseErrc::kUnterminatedFilename: return {"tftp.parse.unterminated_filename", "filename is not NUL-terminated"};
    case ParseErrc::kUnterminatedMode: return {"tftp.parse.unterminated_mode", "mode is missing or not NUL-terminated"};
    case ParseErrc::kEmptyMode: return {"tftp.parse.empty_mode", "request has an empty mode"};
    case ParseErrc::kUnterminatedOptionName: return {"tftp.parse.unterminated_option_name", "option name is not NUL-terminated"};
    case ParseErrc::kEmptyOptionName: return {"tftp.parse.empty_option_name", "option name is empty"};
    case ParseErrc::kMissingOptionValue: return {"tftp.parse.missing_option_value", "option name has no value"};
    case ParseErrc::kUnterminatedOptionValue: return {"tftp.parse.unterminated_option_value", "option value is not NUL-terminated"};
    case ParseErrc::kRequestTooLong: return {"tftp.parse.request_too_long", "request exceeds 512 bytes (RFC 2347)"};
    case ParseErrc::kTruncatedErrorCode: return {"tftp.parse.truncated_error_code", "ERROR shorter than opcode + 2-byte error code"};
    case ParseErrc::kUnterminatedErrorMessage: return {"tftp.parse.unterminated_error_message", "error message is not NUL-terminated"};
    case ParseErrc::kEmptyOack: return {"tftp.parse.empty_oack", "OACK carries no option (RFC 2347)"};
    case ParseErrc::kDataTooLong: return {"tftp.parse.data_too_long", "DATA payload exceeds 65464 bytes (RFC 2348)"};
    case ParseErrc::kBufferTooSmall: return {"tftp.write.buffer_too_small", "output buffer too small for the packet"};
    case ParseErrc::kInvalidField: return {"tftp.write.invalid_field", "a string field contains a NUL byte"};
  }
  return {"tftp.parse.unknown", "unknown parse error"};
}

}  // namespace

std::string_view ParseError::id() const { return entry(code).id; }
std::string_view ParseError::message() const { return entry(code).message; }

std::string ParseError::to_string() const {
  return std::string(id()) + " at offset " + std::to_string(offset) + ": " + std::string(message());
}

}  // namespace tftp::proto
