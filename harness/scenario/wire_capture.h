// `run --pcap FILE`: every datagram a run's wires send or receive, written to one capture, and
// the frame numbers handed back so the report's evidence can cite them (a finding opens in
// Wireshark at the right frame).
//
// Two timelines, because the two kinds of target differ:
// - Real UDP targets (kReal): each datagram is written as the harness handles it (sent, or
//   taken from its socket), with its real addresses and the time it was sent or received
//   (the kernel's receive stamp where the socket has one), on the wall clock. Scenarios run
//   side by side, so their frames interleave as on the wire.
// - The embedded reference server in virtual time (kVirtual): every scenario runs in its own
//   simulated network with the same addresses (harness 127.0.0.2:50000.., server
//   127.0.0.1:69) and its own clock starting at zero. So that the capture reads as one
//   network, each wire's datagrams are written as one block when the wire is done: wire k
//   (k = 1, 2, ... in the order the blocks are written) has its harness host 127.0.0.2
//   written as 127.X.Y.2 with X.Y = k + 256 (so 127.1.1.2 for the first), the server
//   untouched; its times keep their spacing, the block placed 1 s after the previous one,
//   starting at the wall-clock time the capture was opened. The report's evidence shows the
//   simulated addresses; the frame number is what ties the two together.
#pragma once

#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "common/address.h"
#include "common/result.h"
#include "common/time.h"
#include "pcap/capture_writer.h"
#include "report/model.h"

namespace tftp::scenario {

class WireCapture {
 public:
  enum class Timeline { kReal, kVirtual };
  static Result<std::unique_ptr<WireCapture>> open(const std::string& path, pcap::CaptureWriterOptions options,
                                                   Timeline timeline);

  // One wire's share of the capture. Not thread-safe itself (a wire is used by one thread);
  // the capture it writes to is.
  class Session {
   public:
    explicit Session(WireCapture& capture) : capture_(capture) {}
    ~Session() { finish(); }
    Session(const Session&) = delete;
    Session& operator=(const Session&) = delete;
    // Observation `index` of the wire's rule engine: a datagram from `from` to `to` at `at`
    // (the wire's clock).
    void record(size_t index, const Address& from, const Address& to, std::span<const uint8_t> bytes, Instant at);
    // Writes what is still held (virtual timeline); later records are written at once.
    void finish();
    // The frame of each observation index written so far (0: not captured).
    const std::vector<uint64_t>& frames() const { return frames_; }

   private:
    struct Held {
      size_t index;
      Address from, to;
      std::vector<uint8_t> bytes;
      Instant at;
    };
    WireCapture& capture_;
    std::vector<Held> held_;
    std::vector<uint64_t> frames_;
    bool finished_ = false;
  };
  std::unique_ptr<Session> session() { return std::make_unique<Session>(*this); }

  Timeline timeline() const { return timeline_; }
  const std::string& path() const { return path_; }
  uint64_t frames() const;
  // Datagrams not written (larger than one IP packet holds: only a virtual network carries them).
  uint64_t not_written() const;
  // Flushes and closes the file. Errors: tftp.pcap.write_failed.
  Result<void> close();

 private:
  WireCapture(pcap::CaptureWriter writer, std::string path, Timeline timeline);
  friend class Session;
  mutable std::mutex mutex_;
  pcap::CaptureWriter writer_;
  std::string path_;
  Timeline timeline_;
  Duration wall_minus_mono_{};  // real timeline: wall clock = monotonic + this
  Instant virtual_cursor_{};    // virtual timeline: where the next block starts (since the epoch)
  uint64_t blocks_ = 0;
  uint64_t not_written_ = 0;
};

// Sets `frame` on every evidence line of `result` (its evidence, its findings' and incidental
// findings' datagrams) from the wire's frames by observation index. A withheld datagram was
// never sent: it has no frame.
void cite_frames(report::ScenarioResult& result, const std::vector<uint64_t>& frames);

}  // namespace tftp::scenario
