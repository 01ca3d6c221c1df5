// Option negotiation (RFC 2347 framework; blksize RFC 2348; timeout and tsize RFC 2349;
// windowsize RFC 7440), for both sides.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <tl/expected.hpp>

#include "common/time.h"
#include "proto/options.h"
#include "proto/packet.h"

namespace tftp::engine {

// The parameters a transfer runs with once negotiation is over.
struct TransferParams {
  size_t blksize = proto::kDefaultBlockSize;
  uint16_t windowsize = 1;                // 1: lockstep (RFC 1350)
  std::optional<Duration> fixed_timeout;  // the negotiated `timeout`, if any
  std::optional<uint64_t> tsize;          // the transfer size the peer announced
};

struct ServerLimits {
  size_t max_blksize = proto::kMaxBlockSize;
  uint16_t max_windowsize = 64;
  // Caps blksize x windowsize: the sender keeps one window in memory.
  uint64_t max_window_bytes = 4u << 20;
  uint64_t max_file_size = uint64_t{1} << 32;  // WRQ tsize above this: ERROR 3
  bool options_enabled = true;
};

struct ServerNegotiation {
  TransferParams params;
  std::vector<proto::OwnedOption> oack;  // empty: reply with plain DATA 1 / ACK 0
};

struct Refusal {
  uint16_t code;
  std::string message;
};

// The server's answer to a request's options. `file_size` is the size of the file an
// RRQ reads, as it will go on the wire. Unknown options and invalid values are left out
// of the OACK (RFC 2347: the server omits what it does not accept); only the first of
// duplicated options counts. Refuses a WRQ whose tsize exceeds the limit (ERROR 3).
tl::expected<ServerNegotiation, Refusal> negotiate_as_server(proto::Opcode opcode,
                                                             const proto::OptionsView& requested,
                                                             std::optional<uint64_t> file_size,
                                                             const ServerLimits& limits);

// What can be wrong with a server's OACK, judged against the request it answers. The one
// home of OACK validation: the harness client (accept_oack) and the rule engine
// (check/rules_oack.cc) both call review_oack.
enum class OackProblem {
  kDuplicateOption,          // RFC 2347: an option appears once
  kUnrequestedOption,        // RFC 2347: "must not include ... any option which had not been specifically requested"
  kNotDecimal,               // a value the client cannot read as a number (not the client's own text)
  kEchoedNotDecimal,         // the client's own non-decimal text echoed back: not the server's fault
  kBlksizeRange,             // RFC 2348: 8..65464
  kBlksizeAboveRequest,      // RFC 2348: "must be less than or equal to" the requested value
  kTimeoutRange,             // RFC 2349: 1..255
  kTimeoutNotEchoed,         // RFC 2349: "must match the value specified by the client"
  kWindowsizeRange,          // RFC 7440 §3: 1..65535
  kWindowsizeAboveRequest,   // RFC 7440 §3: "MUST be less than or equal to" the requested value
  kTsizeNotDecimal,          // RFC 2349: a size in octets
  kTsizeNotEchoed,           // RFC 2349: a WRQ's OACK echoes the client's tsize
};

struct OackViolation {
  OackProblem problem;
  std::string option;     // the name as the OACK spells it
  std::string value;      // the value the OACK carries
  std::string requested;  // the (first) value the request carried for it, if any
  std::string describe() const;  // e.g. OACK "blksize"="70000" is not a block size in 8..65464 (requested "1024")
};

struct OackReview {
  // What the transfer runs with as the OACK announces it (values out of range included,
  // so a checker can judge the DATA that follows by what was announced).
  TransferParams params;
  std::vector<OackViolation> violations;  // in the order of the OACK's options
};

// Judges a server's OACK against the options of the request it answers. A request may
// (wrongly) repeat an option: a value is checked against any of the requested ones.
OackReview review_oack(proto::Opcode opcode, const std::vector<proto::OwnedOption>& requested,
                       const proto::OptionsView& oack);

// Validates a server's OACK against what the client asked for. The error says why the
// client must refuse it with ERROR 8 (RFC 2347).
tl::expected<TransferParams, std::string> accept_oack(const std::vector<proto::OwnedOption>& requested,
                                                      const proto::OptionsView& oack);

}  // namespace tftp::engine
