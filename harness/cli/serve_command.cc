// tftpspec serve: the reference server on real UDP.
#include <sys/resource.h>

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <memory>

#include "cli/commands.h"
#include "common/time.h"
#include "server/udp_server.h"

namespace tftp::cli {

namespace {

struct ServeFlags {
  std::string root;
  std::vector<std::string> listen{"0.0.0.0:69"};
  bool writable = false;
  bool overwrite = false;
  // A boot storm of 1000 clients fits at once. A session in lockstep holds one block and a
  // socket; the kernel buffers hold only what is queued. Beyond the limit, requests are shed
  // in silence and served when the client retransmits (server_core.cc).
  size_t max_sessions = 1024;
  size_t max_sessions_per_client = 256;
  uint64_t memory_budget_mib = 512;
  bool no_tmpfile = false;
  uint64_t max_file_size = uint64_t{1} << 32;
  size_t max_blksize = proto::kMaxBlockSize;
  uint16_t max_windowsize = 64;
  // The engine's defaults (engine::RetransmitPolicy says why each is what it is).
  double timeout = to_seconds(engine::RetransmitPolicy{}.initial);
  double min_timeout = to_seconds(engine::RetransmitPolicy{}.min);
  int retries = engine::RetransmitPolicy{}.max_retries;
  bool no_options = false;
  bool quiet = false;
};

void log_line(const std::string& line) {
  const std::time_t t = std::time(nullptr);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", std::localtime(&t));
  std::fprintf(stderr, "%s %s\n", stamp, line.c_str());
}

int serve(const ServeFlags& f) {
  std::vector<Address> listen;
  for (const auto& text : f.listen) {
    auto a = Address::parse(text, 69);
    if (!a) {
      std::fprintf(stderr, "tftpspec serve: --listen %s: %s\n", text.c_str(), a.error().message.c_str());
      return kExitUsage;
    }
    listen.push_back(*a);
  }
  server::RootPolicy policy{f.writable, f.overwrite, f.max_file_size, f.no_tmpfile};
  auto root = server::RootDirectory::open(f.root, policy);
  if (!root) {
    std::fprintf(stderr, "tftpspec serve: %s\n", root.error().c_str());
    return kExitUsage;
  }
  server::ServerConfig config;
  config.max_sessions = f.max_sessions;
  config.max_sessions_per_client = f.max_sessions_per_client;
  config.memory_budget = f.memory_budget_mib << 20;
  config.limits.max_blksize = f.max_blksize;
  config.limits.max_windowsize = f.max_windowsize;
  config.limits.max_file_size = f.max_file_size;
  config.limits.options_enabled = !f.no_options;
  config.transfer.retransmit.initial = std::chrono::duration_cast<Duration>(std::chrono::duration<double>(f.timeout));
  config.transfer.retransmit.min = std::chrono::duration_cast<Duration>(std::chrono::duration<double>(f.min_timeout));
  config.transfer.retransmit.max = std::max(config.transfer.retransmit.initial, Duration(std::chrono::seconds(8)));
  config.transfer.retransmit.max_retries = f.retries;
  // One socket per session: make sure the descriptors are there (a soft limit of 1024 is common).
  if (rlimit files{}; ::getrlimit(RLIMIT_NOFILE, &files) == 0 && files.rlim_cur < files.rlim_max) {
    const rlim_t wanted = static_cast<rlim_t>(f.max_sessions) + 64;
    if (files.rlim_cur < wanted) {
      files.rlim_cur = std::min(files.rlim_max, wanted);
      ::setrlimit(RLIMIT_NOFILE, &files);
    }
  }
  server::UdpServer::Logger logger;
  if (!f.quiet) logger = log_line;
  auto server = server::UdpServer::start(listen, config, **root, logger);
  if (!server) {
    std::fprintf(stderr, "tftpspec serve: %s\n", server.error().message.c_str());
    if (server.error().message.find("Permission denied") != std::string::npos) {
      std::fprintf(stderr, "  (ports below 1024 need root or CAP_NET_BIND_SERVICE; try --listen 0.0.0.0:6969)\n");
    }
    return kExitUsage;
  }
  for (const auto& a : (*server)->listening()) {
    std::fprintf(stderr, "tftpspec serve: serving %s on %s (%s)\n", f.root.c_str(), a.to_string().c_str(),
                 f.writable ? "read-write" : "read-only");
  }
  auto ran = (*server)->run(g_interrupted);
  if (!ran) {
    std::fprintf(stderr, "tftpspec serve: %s\n", ran.error().message.c_str());
    return kExitUsage;
  }
  std::fprintf(stderr, "tftpspec serve: stopped\n");
  return kExitOk;
}

}  // namespace

void add_serve_command(CLI::App& app, Action& action) {
  auto flags = std::make_shared<ServeFlags>();
  auto* cmd = app.add_subcommand("serve", "Run the reference TFTP server (RFC 1350, 2347-2349, 7440)");
  cmd->add_option("--root", flags->root, "Directory to serve; requests cannot leave it")->required()->check(CLI::ExistingDirectory);
  cmd->add_option("--listen", flags->listen, "ADDR:PORT to listen on; repeat for several (IPv6: [::1]:69)")
      ->capture_default_str();
  cmd->add_flag("--writable", flags->writable, "Accept uploads (WRQ); files appear only when complete");
  cmd->add_flag("--overwrite", flags->overwrite, "Let uploads replace existing files (else ERROR 6)");
  cmd->add_option("--max-sessions", flags->max_sessions, "Concurrent transfers; a request beyond them gets no answer, and the client's retransmission is served "
                  "once a session has ended")->capture_default_str();
  cmd->add_option("--max-sessions-per-client", flags->max_sessions_per_client,
                  "Concurrent transfers one client address may hold; a request beyond is left unanswered "
                  "so the client retransmits it and is served when one of its transfers ends")
      ->check(CLI::PositiveNumber)->capture_default_str();
  cmd->add_option("--memory-budget", flags->memory_budget_mib,
                  "MiB all transfers together may hold in windows and socket buffers (a session charges "
                  "windowsize x blksize + 2 socket buffers of 208 KiB to 4 MiB). Beyond it a window is "
                  "granted smaller (RFC 7440), and a request that does not fit at window 1 is left "
                  "unanswered for the client to retransmit")
      ->check(CLI::Range(uint64_t{1}, uint64_t{1} << 20))->capture_default_str();
  cmd->add_flag("--no-tmpfile", flags->no_tmpfile,
                "Write uploads to a hidden named temporary file (.NAME.tftpspec-N) renamed when complete, "
                "instead of an unnamed O_TMPFILE file linked when complete. The named file is the fallback "
                "anyway where the filesystem lacks O_TMPFILE; unlike the unnamed one, a crash mid-upload "
                "leaves it behind");
  cmd->add_option("--max-file-size", flags->max_file_size, "Largest upload in bytes (ERROR 3 beyond)")->capture_default_str();
  cmd->add_option("--max-blksize", flags->max_blksize, "Largest block size granted (RFC 2348)")
      ->check(CLI::Range(8, 65464))->capture_default_str();
  cmd->add_option("--max-windowsize", flags->max_windowsize, "Largest window granted (RFC 7440)")
      ->check(CLI::Range(1, 65535))->capture_default_str();
  cmd->add_option("--timeout", flags->timeout,
                  "Seconds to wait for an ACK before the first round trip is measured, and at most after "
                  "(RFC 1123 §4.2.3.2 adaptive timeout); doubles on each retransmission up to 8 s. A client's "
                  "'timeout' option (RFC 2349) fixes it for its transfer")
      ->check(CLI::Range(0.001, 255.0))->capture_default_str();
  cmd->add_option("--min-timeout", flags->min_timeout,
                  "Floor of the adaptive timeout (smoothed round trip + 4 x its variance, RFC 6298). "
                  "Lower it only for clients known to answer at once: a busy client that ACKs later than "
                  "the floor gets DATA it did not need. Set it to --timeout for a fixed timer")
      ->check(CLI::Range(0.001, 255.0))->capture_default_str();
  cmd->add_option("--retries", flags->retries, "Retransmissions before a transfer is abandoned")
      ->check(CLI::Range(0, 100))->capture_default_str();
  cmd->add_flag("--no-options", flags->no_options, "Ignore all options (behave as plain RFC 1350)");
  cmd->add_flag("-q,--quiet", flags->quiet, "Do not log transfers");
  cmd->callback([flags, &action] { action = [flags] { return serve(*flags); }; });
}

}  // namespace tftp::cli
