#include "common/hash.h"

#include <new>

// libxxhash's own entry points (XXH3_64bits, ...) are built for the baseline x86-64 (SSE2)
// in Debian's package; its *_dispatch ones pick the widest vector unit the CPU has at run
// time (AVX2 here): 36 against 78 ns for a 512-byte block, the same digest (bench/RESULTS.md).
// Every DATA of a capture is hashed, so that was 6 % of an analysis.
#include <xxh_x86dispatch.h>

namespace tftp {

uint64_t content_digest(std::span<const uint8_t> bytes) { return XXH3_64bits_dispatch(bytes.data(), bytes.size()); }

struct ContentDigest::State {
  XXH3_state_t* xxh = XXH3_createState();
  ~State() { XXH3_freeState(xxh); }
};

ContentDigest::ContentDigest() : s_(std::make_unique<State>()) {
  if (s_->xxh == nullptr) throw std::bad_alloc();
  XXH3_64bits_reset(s_->xxh);
}
ContentDigest::~ContentDigest() = default;

void ContentDigest::update(std::span<const uint8_t> bytes) {
  XXH3_64bits_update_dispatch(s_->xxh, bytes.data(), bytes.size());
}

uint64_t ContentDigest::digest() const { return XXH3_64bits_digest(s_->xxh); }

}  // namespace tftp
