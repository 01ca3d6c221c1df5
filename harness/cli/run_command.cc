// tftpspec run / fixtures: the conformance catalogue against a target.
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "cli/commands.h"
#include "client/client.h"
#include "report/json_report.h"
#include "scenario/fixtures.h"
#include "common/hash.h"
#include "scenario/loader.h"
#include "scenario/reference_faults.h"
#include "scenario/runner.h"

#ifndef TFTPSPEC_SCENARIO_DIR
#define TFTPSPEC_SCENARIO_DIR "scenarios"
#endif

namespace tftp::cli {

namespace {

struct RunFlags {
  std::optional<std::string> target;
  std::optional<std::string> root;
  bool upload_fixtures = false;
  std::vector<std::string> include;
  std::vector<std::string> exclude;
  int jobs = 0;
  std::optional<std::string> json;
  uint64_t seed = 0;
  bool list = false;
  bool slow = false;
  bool verbose = false;
  std::string scenarios;
  std::vector<std::string> reference_faults;
};

std::string default_scenario_dir() {
  if (const char* env = std::getenv("TFTPSPEC_SCENARIOS")) return env;
  if (std::filesystem::is_directory(TFTPSPEC_SCENARIO_DIR)) return TFTPSPEC_SCENARIO_DIR;
  return "scenarios";
}

std::string shell_quote(const std::string& s) {
  if (!s.empty() && s.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./:=@,[]") == std::string::npos) return s;
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

std::string catalogue_digest(const std::string& dir, size_t count) {
  uint64_t h = kFnv1aOffset;
  std::vector<std::filesystem::path> files;
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir)) {
    if (e.is_regular_file() && e.path().extension() == ".yaml") files.push_back(e.path());
  }
  std::sort(files.begin(), files.end());
  for (const auto& f : files) {
    std::ifstream in(f, std::ios::binary);
    std::stringstream s;
    s << in.rdbuf();
    h = fnv1a(std::filesystem::relative(f, dir).string() + s.str(), h);
  }
  char buf[48];
  std::snprintf(buf, sizeof buf, "%zu-scenarios-%016llx", count, static_cast<unsigned long long>(h));
  return buf;
}

void print_result(const report::ScenarioResult& r, bool verbose) {
  std::printf("  %-5s %-58s %8.1f ms\n", std::string(report::verdict_name(r.verdict)).c_str(), r.id.c_str(), r.duration_ms);
  if (r.verdict == report::Verdict::kPass) return;
  std::printf("        %s\n", r.reason.c_str());
  if (!r.expected.empty()) std::printf("        expected: %s\n", r.expected.c_str());
  if (!r.observed.empty()) std::printf("        observed: %s\n", r.observed.c_str());
  if (!verbose) return;
  for (const auto& e : r.evidence) {
    std::printf("        #%-4zu %9.3f ms %-8s %s -> %s  %s\n", e.index, e.t_ms, e.direction.c_str(), e.from.c_str(),
                e.to.c_str(), e.packet.c_str());
  }
}

// Uploads every fixture by WRQ, for targets whose root the harness cannot write.
bool upload_fixtures(const Address& target) {
  bool ok = true;
  for (const auto& f : scenario::fixtures()) {
    client::Request request;
    request.server = target;
    request.remote = f.name;
    request.options = client::make_options(f.size > (1 << 16) ? std::optional<size_t>(1428) : std::nullopt, std::nullopt,
                                           std::nullopt, std::nullopt);
    request.transfer.dally = Duration::zero();
    auto report = client::upload(request, std::make_unique<engine::MemorySource>(*scenario::fixture_bytes(f.name)));
    if (!report || !report->outcome.ok()) {
      std::fprintf(stderr, "tftpspec run: cannot upload fixture %s: %s\n", f.name.c_str(),
                   report ? report->outcome.to_string().c_str() : report.error().message.c_str());
      ok = false;
    }
  }
  return ok;
}

int run(const RunFlags& f, const std::string& command) {
  const std::string dir = f.scenarios.empty() ? default_scenario_dir() : f.scenarios;
  auto catalogue = scenario::load_catalogue(dir);
  if (!catalogue) {
    std::fprintf(stderr, "tftpspec run: %s\n", catalogue.error().to_string().c_str());
    return kExitUsage;
  }
  scenario::RunOptions options;
  options.include = f.include;
  options.exclude = f.exclude;
  options.include_slow = f.slow;
  options.seed = f.seed != 0 ? f.seed : static_cast<uint64_t>(std::chrono::system_clock::now().time_since_epoch().count());
  options.cancel = &g_interrupted;

  if (f.list) {
    for (const auto* s : scenario::select(*catalogue, options)) {
      std::printf("%-60s %-7s %-22s %s\n", s->id.c_str(), std::string(scenario::level_name(s->level)).c_str(),
                  s->citation.c_str(), s->title.c_str());
    }
    return kExitOk;
  }

  std::unique_ptr<scenario::Target> target;
  if (f.target) {
    auto address = Address::parse(*f.target, 69);
    if (!address) {
      std::fprintf(stderr, "tftpspec run: --target %s: %s\n", f.target->c_str(), address.error().message.c_str());
      return kExitUsage;
    }
    if (f.root) {
      auto written = scenario::write_fixtures(*f.root);
      if (!written) {
        std::fprintf(stderr, "tftpspec run: --root: %s\n", written.error().message.c_str());
        return kExitUsage;
      }
    }
    if (f.upload_fixtures && !upload_fixtures(*address)) return kExitUsage;
    target = std::make_unique<scenario::UdpTarget>(*address);
    options.jobs = f.jobs > 0 ? f.jobs : 16;  // mostly waiting on the target's timers
  } else {
    if (!f.reference_faults.empty() && f.target) {
      std::fprintf(stderr, "tftpspec run: --reference-fault applies to the embedded server only\n");
      return kExitUsage;
    }
    if (f.root || f.upload_fixtures) {
      std::fprintf(stderr, "tftpspec run: --root and --upload-fixtures need --target (the embedded server has its fixtures)\n");
      return kExitUsage;
    }
    auto config = scenario::EmbeddedTarget::default_config();
    for (const auto& name : f.reference_faults) {
      const auto* fault = scenario::find_reference_fault(name);
      if (fault == nullptr) {
        std::fprintf(stderr, "tftpspec run: unknown --reference-fault %s; known:\n", name.c_str());
        for (const auto& k : scenario::reference_faults()) std::fprintf(stderr, "  %-26s %s\n", k.name.c_str(), k.breaks.c_str());
        return kExitUsage;
      }
      fault->apply(config);
    }
    target = std::make_unique<scenario::EmbeddedTarget>(config);
    options.jobs = f.jobs > 0 ? f.jobs : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  }
  const bool verbose = f.verbose;
  options.on_result = [verbose](const report::ScenarioResult& r) { print_result(r, verbose); };

  const auto selected = scenario::select(*catalogue, options);
  std::printf("tftpspec run: %zu scenarios against %s (seed %llu)\n", selected.size(), target->describe().address.c_str(),
              static_cast<unsigned long long>(options.seed));
  auto report = scenario::run_catalogue(*catalogue, *target, options);
  report.tool_version = "0.1.0";
  report.command = command;
  report.catalogue_version = catalogue_digest(dir, catalogue->size());
  report.selection = f.include;
  for (const auto& e : f.exclude) report.selection.push_back("!" + e);
  if (f.slow) report.selection.push_back("group:slow");

  const auto& t = report.target;
  std::printf("target: %s, %s; capabilities: ", t.address.c_str(), t.alive ? "alive" : "NOT ANSWERING");
  for (const auto& c : t.capabilities) std::printf("%s ", c.c_str());
  std::printf("; retransmission timeout %.0f ms (mid-transfer %.0f ms)\n", t.rto_ms, t.srto_ms);
  for (const auto& n : t.notes) std::printf("note: %s\n", n.c_str());
  if (report.target_died_after) std::printf("THE TARGET STOPPED ANSWERING after %s\n", report.target_died_after->c_str());
  if (report.interrupted) std::printf("interrupted: the report holds what finished\n");
  if (f.json) {
    auto written = report::write_file_atomic(*f.json, report::to_json(report).dump(2) + "\n");
    if (!written) {
      std::fprintf(stderr, "tftpspec run: %s\n", written.error().message.c_str());
      return kExitUsage;
    }
    std::printf("report: %s\n", f.json->c_str());
  }
  const auto& s = report.summary;
  std::printf("summary: %d pass, %d fail, %d warn, %d skip, %d error in %.2f s\n", s.pass, s.fail, s.warn, s.skip, s.error,
              report.duration_ms / 1000);
  std::printf("%d passed, %d failed\n", s.pass, s.fail);
  std::fflush(stdout);
  if (s.fail > 0) return kExitFailure;
  if (s.error > 0 || report.interrupted || !t.alive) return kExitUsage;
  return kExitOk;
}

int fixtures_command(const std::string& dir) {
  auto written = scenario::write_fixtures(dir);
  if (!written) {
    std::fprintf(stderr, "tftpspec fixtures: %s\n", written.error().message.c_str());
    return kExitUsage;
  }
  for (const auto& f : scenario::fixtures()) std::printf("  %-14s %8llu bytes  %s\n", f.name.c_str(),
                                                          static_cast<unsigned long long>(f.size), f.purpose.c_str());
  std::printf("wrote %zu fixtures to %s: make them readable by the server at its root\n", *written, dir.c_str());
  return kExitOk;
}

}  // namespace

void add_run_command(CLI::App& app, Action& action, int argc, char** argv) {
  auto flags = std::make_shared<RunFlags>();
  auto* cmd = app.add_subcommand("run", "Run the conformance catalogue against a TFTP server (default: the embedded reference server)");
  cmd->footer(
      "\nVerdicts: pass; fail (a MUST broken); warn (a SHOULD broken); skip (capability missing); error (not judgeable).\n"
      "Exit status: 0 no failure, 1 some scenario failed, 2 usage or harness error.\n"
      "Examples:\n"
      "  tftpspec run                                        the embedded reference server, virtual time\n"
      "  tftpspec run --target 127.0.0.1:6969 --root /srv/tftp --json report.json\n"
      "  tftpspec run --target [::1]:69 --scenario 'rfc2348.*' --jobs 4\n");
  cmd->add_option("--target", flags->target, "HOST[:PORT] of the server under test (port 69 by default)");
  cmd->add_option("--root", flags->root, "Write the fixtures into the target's root DIR first");
  cmd->add_flag("--upload-fixtures", flags->upload_fixtures, "Upload the fixtures by WRQ first (the target must allow it)");
  cmd->add_option("--scenario", flags->include, "Run only scenarios whose id matches GLOB (repeatable)");
  cmd->add_option("--exclude", flags->exclude, "Skip scenarios whose id matches GLOB (repeatable)");
  cmd->add_option("--jobs,-j", flags->jobs, "Scenarios run at once (default: 16 for a real target, the core count embedded)")
      ->check(CLI::Range(1, 256));
  cmd->add_option("--json", flags->json, "Write the JSON report (schema: reports/tftpspec-report.schema.json)");
  cmd->add_option("--seed", flags->seed, "Seed for unique names and the virtual network (default: from the clock; in the report)");
  cmd->add_flag("--list", flags->list, "List the selected scenarios and exit");
  cmd->add_flag("--slow", flags->slow, "Include the slow group (scenarios that wait for the target to give up)");
  cmd->add_flag("-v,--verbose", flags->verbose, "Print the datagram evidence of every non-pass");
  cmd->add_option("--reference-fault", flags->reference_faults,
                  "Make the embedded reference server break one rule on purpose (repeatable; 'list' lists them) "
                  "to see which scenarios catch it");
  cmd->add_option("--scenarios", flags->scenarios, "Scenario directory (default: $TFTPSPEC_SCENARIOS or the source tree's)");
  std::string command;
  for (int i = 0; i < argc; ++i) command += (i ? " " : "") + shell_quote(argv[i]);
  cmd->callback([flags, &action, command] { action = [flags, command] { return run(*flags, command); }; });

  auto dir = std::make_shared<std::string>();
  auto* fx = app.add_subcommand("fixtures", "Write the files a target must serve for the catalogue into DIR");
  fx->add_option("dir", *dir, "Directory (created if missing)")->required();
  fx->callback([dir, &action] { action = [dir] { return fixtures_command(*dir); }; });
}

}  // namespace tftp::cli
