// Delta debugging (Zeller and Hildebrandt, "Simplifying and Isolating Failure-Inducing
// Input", 2002): the smallest subsequence that still makes a test fail, found by removing
// chunks, then single items. Generic and without I/O; the network fuzzer's test restarts
// the target, replays and probes, so each call is costly and a budget bounds them.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <vector>

namespace tftp::netfuzz {

struct ShrinkBudget {
  size_t attempts_left = 100;  // calls to the test still allowed
  size_t attempts_made = 0;
  bool exhausted() const { return attempts_left == 0; }
  bool take() {
    if (attempts_left == 0) return false;
    --attempts_left;
    ++attempts_made;
    return true;
  }
};

// `fails(items)` must hold for `items` on entry. Returns a subsequence (order kept) for which
// `fails` holds and from which, within the budget, no single item can be removed.
template <class T>
std::vector<T> ddmin(std::vector<T> items, const std::function<bool(const std::vector<T>&)>& fails, ShrinkBudget& budget) {
  size_t n = 2;
  while (items.size() >= 2 && !budget.exhausted()) {
    const size_t chunk = (items.size() + n - 1) / n;
    bool reduced = false;
    // Try each complement (the sequence without one chunk); a lone chunk is the complement
    // of the rest, so for n == 2 this tries both halves.
    for (size_t start = 0; start < items.size() && !budget.exhausted(); start += chunk) {
      std::vector<T> rest;
      for (size_t i = 0; i < items.size(); ++i) {
        if (i < start || i >= start + chunk) rest.push_back(items[i]);
      }
      if (rest.empty() || !budget.take()) continue;
      if (fails(rest)) {
        items = std::move(rest);
        n = std::max<size_t>(n - 1, 2);
        reduced = true;
        break;
      }
    }
    if (reduced) continue;
    if (n >= items.size()) break;  // single items tried: 1-minimal
    n = std::min(items.size(), n * 2);
  }
  return items;
}

// The shortest prefix of `bytes` for which `fails` holds, by bisection (a truncated
// datagram is the usual smaller reproducer of a parser bug). `fails(bytes)` holds on entry.
inline std::vector<uint8_t> shortest_failing_prefix(std::vector<uint8_t> bytes,
                                                    const std::function<bool(const std::vector<uint8_t>&)>& fails,
                                                    ShrinkBudget& budget) {
  size_t good = 0, bad = bytes.size();  // prefix of length `bad` fails; assume 0 does not
  while (bad - good > 1 && budget.take()) {
    const size_t mid = good + (bad - good) / 2;
    std::vector<uint8_t> prefix(bytes.begin(), bytes.begin() + static_cast<long>(mid));
    if (fails(prefix)) bad = mid;
    else good = mid;
  }
  bytes.resize(bad);
  return bytes;
}

}  // namespace tftp::netfuzz
