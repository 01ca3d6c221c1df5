// The tftpspec subcommands. Each registers its flags on the app and returns the action
// to run once parsing succeeded; the action returns the process exit code
// (0 success, 1 transfer or conformance failure, 2 usage or harness error).
#pragma once

#include <atomic>
#include <functional>

#include <CLI/CLI.hpp>

namespace tftp::cli {

using Action = std::function<int()>;

inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;
inline constexpr int kExitUsage = 2;

// Set by SIGINT/SIGTERM; long-running commands poll it and stop cleanly.
extern std::atomic<bool> g_interrupted;

void add_serve_command(CLI::App& app, Action& action);
void add_transfer_commands(CLI::App& app, Action& action);  // get, put
void add_selfcheck_command(CLI::App& app, Action& action);
void add_run_command(CLI::App& app, Action& action, int argc, char** argv);  // run, fixtures

}  // namespace tftp::cli
