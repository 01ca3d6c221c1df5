// `run --pcap FILE` (issue 10 item 2): the capture holds every datagram of the run, and each
// frame number the JSON report's evidence cites holds the datagram cited (its direction,
// ports, size and bytes), against the embedded server in virtual time and a real server.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include <nlohmann/json.hpp>

#include "pcap/capture_reader.h"
#include "pcap/decode.h"
#include "scenario/fixtures.h"
#include "tests/support/peers.h"
#include "tests/support/process.h"

namespace tftp {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

struct CapturedDatagram {
  Address from, to;
  std::vector<uint8_t> payload;
};

std::map<uint64_t, CapturedDatagram> read_capture(const fs::path& path) {
  std::map<uint64_t, CapturedDatagram> out;
  auto reader = pcap::CaptureReader::open(path.string());
  EXPECT_TRUE(reader) << reader.error().to_string();
  if (!reader) return out;
  pcap::Decoder decoder;
  for (;;) {
    auto f = reader->next();
    EXPECT_TRUE(f) << f.error().to_string();
    if (!f || !*f) break;
    auto d = decoder.decode(**f);
    EXPECT_TRUE(d && *d) << "frame " << (*f)->number << " is not a whole UDP datagram";
    if (d && *d) out[(*f)->number] = {(*d)->from, (*d)->to, {(*d)->payload.begin(), (*d)->payload.end()}};
  }
  return out;
}

std::string hex_of(const std::vector<uint8_t>& b, size_t n) {
  std::string s;
  char x[4];
  for (size_t i = 0; i < std::min(n, b.size()); ++i) {
    std::snprintf(x, sizeof x, "%s%02x", i ? " " : "", b[i]);
    s += x;
  }
  return s;
}

uint16_t port_of(const std::string& endpoint) { return static_cast<uint16_t>(std::stoi(endpoint.substr(endpoint.rfind(':') + 1))); }

// Every evidence line with a frame: that frame holds it. Returns how many lines were checked
// and how many of them a finding cites (their bytes compared through their hex).
std::pair<size_t, size_t> expect_frames_hold_evidence(const nlohmann::json& report, const std::map<uint64_t, CapturedDatagram>& cap,
                                                      bool same_addresses) {
  size_t checked = 0, with_bytes = 0;
  auto check = [&](const nlohmann::json& lines, const std::string& where) {
    for (const auto& e : lines) {
      if (!e.contains("frame")) {
        EXPECT_EQ(e.value("mark", ""), "withheld") << where << ": a datagram without a frame: " << e.dump();
        continue;
      }
      const auto frame = e.at("frame").get<uint64_t>();
      auto it = cap.find(frame);
      ASSERT_NE(it, cap.end()) << where << ": frame " << frame << " is not in the capture";
      const auto& d = it->second;
      SCOPED_TRACE(where + " frame " + std::to_string(frame) + ": " + e.dump());
      EXPECT_EQ(d.payload.size(), e.at("size").get<size_t>());
      EXPECT_EQ(d.from.port(), port_of(e.at("from")));
      EXPECT_EQ(d.to.port(), port_of(e.at("to")));
      if (same_addresses) {
        EXPECT_EQ(d.from.to_string(), e.at("from").get<std::string>());
        EXPECT_EQ(d.to.to_string(), e.at("to").get<std::string>());
      }
      if (e.contains("hex")) {
        std::string hex = e.at("hex");
        if (hex.size() > 4 && hex.ends_with(" ...")) hex.resize(hex.size() - 4);
        EXPECT_EQ(hex_of(d.payload, (hex.size() + 1) / 3), hex);
        ++with_bytes;
      }
      ++checked;
    }
  };
  for (const auto& r : report.at("results")) {
    check(r.at("evidence"), r.at("id").get<std::string>());
    for (const auto& f : r.at("findings")) check(f.at("datagrams"), r.at("id").get<std::string>() + " finding");
  }
  for (const auto& f : report.at("findings")) check(f.at("finding").at("datagrams"), "run-wide finding");
  return {checked, with_bytes};
}

nlohmann::json load(const fs::path& p) {
  std::ifstream in(p);
  return nlohmann::json::parse(in);
}

TEST(RunPcap, EmbeddedRunCitesTheFramesThatHoldItsEvidence) {
  testing::TempDir dir;
  const auto cap = dir.path() / "run.pcapng";
  const auto json = dir.path() / "run.json";
  auto r = testing::run_command({TFTPSPEC_BINARY, "run", "--seed", "3", "--reference-fault", "resend_on_duplicate_ack",
                                 "--scenario", "rfc1123.sas.*", "--scenario", "rfc1350.end.*", "--pcap", cap.string(), "--json",
                                 json.string(), "-v"},
                                120s);
  ASSERT_EQ(r.exit_code, 1) << r.output;  // the fault makes the Sorcerer's Apprentice scenarios fail
  EXPECT_NE(r.output.find("capture: " + cap.string()), std::string::npos) << r.output;
  EXPECT_NE(r.output.find(" frame "), std::string::npos) << "the -v ladder shows frame numbers\n" << r.output;
  const auto frames = read_capture(cap);
  ASSERT_GT(frames.size(), 20u);
  const auto report = load(json);
  const auto [checked, with_bytes] = expect_frames_hold_evidence(report, frames, /*same_addresses=*/false);
  EXPECT_GT(checked, 20u);
  EXPECT_GT(with_bytes, 0u) << "a failing scenario's finding cites datagrams with their bytes";
  // Each virtual-time scenario is a block of its own harness host (the README says why).
  std::set<std::string> hosts;
  for (const auto& [n, d] : frames) hosts.insert(d.from.host_string() == "127.0.0.1" ? d.to.host_string() : d.from.host_string());
  EXPECT_GT(hosts.size(), 3u);

  // The capture analyses as TFTP: the server's duplicate DATA shows as retransmissions.
  const auto analysis = dir.path() / "analysis.json";
  auto a = testing::run_command({TFTPSPEC_BINARY, "analyze", cap.string(), "--json", analysis.string()}, 60s);
  ASSERT_FALSE(a.timed_out);
  const auto got = load(analysis);
  EXPECT_GT(got.at("transfers").size(), 3u) << a.output;
}

TEST(RunPcap, RealTargetRunCitesTheFramesThatHoldItsEvidence) {
  testing::TempDir root;
  ASSERT_TRUE(scenario::write_fixtures(root.path()));
  auto server = testing::start_tftpd_hpa(root.str(), /*writable=*/false);
  if (!server) GTEST_SKIP() << "in.tftpd not installed";
  testing::TempDir dir;
  const auto cap = dir.path() / "run.pcap";
  const auto json = dir.path() / "run.json";
  auto r = testing::run_command({TFTPSPEC_BINARY, "run", "--seed", "3", "--target", server->host + ":" + std::to_string(server->port),
                                 "--scenario", "rfc1350.end.*", "--scenario", "rfc1350.tid.*", "--pcap", cap.string(), "--json",
                                 json.string()},
                                180s);
  ASSERT_FALSE(r.timed_out);
  ASSERT_LE(r.exit_code, 1) << r.output;
  const auto frames = read_capture(cap);
  const auto report = load(json);
  const auto [checked, with_bytes] = expect_frames_hold_evidence(report, frames, /*same_addresses=*/true);
  (void)with_bytes;
  EXPECT_GT(checked, 10u);
  // Every datagram of the run is there, discovery's too: more frames than the evidence cites.
  EXPECT_GT(frames.size(), checked);
}

TEST(RunPcap, AnUnwritableCaptureStopsTheRunBeforeItStarts) {
  auto r = testing::run_command({TFTPSPEC_BINARY, "run", "--scenario", "rfc1350.end.*", "--pcap", "/nonexistent-dir/x.pcap"}, 60s);
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("--pcap /nonexistent-dir/x.pcap"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("nothing was run"), std::string::npos) << r.output;
}

}  // namespace
}  // namespace tftp
