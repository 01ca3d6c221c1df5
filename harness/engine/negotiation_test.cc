// Option negotiation on both sides: RFC 2347 (framework), 2348 (blksize), 2349 (timeout,
// tsize), 7440 (windowsize).
#include "engine/negotiation.h"

#include <gtest/gtest.h>

namespace tftp::engine {
namespace {

using namespace std::chrono_literals;
using proto::Opcode;
using proto::OwnedOption;
using Oack = std::vector<OwnedOption>;

// Option pairs laid out as on the wire, for an OptionsView to point into.
class WireOptions {
 public:
  explicit WireOptions(const std::vector<OwnedOption>& options) : bytes_(proto::kMaxDatagramSize) {
    const auto views = proto::views_of(options);
    bytes_.resize(proto::write_oack(bytes_, views).value());
  }
  proto::OptionsView view() const { return proto::OptionsView(std::span<const uint8_t>(bytes_).subspan(2)); }

 private:
  std::vector<uint8_t> bytes_;
};

tl::expected<ServerNegotiation, Refusal> negotiate(Opcode op, const std::vector<OwnedOption>& requested,
                                                   std::optional<uint64_t> file_size = std::nullopt,
                                                   const ServerLimits& limits = {}) {
  const WireOptions wire(requested);
  return negotiate_as_server(op, wire.view(), file_size, limits);
}

ServerNegotiation rrq(const std::vector<OwnedOption>& requested, std::optional<uint64_t> file_size = std::nullopt,
                      const ServerLimits& limits = {}) {
  auto n = negotiate(Opcode::kRrq, requested, file_size, limits);
  EXPECT_TRUE(n.has_value());
  return n.value_or(ServerNegotiation{});
}

TEST(Negotiation, NoOptionsMeansNoOack) {
  const auto n = rrq({});
  EXPECT_TRUE(n.oack.empty());
  EXPECT_EQ(n.params.blksize, 512u);
  EXPECT_EQ(n.params.windowsize, 1);
  EXPECT_EQ(n.params.fixed_timeout, std::nullopt);
  EXPECT_EQ(n.params.tsize, std::nullopt);
}

struct ValueCase {
  std::string value;
  std::optional<std::string> echoed;  // nullopt: left out of the OACK
};

TEST(Negotiation, BlksizeRangeAndSyntax) {
  const std::vector<ValueCase> cases = {
      {"7", std::nullopt},      {"8", "8"},           {"512", "512"},
      {"65464", "65464"},       {"65465", std::nullopt}, {"0", std::nullopt},
      {"010", "10"},            // leading zeros are decimal, not octal (RFC 2347: ASCII decimal)
      {"+8", std::nullopt},     {"-1", std::nullopt}, {"0x10", std::nullopt},
      {" 8", std::nullopt},     {"", std::nullopt},   {"18446744073709551616", std::nullopt},
      {"00000000000000001024", "1024"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE("blksize=\"" + c.value + "\"");
    const auto n = rrq({{"blksize", c.value}});
    if (c.echoed) {
      EXPECT_EQ(n.oack, (Oack{{"blksize", *c.echoed}}));
      EXPECT_EQ(n.params.blksize, std::stoul(*c.echoed));
    } else {
      EXPECT_TRUE(n.oack.empty());
      EXPECT_EQ(n.params.blksize, 512u);
    }
  }
}

TEST(Negotiation, BlksizeCappedByServerLimit) {
  ServerLimits limits;
  limits.max_blksize = 1024;
  auto n = rrq({{"blksize", "1428"}}, std::nullopt, limits);
  EXPECT_EQ(n.oack, (Oack{{"blksize", "1024"}}));
  EXPECT_EQ(n.params.blksize, 1024u);
  n = rrq({{"blksize", "600"}}, std::nullopt, limits);
  EXPECT_EQ(n.oack, (Oack{{"blksize", "600"}}));
}

TEST(Negotiation, TimeoutRangeEchoedUnaltered) {
  const std::vector<ValueCase> cases = {
      {"0", std::nullopt}, {"1", "1"}, {"255", "255"}, {"256", std::nullopt},
      {"010", "010"},  // RFC 2349: echoed as requested
      {"1.5", std::nullopt}, {"-3", std::nullopt},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE("timeout=\"" + c.value + "\"");
    const auto n = rrq({{"timeout", c.value}});
    if (c.echoed) {
      EXPECT_EQ(n.oack, (Oack{{"timeout", *c.echoed}}));
      EXPECT_EQ(n.params.fixed_timeout, Duration(std::chrono::seconds(std::stoul(*c.echoed))));
    } else {
      EXPECT_TRUE(n.oack.empty());
      EXPECT_EQ(n.params.fixed_timeout, std::nullopt);
    }
  }
}

TEST(Negotiation, TsizeOnReadReportsTheFileSize) {
  auto n = rrq({{"tsize", "0"}}, 123456);
  EXPECT_EQ(n.oack, (Oack{{"tsize", "123456"}}));
  EXPECT_EQ(n.params.tsize, 123456u);
  n = rrq({{"tsize", "0"}}, 0);
  EXPECT_EQ(n.oack, (Oack{{"tsize", "0"}}));
  // Size unknown (e.g. netascii): tsize is left out, the other options stay.
  n = rrq({{"tsize", "0"}, {"blksize", "1024"}}, std::nullopt);
  EXPECT_EQ(n.oack, (Oack{{"blksize", "1024"}}));
  EXPECT_EQ(n.params.tsize, std::nullopt);
  n = rrq({{"tsize", "x"}}, 5);
  EXPECT_TRUE(n.oack.empty());
}

TEST(Negotiation, TsizeOnWriteIsEchoedOrRefusedWithError3) {
  ServerLimits limits;
  limits.max_file_size = 1000;
  auto n = negotiate(Opcode::kWrq, {{"tsize", "1000"}}, std::nullopt, limits);
  ASSERT_TRUE(n.has_value());
  EXPECT_EQ(n->oack, (Oack{{"tsize", "1000"}}));
  EXPECT_EQ(n->params.tsize, 1000u);
  // The file size argument is for reads only: a WRQ echoes the client's value.
  n = negotiate(Opcode::kWrq, {{"tsize", "7"}}, 999, limits);
  ASSERT_TRUE(n.has_value());
  EXPECT_EQ(n->oack, (Oack{{"tsize", "7"}}));

  n = negotiate(Opcode::kWrq, {{"blksize", "1024"}, {"tsize", "1001"}}, std::nullopt, limits);
  ASSERT_FALSE(n.has_value());
  EXPECT_EQ(n.error().code, 3);
  EXPECT_NE(n.error().message.find("1001"), std::string::npos) << n.error().message;

  n = negotiate(Opcode::kWrq, {{"tsize", "18446744073709551615"}});
  ASSERT_FALSE(n.has_value());
  EXPECT_EQ(n.error().code, 3);
}

TEST(Negotiation, WindowsizeRangeAndCap) {
  ServerLimits wide;
  wide.max_windowsize = 65535;
  wide.max_window_bytes = uint64_t{1} << 40;
  const std::vector<ValueCase> cases = {
      {"0", std::nullopt}, {"1", "1"}, {"16", "16"}, {"65535", "65535"}, {"65536", std::nullopt}, {"04", "4"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE("windowsize=\"" + c.value + "\"");
    const auto n = rrq({{"windowsize", c.value}}, std::nullopt, wide);
    if (c.echoed) {
      EXPECT_EQ(n.oack, (Oack{{"windowsize", *c.echoed}}));
      EXPECT_EQ(n.params.windowsize, std::stoul(*c.echoed));
    } else {
      EXPECT_TRUE(n.oack.empty());
      EXPECT_EQ(n.params.windowsize, 1);
    }
  }
  // The default limit answers with less than asked (RFC 7440 allows it).
  const auto n = rrq({{"windowsize", "65535"}});
  EXPECT_EQ(n.oack, (Oack{{"windowsize", "64"}}));
  EXPECT_EQ(n.params.windowsize, 64);
}

TEST(Negotiation, WindowBytesCapUsesTheNegotiatedBlksize) {
  // 4 MiB / 65464 = 64.07: the default cap just allows 64.
  auto n = rrq({{"blksize", "65464"}, {"windowsize", "64"}});
  EXPECT_EQ(n.params.windowsize, 64);
  ServerLimits limits;
  limits.max_window_bytes = 1 << 20;
  // The windowsize comes first in the request, the blksize that sets the cap after it.
  n = rrq({{"windowsize", "64"}, {"blksize", "65464"}}, std::nullopt, limits);
  EXPECT_EQ(n.oack, (Oack{{"windowsize", "16"}, {"blksize", "65464"}}));
  EXPECT_EQ(n.params.windowsize, 16);
  // Without a blksize the default 512 applies: 2048 would fit, the window limit of 64 caps it.
  n = rrq({{"windowsize", "100"}}, std::nullopt, limits);
  EXPECT_EQ(n.params.windowsize, 64);
  // Never below 1, even when one block is larger than the byte cap.
  limits.max_window_bytes = 1000;
  n = rrq({{"blksize", "1024"}, {"windowsize", "8"}}, std::nullopt, limits);
  EXPECT_EQ(n.oack, (Oack{{"blksize", "1024"}, {"windowsize", "1"}}));
  EXPECT_EQ(n.params.windowsize, 1);
}

TEST(Negotiation, UnknownOptionsAreIgnored) {
  auto n = rrq({{"foo", "bar"}, {"multicast", ""}, {"utimeout", "500"}});
  EXPECT_TRUE(n.oack.empty());  // nothing accepted: the reply is plain DATA 1 (RFC 2347)
  n = rrq({{"foo", "bar"}, {"blksize", "1024"}, {"msftwindow", "31416"}});
  EXPECT_EQ(n.oack, (Oack{{"blksize", "1024"}}));
}

TEST(Negotiation, NamesAreEchoedAsSpelledInRequestOrder) {
  const auto n = rrq({{"TSIZE", "0"}, {"BlkSize", "1024"}, {"TIMEOUT", "3"}, {"WindowSize", "4"}}, 99);
  EXPECT_EQ(n.oack, (Oack{{"TSIZE", "99"}, {"BlkSize", "1024"}, {"TIMEOUT", "3"}, {"WindowSize", "4"}}));
  EXPECT_EQ(n.params.blksize, 1024u);
  EXPECT_EQ(n.params.windowsize, 4);
  EXPECT_EQ(n.params.fixed_timeout, Duration(3s));
  EXPECT_EQ(n.params.tsize, 99u);
}

TEST(Negotiation, FirstOfDuplicatesWins) {
  auto n = rrq({{"blksize", "1024"}, {"BLKSIZE", "2048"}, {"blksize", "8"}});
  EXPECT_EQ(n.oack, (Oack{{"blksize", "1024"}}));
  EXPECT_EQ(n.params.blksize, 1024u);
  n = rrq({{"timeout", "2"}, {"Timeout", "9"}});
  EXPECT_EQ(n.oack, (Oack{{"timeout", "2"}}));
  // An invalid first occurrence still wins: the option is left out, not taken from the second.
  n = rrq({{"blksize", "huge"}, {"blksize", "1024"}});
  EXPECT_TRUE(n.oack.empty());
  EXPECT_EQ(n.params.blksize, 512u);
}

TEST(Negotiation, DisabledOptionsAreAllIgnored) {
  ServerLimits limits;
  limits.options_enabled = false;
  limits.max_file_size = 10;
  auto n = negotiate(Opcode::kRrq, {{"blksize", "1024"}, {"tsize", "0"}, {"windowsize", "4"}}, 5000, limits);
  ASSERT_TRUE(n.has_value());
  EXPECT_TRUE(n->oack.empty());
  EXPECT_EQ(n->params.blksize, 512u);
  EXPECT_EQ(n->params.windowsize, 1);
  n = negotiate(Opcode::kWrq, {{"tsize", "5000"}}, std::nullopt, limits);  // not even refused
  ASSERT_TRUE(n.has_value());
  EXPECT_TRUE(n->oack.empty());
}

// ---- the client's side: accept_oack ----------------------------------------------------------

tl::expected<TransferParams, std::string> accept(const std::vector<OwnedOption>& requested, const Oack& oack) {
  const WireOptions wire(oack);
  return accept_oack(requested, wire.view());
}

TEST(Negotiation, ClientAcceptsWhatItAskedForOrLess) {
  const std::vector<OwnedOption> asked = {
      {"blksize", "1428"}, {"windowsize", "16"}, {"timeout", "3"}, {"tsize", "0"}, {"x-vendor", "1"}};
  const auto p = accept(asked, {{"BLKSIZE", "1024"}, {"windowsize", "8"}, {"timeout", "3"}, {"tsize", "777"},
                                {"x-vendor", "1"}});
  ASSERT_TRUE(p.has_value()) << p.error();
  EXPECT_EQ(p->blksize, 1024u);
  EXPECT_EQ(p->windowsize, 8);
  EXPECT_EQ(p->fixed_timeout, Duration(3s));
  EXPECT_EQ(p->tsize, 777u);
  // A subset is fine too: the server may leave options out.
  const auto q = accept(asked, {{"tsize", "5"}});
  ASSERT_TRUE(q.has_value());
  EXPECT_EQ(q->blksize, 512u);
  EXPECT_EQ(q->windowsize, 1);
}

TEST(Negotiation, ClientRejectsBadOacks) {
  const std::vector<OwnedOption> asked = {{"blksize", "1024"}, {"timeout", "3"}, {"windowsize", "4"}};
  const std::vector<std::pair<const char*, Oack>> bad = {
      {"not requested", {{"tsize", "10"}}},
      {"blksize above request", {{"blksize", "1025"}}},
      {"blksize below 8", {{"blksize", "4"}}},
      {"blksize not decimal", {{"blksize", "+512"}}},
      {"timeout lowered", {{"timeout", "2"}}},
      {"timeout raised", {{"timeout", "4"}}},
      {"windowsize above request", {{"windowsize", "5"}}},
      {"windowsize zero", {{"windowsize", "0"}}},
      {"duplicate", {{"timeout", "3"}, {"TIMEOUT", "3"}}},
  };
  for (const auto& [name, oack] : bad) {
    SCOPED_TRACE(name);
    const auto p = accept(asked, oack);
    EXPECT_FALSE(p.has_value());
    if (!p) {
      EXPECT_FALSE(p.error().empty());
    }
  }
}

}  // namespace
}  // namespace tftp::engine
