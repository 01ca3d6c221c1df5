// A pair of endpoints as a hash key: (client, server TID) names a transfer, (client, listen
// address) its request. Looked up several times per datagram by the rule engine and a
// capture's analysis, so lookups take the two addresses by reference (PairRef) instead of
// copying them into a Pair (two addresses, 56 bytes).
#pragma once

#include <cstddef>
#include <unordered_map>
#include <utility>

#include "common/address.h"

namespace tftp {

using AddressPair = std::pair<Address, Address>;

struct AddressPairRef {
  const Address& first;
  const Address& second;
};

struct AddressPairHash {
  using is_transparent = void;
  static size_t mix(const Address& a, const Address& b) { return a.hash() * 1000003u ^ b.hash(); }
  size_t operator()(const AddressPair& p) const { return mix(p.first, p.second); }
  size_t operator()(const AddressPairRef& p) const { return mix(p.first, p.second); }
};

struct AddressPairEq {
  using is_transparent = void;
  bool operator()(const AddressPair& a, const AddressPair& b) const { return a == b; }
  bool operator()(const AddressPairRef& a, const AddressPair& b) const { return a.first == b.first && a.second == b.second; }
  bool operator()(const AddressPair& a, const AddressPairRef& b) const { return a.first == b.first && a.second == b.second; }
};

// find(AddressPairRef{a, b}) looks up without a copy (C++20 heterogeneous lookup).
template <class Value>
using AddressPairMap = std::unordered_map<AddressPair, Value, AddressPairHash, AddressPairEq>;

}  // namespace tftp
