// Block numbers: the one home for their arithmetic. RFC 1350 §5 carries a 16-bit block
// number; a transfer longer than 65535 blocks wraps, and the RFCs do not say to what: the
// de facto choices are 0 (tftpd-hpa, atftpd, dnsmasq, the reference server) and 1 (some
// bootloaders). Engines, the rule engine and the scenario interpreter count blocks as
// absolute 64-bit numbers and convert here, so every one of them accepts either wrap.
#pragma once

#include <cstdint>
#include <optional>

namespace tftp::proto {

inline constexpr uint32_t kBlockModulus = 0x10000;
inline constexpr uint16_t kLastBlockBeforeWrap = 0xffff;

// The wire number of absolute block `abs` (1-based; 0 is the ACK of a request or OACK)
// when the sender wraps from 65535 to `wrap_to` (0 or 1).
constexpr uint16_t wire_block(uint64_t abs, uint16_t wrap_to = 0) {
  if (abs <= kLastBlockBeforeWrap) return static_cast<uint16_t>(abs);
  const uint64_t period = kBlockModulus - wrap_to;
  return static_cast<uint16_t>(wrap_to + (abs - kBlockModulus) % period);
}

// How far `to` lies ahead of `from` on the 16-bit circle (0 when equal).
constexpr uint16_t wire_distance(uint16_t from, uint16_t to) { return static_cast<uint16_t>(to - from); }

// `to` is ahead of `from` by 1..32767: a later block, not an old one.
constexpr bool wire_ahead(uint16_t from, uint16_t to) {
  const uint16_t d = wire_distance(from, to);
  return d >= 1 && d < 0x8000;
}

// A block after 65535 that starts the next cycle: 0 or 1. Nullopt if `next_wire` is no wrap.
constexpr std::optional<uint16_t> wrap_value(uint16_t previous_wire, uint16_t next_wire) {
  if (previous_wire != kLastBlockBeforeWrap || next_wire > 1) return std::nullopt;
  return next_wire;
}

// Follows one side's block numbers as absolute counts across any number of wraps, learning
// the wrap value (0 or 1) the first time the sequence passes 65535. A number is placed
// within half the circle of the highest one seen: ahead is new, behind is a repeat.
class BlockUnwrapper {
 public:
  // The absolute block for `wire`; the highest seen so far moves forward only.
  uint64_t unwrap(uint16_t wire) {
    if (!any_) {
      any_ = true;
      highest_ = wire;
      return wire;
    }
    const uint16_t top = wire_block(highest_, wrap_to_.value_or(0));
    if (!wrap_to_ && highest_ >= kLastBlockBeforeWrap) {
      if (auto w = wrap_value(top, wire)) {
        wrap_to_ = *w;
        return ++highest_;
      }
    }
    const uint16_t period_wrap = wrap_to_.value_or(0);
    // Along the absolute numbers the wire number steps by one, except that a wrap to 1
    // skips 0; the same wire number comes back only after 65535 steps, beyond the half
    // circle searched. So the block lies `distance` steps away, or one step less where the
    // skip was crossed: two candidates to check, not up to 32767 steps to walk (a fuzzed
    // capture jumps that far on every other datagram).
    const auto matches = [&](uint64_t abs) { return wire_block(abs, period_wrap) == wire; };
    if (wire_ahead(top, wire)) {
      const uint64_t d = wire_distance(top, wire);  // 1..32767
      uint64_t abs = highest_ + 0x8000;             // none found: as far as the search goes
      if (matches(highest_ + d - 1)) {
        abs = highest_ + d - 1;
      } else if (matches(highest_ + d)) {
        abs = highest_ + d;
      }
      highest_ = abs;
      return abs;
    }
    // Behind (or equal): searched back to half the circle or block 0, whichever is nearer.
    const uint64_t back = wire_distance(wire, top);  // 0, or 1..32768 back
    const uint64_t floor = highest_ > 0x8000 ? highest_ - 0x8000 : 0;
    for (const uint64_t steps : {back - 1, back}) {
      if (steps > back || steps > highest_) continue;  // (back - 1 underflows when back is 0)
      const uint64_t abs = highest_ - steps;
      if (abs > floor && matches(abs)) return abs;
    }
    return floor;
  }
  uint64_t highest() const { return highest_; }
  // The value the sequence wrapped to after 65535, once it has.
  std::optional<uint16_t> wrap_to() const { return wrap_to_; }

 private:
  bool any_ = false;
  uint64_t highest_ = 0;
  std::optional<uint16_t> wrap_to_;
};

}  // namespace tftp::proto
