#include "netfuzz/reproducer.h"

#include <chrono>
#include <limits>

#include "common/text.h"
#include "pcap/capture_writer.h"
#include "proto/packet.h"

namespace tftp::netfuzz {

namespace {
// A comment line may not carry a newline; the labels are ours, but filenames in them are not.
std::string comment_text(std::string s) {
  for (auto& c : s) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = '?';
  }
  return s;
}
}  // namespace

std::string scenario_yaml(const Finding& f, const std::string& probe_file, const std::string& provenance) {
  size_t awaits = 0;
  for (const auto& c : f.reproducer) {
    for (const auto& d : c.datagrams) awaits += d.await ? 1 : 0;
  }
  std::string y;
  y += "# Written by tftpspec fuzz. " + comment_text(provenance) + "\n";
  y += "# The target stopped answering after the datagrams below";
  y += f.shrunk ? " (shrunk from cases " : " (NOT shrunk: the batch of cases ";
  y += std::to_string(f.first_case) + ".." + std::to_string(f.last_case) + ").\n";
  if (!f.note.empty()) y += "# " + comment_text(f.note) + "\n";
  y += "# Replay: tftpspec run --target HOST:PORT --scenarios DIR-OF-THIS-FILE (the target must serve " + probe_file +
       ";\n# --root DIR writes it). A target that answers the RRQ at the end passes; one that does not is the\n"
       "# run's error \"the target stopped answering (noticed after " + f.scenario_id + ")\" (exit 2).\n";
  y += "id: " + f.scenario_id + "\n";
  y += "title: The target keeps answering after fuzz finding " + std::to_string(f.index) + "\n";
  y += "citation: RFC 1350 §2, §7\n";
  y += "requirement: T1350-ERR-TERM\n";
  y += "level: MUST\n";
  y += "summary: After the datagrams a fuzz case sent (malformed or out of place), a valid RRQ is still answered.\n";
  y += "tags: [fuzz]\n";
  // Each answer awaited may not come (1 s each), plus the probe at the end.
  y += "deadline: " + std::to_string(30 + awaits * 2) + "s\n";
  y += "steps:\n";
  for (const auto& c : f.reproducer) {
    y += "  # case " + std::to_string(c.number) + ": " + comment_text(c.mutation) + "\n";
    bool first = true;
    for (const auto& d : c.datagrams) {
      y += "  - send: RAW   # " + comment_text(proto::describe_datagram(d.bytes)) + "\n";
      y += "    hex: \"" + hex_bytes(d.bytes, std::numeric_limits<size_t>::max()) + "\"\n";
      y += std::string("    to: ") + (d.to == Destination::kListen ? "listen" : "server") + "\n";
      if (first && d.to == Destination::kListen) y += "    request: true\n";
      first = false;
      if (d.await) {
        y += "  - expect: ANY\n";
        y += "    within: 1s\n";
        y += "    otherwise: pass\n";
        y += "    reason: \"any answer or none; this step only learns the target's TID\"\n";
      }
    }
  }
  y += "  # the known-good request the fuzzer's liveness check sends\n";
  y += "  - send: RRQ\n";
  y += "    file: " + probe_file + "\n";
  y += "  - expect: ANY\n";
  y += "    within: 2.5rto\n";
  y += "    reason: \"the target stopped answering after the fuzz case (a valid RRQ got no reply)\"\n";
  return y;
}

std::vector<uint8_t> capture_bytes(const std::vector<WireEvent>& events) {
  pcap::CaptureWriter w(pcap::kLinkRaw);
  // Steady time on the wall clock, so the capture shows when it happened.
  const auto offset = std::chrono::system_clock::now().time_since_epoch() - real_now().time_since_epoch();
  for (const auto& e : events) {
    auto local = [&](const Address& a) {
      if (a.is_specified() && a.host_string() != "0.0.0.0" && a.host_string() != "::") return a;
      const Address& peer = e.sent ? e.to : e.from;
      return peer.with_port(a.port());  // on loopback the harness is the same host
    };
    const Address from = e.sent ? local(e.from) : e.from;
    const Address to = e.sent ? e.to : local(e.to);
    const Instant at(std::chrono::duration_cast<Duration>(e.time.time_since_epoch() + offset));
    (void)w.datagram(from, to, e.bytes, at);  // a fuzz datagram always fits one IP packet
  }
  return w.drain();
}

}  // namespace tftp::netfuzz
