// tftpspec analyze: the TFTP transfers in a capture, logged and judged by the rule engine.
// Streaming: each transfer is printed (and written to the JSON report, and extracted) as soon
// as it ends, so memory stays bounded however large the capture (pcap/analyzer.h).
#include <unistd.h>

#include <cinttypes>
#include <cstdio>
#include <ctime>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "check/rules.h"
#include "cli/commands.h"
#include "common/atomic_file.h"
#include "common/text.h"
#include "pcap/analyzer.h"
#include "pcap/capture_reader.h"
#include "pcap/extractor.h"
#include "report/model.h"

namespace tftp::cli {

namespace {

inline constexpr const char* kAnalysisSchemaId = "https://tftpspec.dev/schema/analysis-1.json";

struct AnalyzeFlags {
  std::string file;
  std::optional<std::string> json;
  std::optional<std::string> extract;
  std::vector<uint16_t> ports;
};

// Bytes from the capture, shown exactly and kept valid UTF-8: printable ASCII, else \xNN.
std::string printable(std::string_view s) {
  const std::string q = quote(s);
  return q.substr(1, q.size() - 2);
}

double epoch_seconds(Instant t) { return to_seconds(t.time_since_epoch()); }

std::string utc(Instant t) {
  const auto ns = t.time_since_epoch().count();
  const std::time_t secs = static_cast<std::time_t>(ns / 1'000'000'000);
  std::tm tm{};
  ::gmtime_r(&secs, &tm);
  char buf[48];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%06" PRId64 "Z", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int64_t>((ns % 1'000'000'000) / 1000));
  return buf;
}

nlohmann::json options_json(const std::vector<proto::OwnedOption>& options) {
  auto out = nlohmann::json::array();
  for (const auto& o : options) out.push_back({{"name", printable(o.name)}, {"value", printable(o.value)}});
  return out;
}

std::string options_text(const std::vector<proto::OwnedOption>& options) {
  std::string out;
  for (const auto& o : options) out += (out.empty() ? "" : " ") + printable(o.name) + "=" + printable(o.value);
  return out;
}

std::string frames_text(const std::vector<uint64_t>& frames) {
  std::string out;
  for (uint64_t f : frames) out += (out.empty() ? "" : ", ") + std::to_string(f);
  return out;
}

nlohmann::json transfer_json(const pcap::TransferLog& t, const std::optional<std::string>& extracted,
                             const std::optional<std::string>& extract_error) {
  nlohmann::json findings = nlohmann::json::array();
  for (const auto& f : t.findings) {
    findings.push_back({{"id", f.finding.id},
                        {"requirement", f.finding.requirement},
                        {"citation", f.finding.citation},
                        {"level", std::string(check::level_name(f.finding.level))},
                        {"verdict", std::string(report::verdict_name(report::verdict_for_level(check::level_name(f.finding.level))))},
                        {"cause", f.finding.cause},
                        {"category", f.finding.category},
                        {"message", f.finding.message},  // the engine quotes capture bytes in it already
                        {"frames", f.frames}});
  }
  nlohmann::json error = nullptr;
  if (t.error) {
    error = {{"code", t.error->code},
             {"name", std::string(proto::error_code_name(t.error->code))},
             {"message", printable(t.error->message)},
             {"from", t.error->from_server ? "server" : "client"}};
  }
  return {{"id", t.id},
          {"ts", epoch_seconds(t.start)},
          {"start", utc(t.start)},
          {"duration_s", to_seconds(t.end - t.start)},
          {"first_frame", t.first_frame},
          {"last_frame", t.last_frame},
          {"client", t.client.to_string()},
          {"server", t.server.to_string()},
          {"listen", t.listen.to_string()},
          {"request", std::string(proto::opcode_name(t.opcode))},
          {"filename", printable(t.filename)},
          {"mode", printable(t.mode)},
          {"requested_options", options_json(t.requested)},
          {"oack", t.oack},
          {"negotiated_options", options_json(t.negotiated)},
          {"blksize", t.blksize},
          {"windowsize", t.windowsize},
          {"bytes", t.bytes},
          {"blocks_sent", t.blocks_sent},
          {"blocks_acked", t.blocks_acked},
          {"retransmissions", t.retransmissions},
          {"duplicates", t.duplicates},
          {"request_retransmissions", t.request_retransmissions},
          {"datagrams", t.datagrams},
          {"result", std::string(pcap::outcome_name(t.outcome))},
          {"error", error},
          {"reason", t.reason},
          {"content_complete", t.content_complete},
          {"extracted", extracted ? nlohmann::json(*extracted) : nlohmann::json(nullptr)},
          {"extract_error", extract_error ? nlohmann::json(*extract_error) : nlohmann::json(nullptr)},
          {"findings", findings}};
}

// Text from the capture is escaped before it gets here; a file path given by the user may
// still hold bytes that are not UTF-8: replaced rather than thrown on.
std::string dump(const nlohmann::json& j, int indent) {
  return j.dump(indent, ' ', false, nlohmann::json::error_handler_t::replace);
}

// The JSON report written as transfers end: to a file with no name yet beside the target,
// which becomes it at the end (common/atomic_file.h: a reader never sees half a report, and
// an interrupted or failed analysis leaves the old file), or straight to stdout.
class JsonStream {
 public:
  static Result<JsonStream> open(const std::string& path) {
    JsonStream s;
    if (path == "-") {
      s.out_ = stdout;
    } else {
      auto file = AtomicFile::create(path);
      if (!file) return tl::unexpected(file.error());
      s.file_ = std::move(*file);
      s.out_ = s.file_->stream();
    }
    return s;
  }
  void begin(const nlohmann::json& head) {
    std::string text = dump(head, 2);
    text.erase(text.find_last_of('}'));  // reopened: the transfers follow
    text.erase(text.find_last_not_of(" \n") + 1);
    std::fprintf(out_, "%s,\n  \"transfers\": [", text.c_str());
  }
  void transfer(const nlohmann::json& t) {
    std::fprintf(out_, "%s\n    %s", count_++ == 0 ? "" : ",", dump(t, -1).c_str());
  }
  Result<void> end(const nlohmann::json& tail) {
    std::string text = dump(tail, 2);
    std::fprintf(out_, "\n  ],\n%s\n", text.substr(text.find('{') + 2).c_str());
    out_ = nullptr;
    if (!file_) {
      std::fflush(stdout);
      return {};
    }
    auto committed = file_->commit();
    file_.reset();
    return committed;
  }

 private:
  std::optional<AtomicFile> file_;
  std::FILE* out_ = nullptr;
  size_t count_ = 0;
};

struct Totals {
  size_t complete = 0, error = 0, incomplete = 0;
  size_t must = 0, should = 0, note = 0;
  size_t extract_failures = 0;
};

class Printer : public pcap::TransferListener {
 public:
  Printer(std::FILE* human, JsonStream* json, pcap::Extractor* extractor)
      : human_(human), json_(json), extractor_(extractor) {}

  void on_content(const pcap::TransferLog& t, std::span<const uint8_t> block) override {
    if (extractor_ != nullptr) extractor_->on_content(t, block);
  }

  void on_end(pcap::TransferLog&& t) override {
    std::optional<std::string> extracted, extract_error;
    if (extractor_ != nullptr) {
      auto name = extractor_->on_end(t);
      if (!name) {
        extract_error = name.error().to_string();
        ++totals.extract_failures;
      } else if (!name->empty()) {
        extracted = *name;
      }
    }
    (t.outcome == pcap::Outcome::kComplete ? totals.complete : t.outcome == pcap::Outcome::kError ? totals.error
                                                                                                  : totals.incomplete)++;
    std::string result(pcap::outcome_name(t.outcome));
    if (t.error) {
      result += " (" + std::string(t.error->from_server ? "server" : "client") + " ERROR " + std::to_string(t.error->code) +
                " " + quote(t.error->message) + ")";
    } else if (!t.reason.empty()) {
      result += " (" + t.reason + ")";
    }
    std::fprintf(human_, "#%zu  %s  %s -> %s  %s %s %s  %" PRIu64 " B  blocks %" PRIu64 "/%" PRIu64
                         "  rtx %" PRIu64 "  dup %" PRIu64 "  frames %" PRIu64 "-%" PRIu64 "  %s\n",
                 t.id, utc(t.start).c_str(), t.client.to_string().c_str(), t.server.to_string().c_str(),
                 std::string(proto::opcode_name(t.opcode)).c_str(), quote(t.filename).c_str(), printable(t.mode).c_str(),
                 t.bytes, t.blocks_sent, t.blocks_acked, t.retransmissions, t.duplicates, t.first_frame, t.last_frame,
                 result.c_str());
    if (!t.requested.empty() || t.oack) {
      std::fprintf(human_, "      options: %s%s%s\n", t.requested.empty() ? "(none)" : options_text(t.requested).c_str(),
                   t.oack ? "; OACK: " : "",
                   t.oack ? options_text(t.negotiated).c_str() : "");
    }
    if (extracted) std::fprintf(human_, "      extracted: %s\n", extracted->c_str());
    if (extract_error) std::fprintf(human_, "      not extracted: %s\n", extract_error->c_str());
    for (const auto& f : t.findings) {
      (f.finding.level == check::Level::kMust ? totals.must : f.finding.level == check::Level::kShould ? totals.should
                                                                                                       : totals.note)++;
      std::fprintf(human_, "      %-6s %s (%s): %s%s%s\n", std::string(check::level_name(f.finding.level)).c_str(),
                   f.finding.id.c_str(), f.finding.citation.c_str(), f.finding.message.c_str(),
                   f.frames.empty() ? "" : "  [frames ", f.frames.empty() ? "" : (frames_text(f.frames) + "]").c_str());
    }
    if (json_ != nullptr) json_->transfer(transfer_json(t, extracted, extract_error));
  }

  Totals totals;

 private:
  std::FILE* human_;
  JsonStream* json_;
  pcap::Extractor* extractor_;
};

nlohmann::json counts_json(const std::map<std::string, uint64_t>& counts) {
  nlohmann::json out = nlohmann::json::object();
  for (const auto& [id, n] : counts) out[id] = n;
  return out;
}

int analyze(const AnalyzeFlags& f) {
  const bool json_to_stdout = f.json && *f.json == "-";
  std::FILE* human = json_to_stdout ? stderr : stdout;
  if (f.json) {
    if (auto why = check_output_path(*f.json); !why.empty()) {
      std::fprintf(stderr, "tftpspec analyze: --json %s: %s\n", f.json->c_str(), why.c_str());
      return kExitUsage;
    }
  }
  auto reader = pcap::CaptureReader::open(f.file);
  if (!reader) {
    std::fprintf(stderr, "tftpspec analyze: %s\n", reader.error().to_string().c_str());
    return kExitUsage;
  }
  std::optional<pcap::Extractor> extractor;
  if (f.extract) {
    auto e = pcap::Extractor::open(*f.extract);
    if (!e) {
      std::fprintf(stderr, "tftpspec analyze: --extract: %s\n", e.error().to_string().c_str());
      return kExitUsage;
    }
    extractor.emplace(std::move(*e));
  }
  std::optional<JsonStream> json;
  const pcap::AnalyzerLimits limits;
  if (f.json) {
    auto s = JsonStream::open(*f.json);
    if (!s) {
      std::fprintf(stderr, "tftpspec analyze: --json: %s\n", s.error().to_string().c_str());
      return kExitUsage;
    }
    json.emplace(std::move(*s));
    json->begin({{"$schema", kAnalysisSchemaId},
                 {"tool", {{"name", "tftpspec"}, {"version", "0.1.0"}}},
                 {"capture", {{"file", f.file}, {"linktype", reader->linktype()}, {"snaplen", reader->snaplen()}}},
                 {"ports", f.ports},
                 {"limits", {{"live_transfers", limits.live_transfers},
                             {"pending_requests", limits.pending_requests},
                             {"idle_s", to_seconds(limits.idle)},
                             {"linger_s", to_seconds(limits.linger)},
                             {"request_timeout_s", to_seconds(limits.request_timeout)},
                             {"fragment_datagrams", limits.reassembly.datagrams}}}});
  }

  Printer printer(human, json ? &*json : nullptr, extractor ? &*extractor : nullptr);
  pcap::Analyzer analyzer(printer, f.ports, limits);
  const bool interrupted = !pcap::analyze_all(*reader, analyzer, &g_interrupted);
  const auto& st = analyzer.stats();
  const Totals& t = printer.totals;

  std::fprintf(human, "\n%s: %" PRIu64 " frames, %" PRIu64 " UDP datagrams (%" PRIu64 " TFTP, %" PRIu64
                      " other), %" PRIu64 " transfers: %zu complete, %zu error, %zu incomplete; findings: %zu MUST, %zu SHOULD, %zu NOTE\n",
               f.file.c_str(), st.frames, st.udp_datagrams, st.tftp_datagrams, st.not_tftp, st.transfers, t.complete, t.error,
               t.incomplete, t.must, t.should, t.note);
  for (const auto& [id, n] : st.skipped) std::fprintf(human, "  skipped %" PRIu64 " frames: %s\n", n, id.c_str());
  for (const auto& [id, n] : st.malformed) std::fprintf(human, "  dropped %" PRIu64 " frames: %s\n", n, id.c_str());
  if (st.requests_unanswered) std::fprintf(human, "  %" PRIu64 " requests never answered\n", st.requests_unanswered);
  if (st.transfers_evicted || st.requests_dropped) {
    std::fprintf(human, "  over the limits: %" PRIu64 " transfers evicted (more than %zu at once), %" PRIu64 " requests dropped\n",
                 st.transfers_evicted, limits.live_transfers, st.requests_dropped);
  }
  if (st.read_error) std::fprintf(human, "  the capture ends early: %s\n", st.read_error->to_string().c_str());
  if (interrupted) std::fprintf(human, "  interrupted: the transfers so far are reported\n");

  if (json) {
    nlohmann::json summary = {{"frames", st.frames},
                              {"udp_datagrams", st.udp_datagrams},
                              {"tftp_datagrams", st.tftp_datagrams},
                              {"not_tftp", st.not_tftp},
                              {"transfers", st.transfers},
                              {"complete", t.complete},
                              {"error", t.error},
                              {"incomplete", t.incomplete},
                              {"findings", {{"fail", t.must}, {"warn", t.should}, {"note", t.note}}},
                              {"skipped", counts_json(st.skipped)},
                              {"malformed", counts_json(st.malformed)},
                              {"requests_unanswered", st.requests_unanswered},
                              {"requests_dropped", st.requests_dropped},
                              {"transfers_evicted", st.transfers_evicted},
                              {"peak_live_transfers", st.peak_live_transfers},
                              {"extract_failures", t.extract_failures},
                              {"read_error", st.read_error ? nlohmann::json(st.read_error->to_string()) : nlohmann::json(nullptr)},
                              {"interrupted", interrupted}};
    if (auto done = json->end({{"summary", summary}}); !done) {
      std::fprintf(stderr, "tftpspec analyze: %s\n", done.error().to_string().c_str());
      return kExitUsage;
    }
    if (!json_to_stdout) std::fprintf(human, "report: %s\n", f.json->c_str());
  }
  if (interrupted) return interrupted_exit_code();
  if (t.extract_failures > 0) return kExitUsage;
  return t.must > 0 ? kExitFailure : kExitOk;
}

}  // namespace

void add_analyze_command(CLI::App& app, Action& action) {
  auto flags = std::make_shared<AnalyzeFlags>();
  auto* cmd = app.add_subcommand("analyze", "List and judge the TFTP transfers in a capture (pcap or pcapng)");
  cmd->footer(
      "\nEach transfer is logged (client, server, request, file, mode, options, bytes, blocks sent and acknowledged,\n"
      "retransmissions, duplicate ACKs, result) and judged by the same rule engine as 'run', with the capture's frame\n"
      "numbers as evidence. A request is recognised by its shape on any port and confirmed by the server's answer\n"
      "(from a new port or its listening port); --port makes a port count as a TFTP server port whatever the mode.\n"
      "Link types: Ethernet (802.1Q/802.1ad tags), Linux cooked v1/v2, raw IP, BSD loopback; IPv4 (fragments\n"
      "reassembled) and IPv6 (extension headers skipped, fragments reassembled).\n"
      "Timing rules use the round trip measured from each request to its answer (half of it allowed as jitter).\n"
      "Streaming and bounded: transfers are printed as they end; at most 256 transfers are followed at once (the\n"
      "least recently active then ends; an unfinished one counts as 'evicted'), 1024 unanswered requests and 64\n"
      "fragmented datagrams, so memory stays under about 300 MB whatever the capture's size.\n"
      "Exit status: 0 no MUST finding, 1 a MUST finding, 2 unreadable capture or output, or an extraction failure.\n"
      "Examples:\n"
      "  tftpspec analyze boot.pcap\n"
      "  tftpspec analyze boot.pcapng --json report.json --extract files/\n"
      "  tftpspec analyze odd.pcap --port 1069\n");
  cmd->add_option("file", flags->file, "Capture file (pcap or pcapng)")->required();
  cmd->add_option("--json", flags->json,
                  "Write the analysis as JSON to FILE, '-' for stdout (then the table goes to stderr); "
                  "schema: reports/tftpspec-analysis.schema.json");
  cmd->add_option("--extract", flags->extract,
                  "Write each transferred file into DIR (created if missing) as NNNN-NAME (NAME sanitised, netascii "
                  "decoded); a file with blocks missing ends in .incomplete");
  cmd->add_option("--port", flags->ports, "Take PORT as a TFTP server port (repeatable; 69 always is)");
  cmd->callback([flags, &action] { action = [flags] { return analyze(*flags); }; });
}

}  // namespace tftp::cli
