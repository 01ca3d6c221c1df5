#include "server/server_core.h"

#include <algorithm>

namespace tftp::server {

namespace {

// What a naive server would follow out of its root: "..", a leading separator, or
// "%2e%2e" decoded as if the filename were a URL.
bool escapes_root(const std::string& name) {
  std::string lower(name);
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
  return lower.find("..") != std::string::npos || lower.find("%2e%2e") != std::string::npos || lower.front() == '/' ||
         lower.front() == '\\';
}

// Fault: acknowledges everything but drops the last write (the final DATA) on commit.
class TruncatingSink : public engine::ByteSink {
 public:
  explicit TruncatingSink(std::unique_ptr<engine::ByteSink> inner) : inner_(std::move(inner)) {}
  Result<void> write(std::span<const uint8_t> bytes) override {
    if (bytes.empty()) return {};
    if (!pending_.empty()) {
      if (auto ok = inner_->write(pending_); !ok) return ok;
    }
    pending_.assign(bytes.begin(), bytes.end());
    return {};
  }
  Result<void> commit() override { return inner_->commit(); }
  void abort() override { inner_->abort(); }

 private:
  std::unique_ptr<engine::ByteSink> inner_;
  std::vector<uint8_t> pending_;
};

// Fault: acknowledges an empty upload but never creates the file.
class EmptyUploadDroppingSink : public engine::ByteSink {
 public:
  explicit EmptyUploadDroppingSink(std::unique_ptr<engine::ByteSink> inner) : inner_(std::move(inner)) {}
  Result<void> write(std::span<const uint8_t> bytes) override {
    written_ += bytes.size();
    return inner_->write(bytes);
  }
  Result<void> commit() override {
    if (written_ > 0) return inner_->commit();
    inner_->abort();
    return {};
  }
  void abort() override { inner_->abort(); }

 private:
  std::unique_ptr<engine::ByteSink> inner_;
  uint64_t written_ = 0;
};

}  // namespace

using proto::ErrorCode;
using proto::Opcode;

size_t session_socket_buffer(const engine::TransferParams& params) {
  constexpr size_t kLinuxDefault = 212992;  // net.core.rmem_default / wmem_default
  constexpr size_t kMax = 4 << 20;
  constexpr size_t kPerDatagram = 64;       // UDP/IP headers and the kernel's bookkeeping
  const size_t two_windows = 2 * size_t{params.windowsize} * (params.blksize + kPerDatagram);
  return std::clamp(two_windows, kLinuxDefault, kMax);
}

uint64_t session_memory(const engine::TransferParams& params) {
  return uint64_t{params.windowsize} * params.blksize + 2 * uint64_t{session_socket_buffer(params)};
}

size_t ServerCore::sessions_of(const Address& client) const {
  auto it = per_host_.find(client.with_port(0));
  return it == per_host_.end() ? 0 : it->second;
}

std::optional<tl::expected<engine::ServerNegotiation, Refusal>> ServerCore::negotiate_within_budget(
    Opcode op, const proto::OptionsView& options, std::optional<uint64_t> file_size) const {
  const uint64_t left = config_.memory_budget > memory_in_use_ ? config_.memory_budget - memory_in_use_ : 0;
  engine::ServerLimits limits = config_.limits;
  for (;;) {
    auto n = engine::negotiate_as_server(op, options, file_size, limits);
    if (!n || session_memory(n->params) <= left) return n;
    if (n->params.windowsize <= 1) return std::nullopt;
    // Halving converges in at most 16 steps; the client learns the smaller window from the
    // OACK (RFC 7440 §4).
    limits.max_windowsize = static_cast<uint16_t>(n->params.windowsize / 2);
  }
}

ServerCore::ServerCore(ServerConfig config, FileStore& files) : config_(std::move(config)), files_(files) {}

uint16_t ServerCore::error_code(uint16_t honest) const {
  return config_.faults.wrong_error_codes ? static_cast<uint16_t>(ErrorCode::kNotDefined) : honest;
}

SessionId ServerCore::open_session(Instant now, Session session) {
  const SessionId id = next_id_++;
  session.started = now;
  events_.push_back(
      {SessionEvent::Kind::kOpened, id, session.client, session.summary, std::nullopt, {}, {}, session.socket_buffer});
  // The client's address names the transfer it runs: a refusal (an ERROR and no transfer)
  // never takes that over, or the running transfer's retransmitted request would no longer
  // be recognised and would open a second session (RFC 1350 §2).
  if (session.transfer || !by_client_.contains(session.client)) by_client_[session.client] = id;
  ++per_host_[session.client.with_port(0)];
  memory_in_use_ += session.memory;
  sessions_.emplace(id, std::move(session));
  touch(id);
  return id;
}

void ServerCore::refuse(Instant now, const Address& to, uint16_t code, std::string message, std::string summary,
                        std::span<const uint8_t> request) {
  Session s;
  s.client = to;
  s.summary = std::move(summary) + " -> ERROR " + std::to_string(code) + " " + message;
  s.request.assign(request.begin(), request.end());
  s.one_shot.resize(4 + message.size() + 1);
  s.one_shot.resize(proto::write_error(s.one_shot, code, message).value());
  s.repeat_one_shot = config_.faults.error_retransmitted;
  open_session(now, std::move(s));
}

void ServerCore::handle_request(Instant now, const Address& from, std::span<const uint8_t> bytes) {
  last_now_ = now;
  if (config_.faults.answer_from_listen_port) {
    // A single-port server: its sessions' traffic arrives at the listening endpoint.
    const bool is_request = bytes.size() >= 2 && bytes[0] == 0 && (bytes[1] == 1 || bytes[1] == 2);
    if (auto it = by_client_.find(from); it != by_client_.end() && !is_request) {
      handle_datagram(now, it->second, from, bytes);
      return;
    }
  }
  auto packet = proto::parse(bytes, proto::Strictness::kLenient);
  if (!packet) {
    // RFC 1350 §7: a malformed packet gets ERROR 4 (never an ERROR in reply to an ERROR).
    if (bytes.size() >= 2 && bytes[0] == 0 && bytes[1] == static_cast<uint8_t>(Opcode::kError)) return;
    if (config_.faults.silent_on_malformed) return;
    refuse(now, from, error_code(static_cast<uint16_t>(ErrorCode::kIllegalOperation)),
           "Malformed request: " + std::string(packet.error().message()), "malformed request", bytes);
    return;
  }
  const auto* request = std::get_if<proto::Request>(&*packet);
  if (request == nullptr) {
    if (proto::opcode_of(*packet) == Opcode::kError || config_.faults.silent_on_malformed) return;
    refuse(now, from, error_code(static_cast<uint16_t>(ErrorCode::kIllegalOperation)),
           "Expected a read or write request", proto::describe(*packet), bytes);
    return;
  }
  // A retransmitted request for a live session: that session retransmits on its own.
  if (auto it = by_client_.find(from); it != by_client_.end()) {
    auto s = sessions_.find(it->second);
    if (s != sessions_.end() && std::equal(bytes.begin(), bytes.end(), s->second.request.begin(), s->second.request.end())) {
      return;
    }
  }
  if (config_.faults.one_session_per_host) {
    std::vector<SessionId> same_host;
    for (const auto& [id, session] : sessions_) {
      if (session.client.same_host(from) && session.client != from) same_host.push_back(id);
    }
    for (SessionId id : same_host) close(id);
  }
  std::string summary = proto::describe(*packet);
  if (sessions_.size() >= config_.max_sessions) {
    // Shed the request in silence. A client retransmits an unanswered request with its own
    // backoff (RFC 1350 §2, RFC 1123 §4.2.3.2), so in a boot storm it comes back once some
    // sessions have ended and is served then. An ERROR would end its transfer instead
    // (RFC 1350 §7): PXE ROMs and firmware loaders take any ERROR to a request as a failed
    // boot (no retry), which turned a crowd of 1000 clients into 488 failures. Silence
    // also costs the server nothing per shed request, which matters most under a flood.
    ++requests_shed_;
    return;
  }
  if (sessions_of(from) >= config_.max_sessions_per_client) {
    // Dropped unanswered, not refused: the client's retransmission of the request is
    // served once one of its sessions has ended (an ERROR would end its transfer).
    ++requests_shed_;
    return;
  }
  auto mode = request->mode;
  if (config_.faults.mode_case_sensitive && request->mode_text != proto::mode_name(mode)) mode = proto::Mode::kUnknown;
  if (mode == proto::Mode::kUnknown || (mode == proto::Mode::kMail && !config_.faults.accept_mail_mode)) {
    if (config_.faults.silent_on_malformed) return;
    refuse(now, from, error_code(static_cast<uint16_t>(ErrorCode::kIllegalOperation)),
           mode == proto::Mode::kMail ? "Mail mode is not supported" : "Unknown transfer mode", summary, bytes);
    return;
  }
  std::vector<uint8_t> kept_options;  // backs `options` when a fault filters them
  const proto::OptionsView options = request_options(*request, kept_options);
  const bool convert_netascii = mode == proto::Mode::kNetascii && !config_.faults.netascii_as_octet;
  std::string filename(request->filename);
  if (config_.faults.allow_traversal && escapes_root(filename)) {
    // As if the path had escaped the root: reads reach kOutsideRoot, writes land beside it.
    filename = request->opcode == Opcode::kRrq ? kOutsideRoot : std::string(kOutsideRoot) + ".written";
  }

  if (config_.faults.no_subdirectories && filename.find('/', filename.find_first_not_of('/')) != std::string::npos) {
    return refuse(now, from, error_code(static_cast<uint16_t>(ErrorCode::kFileNotFound)), "File not found", summary, bytes);
  }

  Session session;
  session.client = from;
  session.request.assign(bytes.begin(), bytes.end());
  session.summary = summary;

  if (request->opcode == Opcode::kRrq) {
    auto source = files_.open_read(filename);
    if (config_.faults.serve_directories && (filename == "." || filename.back() == '/')) {
      source = std::make_unique<engine::MemorySource>(std::vector<uint8_t>{});
    }
    if (config_.faults.serve_long_names && filename.size() > 255) {
      source = std::make_unique<engine::MemorySource>(std::vector<uint8_t>{});
    }
    if (!source) return refuse(now, from, error_code(source.error().code), source.error().message, summary, bytes);
    std::unique_ptr<engine::ByteSource> src = std::move(*source);
    std::optional<uint64_t> wire_size = src->size();
    if (convert_netascii) {
      // tsize under netascii is unspecified (DF-TSIZE-NA): it is not offered.
      src = std::make_unique<engine::NetasciiEncodingSource>(std::move(src), std::nullopt);
      wire_size.reset();
    }
    auto within = negotiate_within_budget(Opcode::kRrq, options, wire_size);
    if (!within) {
      ++requests_shed_;  // over the memory budget: as over the per-client limit, unanswered
      return;
    }
    auto& negotiated = *within;
    if (!negotiated) return refuse(now, from, error_code(negotiated.error().code), negotiated.error().message, summary, bytes);
    apply_oack_faults(*negotiated, request->options);
    session.memory = session_memory(negotiated->params);
    session.socket_buffer = session_socket_buffer(negotiated->params);
    session.transfer = engine::Transfer::server_read(config_.transfer, from, *negotiated, std::move(src), now);
  } else {
    auto within = negotiate_within_budget(Opcode::kWrq, options, std::nullopt);
    if (!within) {
      ++requests_shed_;
      return;
    }
    auto& negotiated = *within;
    if (!negotiated) return refuse(now, from, error_code(negotiated.error().code), negotiated.error().message, summary, bytes);
    apply_oack_faults(*negotiated, request->options);
    auto sink = files_.open_write(filename);
    if (!sink) return refuse(now, from, error_code(sink.error().code), sink.error().message, summary, bytes);
    std::unique_ptr<engine::ByteSink> snk = std::move(*sink);
    if (config_.faults.truncate_uploads) snk = std::make_unique<TruncatingSink>(std::move(snk));
    if (config_.faults.drop_empty_uploads) snk = std::make_unique<EmptyUploadDroppingSink>(std::move(snk));
    if (convert_netascii) snk = std::make_unique<engine::NetasciiDecodingSink>(std::move(snk));
    session.memory = session_memory(negotiated->params);
    session.socket_buffer = session_socket_buffer(negotiated->params);
    session.transfer = engine::Transfer::server_write(config_.transfer, from, *negotiated, std::move(snk), now);
  }
  open_session(now, std::move(session));
}

proto::OptionsView ServerCore::request_options(const proto::Request& request, std::vector<uint8_t>& storage) const {
  if (config_.faults.ignore_options) return {};
  if (!config_.faults.options_case_sensitive) return request.options;
  for (const proto::Option o : request.options) {
    if (std::any_of(o.name.begin(), o.name.end(), [](char c) { return c >= 'A' && c <= 'Z'; })) continue;
    storage.insert(storage.end(), o.name.begin(), o.name.end());
    storage.push_back(0);
    storage.insert(storage.end(), o.value.begin(), o.value.end());
    storage.push_back(0);
  }
  return proto::OptionsView(storage);
}

void ServerCore::apply_oack_faults(engine::ServerNegotiation& n, const proto::OptionsView& requested) const {
  if (config_.faults.oack_unrequested_option && !n.oack.empty() && !requested.find(proto::kTsize)) {
    n.oack.push_back({"tsize", "0"});
  }
  if (config_.faults.echo_any_option) {
    for (const proto::Option o : requested) {
      const bool granted = std::any_of(n.oack.begin(), n.oack.end(), [&](const auto& g) { return proto::iequals(g.name, o.name); });
      if (!granted) n.oack.push_back({std::string(o.name), std::string(o.value)});
    }
  }
  if (config_.faults.oack_window_zero) {
    for (auto& o : n.oack) {
      if (proto::iequals(o.name, proto::kWindowsize)) o.value = "0";
    }
  }
  if (config_.faults.oack_off_by_one) {
    for (auto& o : n.oack) {
      if (auto v = proto::parse_decimal(o.value)) o.value = std::to_string(*v + 1);
    }
  }
}

void ServerCore::handle_datagram(Instant now, SessionId id, const Address& from, std::span<const uint8_t> bytes) {
  last_now_ = now;
  auto it = sessions_.find(id);
  if (it == sessions_.end() || !it->second.transfer) return;
  it->second.transfer->handle_datagram(now, from, bytes);
  touch(id);
}

void ServerCore::handle_timeout(Instant now) {
  last_now_ = now;
  while (!timers_.empty() && timers_.top().first <= now) {
    const auto [at, id] = timers_.top();
    timers_.pop();
    auto it = sessions_.find(id);
    if (it == sessions_.end() || it->second.armed != at) continue;  // stale entry
    it->second.armed.reset();
    it->second.transfer->handle_timeout(now);
    touch(id);
  }
}

std::vector<SessionId> ServerCore::due_sessions(Instant now) {
  std::vector<SessionId> due;
  std::vector<Timer> keep;
  while (!timers_.empty() && timers_.top().first <= now) {
    const Timer t = timers_.top();
    timers_.pop();
    auto it = sessions_.find(t.second);
    if (it == sessions_.end() || it->second.armed != t.first) continue;  // stale
    due.push_back(t.second);
    keep.push_back(t);
  }
  for (const Timer& t : keep) timers_.push(t);
  return due;
}

void ServerCore::touch(SessionId id) {
  Session& s = sessions_.at(id);
  // Ended without a last datagram (final ACK in, dally over): close now, so the I/O layer
  // hears of it when it drains events after this input.
  if (s.transfer && s.transfer->finished()) return close(id);
  ready_.push_back(id);
  rearm(id, s);
}

void ServerCore::close(SessionId id) {
  auto it = sessions_.find(id);
  Session& s = it->second;
  SessionEvent closed{SessionEvent::Kind::kClosed, id, s.client, s.summary, std::nullopt, {}, last_now_ - s.started, 0};
  if (s.transfer) {
    closed.outcome = s.transfer->outcome();
    closed.stats = s.transfer->stats();
  }
  events_.push_back(std::move(closed));
  if (auto c = by_client_.find(s.client); c != by_client_.end() && c->second == id) by_client_.erase(c);
  if (auto h = per_host_.find(s.client.with_port(0)); h != per_host_.end() && --h->second == 0) per_host_.erase(h);
  memory_in_use_ -= s.memory;
  sessions_.erase(it);
}

void ServerCore::rearm(SessionId id, Session& s) {
  if (!s.transfer) return;
  const auto deadline = s.transfer->poll_timeout();
  if (deadline && deadline != s.armed) {
    s.armed = deadline;
    timers_.push({*deadline, id});
  }
}

std::optional<SessionEvent> ServerCore::poll_event() {
  if (events_.empty()) return std::nullopt;
  SessionEvent e = std::move(events_.front());
  events_.pop_front();
  return e;
}

std::optional<ServerTransmit> ServerCore::poll_transmit(std::span<uint8_t> buffer) {
  while (!ready_.empty()) {
    const SessionId id = ready_.front();
    auto it = sessions_.find(id);
    if (it == sessions_.end()) {
      ready_.pop_front();
      continue;
    }
    Session& s = it->second;
    if (!s.one_shot.empty()) {
      std::copy(s.one_shot.begin(), s.one_shot.end(), buffer.begin());
      const ServerTransmit t{id, s.client, s.one_shot.size()};
      if (s.repeat_one_shot) {
        s.repeat_one_shot = false;  // fault: the same ERROR goes out once more
        return t;
      }
      s.one_shot.clear();
      // Its last datagram: the close event goes with it, drained by the caller after the
      // send, not left for a poll that returns nothing.
      if (!s.transfer) close(id);
      return t;
    }
    if (s.transfer) {
      if (auto t = s.transfer->poll_transmit(buffer)) {
        const ServerTransmit out{id, t->to, t->size};
        if (s.transfer->finished()) close(id);  // e.g. the ERROR on giving up
        return out;
      }
      rearm(id, s);  // sending may have moved the deadline
    }
    ready_.pop_front();
    if (!s.transfer || s.transfer->finished()) close(id);
  }
  return std::nullopt;
}

std::optional<Instant> ServerCore::poll_timeout() {
  while (!timers_.empty()) {
    const auto [at, id] = timers_.top();
    auto it = sessions_.find(id);
    if (it != sessions_.end() && it->second.armed == at) return at;
    timers_.pop();  // stale
  }
  return std::nullopt;
}

}  // namespace tftp::server
