// The fuzzer's randomness: splitmix64, so a seed gives the same cases on every compiler and
// standard library (the <random> distributions are implementation-defined).
#pragma once

#include <cstddef>
#include <cstdint>
#include <initializer_list>

namespace tftp::netfuzz {

class Rng {
 public:
  explicit Rng(uint64_t seed) : state_(seed) {}
  uint64_t next() {
    uint64_t z = (state_ += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  // Uniform enough in [0, n) for fuzzing (n > 0).
  uint64_t below(uint64_t n) { return next() % n; }
  bool chance(uint64_t one_in) { return below(one_in) == 0; }
  template <class T>
  T pick(std::initializer_list<T> items) { return items.begin()[below(items.size())]; }

 private:
  uint64_t state_;
};

// The seed of case `number` of a campaign: each case is reproducible on its own.
inline uint64_t case_seed(uint64_t seed, uint64_t number) {
  Rng r(seed ^ (number * 0xd1342543de82ef95ull));
  return r.next();
}

}  // namespace tftp::netfuzz
