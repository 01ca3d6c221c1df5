// Fuzz target for the capture reader and analyser (harness/pcap/capture_reader.h,
// analyzer.h): any bytes are read as a pcap or pcapng file held in memory and every frame
// analysed. Properties: never a crash; a file that does not open is an error with an id;
// every transfer reported ends once, numbered 1, 2, ... with its frames in order; every
// finding names evidence frames the capture has; the live transfers stay within the cap.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "fuzz_support.h"
#include "pcap/analyzer.h"
#include "pcap/capture_reader.h"

using namespace tftp;

namespace {

struct Listener : pcap::TransferListener {
  uint64_t frames_read = 0;
  size_t ended = 0;
  void on_content(const pcap::TransferLog& t, std::span<const uint8_t> block) override {
    FUZZ_CHECK(t.id >= 1);
    FUZZ_CHECK(block.size() <= 65535);
  }
  void on_end(pcap::TransferLog&& t) override {
    ++ended;
    FUZZ_CHECK(t.first_frame <= t.last_frame && t.last_frame <= frames_read);
    for (const auto& f : t.findings) {
      FUZZ_CHECK(f.finding.id.starts_with("tftp."));
      for (const uint64_t frame : f.frames) FUZZ_CHECK(frame >= 1 && frame <= frames_read);
    }
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto reader = pcap::CaptureReader::open_memory(std::span<const uint8_t>(data, size));
  if (!reader) {
    FUZZ_CHECK(!reader.error().id.empty());
    return 0;
  }
  Listener listener;
  pcap::AnalyzerLimits limits;
  limits.live_transfers = 8;
  limits.pending_requests = 16;
  pcap::Analyzer analyzer(listener, {}, limits);
  for (;;) {
    auto frame = reader->next();
    if (!frame) {
      analyzer.note_read_error(frame.error());
      break;
    }
    if (!*frame) break;
    FUZZ_CHECK((*frame)->number == listener.frames_read + 1);
    listener.frames_read = (*frame)->number;
    analyzer.add(**frame);
    FUZZ_CHECK(analyzer.live_transfers() <= limits.live_transfers);
  }
  analyzer.finish();
  FUZZ_CHECK(analyzer.live_transfers() == 0);
  FUZZ_CHECK(listener.ended == analyzer.stats().transfers);
  return 0;
}
