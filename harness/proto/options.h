// TFTP options (RFC 2347): NUL-terminated name/value pairs after a request's mode, or in
// an OACK. Names compare case-insensitively. Values of the known options are ASCII decimal.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace tftp::proto {

struct Option {
  std::string_view name;
  std::string_view value;
  friend bool operator==(const Option&, const Option&) = default;
};

// An owned name/value pair, for building packets.
struct OwnedOption {
  std::string name;
  std::string value;
  Option view() const { return {name, value}; }
  friend bool operator==(const OwnedOption&, const OwnedOption&) = default;
};
std::vector<Option> views_of(const std::vector<OwnedOption>& options);

bool iequals(std::string_view a, std::string_view b);

// A validated run of "name\0value\0" pairs inside a datagram. Iterating never allocates.
class OptionsView {
 public:
  OptionsView() = default;
  // `raw` must already be validated by the parser (an even number of NUL-terminated strings).
  explicit OptionsView(std::span<const uint8_t> raw) : raw_(raw) {}

  class Iterator {
   public:
    using value_type = Option;
    using difference_type = std::ptrdiff_t;
    Iterator() = default;
    Iterator(std::span<const uint8_t> rest) : rest_(rest) { load(); }
    Option operator*() const { return current_; }
    Iterator& operator++() { rest_ = rest_.subspan(consumed_); load(); return *this; }
    Iterator operator++(int) { auto copy = *this; ++*this; return copy; }
    friend bool operator==(const Iterator& a, const Iterator& b) { return a.rest_.size() == b.rest_.size(); }

   private:
    void load();
    std::span<const uint8_t> rest_;
    Option current_;
    size_t consumed_ = 0;
  };

  Iterator begin() const { return Iterator(raw_); }
  Iterator end() const { return Iterator(raw_.subspan(raw_.size())); }
  bool empty() const { return raw_.empty(); }
  size_t size() const;
  // The first option with this name (case-insensitive).
  std::optional<std::string_view> find(std::string_view name) const;
  std::vector<OwnedOption> to_owned() const;
  std::vector<Option> to_vector() const {
    std::vector<Option> out;
    for (const Option o : *this) out.push_back(o);
    return out;
  }
  std::span<const uint8_t> raw() const { return raw_; }

 private:
  std::span<const uint8_t> raw_;
};

// Option names this implementation understands.
inline constexpr std::string_view kBlksize = "blksize";        // RFC 2348
inline constexpr std::string_view kTimeout = "timeout";        // RFC 2349
inline constexpr std::string_view kTsize = "tsize";            // RFC 2349
inline constexpr std::string_view kWindowsize = "windowsize";  // RFC 7440

// Parses an option value as RFC 2347 ASCII decimal: digits only (no sign, space or hex),
// at most 20 digits, no overflow of uint64. Leading zeros are accepted as decimal.
std::optional<uint64_t> parse_decimal(std::string_view text);

// Valid ranges of the known options.
bool blksize_in_range(uint64_t v);     // 8..65464 (RFC 2348)
bool timeout_in_range(uint64_t v);     // 1..255 (RFC 2349)
bool windowsize_in_range(uint64_t v);  // 1..65535 (RFC 7440)

}  // namespace tftp::proto
