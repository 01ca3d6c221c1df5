// tftpspec fuzz: stateful network fuzzing of a remote TFTP server (netfuzz/fuzzer.h). Writes
// each death's reproducer (a scenario `run --scenarios` replays, and a pcap) and a JSON report.
#include <sys/wait.h>
#include <unistd.h>

#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/terminal.h"
#include "common/atomic_file.h"
#include "common/text.h"
#include "common/time.h"
#include "netfuzz/fuzzer.h"
#include "proto/packet.h"
#include "report/json_report.h"

namespace tftp::cli {

namespace {

inline constexpr const char* kFuzzSchemaId = "https://tftpspec.dev/schema/fuzz-report-1.json";

struct FuzzFlags {
  std::string target;
  std::optional<uint64_t> seed;
  std::optional<uint64_t> cases;
  std::optional<double> duration;
  std::string out = "tftpspec-fuzz";
  size_t batch = 1;
  std::string probe = "f1.bin";
  std::string read = "f3000.bin";
  std::string upload = "tftpspec-fuzz";
  bool no_writes = false;
  std::optional<std::string> restart_cmd;
  double reply_timeout = 0.05;
  double liveness_timeout = 1.0;
  int liveness_tries = 3;
  size_t shrink_budget = 150;
  size_t max_findings = 5;
  bool quiet = false;
};

std::string command_line(int argc, char** argv) {
  std::string out;
  for (int i = 0; i < argc; ++i) {
    const std::string a = argv[i];
    const bool plain = !a.empty() && a.find_first_of(" \t\n'\"\\$`*?;&|<>()") == std::string::npos;
    out += (i > 0 ? " " : "") + (plain ? a : "'" + a + "'");
  }
  return out;
}

// --restart-cmd runs through the shell; it must return once the target listens again (the
// fuzzer then probes it until it answers).
bool run_restart(const std::string& cmd, std::string* why) {
  const int status = std::system(cmd.c_str());
  if (status == -1) {
    *why = "cannot run the shell";
    return false;
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return true;
  *why = "--restart-cmd exited with status " + std::to_string(WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
  return false;
}

nlohmann::json datagram_json(const netfuzz::Datagram& d) {
  return {{"to", d.to == netfuzz::Destination::kListen ? "listen" : "server"},
          {"size", d.bytes.size()},
          {"packet", proto::describe_datagram(d.bytes)},
          {"hex", hex_bytes(d.bytes)},
          {"await_reply", d.await}};
}

nlohmann::json report_json(const FuzzFlags& f, const netfuzz::CampaignConfig& config, const netfuzz::CampaignResult& r,
                           const std::string& started, const std::string& command) {
  const auto& p = r.progress;
  const double secs = to_seconds(p.elapsed);
  nlohmann::json findings = nlohmann::json::array();
  for (const auto& x : r.findings) {
    nlohmann::json cases = nlohmann::json::array();
    for (const auto& c : x.reproducer) {
      nlohmann::json ds = nlohmann::json::array();
      for (const auto& d : c.datagrams) ds.push_back(datagram_json(d));
      cases.push_back({{"case", c.number}, {"state", c.state}, {"mutation", c.mutation}, {"datagrams", ds}});
    }
    findings.push_back({{"index", x.index},
                        {"kind", "stopped answering"},
                        {"requirement", "T1350-ERR-TERM"},
                        {"scenario_id", x.scenario_id},
                        {"first_case", x.first_case},
                        {"last_case", x.last_case},
                        {"shrunk", x.shrunk},
                        {"reproduced", x.reproduced},
                        {"shrink_replays", x.shrink_attempts},
                        {"note", x.note},
                        {"scenario_file", x.scenario_file.string()},
                        {"capture_file", x.capture_file.string()},
                        {"reproducer", cases}});
  }
  return {{"$schema", kFuzzSchemaId},
          {"tool", {{"name", "tftpspec"}, {"version", TFTPSPEC_VERSION}}},
          {"command", command},
          {"target", f.target},
          {"seed", config.seed},
          {"started", started},
          {"finished", utc_now_iso8601()},
          {"interrupted", r.interrupted},
          {"target_answered", r.target_answered},
          {"stopped_because", r.stopped_because},
          {"settings",
           {{"batch", config.batch},
            {"probe_file", config.probe_file},
            {"read_file", config.mutator.read_file},
            {"upload_prefix", config.mutator.writes ? nlohmann::json(config.mutator.write_prefix) : nlohmann::json(nullptr)},
            {"reply_timeout_s", f.reply_timeout},
            {"liveness_timeout_s", f.liveness_timeout},
            {"liveness_tries", f.liveness_tries},
            {"restart_cmd", f.restart_cmd ? nlohmann::json(*f.restart_cmd) : nlohmann::json(nullptr)},
            {"shrink_budget", config.shrink_budget}}},
          {"summary",
           {{"cases", p.cases},
            {"datagrams", p.datagrams},
            {"liveness_checks", p.liveness_checks},
            {"stalls", p.stalls},
            {"elapsed_s", secs},
            {"cases_per_second", secs > 0 ? static_cast<double>(p.cases) / secs : 0.0},
            {"findings", r.findings.size()}}},
          {"stalls_after_cases", r.stalls_after},
          {"findings", findings}};
}

// The status line on a terminal, at most ten times a second.
class StatusLine {
 public:
  explicit StatusLine(bool quiet) : tty_(!quiet && ::isatty(::fileno(stderr)) == 1), colour_(colour_wanted(stderr)) {}
  void update(const netfuzz::Progress& p) {
    if (!tty_) return;
    const Instant now = real_now();
    if (p.phase != "done" && p.phase == last_phase_ && now - last_ < std::chrono::milliseconds(100)) return;
    last_ = now;
    last_phase_ = p.phase;
    const double secs = to_seconds(p.elapsed);
    std::string mutation = p.last_mutation.substr(0, 60);
    for (auto& c : mutation) {
      if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) >= 0x7f) c = '?';
    }
    std::fprintf(stderr, "\r\033[K%s%" PRIu64 " cases  %.0f/s  %" PRIu64 " s  findings %s%zu%s  [%s] %s", p.phase == "fuzzing" ? "" : "",
                 p.cases, secs > 0 ? static_cast<double>(p.cases) / secs : 0.0, static_cast<uint64_t>(secs),
                 colour_ && p.findings > 0 ? "\033[1;31m" : "", p.findings, colour_ && p.findings > 0 ? kColourReset : "",
                 p.phase.c_str(), mutation.c_str());
    if (p.phase == "done") std::fputc('\n', stderr);
    std::fflush(stderr);
  }

 private:
  bool tty_;
  bool colour_;
  Instant last_{};
  std::string last_phase_;
};

int run_fuzz(const FuzzFlags& f, const std::string& command) {
  auto target = Address::parse(f.target, 69);
  if (!target) {
    std::fprintf(stderr, "tftpspec fuzz: --target %s: %s\n", f.target.c_str(), target.error().message.c_str());
    return kExitUsage;
  }
  if (f.cases && f.duration) {
    std::fprintf(stderr, "tftpspec fuzz: give --cases or --duration, not both\n");
    return kExitUsage;
  }
  std::error_code ec;
  std::filesystem::create_directories(f.out, ec);
  if (ec) {
    std::fprintf(stderr, "tftpspec fuzz: cannot create --out %s: %s\n", f.out.c_str(), ec.message().c_str());
    return kExitUsage;
  }
  const auto report_path = std::filesystem::path(f.out) / "fuzz-report.json";
  if (auto why = check_output_path(report_path.string()); !why.empty()) {
    std::fprintf(stderr, "tftpspec fuzz: %s\n", why.c_str());
    return kExitUsage;
  }
  netfuzz::CampaignConfig config;
  config.target = *target;
  config.seed = f.seed ? *f.seed : static_cast<uint64_t>(real_now().time_since_epoch().count());
  config.cases = f.cases;
  if (f.duration) config.duration = std::chrono::duration_cast<Duration>(std::chrono::duration<double>(*f.duration));
  if (!f.cases && !f.duration) config.duration = std::chrono::seconds(60);
  config.batch = f.batch;
  config.timing.reply = std::chrono::duration_cast<Duration>(std::chrono::duration<double>(f.reply_timeout));
  config.timing.liveness = std::chrono::duration_cast<Duration>(std::chrono::duration<double>(f.liveness_timeout));
  config.timing.liveness_tries = f.liveness_tries;
  config.probe_file = f.probe;
  config.mutator.read_file = f.read;
  config.mutator.write_prefix = f.upload;
  config.mutator.writes = !f.no_writes;
  config.shrink_budget = f.shrink_budget;
  config.max_findings = f.max_findings;
  config.out = f.out;
  config.command = command;
  if (f.restart_cmd) {
    const std::string cmd = *f.restart_cmd;
    config.restart = [cmd](std::string* why) { return run_restart(cmd, why); };
  }
  const std::string started = utc_now_iso8601();
  std::fprintf(stderr, "tftpspec fuzz: %s, seed %" PRIu64 ", %s, probe RRQ %s, output in %s\n", target->to_string().c_str(),
               config.seed,
               f.cases ? (std::to_string(*f.cases) + " cases").c_str()
                       : (std::to_string(static_cast<long long>(to_seconds(*config.duration))) + " s").c_str(),
               f.probe.c_str(), f.out.c_str());
  StatusLine status(f.quiet);
  auto result = netfuzz::run_campaign(config, g_interrupted, [&](const netfuzz::Progress& p) { status.update(p); });
  if (!result) {
    std::fprintf(stderr, "tftpspec fuzz: %s\n", result.error().message.c_str());
    return kExitUsage;
  }
  const auto json = report_json(f, config, *result, started, command);
  if (auto ok = write_file_atomic(report_path, json.dump(2) + "\n"); !ok) {
    std::fprintf(stderr, "tftpspec fuzz: cannot write %s: %s\n", report_path.c_str(), ok.error().message.c_str());
    return kExitUsage;
  }
  const auto& p = result->progress;
  const double secs = to_seconds(p.elapsed);
  std::printf("%" PRIu64 " cases, %" PRIu64 " datagrams in %.1f s (%.0f cases/s), %" PRIu64 " liveness checks, %" PRIu64
              " stalls, %zu finding%s\n",
              p.cases, p.datagrams, secs, secs > 0 ? static_cast<double>(p.cases) / secs : 0.0, p.liveness_checks, p.stalls,
              result->findings.size(), result->findings.size() == 1 ? "" : "s");
  for (const auto& x : result->findings) {
    std::printf("FINDING %d: the target stopped answering after case%s %" PRIu64 "%s%s\n", x.index,
                x.first_case == x.last_case ? "" : "s", x.first_case,
                x.first_case == x.last_case ? "" : (".." + std::to_string(x.last_case)).c_str(),
                x.reproducer.size() == 1 ? (" (" + x.reproducer.front().mutation + ")").c_str() : "");
    std::printf("  %s\n", x.note.c_str());
    for (const auto& c : x.reproducer) {
      for (const auto& d : c.datagrams) {
        std::printf("  -> %s %s\n", d.to == netfuzz::Destination::kListen ? "listen" : "server",
                    proto::describe_datagram(d.bytes).c_str());
      }
    }
    std::printf("  reproducer: %s\n  capture:    %s\n  replay:     tftpspec run --target %s --scenarios %s\n",
                x.scenario_file.c_str(), x.capture_file.c_str(), f.target.c_str(), x.scenario_file.parent_path().c_str());
  }
  if (!result->stalls_after.empty()) {
    std::string cases;
    for (uint64_t c : result->stalls_after) cases += (cases.empty() ? "" : ", ") + std::to_string(c);
    std::printf("stalls (a liveness check failed, a re-check passed) after case%s %s\n",
                result->stalls_after.size() == 1 ? "" : "s", cases.c_str());
  }
  if (!result->stopped_because.empty()) std::printf("stopped: %s\n", result->stopped_because.c_str());
  std::printf("report: %s\n", report_path.c_str());
  if (result->interrupted) return interrupted_exit_code();
  if (!result->target_answered) return kExitUsage;
  return result->findings.empty() ? kExitOk : kExitFailure;
}

}  // namespace

void add_fuzz_command(CLI::App& app, Action& action, int argc, char** argv) {
  auto flags = std::make_shared<FuzzFlags>();
  auto* cmd = app.add_subcommand("fuzz", "Fuzz a TFTP server over the network; shrink and save what kills it");
  cmd->footer(
      "\nEach case is one short conversation from a new client port: an RRQ of --read (or a WRQ of --upload-N.bin) with\n"
      "random valid options, answered like a client would (ACK 0 after an OACK, ACK n after DATA n, DATA n+1 after\n"
      "ACK n, always to the port the server answered from), except at one state chosen from the seed, where a\n"
      "mutation goes out instead: the request (opcode, filename, mode, option names, values, counts, lengths, NULs\n"
      "missing, truncation), the answer to the OACK, or a mid-transfer DATA/ACK (wrong block, oversize, undersize,\n"
      "wrong opcode, truncated, ERROR variants, garbage). The same --seed against the same behaviour sends the same\n"
      "bytes. After every --batch cases an RRQ of --probe must get an answer (DATA or ERROR: anything); when it does\n"
      "not, even after two more checks, the target is dead or hung.\n\n"
      "A dead target is restarted with --restart-cmd (a shell command that returns once it listens again) to shrink\n"
      "the cases since the last good check by delta debugging: which cases, which datagrams, then the shortest\n"
      "prefix of each datagram. Without --restart-cmd the batch is saved unshrunk and the campaign stops.\n"
      "Each finding is written to OUT/finding-N/: reproducer.yaml, a scenario that\n"
      "  tftpspec run --target HOST:PORT --scenarios OUT/finding-N\n"
      "replays (an error verdict, exit 2, if the target stops answering again; the datagrams are its evidence), and\n"
      "reproducer.pcap. The run\n"
      "is summarised in OUT/fuzz-report.json (README \"Fuzzing a server\").\n\n"
      "Exit status: 0 no death, 1 the target stopped answering, 2 usage error or a target that did not answer the\n"
      "probe before fuzzing, 130/143 interrupted (the report is written).\n\n"
      "Examples:\n"
      "  tftpspec fuzz --target 127.0.0.1:69 --duration 300 --seed 7\n"
      "  tftpspec fuzz --target 127.0.0.1:6969 --cases 5000 --no-writes --probe pxelinux.0\n"
      "  tftpspec fuzz --target 127.0.0.1:69 --restart-cmd 'systemctl restart tftpd-hpa' --out findings/\n");
  cmd->add_option("--target", flags->target, "HOST[:PORT] of the server to fuzz (port 69 by default)")->required();
  cmd->add_option("--seed", flags->seed, "Seed of the cases (default: from the clock; in the report)");
  cmd->add_option("--cases", flags->cases, "Stop after N cases")->check(CLI::PositiveNumber);
  cmd->add_option("--duration", flags->duration, "Stop after SECONDS (default 60 when --cases is not given)")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--out", flags->out, "Directory for the report and the findings (default tftpspec-fuzz)");
  cmd->add_option("--batch", flags->batch, "Cases between liveness checks (default 1: after every case)")
      ->check(CLI::Range(1, 100000));
  cmd->add_option("--probe", flags->probe, "File the liveness check reads (default f1.bin; any answer, even ERROR, counts)");
  cmd->add_option("--read", flags->read, "File the RRQ cases read (default f3000.bin: several blocks to fuzz between)");
  cmd->add_option("--upload", flags->upload,
                  "WRQ cases write PREFIX-N.bin, N the case number (default tftpspec-fuzz; at most 3000 bytes each)");
  cmd->add_flag("--no-writes", flags->no_writes, "No WRQ cases (for a server that must not be written to)");
  cmd->add_option("--restart-cmd", flags->restart_cmd,
                  "Shell command that restarts the target and returns once it listens; enables shrinking");
  cmd->add_option("--reply-timeout", flags->reply_timeout, "SECONDS to wait for an answer within a case (default 0.05)")
      ->check(CLI::Range(0.001, 60.0));
  cmd->add_option("--liveness-timeout", flags->liveness_timeout, "SECONDS a probe waits for its answer (default 1)")
      ->check(CLI::Range(0.01, 60.0));
  cmd->add_option("--liveness-tries", flags->liveness_tries, "Probes per liveness check (default 3)")->check(CLI::Range(1, 20));
  cmd->add_option("--shrink-budget", flags->shrink_budget, "Replays a shrink may use per finding (default 150)")
      ->check(CLI::Range(1, 100000));
  cmd->add_option("--max-findings", flags->max_findings, "Stop after N deaths (with --restart-cmd; default 5)")
      ->check(CLI::Range(1, 1000));
  cmd->add_flag("-q,--quiet", flags->quiet, "No status line on a terminal");
  const std::string command = command_line(argc, argv);
  cmd->callback([flags, &action, command] { action = [flags, command] { return run_fuzz(*flags, command); }; });
}

}  // namespace tftp::cli
