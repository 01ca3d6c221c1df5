#include "engine/negotiation.h"

#include <algorithm>
#include <set>

namespace tftp::engine {

using proto::iequals;
using proto::parse_decimal;

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

tl::expected<TransferParams, std::string> accept_oack(const std::vector<proto::OwnedOption>& requested,
                                                      const proto::OptionsView& oack) {
  TransferParams p;
  std::vector<std::string> seen;
  auto requested_value = [&](std::string_view name) -> const proto::OwnedOption* {
    for (const auto& r : requested) {
      if (iequals(r.name, name)) return &r;
    }
    return nullptr;
  };
  for (const proto::Option o : oack) {
    if (seen_before(seen, o.name)) return tl::unexpected("OACK names option '" + std::string(o.name) + "' twice");
    const auto* asked = requested_value(o.name);
    if (asked == nullptr) {
      return tl::unexpected("OACK carries option '" + std::string(o.name) + "' that was not requested (RFC 2347)");
    }
    const auto value = parse_decimal(o.value);
    const auto asked_value = parse_decimal(asked->value);
    if (!value) return tl::unexpected("OACK value '" + std::string(o.value) + "' of " + std::string(o.name) + " is not a decimal number");
    if (iequals(o.name, proto::kBlksize)) {
      if (!proto::blksize_in_range(*value) || (asked_value && *value > *asked_value)) {
        return tl::unexpected("OACK blksize " + std::string(o.value) + " is outside 8..requested (RFC 2348)");
      }
      p.blksize = static_cast<size_t>(*value);
    } else if (iequals(o.name, proto::kTimeout)) {
      if (!asked_value || *value != *asked_value) {
        return tl::unexpected("OACK timeout " + std::string(o.value) + " differs from the requested " + asked->value + " (RFC 2349)");
      }
      p.fixed_timeout = std::chrono::seconds(*value);
    } else if (iequals(o.name, proto::kTsize)) {
      p.tsize = *value;
    } else if (iequals(o.name, proto::kWindowsize)) {
      if (!proto::windowsize_in_range(*value) || (asked_value && *value > *asked_value)) {
        return tl::unexpected("OACK windowsize " + std::string(o.value) + " is outside 1..requested (RFC 7440)");
      }
      p.windowsize = static_cast<uint16_t>(*value);
    }
    // Options the client requested but does not know are accepted as echoed.
  }
  return p;
}

}  // namespace tftp::engine
