#include "tests/support/hostile_server.h"

#include <poll.h>

#include <algorithm>
#include <deque>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <stdexcept>

#include "net/udp_socket.h"
#include "proto/packet.h"
#include "scenario/fixtures.h"
#include "server/file_store.h"
#include "server/server_core.h"

namespace tftp::testing {

namespace {

using Socket = std::shared_ptr<net::UdpSocket>;

constexpr Duration kDripDelay = std::chrono::milliseconds(300);
constexpr Duration kResendEvery = std::chrono::milliseconds(100);
constexpr size_t kMaxResending = 256;  // sessions kept resending; the oldest stop first
constexpr size_t kHugeSize = 65507;    // the largest UDP payload over IPv4
constexpr uint32_t kOtherHost = 0x7f000003u;

// Yields the file, then full blocks of 0x5a forever. Its size() still claims the file's.
class EndlessSource : public engine::ByteSource {
 public:
  explicit EndlessSource(std::unique_ptr<engine::ByteSource> inner) : inner_(std::move(inner)) {}
  Result<size_t> read(std::span<uint8_t> out) override {
    size_t got = 0;
    if (!inner_done_) {
      auto r = inner_->read(out);
      if (!r) return r;
      got = *r;
      inner_done_ = got < out.size();
    }
    std::fill(out.begin() + static_cast<long>(got), out.end(), 0x5a);
    return out.size();
  }
  std::optional<uint64_t> size() const override { return inner_->size(); }

 private:
  std::unique_ptr<engine::ByteSource> inner_;
  bool inner_done_ = false;
};

// The fixtures in memory; with `endless`, every file but f1.bin (the sanity and discovery
// probes' file) never ends.
class Store : public server::FileStore {
 public:
  explicit Store(bool endless) : files_(server::RootPolicy{.writable = true}), endless_(endless) {
    for (const auto& f : scenario::fixtures()) files_.put(f.name, *scenario::fixture_bytes(f.name));
  }
  tl::expected<std::unique_ptr<engine::ByteSource>, server::Refusal> open_read(std::string_view filename) override {
    auto source = files_.open_read(filename);
    if (!source || !endless_ || filename == "f1.bin") return source;
    return std::make_unique<EndlessSource>(std::move(*source));
  }
  tl::expected<std::unique_ptr<engine::ByteSink>, server::Refusal> open_write(std::string_view filename) override {
    return files_.open_write(filename);
  }

 private:
  server::MemoryFileStore files_;
  bool endless_;
};

server::ServerConfig config_for(Hostility mode) {
  server::ServerConfig config;
  config.transfer.retransmit.initial = std::chrono::seconds(1);
  config.transfer.retransmit.min = config.transfer.retransmit.initial;
  config.faults.oack_unrequested_option = mode == Hostility::kUnaskedOack;
  return config;
}

Socket bind_socket(uint32_t host) {
  auto s = net::UdpSocket::bind(Address::ipv4(host, 0));
  if (!s) throw std::runtime_error("hostile server: cannot bind: " + s.error().message);
  s->set_buffer_sizes(1 << 20);
  return std::make_shared<net::UdpSocket>(std::move(*s));
}

}  // namespace

std::string_view hostility_name(Hostility h) {
  switch (h) {
    case Hostility::kFlood: return "flood";
    case Hostility::kGarbage: return "garbage";
    case Hostility::kHugeDatagrams: return "huge_datagrams";
    case Hostility::kRandomPorts: return "random_ports";
    case Hostility::kEndless: return "endless";
    case Hostility::kRetransmitForever: return "retransmit_forever";
    case Hostility::kDrip: return "drip";
    case Hostility::kOversizeData: return "oversize_data";
    case Hostility::kUnaskedOack: return "unasked_oack";
    case Hostility::kErrorWithoutNul: return "error_without_nul";
    case Hostility::kOtherAddress: return "other_address";
  }
  return "?";
}

const std::vector<Hostility>& all_hostilities() {
  static const std::vector<Hostility> all = {
      Hostility::kFlood,        Hostility::kGarbage,          Hostility::kHugeDatagrams, Hostility::kRandomPorts,
      Hostility::kEndless,      Hostility::kRetransmitForever, Hostility::kDrip,         Hostility::kOversizeData,
      Hostility::kUnaskedOack,  Hostility::kErrorWithoutNul,  Hostility::kOtherAddress};
  return all;
}

// The I/O layer: the core's datagrams go out through emit(), which misbehaves by mode.
class HostileServer::Loop {
 public:
  Loop(Hostility mode, std::atomic<uint64_t>& sent)
      : mode_(mode), sent_(sent), store_(mode == Hostility::kEndless), core_(config_for(mode), store_),
        listener_(bind_socket(0x7f000001u)), rng_(12) {}

  Address address() const { return listener_->local_address(); }

  void run(const std::atomic<bool>& stop) {
    std::vector<uint8_t> rx(proto::kMaxDatagramSize + 1);
    while (!stop.load()) {
      std::vector<pollfd> fds{{listener_->fd(), POLLIN, 0}};
      std::vector<server::SessionId> ids{server::kListener};
      for (const auto& [id, s] : sessions_) {
        fds.push_back({s->fd(), POLLIN, 0});
        ids.push_back(id);
      }
      const Instant now = real_now();
      Instant wake = now + std::chrono::milliseconds(50);
      if (auto t = core_.poll_timeout()) wake = std::min(wake, *t);
      if (!delayed_.empty()) wake = std::min(wake, delayed_.front().at);
      const auto wait = std::chrono::ceil<std::chrono::milliseconds>(std::max<Duration>(wake - now, Duration::zero()));
      ::poll(fds.data(), fds.size(), static_cast<int>(wait.count()));
      for (size_t i = 0; i < fds.size(); ++i) {
        if ((fds[i].revents & POLLIN) == 0) continue;
        // A bounded batch per socket, so a busy one cannot starve the others.
        for (int n = 0; n < 64; ++n) {
          auto it = sessions_.find(ids[i]);
          if (i != 0 && it == sessions_.end()) break;  // closed by the input before
          const Socket socket = i == 0 ? listener_ : it->second;
          auto got = socket->receive(rx);
          if (!got || !*got) break;
          const auto bytes = std::span<const uint8_t>(rx).first((*got)->size);
          if (i == 0) {
            core_.handle_request(real_now(), (*got)->from, bytes);
          } else {
            core_.handle_datagram(real_now(), ids[i], (*got)->from, bytes);
          }
          drain();
        }
      }
      core_.handle_timeout(real_now());
      drain();
      send_due();
    }
  }

  // The flood thread's view: the clients with a session open now.
  std::vector<Address> victims() {
    std::lock_guard lock(victims_mutex_);
    return {victims_.begin(), victims_.end()};
  }

 private:
  struct Delayed {
    Instant at;
    Socket from;
    Address to;
    std::vector<uint8_t> bytes;
  };
  struct Resending {
    Socket from;
    Address to;
    std::vector<uint8_t> bytes;
  };

  void drain() {
    while (auto e = core_.poll_event()) {
      if (e->kind == server::SessionEvent::Kind::kOpened) {
        sessions_[e->session] = bind_socket(mode_ == Hostility::kOtherAddress ? kOtherHost : 0x7f000001u);
        std::lock_guard lock(victims_mutex_);
        victims_.insert(e->client);
      } else {
        sessions_.erase(e->session);
        blksize_.erase(e->session);
        first_sent_.erase(e->session);
        std::lock_guard lock(victims_mutex_);
        if (auto v = victims_.find(e->client); v != victims_.end()) victims_.erase(v);
      }
    }
    std::vector<uint8_t> tx(proto::kMaxDatagramSize + 1);
    while (auto t = core_.poll_transmit(tx)) {
      Socket from = listener_;
      if (t->session != server::kListener) {
        auto it = sessions_.find(t->session);
        if (it == sessions_.end()) continue;
        from = it->second;
      }
      emit(t->session, from, t->to, std::vector<uint8_t>(tx.begin(), tx.begin() + static_cast<long>(t->size)));
    }
  }

  void send(const Socket& from, const Address& to, std::span<const uint8_t> bytes) {
    (void)from->send_to(to, bytes);
    ++sent_;
  }

  void emit(server::SessionId session, Socket from, const Address& to, std::vector<uint8_t> bytes) {
    auto packet = proto::parse(bytes, proto::Strictness::kLenient);
    const proto::Opcode op = packet ? proto::opcode_of(*packet) : proto::Opcode::kData;
    if (packet) {
      if (const auto* o = std::get_if<proto::Oack>(&*packet)) {
        for (const auto opt : o->options) {
          if (proto::iequals(opt.name, "blksize")) blksize_[session] = static_cast<size_t>(std::atoi(std::string(opt.value).c_str()));
        }
      }
    }
    switch (mode_) {
      case Hostility::kGarbage: {
        send(from, to, bytes);
        std::vector<uint8_t> junk(std::uniform_int_distribution<size_t>(2, 700)(rng_));
        for (auto& b : junk) b = static_cast<uint8_t>(rng_());
        junk[0] = static_cast<uint8_t>(0x10 | (junk[0] & 0xef));  // opcode >= 0x1000: never a TFTP packet
        send(from, to, junk);
        return;
      }
      case Hostility::kHugeDatagrams: {
        send(from, to, bytes);
        std::vector<uint8_t> huge(kHugeSize, 0xa5);
        huge[0] = 0;
        huge[1] = 3;  // DATA, the block of the datagram it follows: far over any blksize
        huge[2] = bytes.size() >= 4 ? bytes[2] : 0;
        huge[3] = bytes.size() >= 4 ? bytes[3] : 1;
        send(from, to, huge);
        return;
      }
      case Hostility::kRandomPorts:
        if (session != server::kListener && !first_sent_.insert(session).second) from = bind_socket(0x7f000001u);
        send(from, to, bytes);
        return;
      case Hostility::kRetransmitForever:
        send(from, to, bytes);
        if (session != server::kListener) {
          resending_.erase(session);
          resending_.emplace(session, Resending{from, to, std::move(bytes)});
          while (resending_.size() > kMaxResending) resending_.erase(resending_.begin());
          if (!resend_at_) resend_at_ = real_now() + kResendEvery;
        }
        return;
      case Hostility::kDrip:
        delayed_.push_back({real_now() + kDripDelay, std::move(from), to, std::move(bytes)});
        return;
      case Hostility::kOversizeData: {
        const auto* d = packet ? std::get_if<proto::Data>(&*packet) : nullptr;
        const auto it = blksize_.find(session);
        const size_t blksize = it == blksize_.end() ? proto::kDefaultBlockSize : it->second;
        if (d != nullptr && d->payload.size() == blksize) bytes.push_back(0x5a);
        send(from, to, bytes);
        return;
      }
      case Hostility::kErrorWithoutNul:
        if (op == proto::Opcode::kError && bytes.size() > 4 && bytes.back() == 0) bytes.pop_back();
        send(from, to, bytes);
        return;
      default:
        send(from, to, bytes);
        return;
    }
  }

  void send_due() {
    const Instant now = real_now();
    while (!delayed_.empty() && delayed_.front().at <= now) {
      send(delayed_.front().from, delayed_.front().to, delayed_.front().bytes);
      delayed_.pop_front();
    }
    if (resend_at_ && *resend_at_ <= now) {
      for (const auto& [id, r] : resending_) send(r.from, r.to, r.bytes);
      resend_at_ = now + kResendEvery;
    }
  }

  Hostility mode_;
  std::atomic<uint64_t>& sent_;
  Store store_;
  server::ServerCore core_;
  Socket listener_;
  std::map<server::SessionId, Socket> sessions_;
  std::map<server::SessionId, size_t> blksize_;
  std::set<server::SessionId> first_sent_;
  std::deque<Delayed> delayed_;
  std::map<server::SessionId, Resending> resending_;  // by id: the oldest first
  std::optional<Instant> resend_at_;
  std::mt19937_64 rng_;
  std::mutex victims_mutex_;
  std::multiset<Address> victims_;
};

HostileServer::HostileServer(Hostility mode) : loop_(std::make_unique<Loop>(mode, sent_)) {
  address_ = loop_->address();
  thread_ = std::thread([this] { loop_->run(stop_); });
  if (mode != Hostility::kFlood) return;
  // Small garbage from a port of its own, as fast as one thread sends it, to every client
  // with a session open: sessions end, so a port the harness has closed (and the kernel may
  // give to another test) stops receiving it within the session's retransmission budget.
  flood_ = std::thread([this] {
    auto socket = bind_socket(0x7f000001u);
    const uint8_t junk[8] = {0xff, 0xee, 'f', 'l', 'o', 'o', 'd', 0};
    while (!stop_.load()) {
      const auto victims = loop_->victims();
      if (victims.empty()) {
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
        continue;
      }
      for (int burst = 0; burst < 32; ++burst) {
        for (const auto& v : victims) {
          (void)socket->send_to(v, junk);
          ++sent_;
        }
      }
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
  });
}

HostileServer::~HostileServer() {
  stop_ = true;
  if (flood_.joinable()) flood_.join();
  if (thread_.joinable()) thread_.join();
}

}  // namespace tftp::testing
