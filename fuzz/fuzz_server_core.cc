// Fuzz target for the reference server without I/O (harness/server/server_core.h), driven
// by a fuzzed script of datagrams and timer ticks from four clients against files in memory.
// Invariants, checked on every datagram the server sends and at the end:
//   - lockstep never runs ahead of the ACKs: DATA n goes out only once the client has
//     acknowledged n - windowsize (windowsize 1 unless the session's OACK granted more);
//   - no DATA is larger than the block size the session announced (512 without an OACK);
//   - nothing outside the root is read or written: a file stored under "../secret" never
//     appears in a DATA and is never replaced;
//   - every transfer ends: once the script is over, following the server's own deadlines
//     closes every session within a bounded number of timer firings;
//   - memory stays bounded: never more sessions than max_sessions, nor larger uploads than
//     the store allows.
//
// Script ops (fuzz_support.h for the datagram layout): op byte b, client c = (b >> 3) & 3:
//   b % 8 == 0  tick: time advances by (operand + 1) x 10 ms, due timers fire
//            1  time jumps to the server's next deadline, which fires
//          2,3  a datagram from client c to the listening endpoint
//          4,5  a datagram from client c to its session (or to session operand if none)
//            6  from client c to its session: ACK of the last DATA it got, minus (operand & 3)
//            7  from client c to its session: DATA of the next block it owes (minus operand & 1),
//               operand2 bytes (>= 200: the block size minus (255 - operand2))
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "fuzz_support.h"
#include "proto/packet.h"
#include "server/file_store.h"
#include "server/server_core.h"

using namespace tftp;
using namespace std::chrono_literals;
using proto::Opcode;

namespace {

constexpr size_t kMaxSessions = 4;
constexpr uint64_t kMaxUpload = 20000;
constexpr std::string_view kSecret = "OUTSIDE-ROOT-SECRET";

std::shared_ptr<const std::vector<uint8_t>> file_of(size_t n, uint8_t salt) {
  std::vector<uint8_t> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = static_cast<uint8_t>('a' + (i * 7 + salt) % 26);
  return std::make_shared<const std::vector<uint8_t>>(std::move(v));
}

// The catalogue's fixture names (scenario/fixtures.cc), so seeds made from its scenarios
// (fuzz/make_seeds.py) find their files.
struct Files {
  std::vector<std::pair<std::string, std::shared_ptr<const std::vector<uint8_t>>>> named;
  std::shared_ptr<const std::vector<uint8_t>> secret;
  Files() {
    for (const size_t n : {0, 1, 511, 512, 513, 1024, 3000}) {
      named.emplace_back("f" + std::to_string(n) + ".bin", file_of(n, static_cast<uint8_t>(n)));
    }
    named.emplace_back("sub/f511.bin", file_of(511, 9));
    const std::string t = "line one\nline two\r\nbare\rcr\n\n";
    named.emplace_back("netascii.txt", std::make_shared<const std::vector<uint8_t>>(t.begin(), t.end()));
    std::string s;
    for (int i = 0; i < 8; ++i) s += kSecret;
    secret = std::make_shared<const std::vector<uint8_t>>(s.begin(), s.end());
  }
};

// The store the server sees: the files above, built once per process (building it cost as
// much as a short script). An input that opened an upload may have changed it, so the
// store is rebuilt before the next input; every other input leaves it as it was.
class Store : public server::FileStore {
 public:
  explicit Store(const Files& files) : files_(files) { rebuild(); }
  void reset() {
    if (written_) rebuild();
  }
  server::MemoryFileStore& files() { return *store_; }
  tl::expected<std::unique_ptr<engine::ByteSource>, engine::Refusal> open_read(std::string_view name) override {
    return store_->open_read(name);
  }
  tl::expected<std::unique_ptr<engine::ByteSink>, engine::Refusal> open_write(std::string_view name) override {
    written_ = true;
    return store_->open_write(name);
  }

 private:
  void rebuild() {
    store_.emplace(server::RootPolicy{true, false, kMaxUpload});
    for (const auto& [name, bytes] : files_.named) store_->put(name, bytes);
    store_->put("../secret", files_.secret);  // not beneath the root: no request may reach it
    written_ = false;
  }
  const Files& files_;
  std::optional<server::MemoryFileStore> store_;
  bool written_ = false;
};

bool contains_secret(std::span<const uint8_t> payload) {
  const std::string_view p(reinterpret_cast<const char*>(payload.data()), payload.size());
  // A DATA may cut the file anywhere: any 8-byte piece of the marker gives it away.
  // (string_view::find, not memmem: find skips to each candidate first byte with memchr,
  // which the files' lower-case letters make rare; glibc's memmem hashes every position
  // and cost twice the whole script.)
  for (size_t i = 0; i + 8 <= kSecret.size(); ++i) {
    if (p.find(kSecret.substr(i, 8)) != std::string_view::npos) return true;
  }
  return false;
}

// What one session has shown its client.
struct Track {
  Address client;
  size_t blksize = proto::kDefaultBlockSize;
  uint64_t window = 1;
  bool oack_sent = false;
  uint16_t highest_data = 0;  // DATA sent (RRQ)
  uint16_t acked = 0;         // the highest ACK from the client of a block sent (or the OACK)
  uint16_t last_ack_sent = 0; // WRQ: what the server acknowledged last
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const Files files;
  static Store store(files);
  store.reset();
  fuzz::ScriptReader in(data, size);

  server::ServerConfig config;
  config.max_sessions = kMaxSessions;
  config.limits.max_file_size = kMaxUpload;
  server::ServerCore core(config, store);

  Instant now{};
  std::map<server::SessionId, Track> tracks;
  std::optional<server::SessionId> of_client[4];
  // Made once: zeroing 128 KiB per input would cost more than a short script.
  static std::vector<uint8_t> buffer(proto::kMaxDatagramSize);
  static std::vector<uint8_t> out(proto::kMaxDatagramSize);

  const auto drain = [&] {
    while (auto e = core.poll_event()) {
      if (e->kind == server::SessionEvent::Kind::kOpened) {
        tracks[e->session].client = e->client;
        for (auto& s : of_client) {
          if (s && tracks.count(*s) && tracks[*s].client == e->client) s.reset();
        }
        of_client[e->client.port() - 5000] = e->session;
      } else {
        tracks.erase(e->session);
      }
    }
    // A refusal (ERROR to a malformed request) is a session until its one datagram is sent.
    FUZZ_CHECK(core.active_sessions() <= kMaxSessions + 1);
    while (auto t = core.poll_transmit(buffer)) {
      FUZZ_CHECK(t->size <= buffer.size());
      const auto bytes = std::span<const uint8_t>(buffer).first(t->size);
      auto it = tracks.find(t->session);
      if (it == tracks.end()) continue;  // the listener's refusals, or a closed session's last ERROR
      Track& s = it->second;
      const auto p = proto::parse(bytes, proto::Strictness::kStrict);
      FUZZ_CHECK(p.has_value());  // the server sends only well-formed packets
      if (t->to != s.client) {
        // Only a stray gets something from a session: ERROR 5 (RFC 1350 §4).
        const auto* e = std::get_if<proto::ErrorPacket>(&*p);
        FUZZ_CHECK(e && e->code == 5);
        continue;
      }
      if (const auto* o = std::get_if<proto::Oack>(&*p)) {
        s.oack_sent = true;
        if (auto v = o->options.find(proto::kBlksize)) s.blksize = proto::parse_decimal(*v).value_or(0);
        if (auto v = o->options.find(proto::kWindowsize)) s.window = proto::parse_decimal(*v).value_or(0);
      } else if (const auto* d = std::get_if<proto::Data>(&*p)) {
        FUZZ_CHECK(d->payload.size() <= s.blksize);
        FUZZ_CHECK(!contains_secret(d->payload));
        // The files are far smaller than 65535 blocks: block numbers never wrap here.
        FUZZ_CHECK(d->block >= 1 && uint64_t{d->block} <= uint64_t{s.acked} + s.window);
        s.highest_data = std::max(s.highest_data, d->block);
      } else if (const auto* a = std::get_if<proto::Ack>(&*p)) {
        s.last_ack_sent = a->block;
      }
    }
    FUZZ_CHECK(core.active_sessions() <= kMaxSessions);
  };

  // Acknowledgements the server has received, for the lockstep check: only the session's
  // own client counts (the same datagram from another port is a stray, RFC 1350 §4), and
  // only of a block already sent (an ACK of the future acknowledges nothing).
  const auto deliver = [&](server::SessionId id, const Address& from, std::span<const uint8_t> bytes) {
    if (auto it = tracks.find(id); it != tracks.end() && it->second.client == from) {
      const auto p = proto::parse(bytes, proto::Strictness::kLenient);
      if (const auto* a = p ? std::get_if<proto::Ack>(&*p) : nullptr) {
        if (a->block <= it->second.highest_data) it->second.acked = std::max(it->second.acked, a->block);
      }
    }
    core.handle_datagram(now, id, from, bytes);
  };

  while (!in.done()) {
    const uint8_t op = in.byte();
    const int c = (op >> 3) & 3;
    const Address client = Address::loopback_v4(static_cast<uint16_t>(5000 + c));
    const auto session = [&]() -> server::SessionId {
      if (of_client[c] && tracks.count(*of_client[c])) return *of_client[c];
      return in.byte() % 8;
    };
    switch (op % 8) {
      case 0:
        now += (in.byte() + 1) * 10ms;
        if (auto t = core.poll_timeout(); t && *t <= now) core.handle_timeout(now);
        break;
      case 1:
        if (auto t = core.poll_timeout()) {
          now = std::max(now, *t);
          core.handle_timeout(now);
        }
        break;
      case 2:
      case 3: core.handle_request(now, client, in.datagram()); break;
      case 4:
      case 5: {
        const auto id = session();
        deliver(id, client, in.datagram());
        break;
      }
      case 6: {
        const auto id = session();
        const auto it = tracks.find(id);
        const uint16_t last = it == tracks.end() ? 0 : it->second.highest_data;
        const auto n = proto::write_ack(out, static_cast<uint16_t>(last - (in.byte() & 3)));
        deliver(id, client, std::span<const uint8_t>(out).first(*n));
        break;
      }
      case 7: {
        const auto id = session();
        const auto it = tracks.find(id);
        const size_t blksize = it == tracks.end() ? proto::kDefaultBlockSize : it->second.blksize;
        const uint16_t next = static_cast<uint16_t>((it == tracks.end() ? 0 : it->second.last_ack_sent) + 1);
        const uint8_t k = in.byte();
        const uint8_t len = in.byte();
        size_t payload = len < 200 ? len : blksize - std::min<size_t>(blksize, 255 - len);
        payload = std::min(payload, blksize + 1);
        FUZZ_CHECK(blksize <= proto::kMaxBlockSize);  // no OACK grants more (RFC 2348)
        static std::vector<uint8_t> scratch(proto::kMaxBlockSize + 1);  // not allocated per DATA
        std::memset(scratch.data(), 'A' + (next & 15), payload);
        const auto bytes = std::span<const uint8_t>(scratch).first(payload);
        const auto n = proto::write_data(out, static_cast<uint16_t>(next - (k & 1)), bytes);
        if (n) deliver(id, client, std::span<const uint8_t>(out).first(*n));
        break;
      }
    }
    drain();
  }

  // The script is over: the server's own deadlines must close every session.
  for (int firings = 0; firings < 64; ++firings) {
    const auto t = core.poll_timeout();
    if (!t) break;
    now = std::max(now, *t);
    core.handle_timeout(now);
    drain();
  }
  FUZZ_CHECK(core.active_sessions() == 0);
  FUZZ_CHECK(!core.poll_timeout().has_value());
  const auto secret = store.files().get("../secret");
  FUZZ_CHECK(secret && *secret == *files.secret);
  return 0;
}
