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
  ServerFaults faults;
};

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
  // Requests dropped unanswered because max_sessions were running (see handle_request).
  uint64_t shed_requests() const { return shed_requests_; }
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
  };

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
  uint64_t shed_requests_ = 0;
};

}  // namespace tftp::server
