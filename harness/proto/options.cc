#include "proto/options.h"

#include <algorithm>
#include <array>
#include <cstring>

namespace tftp::proto {

namespace {
// ASCII lower case by table: option names are compared on every request and OACK, and a
// lookup costs no branch per byte.
constexpr auto kLower = [] {
  std::array<char, 256> t{};
  for (int c = 0; c < 256; ++c) t[c] = static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
  return t;
}();
char lower(char c) { return kLower[static_cast<unsigned char>(c)]; }

std::string_view take_string(std::span<const uint8_t> bytes, size_t* consumed) {
  const auto* begin = reinterpret_cast<const char*>(bytes.data());
  const auto* nul = static_cast<const char*>(std::memchr(begin, 0, bytes.size()));
  const size_t len = nul ? static_cast<size_t>(nul - begin) : bytes.size();
  *consumed += std::min(len + 1, bytes.size());
  return {begin, len};
}
}  // namespace

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() &&
         std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) { return lower(x) == lower(y); });
}

std::vector<Option> views_of(const std::vector<OwnedOption>& options) {
  std::vector<Option> views;
  views.reserve(options.size());
  for (const auto& o : options) views.push_back(o.view());
  return views;
}

void OptionsView::Iterator::load() {
  consumed_ = 0;
  if (rest_.empty()) return;
  current_.name = take_string(rest_, &consumed_);
  current_.value = take_string(rest_.subspan(consumed_), &consumed_);
}

size_t OptionsView::size() const { return static_cast<size_t>(std::distance(begin(), end())); }

std::optional<std::string_view> OptionsView::find(std::string_view name) const {
  for (const Option o : *this) {
    if (iequals(o.name, name)) return o.value;
  }
  return std::nullopt;
}

std::vector<OwnedOption> OptionsView::to_owned() const {
  std::vector<OwnedOption> owned;
  for (const Option o : *this) owned.push_back({std::string(o.name), std::string(o.value)});
  return owned;
}

std::optional<uint64_t> parse_decimal(std::string_view text) {
  if (text.empty() || text.size() > 20) return std::nullopt;
  uint64_t value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    const uint64_t digit = static_cast<uint64_t>(c - '0');
    if (value > (UINT64_MAX - digit) / 10) return std::nullopt;
    value = value * 10 + digit;
  }
  return value;
}

bool blksize_in_range(uint64_t v) { return v >= 8 && v <= 65464; }
bool timeout_in_range(uint64_t v) { return v >= 1 && v <= 255; }
bool windowsize_in_range(uint64_t v) { return v >= 1 && v <= 65535; }

}  // namespace tftp::proto
