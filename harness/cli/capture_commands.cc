// pcap2scenario and replay: a captured transfer as a scenario `run` executes, or played again
// against a server and compared with what the capture shows (issue 10 items 3 and 4). Both
// read the capture with the analyzer (scenario/from_capture.h) and both produce scenarios in
// the catalogue's format, so a replay's differences are reported by `run`'s own machinery.
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>

#include "cli/commands.h"
#include "common/address.h"
#include "common/text.h"
#include "scenario/from_capture.h"
#include "scenario/loader.h"

namespace tftp::cli {

namespace {

struct CaptureFlags {
  std::vector<std::string> files;
  std::optional<size_t> transfer;
  std::vector<uint16_t> ports;
  std::string pace = "fast";
  // pcap2scenario
  std::string out;
  bool exact = false;
  // replay
  std::string target;
  std::optional<std::string> root;
  std::optional<std::string> json, junit, html, pcap, scenarios_out;
  bool verbose = false;
};

// The transfers of the capture as scenario YAML items (a `scenarios:` list once joined).
// Prints why nothing came out and returns nullopt then.
std::optional<std::string> scenarios_of(const CaptureFlags& f, const char* command, scenario::ScenarioStyle style,
                                        const std::function<void(const scenario::CapturedTransfer&)>& also = {}) {
  scenario::CaptureSelection selection;
  selection.transfer = f.transfer;
  selection.ports = f.ports;
  std::string yaml = "scenarios:\n";
  for (const auto& file : f.files) {
    size_t count = 0;
    const std::string source = std::filesystem::path(file).filename().string();
    auto stats = scenario::read_captured_transfers(file, selection, [&](scenario::CapturedTransfer&& t) {
      if (also) also(t);
      yaml += scenario::scenario_yaml(t, scenario::scenario_id_for(file, t.log.id), source, style);
      ++count;
    });
    if (!stats) {
      std::fprintf(stderr, "tftpspec %s: %s\n", command, stats.error().to_string().c_str());
      return std::nullopt;
    }
    if (stats->read_error) std::fprintf(stderr, "tftpspec %s: warning: %s\n", command, stats->read_error->to_string().c_str());
    if (count > 0) continue;
    if (f.transfer) {
      std::fprintf(stderr, "tftpspec %s: %s has no transfer %zu (it has %llu; `tftpspec analyze %s` lists them)\n", command,
                   file.c_str(), *f.transfer, static_cast<unsigned long long>(stats->transfers), file.c_str());
    } else {
      std::fprintf(stderr, "tftpspec %s: no answered TFTP request in %s (%llu frames; --port N if the server is not on port 69 "
                   "and its requests use an unusual mode)\n", command, file.c_str(), static_cast<unsigned long long>(stats->frames));
    }
    return std::nullopt;
  }
  return yaml;
}

// Writes `yaml` to `path` and loads it back: what is written is a catalogue `run` accepts.
bool write_scenarios(const std::string& path, const std::string& yaml, const char* command) {
  {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << yaml;
    if (!out) {
      std::fprintf(stderr, "tftpspec %s: cannot write %s\n", command, path.c_str());
      return false;
    }
  }
  auto loaded = scenario::load_file(path);
  if (!loaded) {
    std::fprintf(stderr, "tftpspec %s: internal error: the scenarios written do not load: %s\n", command,
                 loaded.error().to_string().c_str());
    return false;
  }
  return true;
}

bool pace_valid(const CaptureFlags& f, const char* command) {
  if (f.pace == "original" || f.pace == "fast") return true;
  std::fprintf(stderr, "tftpspec %s: --pace must be original or fast, not '%s'\n", command, f.pace.c_str());
  return false;
}

int pcap2scenario(const CaptureFlags& f) {
  if (!pace_valid(f, "pcap2scenario")) return kExitUsage;
  if (auto why = check_output_path(f.out); !why.empty() || f.out == "-") {
    std::fprintf(stderr, "tftpspec pcap2scenario: --out %s: %s\n", f.out.c_str(), why.empty() ? "needs a file" : why.c_str());
    return kExitUsage;
  }
  const auto yaml = scenarios_of(f, "pcap2scenario", {.exact = f.exact, .original_pace = f.pace == "original"});
  if (!yaml) return kExitUsage;
  if (!write_scenarios(f.out, *yaml, "pcap2scenario")) return kExitUsage;
  auto loaded = scenario::load_file(f.out);
  std::printf("wrote %zu scenario%s to %s:\n", loaded->size(), loaded->size() == 1 ? "" : "s", f.out.c_str());
  for (const auto& s : *loaded) std::printf("  %s  %s\n", s.id.c_str(), s.title.c_str());
  std::printf("run them: tftpspec run --scenarios %s [--target HOST:PORT]\n", f.out.c_str());
  return kExitOk;
}

// Writes a captured RRQ's file into the target's root so the server serves what it served
// then. Only names that stay inside the root are written.
void write_served_file(const std::string& root, const scenario::CapturedTransfer& t) {
  if (t.log.opcode != proto::Opcode::kRrq) return;
  const std::filesystem::path name = t.log.filename;
  bool inside = !t.log.filename.empty() && name.is_relative();
  for (const auto& part : name) inside = inside && part != ".." && part != ".";
  if (!inside) {
    std::fprintf(stderr, "tftpspec replay: --root: not writing %s (it does not name a file inside the root)\n",
                 quote(t.log.filename).c_str());
    return;
  }
  auto content = scenario::captured_content(t);
  if (!content) {
    if (t.log.outcome == pcap::Outcome::kComplete) {
      std::fprintf(stderr, "tftpspec replay: --root: the capture does not hold all of %s\n", quote(t.log.filename).c_str());
    }
    return;
  }
  const auto path = std::filesystem::path(root) / name;
  std::error_code ec;
  std::filesystem::create_directories(path.parent_path(), ec);
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(content->data()), static_cast<std::streamsize>(content->size()));
  if (!out) std::fprintf(stderr, "tftpspec replay: --root: cannot write %s\n", path.c_str());
}

int replay(const CaptureFlags& f, const std::string& command) {
  if (!pace_valid(f, "replay")) return kExitUsage;
  if (auto address = Address::parse(f.target, 69); !address) {
    std::fprintf(stderr, "tftpspec replay: --target %s: %s\n", f.target.c_str(), address.error().message.c_str());
    return kExitUsage;
  }
  if (f.root) {
    std::error_code ec;
    std::filesystem::create_directories(*f.root, ec);
    if (!std::filesystem::is_directory(*f.root)) {
      std::fprintf(stderr, "tftpspec replay: --root %s: not a directory\n", f.root->c_str());
      return kExitUsage;
    }
  }
  auto also = [&](const scenario::CapturedTransfer& t) {
    if (f.root) write_served_file(*f.root, t);
  };
  const auto yaml = scenarios_of(f, "replay", {.exact = true, .original_pace = f.pace == "original"}, also);
  if (!yaml) return kExitUsage;
  std::string path;
  if (f.scenarios_out) {
    path = *f.scenarios_out;
  } else {
    path = (std::filesystem::temp_directory_path() / ("tftpspec-replay-" + std::to_string(::getpid()) + ".yaml")).string();
  }
  if (!write_scenarios(path, *yaml, "replay")) return kExitUsage;
  ScenarioFileRun run;
  run.scenarios = path;
  run.target = f.target;
  run.json = f.json;
  run.junit = f.junit;
  run.html = f.html;
  run.pcap = f.pcap;
  run.verbose = f.verbose;
  // One transfer at a time, as a capture of one client usually shows them.
  run.jobs = 1;
  run.seed = 1;
  const int code = run_scenario_file(run, command);
  if (!f.scenarios_out) std::filesystem::remove(path);
  return code;
}

void add_common(CLI::App* cmd, CaptureFlags& f) {
  cmd->add_option("file", f.files, "Capture files (pcap or pcapng; scenario ids are capture.NAME.tN)")->required();
  cmd->add_option("--transfer", f.transfer, "Only transfer N (as `tftpspec analyze FILE` numbers them)");
  cmd->add_option("--port", f.ports, "Take PORT as a TFTP server port (repeatable; 69 always is), as analyze");
  cmd->add_option("--pace", f.pace,
                  "original: the client's datagrams go after the gaps the capture shows (wait steps); fast (default): "
                  "each as soon as the previous step is done");
}

}  // namespace

void add_capture_commands(CLI::App& app, Action& action) {
  auto p = std::make_shared<CaptureFlags>();
  auto* conv = app.add_subcommand("pcap2scenario", "Turn captured transfers into a scenario file that `run` executes");
  conv->footer(
      "\nEach transfer (or only --transfer N) becomes one scenario: the client's datagrams are sent as captured (the\n"
      "request, ACKs and ERRORs, duplicates included; an upload's DATA with the captured block numbers and sizes),\n"
      "the server's new datagrams expected as captured (DATA by block and size, compared with the fixture of that\n"
      "name when the file is one of tftpspec's fixtures; OACK with the captured values; ERROR by code; ACK by block).\n"
      "Server retransmissions are not expected (a rule-engine finding reports them). --exact compares every DATA\n"
      "with the captured bytes (the target must serve the same file) and uploads the captured bytes.\n"
      "Examples:\n"
      "  tftpspec pcap2scenario field.pcap --transfer 3 --out pxe-stall.yaml\n"
      "  tftpspec run --scenarios pxe-stall.yaml --target 192.0.2.7:69\n");
  add_common(conv, *p);
  conv->add_option("--out", p->out, "The scenario file to write (YAML, the catalogue's format)")->required();
  conv->add_flag("--exact", p->exact, "Compare each DATA with the captured bytes, and upload the captured bytes");
  conv->callback([p, &action] { action = [p] { return pcap2scenario(*p); }; });

  auto r = std::make_shared<CaptureFlags>();
  auto* rep = app.add_subcommand("replay", "Play the client side of captured transfers against a server and compare");
  rep->footer(
      "\nEach captured transfer is played from a fresh port: the client's datagrams as captured, each answer of the\n"
      "server compared with the captured one (opcode, block, the DATA bytes, error code, OACK options). Every\n"
      "transfer is a scenario of a `run` against --target, so differences are failing scenarios (expected and\n"
      "observed, with the datagrams) and the rule engine judges the server as in any run; --json, --junit, --html\n"
      "and --pcap are run's. --root DIR first writes each file the capture shows being read into DIR, so a local\n"
      "server rooted there serves the same bytes. Exit status as run: 0 no difference, 1 differences, 2 errors.\n"
      "Examples:\n"
      "  tftpspec replay boot.pcap --target 127.0.0.1:6969 --root /srv/tftp\n"
      "  tftpspec replay boot.pcap --target 192.0.2.7 --pace original --json replay.json\n");
  add_common(rep, *r);
  rep->add_option("--target", r->target, "HOST[:PORT] of the server to play against (port 69 by default)")->required();
  rep->add_option("--root", r->root, "Write the captured files into the server's root DIR first");
  rep->add_option("--json", r->json, "Write the run report as JSON to FILE ('-' for stdout)");
  rep->add_option("--junit", r->junit, "Write the run report as JUnit XML to FILE");
  rep->add_option("--html", r->html, "Write the run report as one HTML page to FILE");
  rep->add_option("--pcap", r->pcap, "Write every datagram of the replay to the capture FILE");
  rep->add_option("--scenarios-out", r->scenarios_out, "Keep the scenarios played in FILE (a temporary file otherwise)");
  rep->add_flag("-v,--verbose", r->verbose, "Print the datagrams of every difference");
  rep->callback([r, &action, &app] {
    std::string command = "tftpspec replay";
    (void)app;
    action = [r, command] { return replay(*r, command); };
  });
}

}  // namespace tftp::cli
