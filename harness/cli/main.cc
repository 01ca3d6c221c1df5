// tftpspec: conformance and fuzz testing for TFTP servers, with a reference server and client.
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <iostream>

#include "cli/commands.h"

namespace tftp::cli {
std::atomic<bool> g_interrupted{false};
std::atomic<int> g_signal{0};
}  // namespace tftp::cli

namespace {
// Async-signal-safe: lock-free atomics and _exit only. The first signal asks the command
// to stop (it writes what it has); a second one, when a user insists, ends it at once.
void on_signal(int sig) {
  static_assert(std::atomic<bool>::is_always_lock_free && std::atomic<int>::is_always_lock_free);
  if (tftp::cli::g_interrupted.exchange(true)) _exit(128 + sig);
  tftp::cli::g_signal.store(sig);
}

void install(int sig) {
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = 0;  // no SA_RESTART: a blocking wait returns EINTR and looks at the flag
  ::sigaction(sig, &sa, nullptr);
}
}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "tftpspec: judge a TFTP server against the RFCs, with evidence; serve and fetch files with the\n"
      "reference implementation.\n\n"
      "Examples:\n"
      "  tftpspec serve --root /srv/tftp --listen 127.0.0.1:6969     run the reference server\n"
      "  tftpspec get 127.0.0.1:6969 pxelinux.0 --blksize 1428         download a file\n"
      "  tftpspec put 127.0.0.1:6969 firmware.bin ./build/fw.bin       upload a file\n"
      "  tftpspec run                                                  the conformance catalogue against\n"
      "                                                                the embedded reference server\n"
      "  tftpspec run --target 127.0.0.1:69 --root /srv/tftp --json r.json   ... against a real server\n"
      "  tftpspec selfcheck                                            transfer files through the\n"
      "                                                                reference server and client\n",
      "tftpspec"};
  app.set_version_flag("--version", "tftpspec 0.1.0");
  app.require_subcommand(1);
  app.fallthrough(false);

  tftp::cli::Action action;
  tftp::cli::add_serve_command(app, action);
  tftp::cli::add_transfer_commands(app, action);
  tftp::cli::add_selfcheck_command(app, action);
  tftp::cli::add_run_command(app, action, argc, argv);

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return tftp::cli::kExitUsage;  // CLI11 uses other codes; ours are 0/1/2
  }
  install(SIGINT);
  install(SIGTERM);
  std::signal(SIGPIPE, SIG_IGN);
  try {
    return action ? action() : tftp::cli::kExitUsage;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "tftpspec: error: %s\n", e.what());
    return tftp::cli::kExitUsage;
  }
}
