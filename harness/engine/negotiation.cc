#include "engine/negotiation.h"

#include <algorithm>
#include <set>

#include "common/text.h"

namespace tftp::engine {

using proto::iequals;
using proto::parse_decimal;

namespace {

// The options this implementation knows, as bits of a mask: RFC 2347 names each option once,
// and only the first of each counts. A mask, not a list of names, so that a request of
// thousands of options (a lenient 64 KiB datagram) costs linear time, not quadratic.
unsigned known_option_bit(std::string_view name) {
  if (iequals(name, proto::kBlksize)) return 1;
  if (iequals(name, proto::kTimeout)) return 2;
  if (iequals(name, proto::kTsize)) return 4;
  if (iequals(name, proto::kWindowsize)) return 8;
  return 0;
}

// Whether `name` came earlier (case-insensitive), remembering it. The names view the
// datagram, which outlives the review: nothing is copied.
bool seen_before(std::vector<std::string_view>& seen, std::string_view name) {
  if (std::any_of(seen.begin(), seen.end(), [&](std::string_view s) { return iequals(s, name); })) return true;
  seen.push_back(name);
  return false;
}

}  // namespace

tl::expected<ServerNegotiation, Refusal> negotiate_as_server(proto::Opcode opcode,
                                                             const proto::OptionsView& requested,
                                                             std::optional<uint64_t> file_size,
                                                             const ServerLimits& limits) {
  ServerNegotiation n;
  if (!limits.options_enabled) return n;
  unsigned seen = 0;
  std::optional<uint64_t> windowsize;
  for (const proto::Option o : requested) {
    const unsigned bit = known_option_bit(o.name);
    if (bit == 0 || (seen & bit) != 0) continue;  // unknown (ignored), or not the first
    seen |= bit;
    const auto value = parse_decimal(o.value);
    if (!value) continue;  // not decimal: ignore the option
    // The OACK echoes the name as the client spelled it; values are ours.
    if (iequals(o.name, proto::kBlksize) && proto::blksize_in_range(*value)) {
      n.params.blksize = static_cast<size_t>(std::min<uint64_t>(*value, limits.max_blksize));
      n.oack.push_back({std::string(o.name), std::to_string(n.params.blksize)});
    } else if (iequals(o.name, proto::kTimeout) && proto::timeout_in_range(*value)) {
      // RFC 2349: accepted as requested, never altered.
      n.params.fixed_timeout = std::chrono::seconds(*value);
      n.oack.push_back({std::string(o.name), std::string(o.value)});
    } else if (iequals(o.name, proto::kTsize)) {
      if (opcode == proto::Opcode::kRrq) {
        if (!file_size) continue;  // size unknown: leave tsize out
        n.params.tsize = *file_size;
        n.oack.push_back({std::string(o.name), std::to_string(*file_size)});
      } else {
        if (*value > limits.max_file_size) {
          return tl::unexpected(Refusal{static_cast<uint16_t>(proto::ErrorCode::kDiskFull),
                                        "file of " + std::to_string(*value) + " bytes exceeds the limit of " +
                                            std::to_string(limits.max_file_size)});
        }
        n.params.tsize = *value;
        n.oack.push_back({std::string(o.name), std::to_string(*value)});
      }
    } else if (iequals(o.name, proto::kWindowsize) && proto::windowsize_in_range(*value)) {
      windowsize = std::min<uint64_t>(*value, limits.max_windowsize);
      n.oack.push_back({std::string(o.name), ""});  // value set below, once blksize is known
    }
  }
  if (windowsize) {
    const uint64_t by_memory = std::max<uint64_t>(1, limits.max_window_bytes / n.params.blksize);
    n.params.windowsize = static_cast<uint16_t>(std::min(*windowsize, by_memory));
    for (auto& o : n.oack) {
      if (iequals(o.name, proto::kWindowsize)) o.value = std::to_string(n.params.windowsize);
    }
  }
  return n;
}

std::string OackViolation::describe() const {
  std::string out = "OACK ";
  append_quoted(out, option);
  out += '=';
  append_quoted(out, value);
  // What the client asked for, e.g. `requested "1024"`.
  const auto req = [&] {
    if (requested.empty()) {
      out += "not requested";
    } else {
      out += "requested ";
      append_quoted(out, requested);
    }
  };
  const auto in_parentheses = [&](std::string_view text) {
    out += text;
    out += " (";
    req();
    out += ')';
  };
  switch (problem) {
    case OackProblem::kDuplicateOption: out += " names the option a second time"; break;
    case OackProblem::kUnrequestedOption: out += " carries an option the request did not ask for"; break;
    case OackProblem::kNotDecimal: in_parentheses(" is not a decimal number"); break;
    case OackProblem::kEchoedNotDecimal: out += " echoes the client's value, which is not a decimal number"; break;
    case OackProblem::kBlksizeRange: in_parentheses(" is not a block size in 8..65464"); break;
    case OackProblem::kBlksizeAboveRequest:
    case OackProblem::kWindowsizeAboveRequest:
      out += " is larger than the ";
      req();
      break;
    case OackProblem::kTimeoutRange: in_parentheses(" is not a timeout in 1..255 s"); break;
    case OackProblem::kTimeoutNotEchoed:
      out += " differs from the ";
      req();
      out += "; the server must echo it";
      break;
    case OackProblem::kWindowsizeRange: in_parentheses(" is not a window size in 1..65535"); break;
    case OackProblem::kTsizeNotDecimal: out += " is not a size in octets"; break;
    case OackProblem::kTsizeNotEchoed:
      out += " does not echo the ";
      req();
      break;
  }
  return out;
}

OackReview review_oack(proto::Opcode opcode, const std::vector<proto::OwnedOption>& requested,
                       const proto::OptionsView& oack) {
  OackReview r;
  std::vector<std::string_view> seen;
  for (const proto::Option o : oack) {
    auto violation = [&](OackProblem problem, std::string_view asked) {
      r.violations.push_back({problem, std::string(o.name), std::string(o.value), std::string(asked)});
    };
    if (seen_before(seen, o.name)) {
      violation(OackProblem::kDuplicateOption, "");
      continue;
    }
    std::vector<std::string_view> asked;
    for (const auto& q : requested) {
      if (iequals(q.name, o.name)) asked.push_back(q.value);
    }
    if (asked.empty()) {
      violation(OackProblem::kUnrequestedOption, "");
      continue;
    }
    const auto value = parse_decimal(o.value);
    std::optional<uint64_t> asked_max;
    bool asked_matches = false;
    for (auto a : asked) {
      if (auto v = parse_decimal(a)) {
        asked_max = std::max(asked_max.value_or(0), *v);
        if (value && *v == *value) asked_matches = true;
      }
    }
    if (!value && std::find(asked.begin(), asked.end(), o.value) != asked.end()) {
      violation(OackProblem::kEchoedNotDecimal, asked.front());
      continue;
    }
    if (iequals(o.name, proto::kBlksize)) {
      if (!value || !proto::blksize_in_range(*value)) {
        violation(OackProblem::kBlksizeRange, asked.front());
      } else if (asked_max && *value > *asked_max) {
        violation(OackProblem::kBlksizeAboveRequest, asked.front());
      }
      if (value && *value > 0) r.params.blksize = static_cast<size_t>(*value);
    } else if (iequals(o.name, proto::kTimeout)) {
      if (!value || !proto::timeout_in_range(*value)) {
        violation(OackProblem::kTimeoutRange, asked.front());
      } else {
        if (asked_max && !asked_matches) violation(OackProblem::kTimeoutNotEchoed, asked.front());
        r.params.fixed_timeout = std::chrono::seconds(*value);
      }
    } else if (iequals(o.name, proto::kWindowsize)) {
      if (!value || !proto::windowsize_in_range(*value)) {
        violation(OackProblem::kWindowsizeRange, asked.front());
      } else {
        if (asked_max && *value > *asked_max) violation(OackProblem::kWindowsizeAboveRequest, asked.front());
        r.params.windowsize = static_cast<uint16_t>(*value);
      }
    } else if (iequals(o.name, proto::kTsize)) {
      if (!value) {
        violation(OackProblem::kTsizeNotDecimal, asked.front());
      } else {
        if (opcode == proto::Opcode::kWrq && asked_max && !asked_matches) {
          violation(OackProblem::kTsizeNotEchoed, asked.front());
        }
        r.params.tsize = *value;
      }
    } else if (!value) {
      // An option the client requested but does not know: accepted as echoed, if a number.
      violation(OackProblem::kNotDecimal, asked.front());
    }
  }
  return r;
}

tl::expected<TransferParams, std::string> accept_oack(const std::vector<proto::OwnedOption>& requested,
                                                      const proto::OptionsView& oack) {
  OackReview r = review_oack(proto::Opcode::kRrq, requested, oack);
  if (!r.violations.empty()) return tl::unexpected(r.violations.front().describe());
  return r.params;
}

}  // namespace tftp::engine
