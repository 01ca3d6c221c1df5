// The reference server without I/O: requests in, sessions (one Transfer each) out.
// The UDP server and the virtual-network target both drive this same object; the I/O
// layer gives each session its own endpoint (its TID, RFC 1350 §4).
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <queue>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/address.h"
#include "common/time.h"
#include "engine/transfer.h"
#include "server/file_store.h"

namespace tftp::server {

// Deliberate server misbehaviours for tests that prove scenarios can fail.
struct ServerFaults {
  bool answer_from_listen_port = false;    // RFC 1350 §4: no new TID
  bool wrong_error_codes = false;          // RFC 1350 §5: every refusal is ERROR 0
  bool oack_unrequested_option = false;    // RFC 2347: OACK adds an option nobody asked for
  bool oack_off_by_one = false;            // RFC 2348/2349/7440: every OACK value is one more than granted
  bool ignore_options = false;             // RFC 2347 allows it; used to test fallbacks
  bool accept_mail_mode = false;           // RFC 1123 §4.2.2.1 (SHOULD NOT support mail)
  bool allow_traversal = false;            // RFC 1123 §4.2.3.4: ".." or "/x" reach kOutsideRoot
  bool silent_on_malformed = false;        // RFC 1350 §5/§7: no ERROR for a bad request or mode
  bool mode_case_sensitive = false;        // RFC 1350 §5: "OcTeT" refused
  bool options_case_sensitive = false;     // RFC 2347: "BLKSIZE" ignored
  bool netascii_as_octet = false;          // RFC 1350 §1: no CR LF conversion
  bool error_retransmitted = false;        // RFC 1350 §7: a refusal's ERROR is sent twice
  bool echo_any_option = false;            // RFC 2347: unknown options and invalid values echoed
  bool overwrite_existing = false;         // RFC 1350 §5: a WRQ replaces an existing file (store policy)
  bool truncate_uploads = false;           // RFC 1350 §6: the last DATA of an upload is not stored
  bool drop_empty_uploads = false;         // RFC 1350 §6: an empty upload is acknowledged but never stored
  bool serve_directories = false;          // RFC 1350 §1: "." or "dir/" is read as an empty file
  bool serve_long_names = false;           // RFC 1350 §5: a name over 255 bytes is cut to nothing and served (as atftpd)
  bool oack_window_zero = false;           // RFC 7440 §3: windowsize granted as 0, outside 1..65535
  bool one_session_per_host = false;       // RFC 1350 §4: a client is its host, not its TID: a new
                                           // request from the host silently ends the session it had
  bool no_subdirectories = false;          // de facto (PXE): a name with a '/' inside is "not found"
};

// What a traversal reaches under the allow_traversal fault (the embedded target provides it).
inline constexpr const char* kOutsideRoot = "outside-root";

struct ServerConfig {
  engine::TransferConfig transfer;
  engine::ServerLimits limits;
  size_t max_sessions = 512;
  // Sessions one client address (any port) may hold at once, so one host cannot take every
  // session. A request beyond it is dropped unanswered: the client retransmits it (RFC 1350
  // §2) and is served once one of its transfers ends. High enough for a load test of 200
  // clients from one host.
  size_t max_sessions_per_client = 256;
  // What all sessions together may hold in window buffers and kernel socket buffers (see
  // session_memory). A session that would exceed it is granted a smaller window (RFC 7440
  // §4 lets the server answer with less), and one that does not fit even at window 1 is
  // dropped unanswered like a request beyond the per-client limit.
  uint64_t memory_budget = uint64_t{512} << 20;
  ServerFaults faults;
};

// The kernel socket buffers a session asks for (each of SO_RCVBUF and SO_SNDBUF): room for
// two windows of datagrams, at least the Linux default, at most 4 MiB. A window of
// 16 x 65464 bytes lands at once on loopback and needs about 1 MiB.
size_t session_socket_buffer(const engine::TransferParams& params);
// The memory a session is charged against ServerConfig::memory_budget: its window (the
// sender keeps every unacknowledged block) and its two socket buffers.
uint64_t session_memory(const engine::TransferParams& params);

using SessionId = uint64_t;
inline constexpr SessionId kListener = 0;  // "sent from the listening endpoint"

struct ServerTransmit {
  SessionId session;
  Address to;
  size_t size;
};

struct SessionEvent {
  enum class Kind { kOpened, kClosed } kind;
  SessionId session;
  Address client;
  std::string summary;                        // request, e.g. `RRQ "a.bin" octet blksize=1024`
  std::optional<engine::Outcome> outcome;     // kClosed
  engine::TransferStats stats;                // kClosed
  Duration elapsed{};                         // kClosed
  size_t socket_buffer = 0;                   // kOpened: session_socket_buffer for its window
};

class ServerCore {
 public:
  ServerCore(ServerConfig config, FileStore& files);

  // A datagram that arrived at the listening endpoint (port 69 or its stand-in).
  void handle_request(Instant now, const Address& from, std::span<const uint8_t> bytes);
  // A datagram that arrived at a session's endpoint.
  void handle_datagram(Instant now, SessionId session, const Address& from, std::span<const uint8_t> bytes);
  void handle_timeout(Instant now);
  // The sessions whose deadline has passed by `now`. The I/O layer reads their sockets
  // before handle_timeout: a reply already queued there came before the deadline, and a
  // busy loop's own delay must not pass for the peer's silence (a spurious retransmission).
  std::vector<SessionId> due_sessions(Instant now);

  // Drain after every input: first events (open endpoints for new sessions), then transmits.
  std::optional<SessionEvent> poll_event();
  std::optional<ServerTransmit> poll_transmit(std::span<uint8_t> buffer);
  std::optional<Instant> poll_timeout();

  size_t active_sessions() const { return sessions_.size(); }
  uint64_t memory_in_use() const { return memory_in_use_; }
  // Requests dropped unanswered: beyond max_sessions, the per-client limit or the memory
  // budget (see handle_request); the client's retransmission is served when room is back.
  uint64_t requests_shed() const { return requests_shed_; }
  const ServerConfig& config() const { return config_; }

 private:
  struct Session {
    std::optional<engine::Transfer> transfer;
    std::vector<uint8_t> one_shot;  // an ERROR refusing the request, sent once
    bool repeat_one_shot = false;   // fault: send it twice
    Address client;
    std::vector<uint8_t> request;   // for recognising a retransmitted request
    std::string summary;
    Instant started;
    std::optional<Instant> armed;   // the deadline last pushed into timers_
    bool opened_reported = false;
    uint64_t memory = 0;            // charged against the memory budget
    size_t socket_buffer = 0;
  };

  // The request's negotiation within the memory budget: the window shrunk to what is left,
  // nullopt when not even window 1 fits (the request is then shed).
  std::optional<tl::expected<engine::ServerNegotiation, Refusal>> negotiate_within_budget(
      proto::Opcode op, const proto::OptionsView& options, std::optional<uint64_t> file_size) const;
  size_t sessions_of(const Address& client) const;
  void refuse(Instant now, const Address& to, uint16_t code, std::string message, std::string summary,
              std::span<const uint8_t> request);
  SessionId open_session(Instant now, Session session);
  void touch(SessionId id);  // the session may have output, a new deadline, or be done
  void rearm(SessionId id, Session& s);
  void close(SessionId id);  // reports the session closed and forgets it
  uint16_t error_code(uint16_t honest) const;
  // The request's options as the (possibly faulty) server sees them.
  proto::OptionsView request_options(const proto::Request& request, std::vector<uint8_t>& storage) const;
  void apply_oack_faults(engine::ServerNegotiation& n, const proto::OptionsView& requested) const;

  ServerConfig config_;
  FileStore& files_;
  SessionId next_id_ = 1;
  std::unordered_map<SessionId, Session> sessions_;
  std::unordered_map<Address, SessionId> by_client_;
  std::deque<SessionId> ready_;        // sessions that may have datagrams to send
  std::deque<SessionEvent> events_;
  using Timer = std::pair<Instant, SessionId>;
  std::priority_queue<Timer, std::vector<Timer>, std::greater<>> timers_;
  Instant last_now_{};
  std::unordered_map<Address, size_t> per_host_;  // sessions by client address, port 0
  uint64_t memory_in_use_ = 0;
  uint64_t requests_shed_ = 0;
};

}  // namespace tftp::server
