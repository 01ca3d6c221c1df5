// The loopback UDP ceiling: what any TFTP implementation could reach on this machine with
// the datagram pattern of a transfer and nothing else (no file I/O, no parsing).
//
//   lockstep: 516-byte "DATA" / 4-byte "ACK" ping-pong, one in flight (RFC 1350 blksize 512)
//   window:   65468-byte "DATA" datagrams, a 4-byte "ACK" after every 16 (RFC 7440,
//             blksize 65464, windowsize 16)
//
// Two processes (fork), so the placement is chosen by pinning: --sender-cpu/--receiver-cpu,
// or `taskset` on the whole program. Prints one line per pattern, e.g.
//   lockstep blksize=512 bytes=104857600 seconds=1.234 MB/s=85.0
// MB here is 10^6 bytes of payload (the DATA header is not counted), as in bench/e2e.sh.
// With --max-seconds S the sender stops after S seconds (an ERROR datagram ends the
// receiver) and the line says capped=1: the rate is then that of the blocks acknowledged.
//
// Usage: udp_ceiling [--bytes N] [--mode lockstep|window|both] [--sender-cpu C] [--receiver-cpu C]
//                    [--max-seconds S]
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sched.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

struct Pattern {
  const char* name;
  size_t blksize;
  int windowsize;
};

constexpr Pattern kLockstep{"lockstep", 512, 1};
constexpr Pattern kWindow{"window", 65464, 16};
constexpr int kSocketBuffer = 4 << 20;  // as the reference server sizes its session sockets

[[noreturn]] void die(const char* what) {
  std::perror(what);
  std::exit(2);
}

void pin(int cpu) {
  if (cpu < 0) return;
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  if (sched_setaffinity(0, sizeof set, &set) != 0) die("sched_setaffinity");
}

int bound_socket(sockaddr_in* addr) {
  const int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) die("socket");
  ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &kSocketBuffer, sizeof kSocketBuffer);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &kSocketBuffer, sizeof kSocketBuffer);
  *addr = {};
  addr->sin_family = AF_INET;
  addr->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(fd, reinterpret_cast<sockaddr*>(addr), sizeof *addr) != 0) die("bind");
  socklen_t len = sizeof *addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(addr), &len);
  return fd;
}

// Blocking sockets with a receive timeout: a datagram lost on loopback (buffer overflow)
// makes the window side resend its window, as a TFTP sender would after its timeout.
void set_timeout(int fd, int ms) {
  timeval tv{ms / 1000, (ms % 1000) * 1000};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
}

struct SenderResult {
  uint64_t acked = 0;    // blocks
  uint64_t resends = 0;  // windows sent again after a timeout
  bool capped = false;
};

// Sender: sends `blocks` DATA datagrams, `windowsize` at a time, waiting for an ACK that
// names the last of each window; stops early after `max_seconds` (0: never).
SenderResult run_sender(int fd, const sockaddr_in& peer, const Pattern& p, uint64_t blocks, double max_seconds) {
  std::vector<uint8_t> data(p.blksize + 4, 0x5a);
  uint8_t ack[16];
  SenderResult r;
  set_timeout(fd, 200);
  const auto start = std::chrono::steady_clock::now();
  for (uint64_t first = 1; first <= blocks;) {
    if (max_seconds > 0 && std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() > max_seconds) {
      const uint8_t stop[] = {0, 5, 0, 0, 0};  // ERROR 0: the receiver ends
      for (int i = 0; i < 3; ++i) ::sendto(fd, stop, sizeof stop, 0, reinterpret_cast<const sockaddr*>(&peer), sizeof peer);
      r.capped = true;
      break;
    }
    const uint64_t last = std::min<uint64_t>(first + p.windowsize - 1, blocks);
    for (uint64_t b = first; b <= last; ++b) {
      data[0] = 0;
      data[1] = 3;
      data[2] = static_cast<uint8_t>(b >> 8);
      data[3] = static_cast<uint8_t>(b);
      if (::sendto(fd, data.data(), data.size(), 0, reinterpret_cast<const sockaddr*>(&peer), sizeof peer) < 0) {
        die("sendto");
      }
    }
    for (;;) {
      const ssize_t n = ::recv(fd, ack, sizeof ack, 0);
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        ++r.resends;  // the whole window again
        break;
      }
      if (n < 0) die("recv");
      const uint16_t acked = static_cast<uint16_t>(ack[2] << 8 | ack[3]);
      if (acked == static_cast<uint16_t>(last)) {
        r.acked = last;
        first = last + 1;
        break;
      }
    }
  }
  return r;
}

// Receiver: ACKs the last block of each window (and re-ACKs on a gap or a stall).
void run_receiver(int fd, const Pattern& p, uint64_t blocks) {
  std::vector<uint8_t> data(p.blksize + 4 + 1);
  uint8_t ack[4] = {0, 4, 0, 0};
  uint64_t received = 0;
  sockaddr_in from{};
  set_timeout(fd, 100);
  while (received < blocks) {
    socklen_t len = sizeof from;
    const ssize_t n = ::recvfrom(fd, data.data(), data.size(), 0, reinterpret_cast<sockaddr*>(&from), &len);
    bool send_ack = false;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      if (from.sin_port == 0) continue;  // nothing yet
      send_ack = true;                   // stalled: say where we are
    } else if (n < 0) {
      die("recvfrom");
    } else if (n >= 2 && data[1] == 5) {
      return;  // the sender stopped early
    } else {
      const uint16_t b = static_cast<uint16_t>(data[2] << 8 | data[3]);
      if (b == static_cast<uint16_t>(received + 1)) {
        ++received;
        send_ack = received % p.windowsize == 0 || received == blocks;
      } else {
        continue;  // a gap: the sender times out and resends the window
      }
    }
    if (send_ack) {
      ack[2] = static_cast<uint8_t>(received >> 8);
      ack[3] = static_cast<uint8_t>(received);
      if (::sendto(fd, ack, sizeof ack, 0, reinterpret_cast<sockaddr*>(&from), len) < 0) die("sendto");
    }
  }
  // The final ACK may be lost; answer repeats of the last window for a moment.
  set_timeout(fd, 300);
  for (;;) {
    socklen_t len = sizeof from;
    if (::recvfrom(fd, data.data(), data.size(), 0, reinterpret_cast<sockaddr*>(&from), &len) < 0) break;
    ::sendto(fd, ack, sizeof ack, 0, reinterpret_cast<sockaddr*>(&from), len);
  }
}

void measure(const Pattern& p, uint64_t bytes, int sender_cpu, int receiver_cpu, double max_seconds) {
  const uint64_t blocks = (bytes + p.blksize - 1) / p.blksize;
  sockaddr_in sender_addr{}, receiver_addr{};
  const int sender = bound_socket(&sender_addr);
  const int receiver = bound_socket(&receiver_addr);
  const pid_t child = ::fork();
  if (child < 0) die("fork");
  if (child == 0) {
    ::close(sender);
    pin(receiver_cpu);
    run_receiver(receiver, p, blocks);
    std::_Exit(0);
  }
  ::close(receiver);
  pin(sender_cpu);
  const auto start = std::chrono::steady_clock::now();
  const SenderResult r = run_sender(sender, receiver_addr, p, blocks, max_seconds);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  ::close(sender);
  int status = 0;
  ::waitpid(child, &status, 0);
  const uint64_t sent = r.acked * p.blksize;
  std::printf("%s blksize=%zu windowsize=%d bytes=%llu seconds=%.3f resends=%llu capped=%d MB/s=%.1f\n", p.name,
              p.blksize, p.windowsize, static_cast<unsigned long long>(sent), seconds,
              static_cast<unsigned long long>(r.resends), r.capped ? 1 : 0, static_cast<double>(sent) / seconds / 1e6);
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  uint64_t bytes = 100ull << 20;
  std::string mode = "both";
  int sender_cpu = -1, receiver_cpu = -1;
  double max_seconds = 0;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    const char* v = i + 1 < argc ? argv[i + 1] : nullptr;
    if (a == "--bytes" && v) bytes = std::strtoull(argv[++i], nullptr, 10);
    else if (a == "--mode" && v) mode = argv[++i];
    else if (a == "--sender-cpu" && v) sender_cpu = std::atoi(argv[++i]);
    else if (a == "--receiver-cpu" && v) receiver_cpu = std::atoi(argv[++i]);
    else if (a == "--max-seconds" && v) max_seconds = std::atof(argv[++i]);
    else {
      std::fprintf(stderr,
                   "usage: %s [--bytes N] [--mode lockstep|window|both] [--sender-cpu C] [--receiver-cpu C] "
                   "[--max-seconds S]\n",
                   argv[0]);
      return 2;
    }
  }
  if (mode == "lockstep" || mode == "both") measure(kLockstep, bytes, sender_cpu, receiver_cpu, max_seconds);
  if (mode == "window" || mode == "both") measure(kWindow, bytes, sender_cpu, receiver_cpu, max_seconds);
  return 0;
}
