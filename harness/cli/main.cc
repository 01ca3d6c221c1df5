// tftpspec: conformance and fuzz testing for TFTP servers, with a reference server and client.
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

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

// Edit distance, for "did you mean": a typo of a flag or subcommand is one or two edits away.
size_t distance(const std::string& a, const std::string& b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = up;
    }
  }
  return row[b.size()];
}

std::string nearest(const std::string& word, const std::vector<std::string>& candidates) {
  std::string best;
  size_t best_distance = std::max<size_t>(2, word.size() / 3) + 1;
  for (const auto& c : candidates) {
    const size_t d = distance(word, c);
    if (d < best_distance) {
      best = c;
      best_distance = d;
    }
  }
  return best;
}

// After a parse error: the unknown subcommand or flags in argv, each with the nearest valid
// one, so `tftpspec rn` or `run --jsn` says what was meant.
void suggest(CLI::App& app, int argc, char** argv) {
  std::vector<std::string> names;
  for (const auto* sub : app.get_subcommands([](CLI::App*) { return true; })) names.push_back(sub->get_name());
  if (argc < 2) return;
  const std::string first = argv[1];
  CLI::App* sub = nullptr;
  for (auto* candidate : app.get_subcommands([](CLI::App*) { return true; })) {
    if (candidate->get_name() == first) sub = candidate;
  }
  if (sub == nullptr) {
    if (first.rfind("-", 0) != 0) {
      const std::string guess = nearest(first, names);
      std::fprintf(stderr, "tftpspec: unknown command '%s'%s%s%s\n", first.c_str(), guess.empty() ? "" : "; did you mean '",
                   guess.c_str(), guess.empty() ? "" : "'?");
    }
    return;
  }
  int first_flag = 2;
  std::string path = first;
  // Nested subcommands (`report merge`): the flags are the innermost one's.
  for (bool descended = true; descended && first_flag < argc;) {
    descended = false;
    for (auto* nested : sub->get_subcommands([](CLI::App*) { return true; })) {
      if (nested->get_name() == argv[first_flag]) {
        sub = nested;
        path += " " + nested->get_name();
        ++first_flag;
        descended = true;
        break;
      }
    }
  }
  std::vector<std::string> flags;
  for (const auto* option : sub->get_options()) {
    for (const auto& l : option->get_lnames()) flags.push_back("--" + l);
    for (const auto& s : option->get_snames()) flags.push_back("-" + s);
  }
  for (int i = first_flag; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg.rfind("--", 0) != 0) continue;
    arg = arg.substr(0, arg.find('='));
    if (std::find(flags.begin(), flags.end(), arg) != flags.end()) continue;
    const std::string guess = nearest(arg, flags);
    std::fprintf(stderr, "tftpspec %s: unknown flag '%s'%s%s%s\n", path.c_str(), arg.c_str(),
                 guess.empty() ? "" : "; did you mean '", guess.c_str(), guess.empty() ? "" : "'?");
  }
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
      "  tftpspec run --target 127.0.0.1:69 --baseline r.json            ... failing only on a regression\n"
      "  tftpspec rerun r.json --failed                                  repeat a run's failures\n"
      "  tftpspec report merge hpa.json atftpd.json                      servers side by side\n"
      "  tftpspec selfcheck                                            transfer files through the\n"
      "                                                                reference server and client\n"
      "  tftpspec analyze capture.pcap --extract files/                the TFTP transfers in a capture,\n"
      "                                                                judged by the same rules\n"
      "  tftpspec load --target 127.0.0.1:6969 --clients 200 --file f   a boot storm: 200 downloads at once\n"
      "  tftpspec fuzz --target 127.0.0.1:69 --duration 300            fuzz a server, shrink what kills it\n",
      "tftpspec"};
  app.set_version_flag("--version", "tftpspec " TFTPSPEC_VERSION);
  app.require_subcommand(1);
  app.fallthrough(false);

  tftp::cli::Action action;
  tftp::cli::add_serve_command(app, action);
  tftp::cli::add_transfer_commands(app, action);
  tftp::cli::add_selfcheck_command(app, action);
  tftp::cli::add_run_command(app, action, argc, argv);
  tftp::cli::add_report_command(app, action);
  tftp::cli::add_analyze_command(app, action);
  tftp::cli::add_load_command(app, action);
  tftp::cli::add_fuzz_command(app, action, argc, argv);
  tftp::cli::add_capture_commands(app, action);

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
    suggest(app, argc, argv);
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
