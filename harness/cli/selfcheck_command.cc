// tftpspec selfcheck: moves files through the reference server and client over real
// loopback UDP and checks every byte. A quick proof that this build works here.
#include <cstdio>
#include <thread>

#include "cli/commands.h"
#include "client/client.h"
#include "server/udp_server.h"

namespace tftp::cli {

namespace {

std::vector<uint8_t> pattern(size_t size, uint32_t seed) {
  std::vector<uint8_t> bytes(size);
  uint32_t x = seed * 2654435761u + 1;
  for (auto& b : bytes) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    b = static_cast<uint8_t>(x);
  }
  return bytes;
}

struct Case {
  const char* name;
  size_t size;
  bool upload;
  std::optional<size_t> blksize;
  std::optional<uint16_t> windowsize;
};

int selfcheck(bool ipv6) {
  server::MemoryFileStore files(server::RootPolicy{.writable = true, .allow_overwrite = true});
  server::ServerConfig config;
  const auto listen = Address::parse(ipv6 ? "[::1]:0" : "127.0.0.1:0", 0).value();
  auto server = server::UdpServer::start({listen}, config, files);
  if (!server) {
    std::fprintf(stderr, "tftpspec selfcheck: %s\n", server.error().message.c_str());
    return kExitUsage;
  }
  const Address address = (*server)->listening().front();
  std::atomic<bool> stop{false};
  std::thread thread([&] { (void)(*server)->run(stop); });

  const Case cases[] = {
      {"empty file", 0, false, {}, {}},          {"1 byte", 1, false, {}, {}},
      {"511 bytes", 511, false, {}, {}},        {"512 bytes (zero-length final DATA)", 512, false, {}, {}},
      {"513 bytes", 513, false, {}, {}},        {"1 MiB lockstep", 1 << 20, false, {}, {}},
      {"1 MiB blksize 1428", 1 << 20, false, 1428, {}},
      {"1 MiB blksize 65464 windowsize 16", 1 << 20, false, 65464, 16},
      {"upload 0 bytes", 0, true, {}, {}},      {"upload 1024 bytes", 1024, true, {}, {}},
      {"upload 1 MiB windowsize 8", 1 << 20, true, 8192, 8},
  };
  int passed = 0;
  int failed = 0;
  uint32_t seed = 1;
  std::printf("selfcheck: reference client <-> reference server on %s\n", address.to_string().c_str());
  for (const Case& c : cases) {
    const std::string name = "selfcheck-" + std::to_string(seed) + ".bin";
    const auto content = pattern(c.size, seed++);
    client::Request request;
    request.server = address;
    request.remote = name;
    request.options = client::make_options(c.blksize, c.windowsize, std::nullopt, std::nullopt);
    request.transfer.dally = Duration::zero();
    Result<client::Report> report;
    std::vector<uint8_t> got;
    if (c.upload) {
      report = client::upload(request, std::make_unique<engine::MemorySource>(content));
      got = files.get(name).value_or(std::vector<uint8_t>{});
    } else {
      files.put(name, content);
      auto sink = std::make_unique<engine::MemorySink>();
      const auto contents = sink->contents();
      report = client::download(request, std::move(sink));
      got = contents->bytes;
    }
    const bool ok = report && report->outcome.ok() && got == content;
    (ok ? passed : failed)++;
    std::printf("  %-4s %-40s %s\n", ok ? "ok" : "FAIL", c.name,
                !report ? report.error().message.c_str()
                : !report->outcome.ok() ? report->outcome.to_string().c_str()
                : got != content ? "content differs" : "");
  }
  stop = true;
  thread.join();
  std::printf("%d passed, %d failed\n", passed, failed);
  return failed == 0 ? kExitOk : kExitFailure;
}

}  // namespace

void add_selfcheck_command(CLI::App& app, Action& action) {
  auto ipv6 = std::make_shared<bool>(false);
  auto* cmd = app.add_subcommand("selfcheck", "Transfer files through the reference server and client on loopback");
  cmd->add_flag("--ipv6", *ipv6, "Use [::1] instead of 127.0.0.1");
  cmd->callback([ipv6, &action] { action = [ipv6] { return selfcheck(*ipv6); }; });
}

}  // namespace tftp::cli
