// A test-only TFTP server with a planted death: the reference server (UdpServer), which
// stops answering anything for good after one kind of malformed packet. `tftpspec fuzz` must
// find it, shrink it, and save a reproducer that `tftpspec run` replays to the same death
// (harness/tests/netfuzz_test.cc). The process stays up after the trigger: a hang, the
// harder case to tell from a slow target.
//
//   planted_tftpd --listen 127.0.0.1:PORT --root DIR [--trigger blksize-digits|short-data]
//                 [--daemon --pidfile FILE]
//
// Triggers: blksize-digits, an RRQ whose blksize value has more than 5 characters (the
// bug class of CVE-2009-2958); short-data, a DATA of 3 bytes to a session.
// --daemon is what a --restart-cmd needs: it kills the process named in the pidfile, starts
// a new one in the background, and returns once that one is bound.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>
#include <thread>

#include "proto/packet.h"
#include "server/file_store.h"
#include "server/udp_server.h"

namespace {

struct Args {
  std::string listen;
  std::string root;
  std::string trigger = "blksize-digits";
  std::string pidfile;
  bool daemon = false;
};

bool triggers(const std::string& kind, std::span<const uint8_t> bytes, bool at_listener) {
  if (kind == "short-data") return !at_listener && bytes.size() == 3 && bytes[0] == 0 && bytes[1] == 3;
  if (!at_listener) return false;
  auto p = tftp::proto::parse(bytes, tftp::proto::Strictness::kLenient);
  if (!p) return false;
  const auto* r = std::get_if<tftp::proto::Request>(&*p);
  if (r == nullptr || r->opcode != tftp::proto::Opcode::kRrq) return false;
  for (const auto o : r->options) {
    if (tftp::proto::iequals(o.name, tftp::proto::kBlksize) && o.value.size() > 5) return true;
  }
  return false;
}

void kill_previous(const std::string& pidfile) {
  std::ifstream in(pidfile);
  long pid = 0;
  if (in >> pid && pid > 1) ::kill(static_cast<pid_t>(pid), SIGKILL);  // the one this pidfile names, no other
}

int serve(const Args& a, int ready_fd) {
  auto listen = tftp::Address::parse(a.listen, 69);
  if (!listen) {
    std::fprintf(stderr, "planted_tftpd: --listen %s: %s\n", a.listen.c_str(), listen.error().message.c_str());
    return 2;
  }
  tftp::server::RootPolicy policy;
  policy.writable = true;
  auto files = tftp::server::RootDirectory::open(a.root, policy);
  if (!files) {
    std::fprintf(stderr, "planted_tftpd: --root %s: %s\n", a.root.c_str(), files.error().c_str());
    return 2;
  }
  // A killed predecessor releases the port as it exits: retry the bind for a while.
  tftp::Result<std::unique_ptr<tftp::server::UdpServer>> server = tftp::make_error("x", "x");
  for (int i = 0; i < 300; ++i) {
    server = tftp::server::UdpServer::start({*listen}, {}, **files);
    if (server) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  if (!server) {
    std::fprintf(stderr, "planted_tftpd: cannot listen on %s: %s\n", a.listen.c_str(), server.error().message.c_str());
    return 2;
  }
  std::atomic<bool> dead{false};
  const std::string trigger = a.trigger;
  (*server)->set_inbound_tap([&dead, trigger](std::span<const uint8_t> bytes, bool at_listener) {
    if (!dead && triggers(trigger, bytes, at_listener)) dead = true;
    return !dead;
  });
  if (!a.pidfile.empty()) std::ofstream(a.pidfile) << ::getpid() << "\n";
  if (ready_fd >= 0) {
    (void)!::write(ready_fd, "r", 1);
    ::close(ready_fd);
  }
  std::atomic<bool> stop{false};
  (void)(*server)->run(stop);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    const std::string f = argv[i];
    auto value = [&]() -> std::string { return i + 1 < argc ? argv[++i] : ""; };
    if (f == "--listen") a.listen = value();
    else if (f == "--root") a.root = value();
    else if (f == "--trigger") a.trigger = value();
    else if (f == "--pidfile") a.pidfile = value();
    else if (f == "--daemon") a.daemon = true;
    else {
      std::fprintf(stderr, "planted_tftpd: unknown flag %s\n", f.c_str());
      return 2;
    }
  }
  if (a.listen.empty() || a.root.empty() || (a.trigger != "blksize-digits" && a.trigger != "short-data") ||
      (a.daemon && a.pidfile.empty())) {
    std::fprintf(stderr, "usage: planted_tftpd --listen ADDR:PORT --root DIR [--trigger blksize-digits|short-data] "
                         "[--daemon --pidfile FILE]\n");
    return 2;
  }
  if (!a.daemon) return serve(a, -1);
  kill_previous(a.pidfile);
  int fds[2];
  if (::pipe(fds) != 0) return 2;
  const pid_t pid = ::fork();
  if (pid < 0) return 2;
  if (pid == 0) {
    ::close(fds[0]);
    ::setsid();
    const int null = ::open("/dev/null", O_RDWR);
    if (null >= 0) {
      ::dup2(null, 0);
      ::dup2(null, 1);
      ::dup2(null, 2);  // the caller (tftpspec fuzz) waits for our exit, not our output
    }
    return serve(a, fds[1]);
  }
  ::close(fds[1]);
  pollfd p{fds[0], POLLIN, 0};
  char c = 0;
  const bool ready = ::poll(&p, 1, 5000) == 1 && ::read(fds[0], &c, 1) == 1;
  if (!ready) std::fprintf(stderr, "planted_tftpd: the server did not start\n");
  return ready ? 0 : 1;
}
