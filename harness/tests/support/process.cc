#include "tests/support/process.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string_view>
#include <system_error>
#include <thread>

extern char** environ;

namespace tftp::testing {
namespace {

using Clock = std::chrono::steady_clock;

[[noreturn]] void throw_errno(const std::string& what) {
  throw std::system_error(errno, std::generic_category(), what);
}

class UniqueFd {
 public:
  explicit UniqueFd(int fd = -1) : fd_(fd) {}
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  ~UniqueFd() { reset(); }
  int get() const { return fd_; }
  int release() { return std::exchange(fd_, -1); }
  void reset(int fd = -1) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
  }

 private:
  int fd_;
};

// Our environment with `extra` overriding same-named variables.
std::vector<std::string> child_environment(const EnvVars& extra) {
  std::vector<std::string> env;
  for (char** entry = environ; *entry != nullptr; ++entry) {
    std::string_view text(*entry);
    std::string_view name = text.substr(0, text.find('='));
    if (std::none_of(extra.begin(), extra.end(), [&](const auto& kv) { return kv.first == name; }))
      env.emplace_back(text);
  }
  for (const auto& [name, value] : extra) env.push_back(name + "=" + value);
  return env;
}

std::vector<char*> c_array(const std::vector<std::string>& strings) {
  std::vector<char*> out;
  for (const auto& s : strings) out.push_back(const_cast<char*>(s.c_str()));
  out.push_back(nullptr);
  return out;
}

// Spawns argv in a new process group with only the three standard streams open: a daemon
// must not inherit, say, a socket the test bound, or that port would outlive the test.
pid_t spawn(const std::vector<std::string>& argv, const EnvVars& extra_env, int stdin_fd,
            int out_fd, const std::string& cwd) {
  if (argv.empty()) throw std::invalid_argument("spawn: empty argv");
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, stdin_fd, STDIN_FILENO);
  posix_spawn_file_actions_adddup2(&actions, out_fd, STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&actions, out_fd, STDERR_FILENO);
  posix_spawn_file_actions_addclosefrom_np(&actions, STDERR_FILENO + 1);
  if (!cwd.empty()) posix_spawn_file_actions_addchdir_np(&actions, cwd.c_str());

  // Daemons must see default dispositions and an empty mask whatever the test runner set,
  // or SIGTERM could be ignored and every stop() would wait for the SIGKILL.
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t defaults, empty;
  sigemptyset(&empty);
  sigemptyset(&defaults);
  for (int sig : {SIGPIPE, SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGCHLD}) sigaddset(&defaults, sig);
  posix_spawnattr_setsigdefault(&attr, &defaults);
  posix_spawnattr_setsigmask(&attr, &empty);
  posix_spawnattr_setpgroup(&attr, 0);
  posix_spawnattr_setflags(&attr,
                           POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);

  std::vector<std::string> env = child_environment(extra_env);
  pid_t pid = -1;
  int rc = posix_spawnp(&pid, argv[0].c_str(), &actions, &attr, c_array(argv).data(),
                        c_array(env).data());
  posix_spawnattr_destroy(&attr);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) throw std::system_error(rc, std::generic_category(), "spawn " + argv[0]);
  return pid;
}

// A pidfd for a freshly spawned child; kills and reaps it if the kernel refuses one.
// The raw syscall because glibc 2.36's <sys/pidfd.h> lacks extern "C" and will not link.
UniqueFd open_pidfd(pid_t pid) {
  int fd = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
  if (fd < 0) {
    int saved = errno;
    kill(-pid, SIGKILL);
    waitpid(pid, nullptr, 0);
    errno = saved;
    throw_errno("pidfd_open");
  }
  return UniqueFd(fd);
}

// Waits until the process behind `pidfd` has exited (not reaped) or `timeout` passes.
bool wait_exit(int pidfd, std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  while (true) {
    auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now());
    pollfd pfd{pidfd, POLLIN, 0};
    int n = poll(&pfd, 1, static_cast<int>(std::max<int64_t>(left.count(), 0)));
    if (n > 0) return true;
    if (n == 0 || errno != EINTR) return false;
  }
}

// Also the child's peak resident set, in KiB, into `peak_rss_kb` when given.
int reap(pid_t pid, long* peak_rss_kb = nullptr) {
  int status = 0;
  rusage usage{};
  while (wait4(pid, &status, 0, &usage) < 0 && errno == EINTR) {
  }
  if (peak_rss_kb != nullptr) *peak_rss_kb = usage.ru_maxrss;
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  return WIFSIGNALED(status) ? 128 + WTERMSIG(status) : -1;
}

// Appends whatever is readable now; false once the writer side is closed.
bool drain(int fd, std::string& out) {
  char buf[4096];
  while (true) {
    ssize_t n = read(fd, buf, sizeof buf);
    if (n > 0) {
      out.append(buf, static_cast<size_t>(n));
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else {
      return n < 0 && errno == EAGAIN;
    }
  }
}

// /proc/net/udp prints each 32-bit word of the address as native-endian hex.
std::string proc_net_address(const std::string& hex) {
  unsigned char raw[16];
  size_t words = hex.size() / 8;
  for (size_t i = 0; i < words; ++i) {
    uint32_t word = static_cast<uint32_t>(std::stoul(hex.substr(i * 8, 8), nullptr, 16));
    std::memcpy(raw + i * 4, &word, 4);
  }
  char text[INET6_ADDRSTRLEN] = "";
  inet_ntop(words == 4 ? AF_INET6 : AF_INET, raw, text, sizeof text);
  return text;
}

bool owns_socket(pid_t pid, const std::vector<UdpSocket>& sockets) {
  std::error_code ec;
  for (const auto& entry :
       std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/fd", ec)) {
    std::string target = std::filesystem::read_symlink(entry.path(), ec).string();
    unsigned long inode = 0;
    if (!ec && std::sscanf(target.c_str(), "socket:[%lu]", &inode) == 1 &&
        std::any_of(sockets.begin(), sockets.end(),
                    [&](const auto& s) { return s.inode == inode; }))
      return true;
  }
  return false;
}

}  // namespace

ChildProcess::ChildProcess(const std::vector<std::string>& argv, const std::string& log_path,
                           const EnvVars& extra_env)
    : log_path_(log_path) {
  UniqueFd log(open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644));
  if (log.get() < 0) throw_errno("open " + log_path);
  UniqueFd null_in(open("/dev/null", O_RDONLY | O_CLOEXEC));
  if (null_in.get() < 0) throw_errno("open /dev/null");
  pid_t pid = spawn(argv, extra_env, null_in.get(), log.get(), "");
  pidfd_ = open_pidfd(pid).release();
  pid_ = pid;
}

ChildProcess::ChildProcess(ChildProcess&& other) noexcept
    : pid_(std::exchange(other.pid_, -1)),
      pidfd_(std::exchange(other.pidfd_, -1)),
      log_path_(std::move(other.log_path_)) {}

ChildProcess& ChildProcess::operator=(ChildProcess&& other) noexcept {
  if (this != &other) {
    stop();
    pid_ = std::exchange(other.pid_, -1);
    pidfd_ = std::exchange(other.pidfd_, -1);
    log_path_ = std::move(other.log_path_);
  }
  return *this;
}

ChildProcess::~ChildProcess() { stop(); }

bool ChildProcess::running() const {
  if (pid_ <= 0) return false;
  pollfd pfd{pidfd_, POLLIN, 0};
  return poll(&pfd, 1, 0) == 0;
}

std::string ChildProcess::log_text() const {
  std::ifstream in(log_path_, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

void ChildProcess::signal(int sig) const {
  if (pid_ > 0) kill(pid_, sig);
}

std::optional<int> ChildProcess::wait(std::chrono::milliseconds timeout) {
  if (pid_ <= 0 || !wait_exit(pidfd_, timeout)) return std::nullopt;
  kill(-pid_, SIGKILL);  // anything it left in its group; the unreaped leader keeps the id ours
  const int code = reap(pid_);
  ::close(pidfd_);
  pid_ = -1;
  pidfd_ = -1;
  return code;
}

void ChildProcess::stop() {
  if (pid_ <= 0) return;
  kill(-pid_, SIGTERM);
  wait_exit(pidfd_, std::chrono::seconds(2));
  // The unreaped leader still holds the group id, so this cannot hit a recycled group: it
  // finishes a leader that ignored SIGTERM and any children it left behind.
  kill(-pid_, SIGKILL);
  reap(pid_);
  ::close(pidfd_);
  pid_ = -1;
  pidfd_ = -1;
}

CommandResult run_command(const std::vector<std::string>& argv, std::chrono::milliseconds timeout,
                          const std::string& stdin_text, const std::string& cwd) {
  // stdin is a socket so a child that exits without reading cannot SIGPIPE us: send() takes
  // MSG_NOSIGNAL, write() on a pipe has no such flag.
  int in_pair[2], out_pipe[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, in_pair) < 0) throw_errno("socketpair");
  UniqueFd in_parent(in_pair[0]), in_child(in_pair[1]);
  if (pipe2(out_pipe, O_CLOEXEC) < 0) throw_errno("pipe2");
  UniqueFd out_parent(out_pipe[0]), out_child(out_pipe[1]);

  const auto deadline = Clock::now() + timeout;
  pid_t pid = spawn(argv, {}, in_child.get(), out_child.get(), cwd);
  UniqueFd pidfd = open_pidfd(pid);
  in_child.reset();
  out_child.reset();
  fcntl(out_parent.get(), F_SETFL, O_NONBLOCK);
  if (stdin_text.empty()) in_parent.reset();

  CommandResult result;
  size_t sent = 0;
  while (true) {
    auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) {
      result.timed_out = true;
      break;
    }
    pollfd fds[3] = {
        {pidfd.get(), POLLIN, 0}, {out_parent.get(), POLLIN, 0}, {in_parent.get(), POLLOUT, 0}};
    if (poll(fds, 3, static_cast<int>(left.count())) < 0) {
      if (errno == EINTR) continue;
      throw_errno("poll");
    }
    if (fds[1].revents != 0 && !drain(out_parent.get(), result.output)) out_parent.reset();
    if (fds[2].revents != 0) {
      ssize_t n = send(in_parent.get(), stdin_text.data() + sent, stdin_text.size() - sent,
                       MSG_NOSIGNAL | MSG_DONTWAIT);
      if (n > 0) sent += static_cast<size_t>(n);
      if ((n < 0 && errno != EAGAIN && errno != EINTR) || sent == stdin_text.size())
        in_parent.reset();  // EOF for the child, or it stopped reading
    }
    if (fds[0].revents != 0) break;
  }
  // Also reaches grandchildren that would otherwise outlive the command holding our pipe.
  kill(-pid, SIGKILL);
  if (out_parent.get() >= 0) drain(out_parent.get(), result.output);
  int code = reap(pid, &result.peak_rss_kb);
  result.exit_code = result.timed_out ? -1 : code;
  return result;
}

uint16_t free_udp_port(bool ipv6) {
  UniqueFd fd(socket(ipv6 ? AF_INET6 : AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (fd.get() < 0) throw_errno("socket");
  sockaddr_storage storage{};
  socklen_t len;
  if (ipv6) {
    auto* sin6 = reinterpret_cast<sockaddr_in6*>(&storage);
    sin6->sin6_family = AF_INET6;
    sin6->sin6_addr = in6addr_loopback;
    len = sizeof *sin6;
  } else {
    auto* sin = reinterpret_cast<sockaddr_in*>(&storage);
    sin->sin_family = AF_INET;
    sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    len = sizeof *sin;
  }
  if (bind(fd.get(), reinterpret_cast<sockaddr*>(&storage), len) < 0) throw_errno("bind");
  if (getsockname(fd.get(), reinterpret_cast<sockaddr*>(&storage), &len) < 0)
    throw_errno("getsockname");
  return ntohs(ipv6 ? reinterpret_cast<sockaddr_in6*>(&storage)->sin6_port
                    : reinterpret_cast<sockaddr_in*>(&storage)->sin_port);
}

std::vector<UdpSocket> bound_udp_sockets(uint16_t port) {
  std::vector<UdpSocket> sockets;
  for (const char* table : {"/proc/net/udp", "/proc/net/udp6"}) {
    std::ifstream in(table);
    std::string line;
    std::getline(in, line);  // header
    while (std::getline(in, line)) {
      std::istringstream fields(line);
      std::string slot, local, remote, state, queues, timer, retransmits, uid, timeout;
      unsigned long inode = 0;
      if (!(fields >> slot >> local >> remote >> state >> queues >> timer >> retransmits >> uid >>
            timeout >> inode))
        continue;
      auto colon = local.find(':');
      if (colon == std::string::npos || std::stoul(local.substr(colon + 1), nullptr, 16) != port)
        continue;
      sockets.push_back({proc_net_address(local.substr(0, colon)), port, inode});
    }
  }
  return sockets;
}

bool wait_udp_bound(uint16_t port, std::chrono::milliseconds timeout, const ChildProcess* owner) {
  const auto deadline = Clock::now() + timeout;
  while (true) {
    if (owner != nullptr && !owner->running()) return false;
    auto sockets = bound_udp_sockets(port);
    if (owner == nullptr ? !sockets.empty() : owns_socket(owner->pid(), sockets)) return true;
    if (Clock::now() >= deadline) return false;
    // /proc offers no change notification; 5 ms keeps startup latency and CPU use low.
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

std::string make_temp_dir(const std::string& prefix) {
  std::string pattern = (std::filesystem::temp_directory_path() / (prefix + "XXXXXX")).string();
  if (mkdtemp(pattern.data()) == nullptr) throw_errno("mkdtemp " + pattern);
  return pattern;
}

TempDir& TempDir::operator=(TempDir&& other) noexcept {
  if (this != &other) {
    std::error_code ec;
    if (!path_.empty()) std::filesystem::remove_all(path_, ec);
    path_ = std::exchange(other.path_, {});
  }
  return *this;
}

TempDir::~TempDir() {
  std::error_code ec;
  if (!path_.empty()) std::filesystem::remove_all(path_, ec);
}

}  // namespace tftp::testing
