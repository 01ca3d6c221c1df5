// Child processes, temp dirs and UDP port helpers for tests that drive real third-party peers.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace tftp::testing {

using EnvVars = std::vector<std::pair<std::string, std::string>>;

// A spawned child in its own process group, stdout+stderr appended to a log file.
// Stopping signals the whole group, so helpers a daemon forks (in.tftpd forks one per
// transfer) die with it. Throws std::system_error if the spawn fails.
class ChildProcess {
 public:
  ChildProcess() = default;
  ChildProcess(const std::vector<std::string>& argv, const std::string& log_path,
               const EnvVars& extra_env = {});
  ChildProcess(ChildProcess&& other) noexcept;
  ChildProcess& operator=(ChildProcess&& other) noexcept;
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;
  ~ChildProcess();

  pid_t pid() const { return pid_; }
  bool running() const;  // never reaps, so the pid (and group id) stays ours until stop()
  std::string log_text() const;
  const std::string& log_path() const { return log_path_; }
  // Sends `sig` to the child alone (not its group).
  void signal(int sig) const;
  // Waits up to `timeout` for the child to exit; then reaps it and returns its exit code
  // (128 + signal number if a signal killed it). Nullopt, and still running, on timeout.
  std::optional<int> wait(std::chrono::milliseconds timeout);
  // SIGTERM to the group, up to 2 s for the leader to exit, then SIGKILL to the group; reaps.
  void stop();

 private:
  pid_t pid_ = -1;
  int pidfd_ = -1;  // pollable exit notification, so waits need no sleep loops
  std::string log_path_;
};

struct CommandResult {
  int exit_code = -1;  // 128 + signal number if killed by a signal; -1 when timed out
  bool timed_out = false;
  std::string output;  // stdout and stderr interleaved
  long peak_rss_kb = 0;  // the child's peak resident set (getrusage ru_maxrss)
};

// Runs argv (PATH lookup) to completion or until `timeout`, then kills its process group.
// Throws std::system_error if argv[0] cannot be spawned.
// Returns as soon as the child exits even if a grandchild still holds the output pipe.
CommandResult run_command(const std::vector<std::string>& argv, std::chrono::milliseconds timeout,
                          const std::string& stdin_text = "", const std::string& cwd = "");

// A UDP port that was free on loopback a moment ago; callers must tolerate losing the race.
uint16_t free_udp_port(bool ipv6 = false);

// A UDP socket from /proc/net/udp{,6}.
struct UdpSocket {
  std::string address;  // local address, "127.0.0.5" or "::1"
  uint16_t port = 0;
  unsigned long inode = 0;
};

// Every UDP socket (v4 and v6, any process) bound to local `port`.
std::vector<UdpSocket> bound_udp_sockets(uint16_t port);

// Polls /proc/net/udp{,6} until a socket is bound on `port`. With `owner`, only that
// process's sockets count and the wait ends early (false) if it exits.
bool wait_udp_bound(uint16_t port, std::chrono::milliseconds timeout,
                    const ChildProcess* owner = nullptr);

// Creates a fresh directory under the system temp dir, named prefix + random suffix.
std::string make_temp_dir(const std::string& prefix);

class TempDir {
 public:
  explicit TempDir(const std::string& prefix = "tftpspec-") : path_(make_temp_dir(prefix)) {}
  TempDir(TempDir&& other) noexcept : path_(std::exchange(other.path_, {})) {}
  TempDir& operator=(TempDir&& other) noexcept;
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  ~TempDir();

  const std::filesystem::path& path() const { return path_; }
  std::string str() const { return path_.string(); }

 private:
  std::filesystem::path path_;
};

}  // namespace tftp::testing
