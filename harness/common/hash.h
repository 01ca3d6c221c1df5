// The one hash of the harness: 64-bit FNV-1a. Stable across runs, platforms and compilers
// (unlike std::hash), so digests and seeds derived from it can go into reports.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

namespace tftp {

inline constexpr uint64_t kFnv1aOffset = 1469598103934665603ull;
inline constexpr uint64_t kFnv1aPrime = 1099511628211ull;

// Continues hash `h` over `bytes`; start from kFnv1aOffset (or a value mixed into it).
constexpr uint64_t fnv1a(std::span<const uint8_t> bytes, uint64_t h = kFnv1aOffset) {
  for (uint8_t c : bytes) h = (h ^ c) * kFnv1aPrime;
  return h;
}
constexpr uint64_t fnv1a(std::string_view text, uint64_t h = kFnv1aOffset) {
  for (unsigned char c : text) h = (h ^ c) * kFnv1aPrime;
  return h;
}

}  // namespace tftp
