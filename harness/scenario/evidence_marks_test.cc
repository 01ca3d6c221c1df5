// The evidence tells the harness's own fault injection from the target's behaviour: a
// withheld ("lost") datagram appears, marked, where it would have gone; the second copy of a
// duplicated one is marked; the datagrams a finding cites carry their bytes in hex.
#include <gtest/gtest.h>

#include <algorithm>

#include "scenario/loader.h"
#include "scenario/reference_faults.h"
#include "scenario/runner.h"

namespace tftp::scenario {
namespace {

const std::vector<Scenario>& catalogue() {
  static const std::vector<Scenario> c = [] {
    auto loaded = load_catalogue(std::string(TFTPSPEC_SOURCE_DIR) + "/scenarios");
    if (!loaded) throw std::runtime_error(loaded.error().to_string());
    return std::move(*loaded);
  }();
  return c;
}

report::ScenarioResult run_one(const std::string& id, const std::string& fault = "") {
  auto config = EmbeddedTarget::default_config();
  if (!fault.empty()) find_reference_fault(fault)->apply(config);
  EmbeddedTarget target(config);
  RunOptions options;
  options.jobs = 1;
  options.seed = 5;
  options.include = {id};
  const auto report = run_catalogue(catalogue(), target, options);
  const auto it = std::find_if(report.results.begin(), report.results.end(),
                               [&](const report::ScenarioResult& r) { return r.id == id; });
  if (it == report.results.end()) throw std::runtime_error("no result for " + id);
  return *it;
}

TEST(EvidenceMarks, AWithheldAckIsShownWhereItWouldHaveGone) {
  const auto r = run_one("rfc1350.rtx.download-lost-ack-1");
  const auto& ev = r.evidence;
  const auto w = std::find_if(ev.begin(), ev.end(), [](const auto& e) { return e.mark == report::kMarkWithheld; });
  ASSERT_NE(w, ev.end()) << "the lost ACK 1 is in the evidence";
  EXPECT_EQ(w->direction, "sent");
  EXPECT_NE(w->packet.find("ACK"), std::string::npos) << w->packet;
  EXPECT_EQ(w->hex, "00 04 00 01") << "ACK 1, opcode 4";
  ASSERT_NE(w + 1, ev.end());
  EXPECT_EQ((w + 1)->index, w->index) << "it sits before the datagram observed next";
  EXPECT_GT(w->index, 0u);
  EXPECT_EQ((w - 1)->index + 1, w->index);
}

TEST(EvidenceMarks, TheSecondCopyOfADuplicatedDatagramIsMarked) {
  const auto r = run_one("rfc1350.rtx.download-duplicate-acks");
  size_t duplicates = 0;
  for (size_t i = 0; i < r.evidence.size(); ++i) {
    if (r.evidence[i].mark != report::kMarkDuplicate) continue;
    ++duplicates;
    ASSERT_GT(i, 0u);
    EXPECT_EQ(r.evidence[i].packet, r.evidence[i - 1].packet) << "the copy follows the original";
    EXPECT_TRUE(r.evidence[i - 1].mark.empty());
  }
  EXPECT_EQ(duplicates, 6u) << "ACKs 1 to 6 are sent twice";
}

TEST(EvidenceMarks, DatagramsAFindingCitesCarryTheirBytesInHex) {
  const auto r = run_one("rfc1123.sas.duplicate-ack-1", "resend_on_duplicate_ack");
  ASSERT_EQ(r.verdict, report::Verdict::kFail) << r.reason;
  ASSERT_FALSE(r.findings.empty());
  const auto& cited = r.findings.front().evidence;
  ASSERT_FALSE(cited.empty());
  size_t with_hex = 0;
  for (const auto& e : r.evidence) {
    if (e.mark == report::kMarkWithheld) continue;  // shown with its bytes too
    const bool is_cited = std::find(cited.begin(), cited.end(), e.index) != cited.end();
    EXPECT_EQ(!e.hex.empty(), is_cited) << e.index << " " << e.packet;
    with_hex += e.hex.empty() ? 0 : 1;
  }
  EXPECT_GT(with_hex, 0u);
  for (const auto& d : r.findings.front().datagrams) EXPECT_FALSE(d.hex.empty()) << d.packet;
}

}  // namespace
}  // namespace tftp::scenario
