#include "tests/support/peers.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <stdexcept>
#include <string_view>

namespace tftp::testing {
namespace {

constexpr char kLoopback[] = "127.0.0.1";
constexpr char kTftpdHpaPath[] = "/usr/sbin/in.tftpd";
constexpr char kDnsmasqPath[] = "/usr/sbin/dnsmasq";
constexpr uint16_t kTftpPort = 69;
constexpr auto kStartTimeout = std::chrono::seconds(5);
constexpr int kAttempts = 5;

bool executable(const std::string& path) { return access(path.c_str(), X_OK) == 0; }

// The daemons chroot or chdir, so relative roots would resolve against the wrong directory.
std::string absolute(const std::string& path) { return std::filesystem::absolute(path).string(); }

struct Launch {
  std::string host;
  uint16_t port = 0;
  std::vector<std::string> argv;
};

// Starts launches from `next` until one has bound its port and passes `accept`. Retrying
// covers the race where a parallel test takes the chosen port or address first.
PeerServer launch(const std::string& name, int attempts, const std::function<Launch()>& next,
                  const std::function<bool(const Launch&)>& accept = nullptr) {
  TempDir log_dir("tftpspec-" + name + "-");
  const std::string log_path = (log_dir.path() / (name + ".log")).string();
  ChildProcess process;
  for (int attempt = 0; attempt < attempts; ++attempt) {
    Launch launched = next();
    process = ChildProcess(launched.argv, log_path);
    if (wait_udp_bound(launched.port, kStartTimeout, &process) && (!accept || accept(launched)))
      return PeerServer{std::move(log_dir), std::move(process), launched.host, launched.port, name};
  }
  throw std::runtime_error(name + " did not start after " + std::to_string(attempts) +
                           " attempt(s); log:\n" + process.log_text());
}

size_t sockets_bound_on(const std::string& address, uint16_t port) {
  auto sockets = bound_udp_sockets(port);
  return std::count_if(sockets.begin(), sockets.end(),
                       [&](const UdpSocket& s) { return s.address == address; });
}

// 127.69.X.Y spread by pid so parallel test processes rarely meet, and by a counter so one
// process can run several instances; addresses someone already uses on port 69 are skipped.
std::string pick_loopback_address() {
  static std::atomic<unsigned> sequence{0};
  constexpr unsigned kSpan = 254 * 254;
  for (unsigned tries = 0; tries < kSpan; ++tries) {
    unsigned n = (static_cast<unsigned>(getpid()) * 31 + sequence++) % kSpan;
    std::string address =
        "127.69." + std::to_string(n / 254 + 1) + "." + std::to_string(n % 254 + 1);
    if (sockets_bound_on(address, kTftpPort) == 0) return address;
  }
  throw std::runtime_error("no free 127.69.X.Y address for dnsmasq");
}

void require_no_windowsize(const ClientOptions& options, const std::string& client) {
  if (options.windowsize) throw std::invalid_argument(client + " cannot send windowsize");
}

std::vector<std::string> atftp_command(const char* direction, const std::string& host,
                                       uint16_t port, const std::string& remote,
                                       const std::string& local, const ClientOptions& options) {
  std::vector<std::string> argv = {"atftp", direction, "-r", remote, "-l", local};
  if (options.blksize)
    argv.insert(argv.end(), {"--option", "blksize " + std::to_string(*options.blksize)});
  if (options.windowsize)
    argv.insert(argv.end(), {"--option", "windowsize " + std::to_string(*options.windowsize)});
  if (options.tsize) argv.insert(argv.end(), {"--option", "tsize"});
  argv.insert(argv.end(), {host, std::to_string(port)});
  return argv;
}

// curl takes the file name from the URL path, percent-decoded, after the first '/'.
std::string curl_url(const std::string& host, uint16_t port, const std::string& remote) {
  constexpr std::string_view kUnreserved = "-._~/";
  static const char kHex[] = "0123456789ABCDEF";
  std::string url = "tftp://" + (host.find(':') == std::string::npos ? host : "[" + host + "]") +
                    ":" + std::to_string(port) + "/";
  for (unsigned char c : remote) {
    if (std::isalnum(c) || kUnreserved.find(static_cast<char>(c)) != std::string_view::npos) {
      url += static_cast<char>(c);
    } else {
      url += '%';
      url += kHex[c >> 4];
      url += kHex[c & 15];
    }
  }
  return url;
}

// --globoff: curl would otherwise expand [] and {} in the URL, including an IPv6 host.
std::vector<std::string> curl_command(const std::string& transfer_flag, const std::string& host,
                                      uint16_t port, const std::string& remote,
                                      const std::string& local, const ClientOptions& options) {
  require_no_windowsize(options, "curl");
  std::vector<std::string> argv = {"curl", "--silent", "--show-error", "--globoff"};
  if (options.blksize)
    argv.insert(argv.end(), {"--tftp-blksize", std::to_string(*options.blksize)});
  else if (!options.tsize)
    argv.push_back("--tftp-no-options");
  argv.insert(argv.end(), {transfer_flag, local, curl_url(host, port, remote)});
  return argv;
}

std::vector<std::string> busybox_command(const char* direction, const std::string& host,
                                         uint16_t port, const std::string& remote,
                                         const std::string& local, const ClientOptions& options) {
  require_no_windowsize(options, "busybox tftp");
  std::vector<std::string> argv = {"busybox", "tftp", direction, "-r", remote, "-l", local};
  if (options.blksize) argv.insert(argv.end(), {"-b", std::to_string(*options.blksize)});
  argv.insert(argv.end(), {host, std::to_string(port)});
  return argv;
}

}  // namespace

std::optional<PeerServer> start_tftpd_hpa(const std::string& root, bool writable, uint16_t port) {
  if (!executable(kTftpdHpaPath)) return std::nullopt;
  const std::string dir = absolute(root);
  return launch("tftpd-hpa", port == 0 ? kAttempts : 1, [&] {
    uint16_t chosen = port == 0 ? free_udp_port() : port;
    // -u root: the default user "nobody" could not read a mkdtemp root (mode 0700).
    std::vector<std::string> argv = {
        kTftpdHpaPath, "-L", "-a",   std::string(kLoopback) + ":" + std::to_string(chosen),
        "-s",          "-u", "root", "-vvv"};
    if (writable) argv.push_back("-c");
    argv.push_back(dir);
    return Launch{kLoopback, chosen, argv};
  });
}

std::string atftpd_path() {
#ifdef TFTPSPEC_ATFTPD_PATH
  return TFTPSPEC_ATFTPD_PATH;
#else
  if (const char* env = std::getenv("TFTPSPEC_ATFTPD"); env != nullptr && *env != '\0') return env;
#ifdef TFTPSPEC_SOURCE_DIR
  return std::string(TFTPSPEC_SOURCE_DIR) + "/build/peers/atftpd/usr/sbin/atftpd";
#else
  return "build/peers/atftpd/usr/sbin/atftpd";
#endif
#endif
}

std::optional<PeerServer> start_atftpd(const std::string& root, uint16_t port) {
  const std::string binary = atftpd_path();
  if (!executable(binary)) return std::nullopt;
  const std::string dir = absolute(root);
  return launch("atftpd", port == 0 ? kAttempts : 1, [&] {
    uint16_t chosen = port == 0 ? free_udp_port() : port;
    // --daemon alone forks into the background; --no-fork keeps it our child. Without
    // --user/--group it drops to nobody.nogroup and cannot read a mkdtemp root.
    return Launch{kLoopback,
                  chosen,
                  {absolute(binary), "--daemon", "--no-fork", "--port", std::to_string(chosen),
                   "--bind-address", kLoopback, "--user", "root", "--group", "root", "--logfile",
                   "-", "--verbose=7", dir}};
  });
}

std::optional<PeerServer> start_dnsmasq(const std::string& root,
                                        const std::string& listen_address) {
  if (!executable(kDnsmasqPath)) return std::nullopt;
  const std::string dir = absolute(root);
  // --port=0 turns DNS off. --no-daemon also keeps root (it ignores --user) and writes no pid
  // file; as root, dnsmasq serves only world-readable files. --bind-interfaces binds just
  // the listen address instead of the wildcard, which would collide with every other instance.
  return launch(
      "dnsmasq", listen_address.empty() ? kAttempts : 1,
      [&] {
        std::string address = listen_address.empty() ? pick_loopback_address() : listen_address;
        return Launch{address,
                      kTftpPort,
                      {kDnsmasqPath, "--no-daemon", "--conf-file=/dev/null", "--port=0",
                       "--enable-tftp", "--tftp-root=" + dir, "--listen-address=" + address,
                       "--bind-interfaces", "--log-facility=-"}};
      },
      // Binding cannot fail on a shared address (SO_REUSEADDR), so look: the later of two
      // instances on one address always sees the other and retries elsewhere.
      [](const Launch& launched) { return sockets_bound_on(launched.host, kTftpPort) == 1; });
}

std::vector<std::string> tftp_hpa_get(const std::string& host, uint16_t port,
                                      const std::string& remote, const std::string& local) {
  return {"tftp", "-v",  "-l",   "-m", "binary", host, std::to_string(port),
          "-c",   "get", remote, local};
}

std::vector<std::string> tftp_hpa_put(const std::string& host, uint16_t port,
                                      const std::string& remote, const std::string& local) {
  // tftp-hpa's put takes the local name first.
  return {"tftp", "-v",  "-l",  "-m",  "binary", host, std::to_string(port),
          "-c",   "put", local, remote};
}

std::vector<std::string> atftp_get(const std::string& host, uint16_t port,
                                   const std::string& remote, const std::string& local,
                                   const ClientOptions& options) {
  return atftp_command("--get", host, port, remote, local, options);
}

std::vector<std::string> atftp_put(const std::string& host, uint16_t port,
                                   const std::string& remote, const std::string& local,
                                   const ClientOptions& options) {
  return atftp_command("--put", host, port, remote, local, options);
}

std::vector<std::string> curl_get(const std::string& host, uint16_t port, const std::string& remote,
                                  const std::string& local, const ClientOptions& options) {
  return curl_command("--output", host, port, remote, local, options);
}

std::vector<std::string> curl_put(const std::string& host, uint16_t port, const std::string& remote,
                                  const std::string& local, const ClientOptions& options) {
  return curl_command("--upload-file", host, port, remote, local, options);
}

std::vector<std::string> busybox_get(const std::string& host, uint16_t port,
                                     const std::string& remote, const std::string& local,
                                     const ClientOptions& options) {
  return busybox_command("-g", host, port, remote, local, options);
}

std::vector<std::string> busybox_put(const std::string& host, uint16_t port,
                                     const std::string& remote, const std::string& local,
                                     const ClientOptions& options) {
  return busybox_command("-p", host, port, remote, local, options);
}

}  // namespace tftp::testing
