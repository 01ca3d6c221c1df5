#include "client/load.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <queue>
#include <random>
#include <unordered_map>

#include "net/event_loop.h"
#include "net/udp_socket.h"
#include "proto/options.h"

namespace tftp::client {

Duration percentile(std::vector<Duration>& sample, double fraction) {
  if (sample.empty()) return Duration::zero();
  fraction = std::clamp(fraction, 0.0, 1.0);
  // Nearest rank: the ceil(fraction * n)-th smallest, counting from 1.
  const auto rank = static_cast<size_t>(std::ceil(fraction * static_cast<double>(sample.size())));
  const size_t index = std::max<size_t>(rank, 1) - 1;
  std::nth_element(sample.begin(), sample.begin() + static_cast<std::ptrdiff_t>(index), sample.end());
  return sample[index];
}

LatencySummary summarize(std::vector<Duration> sample) {
  LatencySummary s;
  s.count = sample.size();
  if (sample.empty()) return s;
  Duration total{};
  for (Duration d : sample) total += d;
  s.mean = total / static_cast<int64_t>(sample.size());
  s.max = *std::max_element(sample.begin(), sample.end());
  s.p50 = percentile(sample, 0.50);
  s.p95 = percentile(sample, 0.95);
  s.p99 = percentile(sample, 0.99);
  return s;
}

namespace {

constexpr Duration kProgressEvery = std::chrono::milliseconds(200);
constexpr int kReadBurst = 64;         // datagrams read from one socket before others get a turn
constexpr size_t kMaxFailureCauses = 64;  // distinct causes kept; the rest are counted by kind

// A sink that keeps nothing but the digest of what it was given.
class DigestSink : public engine::ByteSink {
 public:
  struct Result {
    std::optional<uint64_t> digest;  // set on commit
  };
  DigestSink() : result_(std::make_shared<Result>()) {}

  tftp::Result<void> write(std::span<const uint8_t> bytes) override {
    digest_.update(bytes);
    return {};
  }
  tftp::Result<void> commit() override {
    result_->digest = digest_.digest();
    return {};
  }
  void abort() override {}
  std::shared_ptr<Result> result() const { return result_; }

 private:
  ContentDigest digest_;
  std::shared_ptr<Result> result_;
};

// Room for a window in the kernel: the default receive buffer holds about 200 KiB, and a
// window beyond it would lose its tail on every burst (see DESIGN.md).
int socket_buffer_for(const std::vector<proto::OwnedOption>& options) {
  uint64_t blksize = proto::kDefaultBlockSize, windowsize = 1;
  for (const auto& o : options) {
    if (proto::iequals(o.name, proto::kBlksize)) blksize = proto::parse_decimal(o.value).value_or(blksize);
    if (proto::iequals(o.name, proto::kWindowsize)) windowsize = proto::parse_decimal(o.value).value_or(windowsize);
  }
  const uint64_t window = windowsize * (blksize + 64);
  if (window <= (128u << 10)) return 0;  // the default is enough
  return static_cast<int>(std::min<uint64_t>(2 * window, 4u << 20));
}

class Storm {
 public:
  Storm(const LoadConfig& config, net::EventLoop loop)
      : config_(config), loop_(std::move(loop)), rng_(config.seed), buffer_(proto::kMaxDatagramSize + 1),
        socket_buffer_(socket_buffer_for(config.options)), reference_(config.expected_digest) {}

  LoadRun run(const std::function<void(const LoadProgress&)>& progress, const std::atomic<bool>* cancel) {
    begin_ = real_now();
    if (config_.duration) end_of_starts_ = begin_ + *config_.duration;
    for (size_t c = 0; c < config_.clients; ++c) start(c, 0, begin_);
    Instant next_progress = begin_ + kProgressEvery;
    bool stopping = false;
    while (!flows_.empty()) {
      if (!stopping && cancel != nullptr && cancel->load(std::memory_order_relaxed)) {
        stopping = true;
        interrupted_ = true;
        for (auto& [id, flow] : flows_) flow->transfer->cancel("load run interrupted");
        std::vector<uint64_t> ids;
        for (const auto& [id, flow] : flows_) ids.push_back(id);
        for (uint64_t id : ids) flush(id, real_now());
        continue;
      }
      Instant wake = next_progress;
      if (auto t = next_timer()) wake = std::min(wake, *t);
      (void)loop_.run_once(wake);  // EINTR: the cancel flag is looked at above
      const Instant now = real_now();
      fire_timers(now);
      if (now >= next_progress) {
        if (progress) progress(snapshot(now));
        next_progress = now + kProgressEvery;
      }
    }
    LoadRun out;
    out.tally = std::move(tally_);
    out.elapsed = (last_outcome_ ? *last_outcome_ : real_now()) - begin_;
    out.interrupted = interrupted_;
    out.reference_digest = reference_;
    return out;
  }

 private:
  struct Flow {
    size_t client = 0;
    uint64_t round = 0;
    net::UdpSocket socket;
    std::optional<engine::Transfer> transfer;
    std::shared_ptr<DigestSink::Result> digest;  // download
    std::string upload_name;
    Instant started;
    bool recorded = false;
    std::optional<Instant> armed;
  };

  LoadProgress snapshot(Instant now) const {
    LoadProgress p;
    p.started = tally_.started;
    p.succeeded = tally_.succeeded;
    p.failed = tally_.failed;
    p.active = tally_.started - tally_.succeeded - tally_.failed;
    p.bytes = tally_.bytes;
    p.elapsed = now - begin_;
    return p;
  }

  void fail_to_start(const std::string& cause) {
    ++tally_.started;
    ++tally_.failed;
    count_failure(cause);
  }

  void start(size_t client, uint64_t round, Instant now) {
    auto socket = net::UdpSocket::ephemeral_for(config_.server);
    if (!socket) {
      fail_to_start("no socket: " + socket.error().message);
      return;
    }
    if (socket_buffer_ > 0) socket->set_buffer_sizes(socket_buffer_);
    auto flow = std::make_unique<Flow>();
    flow->client = client;
    flow->round = round;
    flow->started = now;
    if (config_.upload) {
      flow->upload_name = config_.remote + "." + std::to_string(client);
      std::vector<proto::OwnedOption> options = config_.options;
      flow->transfer = engine::Transfer::client_write(config_.transfer, config_.server, flow->upload_name,
                                                      proto::Mode::kOctet, std::move(options),
                                                      std::make_unique<engine::MemorySource>(config_.upload_content), now);
    } else {
      auto sink = std::make_unique<DigestSink>();
      flow->digest = sink->result();
      flow->transfer = engine::Transfer::client_read(config_.transfer, config_.server, config_.remote,
                                                     proto::Mode::kOctet, config_.options, std::move(sink), now);
    }
    const uint64_t id = next_id_++;
    auto watched = loop_.watch(socket->fd(), [this, id] { on_readable(id, real_now()); });
    if (!watched) {
      fail_to_start("cannot watch a socket: " + watched.error().message);
      return;
    }
    flow->socket = std::move(*socket);
    ++tally_.started;
    flows_.emplace(id, std::move(flow));
    flush(id, now);
  }

  void on_readable(uint64_t id, Instant now) {
    for (int i = 0; i < kReadBurst; ++i) {
      auto it = flows_.find(id);
      if (it == flows_.end()) return;
      Flow& f = *it->second;
      auto got = f.socket.receive(buffer_);
      if (!got || !*got) break;
      const net::FaultDecision fault = net::roll_faults(config_.faults, rng_);
      if (fault.drop) {
        ++tally_.injected_losses;
        continue;
      }
      const auto bytes = std::span<const uint8_t>(buffer_).first((*got)->size);
      f.transfer->handle_datagram(now, (*got)->from, bytes);
      if (fault.duplicate) {
        ++tally_.injected_duplicates;
        f.transfer->handle_datagram(now, (*got)->from, bytes);
      }
    }
    flush(id, now);
  }

  void send(Flow& f, const engine::Transmit& t) {
    const net::FaultDecision fault = net::roll_faults(config_.faults, rng_);
    if (fault.drop) {
      ++tally_.injected_losses;
      return;
    }
    const auto bytes = std::span<const uint8_t>(buffer_).first(t.size);
    (void)f.socket.send_to(t.to, bytes);  // a full socket buffer is a lost datagram
    if (fault.duplicate) {
      ++tally_.injected_duplicates;
      (void)f.socket.send_to(t.to, bytes);
    }
  }

  // Sends what the transfer has queued, then records its outcome, closes it or re-arms it.
  void flush(uint64_t id, Instant now) {
    auto it = flows_.find(id);
    if (it == flows_.end()) return;
    Flow& f = *it->second;
    while (auto t = f.transfer->poll_transmit(buffer_)) send(f, *t);
    if (!f.recorded && f.transfer->outcome()) record(f, now);  // may start a flow: `it` is stale
    if (f.transfer->finished()) {
      loop_.unwatch(f.socket.fd());
      flows_.erase(id);
      return;
    }
    const auto deadline = f.transfer->poll_timeout();
    if (deadline && deadline != f.armed) {
      f.armed = deadline;
      timers_.push({*deadline, id});
    }
  }

  std::optional<Instant> next_timer() {
    while (!timers_.empty()) {
      const auto [at, id] = timers_.top();
      auto it = flows_.find(id);
      if (it != flows_.end() && it->second->armed == at) return at;
      timers_.pop();  // stale
    }
    return std::nullopt;
  }

  void fire_timers(Instant now) {
    while (auto at = next_timer()) {
      if (*at > now) return;
      const uint64_t id = timers_.top().second;
      timers_.pop();
      flows_.at(id)->armed.reset();
      // A reply that is already in the socket arrived before the deadline: take it first, so
      // our own loop's delay is never mistaken for the server's silence.
      on_readable(id, now);
      auto it = flows_.find(id);
      if (it == flows_.end()) continue;
      it->second->transfer->handle_timeout(now);
      flush(id, now);
    }
  }

  void count_failure(const std::string& cause) {
    if (tally_.failures.size() < kMaxFailureCauses || tally_.failures.count(cause) > 0) {
      ++tally_.failures[cause];
    } else {
      ++tally_.failures["other causes"];
    }
  }

  void record(Flow& f, Instant now) {
    f.recorded = true;
    last_outcome_ = now;
    const engine::Outcome& outcome = *f.transfer->outcome();
    const engine::TransferStats& st = f.transfer->stats();
    tally_.retransmissions += st.retransmissions;
    tally_.request_retransmissions += st.request_retransmissions;
    tally_.duplicates_received += st.duplicates_received;
    tally_.timeouts += st.timeouts;
    std::string problem;
    if (!outcome.ok()) {
      problem = outcome.to_string();
    } else if (!config_.upload) {
      const uint64_t digest = f.digest->digest.value_or(0);
      if (!reference_) reference_ = digest;  // the first success is the reference (documented)
      if (digest != *reference_) problem = "digest mismatch: the content differs from the reference";
      ++tally_.verified;
    } else if (config_.uploaded_digest) {
      const auto stored = config_.uploaded_digest(f.upload_name);
      if (!stored) {
        problem = "the uploaded file cannot be read back";
      } else if (*stored != content_digest(*config_.upload_content)) {
        problem = "digest mismatch: the server's copy differs from what was sent";
      }
      ++tally_.verified;
    }
    if (problem.empty()) {
      ++tally_.succeeded;
      tally_.bytes += st.bytes;
      tally_.latencies.push_back(now - f.started);
    } else {
      ++tally_.failed;
      count_failure(problem);
    }
    const bool more = config_.duration ? now < end_of_starts_ : f.round + 1 < config_.rounds;
    if (more && !interrupted_) start(f.client, f.round + 1, now);
  }

  const LoadConfig& config_;
  net::EventLoop loop_;
  std::mt19937_64 rng_;
  std::vector<uint8_t> buffer_;
  int socket_buffer_;
  std::optional<uint64_t> reference_;
  std::unordered_map<uint64_t, std::unique_ptr<Flow>> flows_;
  using Timer = std::pair<Instant, uint64_t>;
  std::priority_queue<Timer, std::vector<Timer>, std::greater<>> timers_;
  uint64_t next_id_ = 1;
  LoadTally tally_;
  Instant begin_{};
  Instant end_of_starts_{};
  std::optional<Instant> last_outcome_;
  bool interrupted_ = false;
};

}  // namespace

Result<LoadRun> run_load(const LoadConfig& config, const std::function<void(const LoadProgress&)>& progress,
                         const std::atomic<bool>* cancel) {
  auto loop = net::EventLoop::create();
  if (!loop) return tl::unexpected(loop.error());
  if (config.upload && !config.upload_content) {
    return make_error("tftp.load.no_content", "an upload load run needs the content to send");
  }
  Storm storm(config, std::move(*loop));
  return storm.run(progress, cancel);
}

}  // namespace tftp::client
