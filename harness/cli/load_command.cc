// tftpspec load: a boot storm against one server (client/load.h), with --ramp to find the
// crowd at which transfers start to fail.
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <iterator>
#include <memory>

#include "cli/commands.h"
#include "client/client.h"
#include "client/load.h"
#include "common/atomic_file.h"
#include "common/time.h"
#include "report/json_report.h"
#include "report/load_report.h"

namespace tftp::cli {

namespace {

struct LoadFlags {
  std::string target;
  size_t clients = 10;
  std::string file;
  std::optional<double> duration;
  std::optional<uint64_t> rounds;
  double loss = 0;
  double duplicate = 0;
  std::optional<size_t> blksize;
  std::optional<uint16_t> windowsize;
  std::optional<int> timeout;
  std::string json;
  bool ramp = false;
  bool upload = false;
  std::string root;
  std::string local;
  uint64_t seed = 1;
  int retries = 5;
  double dally = 2.0;
  bool quiet = false;
};

std::optional<std::vector<uint8_t>> read_whole(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(in), {});
}

uint64_t peak_rss_kib() {
  rusage usage{};
  ::getrusage(RUSAGE_SELF, &usage);
  return static_cast<uint64_t>(usage.ru_maxrss);  // Linux: KiB
}

// --ramp's crowd sizes: 1, 2, 5, 10, 20, 50, ... below `max`, then `max` itself.
std::vector<size_t> ramp_steps(size_t max) {
  std::vector<size_t> steps;
  for (size_t decade = 1; decade < max; decade *= 10) {
    for (size_t m : {1, 2, 5}) {
      if (decade * m < max) steps.push_back(decade * m);
    }
  }
  steps.push_back(max);
  return steps;
}

void print_step(std::FILE* out, const report::LoadStep& step, bool upload) {
  const auto& t = step.run.tally;
  const auto latency = client::summarize(t.latencies);
  std::fprintf(out, "%zu clients: %" PRIu64 " transfers, %" PRIu64 " verified ok, %" PRIu64 " failed, in %.2f s%s\n",
               step.clients, t.started, t.succeeded, t.failed, to_seconds(step.run.elapsed),
               step.run.interrupted ? " (interrupted)" : "");
  std::fprintf(out, "  throughput %.2f MiB/s (%" PRIu64 " bytes)\n", report::throughput_mib_s(t.bytes, step.run.elapsed),
               t.bytes);
  std::fprintf(out, "  latency ms: p50 %.1f  p95 %.1f  p99 %.1f  max %.1f  (%zu transfers)\n", to_ms(latency.p50),
               to_ms(latency.p95), to_ms(latency.p99), to_ms(latency.max), latency.count);
  std::fprintf(out,
               "  retransmissions: %" PRIu64 " requests, %" PRIu64 " %s by the clients; %" PRIu64
               " duplicate %s received (the server's retransmissions)\n",
               t.request_retransmissions, t.retransmissions, upload ? "DATA" : "ACK", t.duplicates_received,
               upload ? "ACKs" : "DATA");
  if (t.injected_losses + t.injected_duplicates > 0) {
    std::fprintf(out, "  injected: %" PRIu64 " datagrams lost, %" PRIu64 " duplicated\n", t.injected_losses,
                 t.injected_duplicates);
  }
  for (const auto& [cause, count] : t.failures) std::fprintf(out, "  failed x%" PRIu64 ": %s\n", count, cause.c_str());
}

int load(const LoadFlags& f) {
  auto target = Address::parse(f.target, 69);
  if (!target) {
    std::fprintf(stderr, "tftpspec load: --target %s: %s\n", f.target.c_str(), target.error().message.c_str());
    return kExitUsage;
  }
  if (f.duration && f.rounds) {
    std::fprintf(stderr, "tftpspec load: give --duration or --rounds, not both\n");
    return kExitUsage;
  }
  if (!f.json.empty()) {
    if (auto problem = check_output_path(f.json); !problem.empty()) {
      std::fprintf(stderr, "tftpspec load: --json %s: %s\n", f.json.c_str(), problem.c_str());
      return kExitUsage;
    }
  }
  const std::string root_copy = f.root.empty() ? std::string() : f.root + "/" + f.file;
  client::LoadConfig config;
  config.server = *target;
  config.remote = f.file;
  config.upload = f.upload;
  config.seed = f.seed;
  if (f.rounds) config.rounds = *f.rounds;
  if (f.duration) config.duration = std::chrono::duration_cast<Duration>(std::chrono::duration<double>(*f.duration));
  config.faults.loss = f.loss;
  config.faults.duplicate = f.duplicate;
  config.options = client::make_options(f.blksize, f.windowsize, std::nullopt, f.timeout);
  config.transfer.retransmit.initial = f.timeout ? Duration(std::chrono::seconds(*f.timeout)) : Duration(std::chrono::seconds(1));
  config.transfer.retransmit.max_retries = f.retries;
  config.transfer.dally = std::chrono::duration_cast<Duration>(std::chrono::duration<double>(f.dally));
  // What the copies are checked against: a local copy (--local, else --root/NAME) when
  // given, else the first successful download.
  const std::string reference_path = !f.local.empty() ? f.local : root_copy;
  std::optional<std::vector<uint8_t>> content;
  if (!reference_path.empty()) {
    content = read_whole(reference_path);
    if (!content) {
      std::fprintf(stderr, "tftpspec load: cannot read %s (the local copy of %s)\n", reference_path.c_str(),
                   f.file.c_str());
      return kExitUsage;
    }
  }
  if (f.upload) {
    if (!content) {
      std::fprintf(stderr, "tftpspec load: --upload sends a local file: give --local FILE or --root DIR\n");
      return kExitUsage;
    }
    config.upload_content = std::make_shared<const std::vector<uint8_t>>(std::move(*content));
    if (!f.root.empty()) {
      const std::string root = f.root;
      config.uploaded_digest = [root](const std::string& name) -> std::optional<uint64_t> {
        auto stored = read_whole(root + "/" + name);
        if (!stored) return std::nullopt;
        return client::content_digest(*stored);
      };
    }
  } else if (content) {
    config.expected_digest = client::content_digest(*content);
  }

  report::LoadReport out;
  out.version = TFTPSPEC_VERSION;
  out.target = target->to_string();
  out.file = f.file;
  out.upload = f.upload;
  out.started = utc_now_iso8601();
  out.clients = f.clients;
  out.rounds = f.rounds;
  out.duration_seconds = f.duration;
  out.loss = f.loss;
  out.duplicate = f.duplicate;
  out.blksize = f.blksize;
  out.windowsize = f.windowsize;
  out.seed = f.seed;
  out.ramp = f.ramp;

  // One socket per client, and a dallying one beside it: make sure the descriptors are there.
  if (rlimit files{}; ::getrlimit(RLIMIT_NOFILE, &files) == 0) {
    const rlim_t wanted = static_cast<rlim_t>(2 * f.clients + 64);
    if (files.rlim_cur < wanted && files.rlim_cur < files.rlim_max) {
      files.rlim_cur = std::min(files.rlim_max, wanted);
      ::setrlimit(RLIMIT_NOFILE, &files);
    }
  }
  const bool terminal = !f.quiet && ::isatty(::fileno(stderr)) != 0;
  const std::vector<size_t> crowds = f.ramp ? ramp_steps(f.clients) : std::vector<size_t>{f.clients};
  for (size_t n : crowds) {
    config.clients = n;
    auto progress = [&](const client::LoadProgress& p) {
      if (!terminal) return;
      std::fprintf(stderr, "\r\033[K%6.1f s  %zu clients: %" PRIu64 " started, %" PRIu64 " ok, %" PRIu64
                   " failed, %" PRIu64 " active, %.1f MiB",
                   to_seconds(p.elapsed), n, p.started, p.succeeded, p.failed, p.active,
                   static_cast<double>(p.bytes) / (1 << 20));
    };
    auto run = client::run_load(config, progress, &g_interrupted);
    if (terminal) std::fprintf(stderr, "\r\033[K");
    if (!run) {
      std::fprintf(stderr, "tftpspec load: %s\n", run.error().message.c_str());
      return kExitUsage;
    }
    out.steps.push_back({n, std::move(*run)});
    const auto& step = out.steps.back();
    if (!f.quiet) print_step(stdout, step, f.upload);
    std::fflush(stdout);
    if (step.run.interrupted) {
      out.interrupted = true;
      break;
    }
    if (step.run.tally.failed > 0) {
      if (f.ramp) {
        out.first_failure_clients = n;
        if (!f.quiet) std::printf("ramp: the first failure came at %zu clients\n", n);
      }
      break;
    }
    out.last_good_clients = n;
  }
  if (f.ramp && !out.first_failure_clients && !out.interrupted && !f.quiet) {
    std::printf("ramp: every transfer passed up to %zu clients (raise --clients to go further)\n", f.clients);
  }
  out.peak_rss_kib = peak_rss_kib();
  if (!f.quiet) std::printf("peak RSS of the load generator: %.1f MiB\n", static_cast<double>(out.peak_rss_kib) / 1024);
  if (!f.json.empty()) {
    const std::string text = report::load_report_json(out);
    if (f.json == "-") {
      std::fputs(text.c_str(), stdout);
    } else if (auto written = write_file_atomic(f.json, text); !written) {
      std::fprintf(stderr, "tftpspec load: %s\n", written.error().message.c_str());
      return kExitUsage;
    }
  }
  if (out.interrupted) return interrupted_exit_code();
  if (f.ramp) return kExitOk;  // finding the failure point is what --ramp is for
  return out.steps.back().run.tally.failed > 0 ? kExitFailure : kExitOk;
}

}  // namespace

void add_load_command(CLI::App& app, Action& action) {
  auto flags = std::make_shared<LoadFlags>();
  auto* cmd = app.add_subcommand(
      "load",
      "Boot storm: N clients download (or upload) one file at once, each copy verified by digest.\n"
      "Reports aggregate throughput, latency percentiles (p50/p95/p99/max), retransmissions\n"
      "(requests, DATA/ACK) and failures by cause. One event loop drives every client.\n\n"
      "Examples:\n"
      "  tftpspec load --target 127.0.0.1:6969 --clients 200 --file 1M.bin --root /srv/tftp\n"
      "      200 downloads at once, each checked against /srv/tftp/1M.bin\n"
      "  tftpspec load --target 10.0.0.5:69 --clients 1000 --file pxelinux.0 --blksize 1428\n"
      "      1000 PXE-like clients; copies checked against the first one that completes\n"
      "  tftpspec load --target 127.0.0.1:6969 --clients 1000 --file boot.img --ramp\n"
      "      1, 2, 5, 10, 20, 50, ... up to 1000 clients, stopping at the first failure\n"
      "  tftpspec load --target 127.0.0.1:6969 --clients 200 --file f --duration 600 --loss 0.05 --duplicate 0.05\n"
      "      ten minutes of back-to-back transfers with 5 % loss and duplication\n\n"
      "Exit status: 0 every transfer verified (--ramp: the ramp ran), 1 a transfer failed, 2 usage or\n"
      "harness error, 130/143 interrupted.");
  cmd->add_option("--target", flags->target, "HOST[:PORT] of the server (port 69 by default)")->required();
  cmd->add_option("--clients", flags->clients, "Clients at once (with --ramp: the largest crowd tried)")
      ->check(CLI::Range(size_t{1}, size_t{10000}))
      ->capture_default_str();
  cmd->add_option("--file", flags->file, "File every client downloads (with --upload: uploads as FILE.<client>)")
      ->required();
  auto* duration = cmd->add_option("--duration", flags->duration,
                                   "Seconds during which each client starts transfer after transfer (default: one each)")
                       ->check(CLI::Range(0.001, 86400.0));
  cmd->add_option("--rounds", flags->rounds, "Transfers each client makes, one after the other (default 1)")
      ->check(CLI::Range(uint64_t{1}, uint64_t{1000000}))
      ->excludes(duration);
  cmd->add_option("--loss", flags->loss,
                  "Probability that the fault layer drops a datagram, each way, at the clients' sockets")
      ->check(CLI::Range(0.0, 0.9))
      ->capture_default_str();
  cmd->add_option("--duplicate", flags->duplicate, "Probability that the fault layer doubles a datagram, each way")
      ->check(CLI::Range(0.0, 0.9))
      ->capture_default_str();
  cmd->add_option("--blksize", flags->blksize, "Ask for this block size (RFC 2348)")->check(CLI::Range(8, 65464));
  cmd->add_option("--windowsize", flags->windowsize, "Ask for this window (RFC 7440)")->check(CLI::Range(1, 65535));
  cmd->add_option("--timeout", flags->timeout, "Ask for this retransmission timeout in seconds (RFC 2349)")
      ->check(CLI::Range(1, 255));
  cmd->add_option("--retries", flags->retries, "Retransmissions before a client gives up")
      ->check(CLI::Range(0, 100))
      ->capture_default_str();
  cmd->add_option("--dally", flags->dally, "Seconds a client stays to re-ACK a repeated final DATA (RFC 1350 §6)")
      ->check(CLI::Range(0.0, 60.0))
      ->capture_default_str();
  cmd->add_option("--root", flags->root,
                  "The server's root on this machine: downloads are checked against ROOT/FILE, uploads are read back")
      ->check(CLI::ExistingDirectory);
  cmd->add_option("--local", flags->local, "A local copy of FILE: what downloads must match and what uploads send")
      ->check(CLI::ExistingFile);
  cmd->add_option("--json", flags->json, "Write the report as JSON (schema tftpspec-load.schema.json; - for stdout)");
  cmd->add_flag("--ramp", flags->ramp, "Raise the crowd 1, 2, 5, 10, ... up to --clients until a transfer fails");
  cmd->add_flag("--upload", flags->upload, "Upload (WRQ) instead of download; the server must accept writes");
  cmd->add_option("--seed", flags->seed, "Seed of the fault layer's dice")->capture_default_str();
  cmd->add_flag("-q,--quiet", flags->quiet, "No progress and no summary (the exit status and --json say it)");
  cmd->callback([flags, &action] { action = [flags] { return load(*flags); }; });
}

}  // namespace tftp::cli
