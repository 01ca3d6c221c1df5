// The tftpspec subcommands. Each registers its flags on the app and returns the action
// to run once parsing succeeded; the action returns the process exit code
// (0 success, 1 transfer or conformance failure, 2 usage or harness error).
#pragma once

#include <atomic>
#include <functional>
#include <optional>
#include <string>

#include <CLI/CLI.hpp>

namespace tftp::report {
struct RunReport;
}

namespace tftp::cli {

using Action = std::function<int()>;

inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;
inline constexpr int kExitUsage = 2;

// Set by SIGINT/SIGTERM; long-running commands poll it and stop cleanly. A second signal
// exits at once with 128 + its number.
extern std::atomic<bool> g_interrupted;
// The signal that set g_interrupted (SIGINT or SIGTERM); 0 before one arrived.
extern std::atomic<int> g_signal;
// The exit status of a command ended by that signal: 130 for SIGINT, 143 for SIGTERM.
inline int interrupted_exit_code() {
  const int sig = g_signal.load();
  return 128 + (sig != 0 ? sig : 2);
}

// Why `path` cannot take a report ("-" is stdout), or empty: checked before any work.
std::string check_output_path(const std::string& path);

// A run report in the format of a report flag: "--json", "--junit" or "--html" (run, report render).
std::string render_report(const std::string& flag, const report::RunReport& report);

// `run` of the scenarios in one file or directory against a target (replay's scenarios).
struct ScenarioFileRun {
  std::string scenarios;
  std::string target;
  std::optional<std::string> json, junit, html, pcap;
  int jobs = 0;
  uint64_t seed = 0;
  bool verbose = false;
};
int run_scenario_file(const ScenarioFileRun& run, const std::string& command);

void add_serve_command(CLI::App& app, Action& action);
void add_transfer_commands(CLI::App& app, Action& action);  // get, put
void add_selfcheck_command(CLI::App& app, Action& action);
void add_run_command(CLI::App& app, Action& action, int argc, char** argv);  // run, rerun, fixtures
void add_report_command(CLI::App& app, Action& action);  // report merge, report render
void add_analyze_command(CLI::App& app, Action& action);  // analyze
void add_load_command(CLI::App& app, Action& action);  // load (boot storm)
void add_fuzz_command(CLI::App& app, Action& action, int argc, char** argv);  // fuzz
void add_capture_commands(CLI::App& app, Action& action);  // pcap2scenario, replay

}  // namespace tftp::cli
