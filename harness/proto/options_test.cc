// RFC 2347 options: lookup by name, decimal values and the ranges of RFC 2348/2349/7440.
#include "proto/options.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "proto/packet.h"

namespace tftp::proto {
namespace {

// Parses an OACK carrying these name/value pairs, so the view is one the parser validated.
class ParsedOack {
 public:
  explicit ParsedOack(const std::vector<Option>& options) : bytes_(1024) {
    auto n = write_oack(bytes_, options);
    EXPECT_TRUE(n);
    bytes_.resize(n.value_or(0));
    auto p = parse(bytes_);
    EXPECT_TRUE(p);
    if (p) view_ = std::get<Oack>(*p).options;
  }
  const OptionsView& view() const { return view_; }

 private:
  std::vector<uint8_t> bytes_;
  OptionsView view_;
};

TEST(OptionsView, IteratesPairsInWireOrder) {
  const std::vector<Option> options = {{"blksize", "1024"}, {"tsize", "0"}, {"timeout", ""}};
  ParsedOack oack(options);
  std::vector<Option> seen;
  for (const Option o : oack.view()) seen.push_back(o);
  EXPECT_EQ(seen, options);
  EXPECT_EQ(oack.view().size(), 3u);
  EXPECT_FALSE(oack.view().empty());
  EXPECT_EQ(oack.view().raw().size(), 8u + 5u + 6u + 2u + 8u + 1u);
}

TEST(OptionsView, DefaultIsEmpty) {
  const OptionsView none;
  EXPECT_TRUE(none.empty());
  EXPECT_EQ(none.size(), 0u);
  EXPECT_EQ(none.begin(), none.end());
  EXPECT_EQ(none.find("blksize"), std::nullopt);
  EXPECT_TRUE(none.to_owned().empty());
}

TEST(OptionsView, FindsNamesCaseInsensitively) {
  ParsedOack oack(std::vector<Option>{{"BlkSize", "1428"}, {"TSIZE", "99"}});
  EXPECT_EQ(oack.view().find("blksize"), "1428");
  EXPECT_EQ(oack.view().find("BLKSIZE"), "1428");
  EXPECT_EQ(oack.view().find(kTsize), "99");
  EXPECT_EQ(oack.view().find("blksiz"), std::nullopt);
  EXPECT_EQ(oack.view().find("blksize2"), std::nullopt);
  EXPECT_EQ(oack.view().find(kWindowsize), std::nullopt);
}

TEST(OptionsView, FindReturnsFirstOfDuplicates) {
  ParsedOack oack(std::vector<Option>{{"blksize", "512"}, {"BLKSIZE", "1024"}, {"blksize", "8"}});
  EXPECT_EQ(oack.view().find("blksize"), "512");
  EXPECT_EQ(oack.view().size(), 3u) << "duplicates are kept for the checker to see";
}

TEST(OptionsView, DistinguishesEmptyValueFromMissingOption) {
  ParsedOack oack(std::vector<Option>{{"tsize", ""}});
  const auto v = oack.view().find("tsize");
  ASSERT_TRUE(v.has_value());
  EXPECT_EQ(*v, "");
}

TEST(OptionsView, ConvertsToOwnedAndBack) {
  const std::vector<Option> options = {{"windowsize", "16"}, {"x", ""}};
  ParsedOack oack(options);
  const auto owned = oack.view().to_owned();
  EXPECT_EQ(owned, (std::vector<OwnedOption>{{"windowsize", "16"}, {"x", ""}}));
  EXPECT_EQ(views_of(owned), options);
  EXPECT_EQ(owned[0].view(), (Option{"windowsize", "16"}));
}

TEST(OptionNames, CompareCaseInsensitivelyOnlyForLetters) {
  EXPECT_TRUE(iequals("blksize", "BLKSIZE"));
  EXPECT_TRUE(iequals("", ""));
  EXPECT_FALSE(iequals("blksize", "blksize "));
  EXPECT_FALSE(iequals("a", "b"));
  // '@' (0x40) and '`' (0x60) differ by the case bit but are not letters; nor '[' and '{'.
  EXPECT_FALSE(iequals("@", "`"));
  EXPECT_FALSE(iequals("[", "{"));
  EXPECT_FALSE(iequals("\xc9", "\xe9")) << "only ASCII letters fold";
}

TEST(ParseDecimal, AcceptsDigitsWithLeadingZeros) {
  EXPECT_EQ(parse_decimal("0"), 0u);
  EXPECT_EQ(parse_decimal("8"), 8u);
  EXPECT_EQ(parse_decimal("010"), 10u) << "decimal, not octal";
  EXPECT_EQ(parse_decimal("65464"), 65464u);
}

TEST(ParseDecimal, RejectsSignsSpacesHexAndEmpty) {
  for (std::string_view bad : {"", "+8", "-1", " 8", "8 ", "0x10", "1e3", "1.5", "١"}) {
    EXPECT_EQ(parse_decimal(bad), std::nullopt) << "\"" << bad << "\"";
  }
  EXPECT_EQ(parse_decimal(std::string_view("8\0", 2)), std::nullopt);
}

TEST(ParseDecimal, AcceptsTwentyDigitsUpToUint64Max) {
  EXPECT_EQ(parse_decimal("18446744073709551615"), UINT64_MAX);
  EXPECT_EQ(parse_decimal("00000000000000000001"), 1u) << "20 digits, leading zeros";
  EXPECT_EQ(parse_decimal("09999999999999999999"), 9999999999999999999u);
}

TEST(ParseDecimal, RejectsTwentyOneDigitsAndOverflow) {
  EXPECT_EQ(parse_decimal("000000000000000000001"), std::nullopt) << "21 digits, even with a small value";
  EXPECT_EQ(parse_decimal("18446744073709551616"), std::nullopt) << "UINT64_MAX + 1";
  EXPECT_EQ(parse_decimal("18446744073709551620"), std::nullopt);
  EXPECT_EQ(parse_decimal("99999999999999999999"), std::nullopt);
  EXPECT_EQ(parse_decimal("184467440737095516150"), std::nullopt);
}

TEST(ParseDecimal, RoundTripsEveryPowerOfTwo) {
  for (int bit = 0; bit < 64; ++bit) {
    const uint64_t v = uint64_t{1} << bit;
    EXPECT_EQ(parse_decimal(std::to_string(v)), v);
    EXPECT_EQ(parse_decimal(std::to_string(v - 1)), v - 1);
  }
}

TEST(OptionRanges, BlksizeIsEightTo65464) {
  EXPECT_FALSE(blksize_in_range(0));
  EXPECT_FALSE(blksize_in_range(7));
  EXPECT_TRUE(blksize_in_range(8));
  EXPECT_TRUE(blksize_in_range(512));
  EXPECT_TRUE(blksize_in_range(65464));
  EXPECT_FALSE(blksize_in_range(65465));
  EXPECT_FALSE(blksize_in_range(UINT64_MAX));
  EXPECT_TRUE(blksize_in_range(kMinBlockSize));
  EXPECT_TRUE(blksize_in_range(kMaxBlockSize));
}

TEST(OptionRanges, TimeoutIsOneTo255) {
  EXPECT_FALSE(timeout_in_range(0));
  EXPECT_TRUE(timeout_in_range(1));
  EXPECT_TRUE(timeout_in_range(255));
  EXPECT_FALSE(timeout_in_range(256));
  EXPECT_FALSE(timeout_in_range(UINT64_MAX));
}

TEST(OptionRanges, WindowsizeIsOneTo65535) {
  EXPECT_FALSE(windowsize_in_range(0));
  EXPECT_TRUE(windowsize_in_range(1));
  EXPECT_TRUE(windowsize_in_range(65535));
  EXPECT_FALSE(windowsize_in_range(65536));
  EXPECT_FALSE(windowsize_in_range(UINT64_MAX));
}

}  // namespace
}  // namespace tftp::proto
