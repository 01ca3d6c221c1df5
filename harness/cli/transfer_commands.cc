// tftpspec get / put: the reference client.
#include <cstdio>
#include <filesystem>
#include <memory>

#include "cli/commands.h"
#include "client/client.h"
#include "engine/file_io.h"

namespace tftp::cli {

namespace {

struct TransferFlags {
  std::string server;
  std::string remote;
  std::string local;
  std::optional<size_t> blksize;
  std::optional<uint16_t> windowsize;
  bool tsize = false;
  std::optional<int> timeout;
  std::string mode = "octet";
  int retries = 5;
  double dally = 0;
  bool quiet = false;
};

int transfer(const TransferFlags& f, bool upload) {
  const char* verb = upload ? "put" : "get";
  auto server = Address::parse(f.server, 69);
  if (!server) {
    std::fprintf(stderr, "tftpspec %s: %s\n", verb, server.error().message.c_str());
    return kExitUsage;
  }
  client::Request request;
  request.server = *server;
  request.remote = f.remote;
  request.mode = proto::mode_from_text(f.mode);
  request.transfer.retransmit.initial =
      f.timeout ? Duration(std::chrono::seconds(*f.timeout)) : Duration(std::chrono::seconds(1));
  request.transfer.retransmit.max_retries = f.retries;
  request.transfer.dally = std::chrono::duration_cast<Duration>(std::chrono::duration<double>(f.dally));
  const std::string local = f.local.empty() ? std::filesystem::path(f.remote).filename().string() : f.local;
  if (local.empty()) {
    std::fprintf(stderr, "tftpspec %s: give a LOCAL file name\n", verb);
    return kExitUsage;
  }

  Result<client::Report> report;
  if (upload) {
    auto source = engine::open_file_source(local);
    if (!source) {
      std::fprintf(stderr, "tftpspec put: %s\n", source.error().message.c_str());
      return kExitUsage;
    }
    std::optional<uint64_t> tsize;
    if (f.tsize) tsize = (*source)->size();
    request.options = client::make_options(f.blksize, f.windowsize, tsize, f.timeout);
    std::unique_ptr<engine::ByteSource> src = std::move(*source);
    if (request.mode == proto::Mode::kNetascii) {
      src = std::make_unique<engine::NetasciiEncodingSource>(std::move(src), std::nullopt);
    }
    report = client::upload(request, std::move(src), &g_interrupted);
  } else {
    auto sink = engine::open_file_sink(local, /*overwrite=*/true);
    if (!sink) {
      std::fprintf(stderr, "tftpspec get: %s\n", sink.error().message.c_str());
      return kExitUsage;
    }
    request.options = client::make_options(f.blksize, f.windowsize, f.tsize ? std::optional<uint64_t>(0) : std::nullopt,
                                           f.timeout);
    std::unique_ptr<engine::ByteSink> snk = std::move(*sink);
    if (request.mode == proto::Mode::kNetascii) snk = std::make_unique<engine::NetasciiDecodingSink>(std::move(snk));
    report = client::download(request, std::move(snk), &g_interrupted);
  }
  if (!report) {
    std::fprintf(stderr, "tftpspec %s: %s\n", verb, report.error().message.c_str());
    return kExitUsage;
  }
  const auto& r = *report;
  if (!r.outcome.ok()) {
    std::fprintf(stderr, "tftpspec %s: %s %s failed: %s\n", verb, f.remote.c_str(), upload ? "upload" : "download",
                 r.outcome.to_string().c_str());
    return kExitFailure;
  }
  if (!f.quiet) {
    const double seconds = std::max(1e-9, to_seconds(r.elapsed));
    std::fprintf(stderr, "tftpspec %s: %s %s %llu bytes in %.3f s (%.2f MB/s), blksize %zu, windowsize %u, %llu retransmissions\n",
                 verb, upload ? "sent" : "received", local.c_str(), static_cast<unsigned long long>(r.stats.bytes),
                 seconds, static_cast<double>(r.stats.bytes) / seconds / 1e6, r.params.blksize, r.params.windowsize,
                 static_cast<unsigned long long>(r.stats.retransmissions));
    // RFC 1350 §5 leaves the wrap after block 65535 open: say which one the server used.
    if (r.stats.peer_wrapped_to) {
      std::fprintf(stderr, "tftpspec %s: the server's block numbers wrapped from 65535 to %u\n", verb,
                   static_cast<unsigned>(*r.stats.peer_wrapped_to));
    }
  }
  return kExitOk;
}

void add_transfer_command(CLI::App& app, Action& action, bool upload) {
  auto flags = std::make_shared<TransferFlags>();
  auto* cmd = app.add_subcommand(upload ? "put" : "get",
                                 upload ? "Upload LOCAL to the server as REMOTE (WRQ)" : "Download REMOTE from the server (RRQ)");
  cmd->add_option("server", flags->server, "HOST[:PORT] of the server (port 69 by default; IPv6 as [::1]:69)")->required();
  cmd->add_option("remote", flags->remote, "File name on the server")->required();
  cmd->add_option("local", flags->local, "Local file (default: the remote name's last component)");
  cmd->add_option("--blksize", flags->blksize, "Ask for this block size (RFC 2348)")->check(CLI::Range(8, 65464));
  cmd->add_option("--windowsize", flags->windowsize, "Ask for this window (RFC 7440)")->check(CLI::Range(1, 65535));
  cmd->add_flag("--tsize", flags->tsize, "Send the tsize option (RFC 2349)");
  cmd->add_option("--timeout", flags->timeout, "Ask for this retransmission timeout in seconds (RFC 2349)")
      ->check(CLI::Range(1, 255));
  cmd->add_option("--mode", flags->mode, "Transfer mode")->check(CLI::IsMember({"octet", "netascii"}))->capture_default_str();
  cmd->add_option("--retries", flags->retries, "Retransmissions before giving up")->check(CLI::Range(0, 100))->capture_default_str();
  if (!upload) {
    cmd->add_option("--dally", flags->dally, "Seconds to stay and re-ACK a repeated final DATA (RFC 1350 §6)")
        ->check(CLI::Range(0.0, 60.0))->capture_default_str();
  }
  cmd->add_flag("-q,--quiet", flags->quiet, "Print nothing on success");
  cmd->callback([flags, &action, upload] { action = [flags, upload] { return transfer(*flags, upload); }; });
}

}  // namespace

void add_transfer_commands(CLI::App& app, Action& action) {
  add_transfer_command(app, action, /*upload=*/false);
  add_transfer_command(app, action, /*upload=*/true);
}

}  // namespace tftp::cli
