#include "common/hash.h"

#include <xxhash.h>

namespace tftp {

uint64_t content_digest(std::span<const uint8_t> bytes) { return XXH3_64bits(bytes.data(), bytes.size()); }

}  // namespace tftp
