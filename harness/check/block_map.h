// What the rules record per block of a transfer (its sends, its ACKs), as one sorted vector.
//
// A transfer's entries are a short window of recent blocks, pruned from the front as the
// transfer moves on: appending the next block and erasing the oldest are the common cases,
// and a vector does both without a node per block. The std::map this replaces cost a fifth
// of a capture's analysis in its node allocations and its teardown (bench/RESULTS.md).
// Erasing the first entry only moves a start offset; that space is reclaimed once it is
// half the vector, so each operation costs O(1) amortised at the ends and O(size) in the
// middle (rare: an ACK for an older block, a wire number after a wrap).
//
// Unlike std::map, inserting an entry invalidates references and iterators into the map.
#pragma once

#include <algorithm>
#include <cstddef>
#include <utility>
#include <vector>

namespace tftp::check {

template <class Key, class Value>
class BlockMap {
 public:
  using value_type = std::pair<Key, Value>;
  using iterator = typename std::vector<value_type>::iterator;
  using const_iterator = typename std::vector<value_type>::const_iterator;

  iterator begin() { return entries_.begin() + static_cast<std::ptrdiff_t>(head_); }
  iterator end() { return entries_.end(); }
  const_iterator begin() const { return entries_.begin() + static_cast<std::ptrdiff_t>(head_); }
  const_iterator end() const { return entries_.end(); }
  size_t size() const { return entries_.size() - head_; }
  bool empty() const { return size() == 0; }

  iterator lower_bound(Key k) { return std::lower_bound(begin(), end(), k, before); }
  const_iterator lower_bound(Key k) const { return std::lower_bound(begin(), end(), k, before); }
  iterator find(Key k) {
    auto it = lower_bound(k);
    return it != end() && it->first == k ? it : end();
  }
  const_iterator find(Key k) const {
    auto it = lower_bound(k);
    return it != end() && it->first == k ? it : end();
  }
  size_t count(Key k) const { return find(k) != end() ? 1 : 0; }

  // The entry for `k`, value-initialised if new (as std::map::operator[]).
  Value& operator[](Key k) {
    if (entries_.capacity() == 0) entries_.reserve(kFirstReserve);  // not 1, 2, 4, ... for each transfer
    if (empty() || entries_.back().first < k) return entries_.emplace_back(k, Value{}).second;
    auto it = lower_bound(k);
    if (it != end() && it->first == k) return it->second;
    return entries_.emplace(it, k, Value{})->second;
  }

  // Returns the iterator after the erased entry.
  iterator erase(iterator it) {
    if (it != begin()) return entries_.erase(it);
    ++head_;
    if (head_ >= kReclaimAfter && 2 * head_ >= entries_.size()) {
      entries_.erase(entries_.begin(), entries_.begin() + static_cast<std::ptrdiff_t>(head_));
      head_ = 0;
    }
    return begin();
  }

  // Empties the map and gives back its memory.
  void release() {
    std::vector<value_type>().swap(entries_);
    head_ = 0;
  }

  // Keeps only the entry for `k`, if any, and gives back the memory of the others.
  void keep_only(Key k) {
    auto it = find(k);
    std::vector<value_type> kept;
    if (it != end()) kept.push_back(std::move(*it));
    entries_.swap(kept);
    head_ = 0;
  }

  // Gives back the room erased and spare entries take (the entries stay).
  void shrink_to_fit() {
    entries_.erase(entries_.begin(), entries_.begin() + static_cast<std::ptrdiff_t>(head_));
    head_ = 0;
    entries_.shrink_to_fit();
  }

  size_t bytes() const { return entries_.capacity() * sizeof(value_type); }

 private:
  static constexpr size_t kFirstReserve = 32;
  static constexpr size_t kReclaimAfter = 32;
  static bool before(const value_type& e, Key k) { return e.first < k; }

  std::vector<value_type> entries_;
  size_t head_ = 0;  // entries_[0, head_) are erased
};

}  // namespace tftp::check
