#include "engine/negotiation.h"

#include <algorithm>
#include <set>

#include "common/text.h"

namespace tftp::engine {

using proto::iequals;
using proto::parse_decimal;
using tftp::quote;

namespace {

bool seen_before(std::vector<std::string>& seen, std::string_view name) {
  std::string lower(name);
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
  if (std::find(seen.begin(), seen.end(), lower) != seen.end()) return true;
  seen.push_back(lower);
  return false;
}

}  // namespace

tl::expected<ServerNegotiation, Refusal> negotiate_as_server(proto::Opcode opcode,
                                                             const proto::OptionsView& requested,
                                                             std::optional<uint64_t> file_size,
                                                             const ServerLimits& limits) {
  ServerNegotiation n;
  if (!limits.options_enabled) return n;
  std::vector<std::string> seen;
  std::optional<uint64_t> windowsize;
  for (const proto::Option o : requested) {
    if (seen_before(seen, o.name)) continue;
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
  const std::string shown = "OACK " + quote(option) + "=" + quote(value);
  const std::string req = requested.empty() ? std::string("not requested") : "requested " + quote(requested);
  switch (problem) {
    case OackProblem::kDuplicateOption: return shown + " names the option a second time";
    case OackProblem::kUnrequestedOption: return shown + " carries an option the request did not ask for";
    case OackProblem::kNotDecimal: return shown + " is not a decimal number (" + req + ")";
    case OackProblem::kEchoedNotDecimal: return shown + " echoes the client's value, which is not a decimal number";
    case OackProblem::kBlksizeRange: return shown + " is not a block size in 8..65464 (" + req + ")";
    case OackProblem::kBlksizeAboveRequest: return shown + " is larger than the " + req;
    case OackProblem::kTimeoutRange: return shown + " is not a timeout in 1..255 s (" + req + ")";
    case OackProblem::kTimeoutNotEchoed: return shown + " differs from the " + req + "; the server must echo it";
    case OackProblem::kWindowsizeRange: return shown + " is not a window size in 1..65535 (" + req + ")";
    case OackProblem::kWindowsizeAboveRequest: return shown + " is larger than the " + req;
    case OackProblem::kTsizeNotDecimal: return shown + " is not a size in octets";
    case OackProblem::kTsizeNotEchoed: return shown + " does not echo the " + req;
  }
  return shown;
}

OackReview review_oack(proto::Opcode opcode, const std::vector<proto::OwnedOption>& requested,
                       const proto::OptionsView& oack) {
  OackReview r;
  std::vector<std::string> seen;
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
