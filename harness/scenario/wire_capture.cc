#include "scenario/wire_capture.h"

#include <chrono>

namespace tftp::scenario {

namespace {

Instant wall_now() {
  return Instant(std::chrono::duration_cast<Duration>(std::chrono::system_clock::now().time_since_epoch()));
}

// Wire k's harness host in a virtual-time capture: 127.X.Y.2, X.Y = k + 256 (the header
// says why). Past 65279 wires the numbering wraps; the blocks' times still tell them apart.
Address virtual_host(const Address& a, uint64_t block) {
  const auto xy = static_cast<uint32_t>((block + 256) % 65536);
  return Address::ipv4(0x7f000002u | xy << 8, a.port());
}

}  // namespace

Result<std::unique_ptr<WireCapture>> WireCapture::open(const std::string& path, pcap::CaptureWriterOptions options,
                                                       Timeline timeline) {
  auto writer = pcap::CaptureWriter::open(path, options);
  if (!writer) return tl::unexpected(writer.error());
  return std::unique_ptr<WireCapture>(new WireCapture(std::move(*writer), path, timeline));
}

WireCapture::WireCapture(pcap::CaptureWriter writer, std::string path, Timeline timeline)
    : writer_(std::move(writer)), path_(std::move(path)), timeline_(timeline) {
  const Instant wall = wall_now();
  wall_minus_mono_ = wall - real_now();
  virtual_cursor_ = wall;
}

uint64_t WireCapture::frames() const {
  std::lock_guard lock(mutex_);
  return writer_.frames();
}

uint64_t WireCapture::not_written() const {
  std::lock_guard lock(mutex_);
  return not_written_;
}

Result<void> WireCapture::close() {
  std::lock_guard lock(mutex_);
  return writer_.close();
}

void WireCapture::Session::record(size_t index, const Address& from, const Address& to, std::span<const uint8_t> bytes,
                                  Instant at) {
  if (capture_.timeline_ == Timeline::kVirtual && !finished_) {
    held_.push_back({index, from, to, {bytes.begin(), bytes.end()}, at});
    return;
  }
  std::lock_guard lock(capture_.mutex_);
  auto n = capture_.writer_.datagram(from, to, bytes, at + capture_.wall_minus_mono_);
  if (frames_.size() <= index) frames_.resize(index + 1);
  if (n) frames_[index] = *n;
  else ++capture_.not_written_;
}

void WireCapture::Session::finish() {
  if (finished_) return;
  finished_ = true;
  if (held_.empty()) return;
  std::lock_guard lock(capture_.mutex_);
  const uint64_t block = ++capture_.blocks_;
  // The harness's host is the side that is not the server: 127.0.0.2 in every simulation.
  const Address harness_host = Address::ipv4(0x7f000002u, 0);
  auto map = [&](const Address& a) { return a.same_host(harness_host) ? virtual_host(a, block) : a; };
  const Instant first = held_.front().at;
  Instant last = first;
  for (const auto& h : held_) {
    const Instant at = capture_.virtual_cursor_ + (h.at - first);
    last = std::max(last, h.at);
    auto n = capture_.writer_.datagram(map(h.from), map(h.to), h.bytes, at);
    if (frames_.size() <= h.index) frames_.resize(h.index + 1);
    if (n) frames_[h.index] = *n;
    else ++capture_.not_written_;
  }
  capture_.virtual_cursor_ += (last - first) + std::chrono::seconds(1);
  held_.clear();
  held_.shrink_to_fit();
}

void cite_frames(report::ScenarioResult& result, const std::vector<uint64_t>& frames) {
  auto cite = [&](std::vector<report::EvidenceLine>& lines) {
    for (auto& e : lines) {
      if (e.mark == report::kMarkWithheld || e.index >= frames.size()) continue;
      e.frame = frames[e.index];
    }
  };
  cite(result.evidence);
  for (auto& f : result.findings) cite(f.datagrams);
  for (auto& f : result.incidental) cite(f.datagrams);
}

}  // namespace tftp::scenario
