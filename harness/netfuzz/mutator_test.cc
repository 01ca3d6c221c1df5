#include "netfuzz/mutator.h"

#include <gtest/gtest.h>

#include <set>

#include "proto/packet.h"

namespace tftp::netfuzz {
namespace {

using Bytes = std::vector<uint8_t>;

// A well-behaved target in memory: OACK for options (blksize echoed), DATA of a three-block
// file for RRQ, ACKs for WRQ, ERROR 4 for anything it cannot explain.
std::optional<Bytes> respond(std::span<const uint8_t> d) {
  Bytes out(700);
  proto::WriteResult n;
  auto p = proto::parse(d, proto::Strictness::kLenient);
  if (!p) {
    n = proto::write_error(out, 4, "malformed");
  } else if (const auto* r = std::get_if<proto::Request>(&*p)) {
    if (auto b = r->options.find(proto::kBlksize)) {
      const proto::Option o{proto::kBlksize, *b};
      n = proto::write_oack(out, std::span(&o, 1));
    } else if (r->opcode == proto::Opcode::kRrq) {
      n = proto::write_data(out, 1, Bytes(512, 'a'));
    } else {
      n = proto::write_ack(out, 0);
    }
  } else if (const auto* a = std::get_if<proto::Ack>(&*p)) {
    n = proto::write_data(out, static_cast<uint16_t>(a->block + 1), Bytes(a->block + 1 < 3 ? 512 : 100, 'a'));
  } else if (const auto* data = std::get_if<proto::Data>(&*p)) {
    n = proto::write_ack(out, data->block);
  } else {
    return std::nullopt;
  }
  out.resize(*n);
  return out;
}

Case drive(uint64_t seed, uint64_t number, MutatorConfig config = {}) {
  CaseDriver driver(seed, number, config);
  std::optional<Bytes> reply;
  for (int guard = 0; guard < 100; ++guard) {
    std::optional<std::span<const uint8_t>> view;
    if (reply) view = std::span<const uint8_t>(*reply);
    auto d = driver.next(view);
    if (!d) break;
    reply.reset();
    if (d->await) reply = respond(d->bytes);
  }
  return driver.current();
}

TEST(NetfuzzMutator, TheSameSeedAndRepliesGiveTheSameCases) {
  for (uint64_t i = 0; i < 300; ++i) EXPECT_EQ(drive(42, i), drive(42, i)) << "case " << i;
}

TEST(NetfuzzMutator, AnotherSeedGivesOtherCases) {
  size_t differ = 0;
  for (uint64_t i = 0; i < 100; ++i) differ += drive(42, i) == drive(43, i) ? 0 : 1;
  EXPECT_GT(differ, 80u);
}

TEST(NetfuzzMutator, MutatesEveryStateOfReadsAndWrites) {
  std::set<std::string> states;
  std::set<std::string> kinds;
  for (uint64_t i = 0; i < 600; ++i) {
    const Case c = drive(7, i);
    ASSERT_FALSE(c.datagrams.empty());
    // The cap, plus the copies of a duplicated packet and the closing ERROR.
    ASSERT_LE(c.datagrams.size(), MutatorConfig{}.max_datagrams + 5);
    const auto& first = c.datagrams.front().bytes;
    states.insert(c.state);
    if (c.state == "none" && first.size() >= 2) kinds.insert(first[1] == 1 ? "RRQ" : "WRQ");
    if (c.state != "request") {
      // The request is valid, so the first datagram parses as one.
      auto p = proto::parse(first);
      ASSERT_TRUE(p.has_value()) << c.mutation;
    }
  }
  EXPECT_EQ(states, (std::set<std::string>{"none", "request", "after-oack", "mid-transfer"}));
  EXPECT_EQ(kinds, (std::set<std::string>{"RRQ", "WRQ"}));
}

TEST(NetfuzzMutator, FollowsTheServerTid) {
  // After the request, everything goes to the port the server answered from, except the
  // mutation that deliberately sends to the well-known port.
  for (uint64_t i = 0; i < 300; ++i) {
    const Case c = drive(9, i);
    EXPECT_EQ(c.datagrams.front().to, Destination::kListen);
    for (size_t k = 1; k < c.datagrams.size(); ++k) {
      if (c.datagrams[k].to == Destination::kListen) {
        EXPECT_NE(c.mutation.find("well-known port"), std::string::npos) << c.mutation;
      }
    }
  }
}

TEST(NetfuzzMutator, WithoutWritesOnlyReads) {
  MutatorConfig config;
  config.writes = false;
  for (uint64_t i = 0; i < 200; ++i) {
    const Case c = drive(5, i, config);
    if (c.state != "request") {
      EXPECT_EQ(c.datagrams.front().bytes[1], 1) << c.mutation;
    }
  }
}

TEST(NetfuzzMutator, NoAnswerEndsTheCase) {
  CaseDriver driver(1, 0, {});
  auto first = driver.next(std::nullopt);
  ASSERT_TRUE(first);
  EXPECT_FALSE(driver.next(std::nullopt));  // nobody answered: no TID to follow
  EXPECT_EQ(driver.current().datagrams.size(), 1u);
}

TEST(NetfuzzMutator, RequestMutationsMakeHugeOptionValues) {
  // The planted-death test relies on this mutation being among the first few hundred.
  Rng rng(1);
  size_t huge = 0;
  for (int i = 0; i < 2000; ++i) {
    std::string label;
    (void)mutate_request(rng, true, "f1.bin", {{"blksize", "512"}}, label);
    if (label.find("blksize value of") != std::string::npos) ++huge;
  }
  EXPECT_GT(huge, 30u);
}

}  // namespace
}  // namespace tftp::netfuzz
