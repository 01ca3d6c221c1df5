// The harness's hashes, both stable across runs, platforms and compilers (unlike std::hash):
// 64-bit FNV-1a for names, seeds and small keys (constexpr, a byte at a time), and XXH3-64
// for content (datagram payloads, files: 8 bytes and more at a time, many times faster on
// a 512-byte block, which matters where every DATA of a capture is hashed).
#pragma once

#include <cstdint>
#include <memory>
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

// The XXH3-64 digest of `bytes`: what tells two datagrams' or files' contents apart.
uint64_t content_digest(std::span<const uint8_t> bytes);

// content_digest of bytes given in pieces (a file as it arrives): equal to content_digest of
// their concatenation.
class ContentDigest {
 public:
  ContentDigest();
  ~ContentDigest();
  ContentDigest(const ContentDigest&) = delete;
  ContentDigest& operator=(const ContentDigest&) = delete;
  void update(std::span<const uint8_t> bytes);
  uint64_t digest() const;

 private:
  struct State;
  std::unique_ptr<State> s_;
};

}  // namespace tftp
