#include "scenario/from_capture.h"

#include <filesystem>
#include <map>
#include <set>
#include <unordered_map>

#include "common/text.h"
#include "pcap/capture_reader.h"
#include "proto/netascii.h"
#include "proto/options.h"
#include "proto/packet.h"
#include "scenario/fixtures.h"

namespace tftp::scenario {

namespace {

class Collector : public pcap::TransferListener {
 public:
  Collector(const CaptureSelection& selection, const std::function<void(CapturedTransfer&&)>& out)
      : selection_(selection), out_(out) {}

  void on_datagram(const pcap::TransferLog& log, const check::Observation& o, uint64_t frame) override {
    if (selection_.transfer && log.id != *selection_.transfer) return;
    const bool from_client = o.from == log.client;
    if (!from_client && o.from != log.server && o.from != log.listen) return;  // a stray
    auto& t = open_[log.id];
    if (t.datagrams.size() >= selection_.max_datagrams) {
      t.cut = true;
      return;
    }
    t.datagrams.push_back({from_client, o.bytes, o.at, frame});
  }

  void on_end(pcap::TransferLog&& log) override {
    if (selection_.transfer && log.id != *selection_.transfer) return;
    auto it = open_.find(log.id);
    CapturedTransfer t;
    if (it != open_.end()) {
      t = std::move(it->second);
      open_.erase(it);
    }
    if (t.datagrams.empty()) return;  // an unanswered request: nothing to play or compare
    t.log = std::move(log);
    out_(std::move(t));
  }

 private:
  const CaptureSelection& selection_;
  const std::function<void(CapturedTransfer&&)>& out_;
  std::unordered_map<size_t, CapturedTransfer> open_;
};

// Printable ASCII without the quote and backslash escapes YAML would have to decode: what
// a YAML string carries byte for byte (common/text.h quote() writes the rest as \xNN, which
// YAML reads back as the same byte only below 0x80).
bool yaml_safe(std::string_view s) {
  for (unsigned char c : s) {
    if (c >= 0x80) return false;
  }
  return true;
}

std::string yaml_string(std::string_view s) { return quote(s); }

std::string line(const std::string& text) { return "  " + text + "\n"; }

}  // namespace

Result<pcap::CaptureStats> read_captured_transfers(const std::string& path, const CaptureSelection& selection,
                                                   const std::function<void(CapturedTransfer&&)>& on_transfer) {
  Collector collector(selection, on_transfer);
  return pcap::analyze_file(path, collector, selection.ports);
}

std::string scenario_id_for(const std::string& capture_path, size_t transfer) {
  std::string stem = std::filesystem::path(capture_path).stem().string();
  std::string slug;
  for (char c : stem) {
    const char l = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    const bool ok = (l >= 'a' && l <= 'z') || (l >= '0' && l <= '9');
    if (ok) slug += l;
    else if (!slug.empty() && slug.back() != '-') slug += '-';
  }
  while (!slug.empty() && slug.back() == '-') slug.pop_back();
  if (slug.empty()) slug = "capture";
  return "capture." + slug + ".t" + std::to_string(transfer);
}

std::string scenario_yaml(const CapturedTransfer& t, const std::string& id, const std::string& source, ScenarioStyle style) {
  const auto& log = t.log;
  const bool rrq = log.opcode == proto::Opcode::kRrq;
  std::string out;
  out += "# Made by tftpspec pcap2scenario from " + source + ", transfer " + std::to_string(log.id) + " (frames " +
         std::to_string(log.first_frame) + "-" + std::to_string(log.last_frame) + "): the client's datagrams\n";
  out += "# are sent as captured, the server's answers expected as captured (scenarios/README.md).\n";
  out += "- id: " + id + "\n";
  out += line("title: " + yaml_string("Captured " + std::string(rrq ? "RRQ " : "WRQ ") + log.filename + " replayed (" +
                                      source + ", transfer " + std::to_string(log.id) + ")"));
  out += line("citation: " + yaml_string("RFC 1350 §2, as captured in " + source + " frames " + std::to_string(log.first_frame) +
                                         "-" + std::to_string(log.last_frame)));
  out += line("level: MUST");
  out += line("summary: The server answers the captured client's datagrams as it did in the capture.");
  // Long transfers get time for their round trips (each step waits at most 2.5 rto).
  const auto seconds = std::max<size_t>(30, t.datagrams.size() / 20);
  out += line("deadline: " + std::to_string(seconds) + "s");
  out += line("steps:");

  // The request, by its fields when a YAML string carries them exactly.
  bool structured = false;
  std::string requested;  // a fixture whose bytes the DATA is compared with
  const auto& first = t.datagrams.front();
  size_t i = 0;
  if (first.from_client) {
    const auto parsed = proto::parse(first.bytes, proto::Strictness::kLenient);
    if (parsed && std::holds_alternative<proto::Request>(*parsed)) {
      const auto& r = std::get<proto::Request>(*parsed);
      bool safe = yaml_safe(r.filename) && yaml_safe(r.mode_text) && !r.filename.empty();
      for (const auto& o : r.options) safe = safe && yaml_safe(o.name) && yaml_safe(o.value);
      if (safe) {
        structured = true;
        out += "    - send: " + std::string(rrq ? "RRQ" : "WRQ") + "\n";
        out += "      file: " + yaml_string(r.filename) + "\n";
        out += "      mode: " + yaml_string(r.mode_text) + "\n";
        if (!r.options.empty()) {
          out += "      options: [";
          bool comma = false;
          for (const auto& o : r.options) {
            out += std::string(comma ? ", " : "") + "[" + yaml_string(o.name) + ", " + yaml_string(o.value) + "]";
            comma = true;
          }
          out += "]\n";
        }
        if (!style.exact && rrq && r.mode == proto::Mode::kOctet && is_fixture(std::string(r.filename))) {
          requested = std::string(r.filename);
        }
        out += "      to: listen\n";
        ++i;
      }
    }
  }
  if (!structured && first.from_client) {
    out += "    - send: RAW\n      hex: \"" + hex_bytes(first.bytes, first.bytes.size()) + "\"\n      to: listen\n";
    ++i;
  }
  // The request's retransmissions before the first answer: the server answered one.
  while (i < t.datagrams.size() && t.datagrams[i].from_client && t.datagrams[i].bytes == first.bytes) ++i;

  std::set<std::vector<uint8_t>> seen_from_server;
  for (; i < t.datagrams.size(); ++i) {
    const auto& d = t.datagrams[i];
    const auto parsed = proto::parse(d.bytes, proto::Strictness::kLenient);
    if (!d.from_client) {
      if (!seen_from_server.insert(d.bytes).second) continue;  // a retransmission
      if (!parsed) {
        out += "    - expect: MALFORMED\n";
        continue;
      }
      std::visit(
          [&](const auto& p) {
            using P = std::decay_t<decltype(p)>;
            if constexpr (std::is_same_v<P, proto::Data>) {
              out += "    - expect: DATA\n      block: " + std::to_string(p.block) + "\n      size: " + std::to_string(p.payload.size()) + "\n";
              if (style.exact) out += "      payload: \"" + hex_bytes(p.payload, p.payload.size()) + "\"\n";
              else if (!requested.empty()) out += "      content: true\n";
            } else if constexpr (std::is_same_v<P, proto::Ack>) {
              out += "    - expect: ACK\n      block: " + std::to_string(p.block) + "\n";
            } else if constexpr (std::is_same_v<P, proto::ErrorPacket>) {
              out += "    - expect: ERROR\n      code: " + std::to_string(p.code) + "\n";
            } else if constexpr (std::is_same_v<P, proto::Oack>) {
              out += "    - expect: OACK\n";
              bool safe = true;
              for (const auto& o : p.options) safe = safe && yaml_safe(o.name) && yaml_safe(o.value);
              if (safe && !p.options.empty()) {
                out += "      options: {";
                bool comma = false;
                for (const auto& o : p.options) {
                  out += std::string(comma ? ", " : "") + yaml_string(o.name) + ": " + yaml_string(o.value);
                  comma = true;
                }
                out += "}\n";
              }
            } else {
              out += "    - expect: ANY\n";  // a request from the server: shown, not judged here
            }
          },
          *parsed);
      continue;
    }
    // The client's datagram, as captured, after the gap the capture shows when asked.
    if (style.original_pace && i > 0) {
      const auto gap = std::chrono::duration_cast<std::chrono::microseconds>(d.at - t.datagrams[i - 1].at).count();
      if (gap >= 1000) out += "    - wait: " + std::to_string(gap / 1000) + "ms\n";
    }
    if (style.exact && parsed && std::holds_alternative<proto::Data>(*parsed)) {
      out += "    - send: RAW\n      hex: \"" + hex_bytes(d.bytes, d.bytes.size()) + "\"\n";
    } else if (parsed && std::holds_alternative<proto::Ack>(*parsed)) {
      out += "    - send: ACK\n      block: " + std::to_string(std::get<proto::Ack>(*parsed).block) + "\n";
    } else if (parsed && std::holds_alternative<proto::Data>(*parsed)) {
      const auto& p = std::get<proto::Data>(*parsed);
      out += "    - send: DATA\n      block: " + std::to_string(p.block) + "\n      size: " + std::to_string(p.payload.size()) + "\n";
    } else if (parsed && std::holds_alternative<proto::ErrorPacket>(*parsed) &&
               yaml_safe(std::get<proto::ErrorPacket>(*parsed).message)) {
      const auto& p = std::get<proto::ErrorPacket>(*parsed);
      out += "    - send: ERROR\n      code: " + std::to_string(p.code) + "\n      message: " + yaml_string(p.message) + "\n";
    } else {
      out += "    - send: RAW\n      hex: \"" + hex_bytes(d.bytes, d.bytes.size()) + "\"\n";
    }
  }
  // What the server sends after the last datagram expected (a DATA resent on a duplicate ACK,
  // a late retransmission) is what the rule engine judges: the scenario stays to see it.
  out += "    - wait: 0.5srto\n";
  if (t.cut) out += "    # the capture's transfer went on: only its first datagrams were kept\n";
  return out;
}

std::optional<std::vector<uint8_t>> captured_content(const CapturedTransfer& t) {
  const bool rrq = t.log.opcode == proto::Opcode::kRrq;
  std::vector<uint8_t> wire;
  uint64_t next = 1;
  bool done = false;
  for (const auto& d : t.datagrams) {
    if (d.from_client == rrq) continue;  // DATA comes from the sender of the file
    const auto parsed = proto::parse(d.bytes, proto::Strictness::kLenient);
    if (!parsed || !std::holds_alternative<proto::Data>(*parsed)) continue;
    const auto& p = std::get<proto::Data>(*parsed);
    if (p.block != static_cast<uint16_t>(next)) continue;  // a retransmission (or a gap: caught below)
    wire.insert(wire.end(), p.payload.begin(), p.payload.end());
    ++next;
    if (p.payload.size() < t.log.blksize) {
      done = true;
      break;
    }
  }
  if (!done) return std::nullopt;
  if (proto::mode_from_text(t.log.mode) != proto::Mode::kNetascii) return wire;
  return proto::netascii_decode(wire);
}

}  // namespace tftp::scenario
