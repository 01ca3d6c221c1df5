// Real third-party TFTP servers and clients (Debian 12 builds) for interoperability tests.
//
// Servers run in the foreground as children of the test and listen on loopback only. The
// start_* functions return nullopt only when the binary is missing (tests GTEST_SKIP then);
// a server that is present but does not come up throws std::runtime_error with its log.
//
// Option support found by capturing each client's request (RFC 2347 options sent):
//   client            blksize           windowsize        tsize            exit code on error
//   tftp-hpa 5.2      no                no                no               0 (!)
//   atftp 0.8.0       --option          --option          --option tsize   255
//   curl 7.88         --tftp-blksize    no                with blksize (*) 68/69/...
//   busybox 1.35      -b                no                always           1
// (*) curl sends tsize, blksize and timeout together or, with --tftp-no-options, none.
// Servers: in.tftpd (tftpd-hpa 5.2) blksize/tsize/timeout/utimeout, no windowsize;
// atftpd 0.8.0 blksize/tsize/timeout/windowsize/multicast; dnsmasq 2.90 read-only.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "tests/support/process.h"

namespace tftp::testing {

struct PeerServer {
  TempDir log_dir;  // holds process.log_path(); declared first so it outlives the process
  ChildProcess process;
  std::string host;
  uint16_t port = 0;
  std::string name;
};

// in.tftpd -L (foreground; it forks one child per transfer, which ChildProcess also kills)
// on 127.0.0.1:port, chrooted to `root` (-s). Without `writable` a WRQ only overwrites files
// that already exist; with it, -c lets uploads create files. It logs to syslog only, so
// log_text() stays empty where there is no /dev/log. Port 0 picks a free port.
std::optional<PeerServer> start_tftpd_hpa(const std::string& root, bool writable,
                                          uint16_t port = 0);

// atftpd --daemon --no-fork on 127.0.0.1:port, logging at debug level to its log file.
// Uploads may create files. Path: see atftpd_path().
std::optional<PeerServer> start_atftpd(const std::string& root, uint16_t port = 0);

// TFTPSPEC_ATFTPD_PATH define, else $TFTPSPEC_ATFTPD, else build/peers/atftpd/usr/sbin/atftpd
// under the TFTPSPEC_SOURCE_DIR define (or the working directory). atftpd is unpacked from
// its .deb rather than installed because the package conflicts with tftpd-hpa.
std::string atftpd_path();

// dnsmasq as a TFTP-only server. Its TFTP port is fixed at 69 and it binds with SO_REUSEADDR,
// so two instances on one address both start and then steal each other's requests: each
// instance needs its own loopback address. An empty `listen_address` picks 127.69.X.Y from
// the pid and a per-process counter, skipping and retrying addresses another process holds.
// Read-only: every WRQ gets error 4 "unsupported request".
std::optional<PeerServer> start_dnsmasq(const std::string& root,
                                        const std::string& listen_address = "");

// What a client should ask for. Clients that cannot send an option throw
// std::invalid_argument rather than silently run a different transfer.
struct ClientOptions {
  std::optional<int> blksize;
  std::optional<int> windowsize;
  bool tsize = false;
};

// tftp-hpa: octet mode, literal mode (-l, else "a:b" would mean host a, file b), verbose.
// It cannot send any option, and it exits 0 even when the server answers with an ERROR
// (look for "Error code" or "Transfer timed out" in the output); a failed get leaves an
// empty local file behind.
std::vector<std::string> tftp_hpa_get(const std::string& host, uint16_t port,
                                      const std::string& remote, const std::string& local);
std::vector<std::string> tftp_hpa_put(const std::string& host, uint16_t port,
                                      const std::string& remote, const std::string& local);

// atftp sends no options unless asked. Its documented `--option "tsize enable"` puts the
// literal value "enable" into the RRQ, so the bare `--option tsize` (value 0 on RRQ, the file
// size on WRQ) is used instead.
std::vector<std::string> atftp_get(const std::string& host, uint16_t port,
                                   const std::string& remote, const std::string& local,
                                   const ClientOptions& options = {});
std::vector<std::string> atftp_put(const std::string& host, uint16_t port,
                                   const std::string& remote, const std::string& local,
                                   const ClientOptions& options = {});

// curl sends tsize, blksize (512 unless set) and timeout together, or with
// --tftp-no-options none at all: that is what it gets when neither tsize nor blksize is
// asked for. So tsize=false with a blksize still sends tsize.
std::vector<std::string> curl_get(const std::string& host, uint16_t port, const std::string& remote,
                                  const std::string& local, const ClientOptions& options = {});
std::vector<std::string> curl_put(const std::string& host, uint16_t port, const std::string& remote,
                                  const std::string& local, const ClientOptions& options = {});

// busybox tftp always sends tsize (0 on RRQ, the file size on WRQ); blksize with -b.
std::vector<std::string> busybox_get(const std::string& host, uint16_t port,
                                     const std::string& remote, const std::string& local,
                                     const ClientOptions& options = {});
std::vector<std::string> busybox_put(const std::string& host, uint16_t port,
                                     const std::string& remote, const std::string& local,
                                     const ClientOptions& options = {});

}  // namespace tftp::testing
