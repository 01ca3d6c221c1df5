#include "pcap/capture_reader.h"

#include <pcap/pcap.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

namespace tftp::pcap {

struct CaptureReader::Handle {
  std::unique_ptr<char[]> buffer;  // stdio's buffer for the file (freed after pcap_close)
  pcap_t* p = nullptr;
  int linktype = 0;
  uint64_t number = 0;
  ~Handle() {
    if (p != nullptr) pcap_close(p);
  }
};

CaptureReader::CaptureReader(std::unique_ptr<Handle> h) : h_(std::move(h)) {}
CaptureReader::~CaptureReader() = default;
CaptureReader::CaptureReader(CaptureReader&&) noexcept = default;
CaptureReader& CaptureReader::operator=(CaptureReader&&) noexcept = default;

Result<CaptureReader> CaptureReader::open(const std::string& path) {
  if (path == "-") return open_file(stdin, "standard input", nullptr);
  std::FILE* file = std::fopen(path.c_str(), "rb");
  if (file == nullptr) return make_error("tftp.pcap.open_failed", path + ": " + std::strerror(errno));
  // libpcap reads a record header and then its frame, each through stdio: with the default
  // buffer of one 4 KiB page that is a read(2) every few frames. A 64 KiB buffer makes it one
  // read(2) per 64 KiB and still fits in the L2 cache, where both copies (the kernel's into
  // it, stdio's out of it) stay: reading the 63 MB benchmark capture through libpcap took
  // 29 ms of CPU with it, 42 ms with 4 KiB and 47 ms with 1 MiB (bench/RESULTS.md).
  // (glibc ignores the size unless given the buffer.)
  constexpr size_t kBuffer = 64 << 10;
  std::unique_ptr<char[]> buffer(new char[kBuffer]);  // not zeroed: stdio fills it
  std::setvbuf(file, buffer.get(), _IOFBF, kBuffer);
  return open_file(file, path, std::move(buffer));
}

Result<CaptureReader> CaptureReader::open_file(std::FILE* file, const std::string& name, std::unique_ptr<char[]> buffer) {
  char errbuf[PCAP_ERRBUF_SIZE] = {};
  // Nanosecond timestamps whatever the file holds, so time keeps its precision.
  pcap_t* p = pcap_fopen_offline_with_tstamp_precision(file, PCAP_TSTAMP_PRECISION_NANO, errbuf);
  if (p == nullptr) {
    if (file != stdin) std::fclose(file);
    return make_error("tftp.pcap.open_failed", name + ": " + errbuf);
  }
  auto h = std::make_unique<Handle>();
  h->buffer = std::move(buffer);
  h->p = p;  // pcap_close closes `file`
  h->linktype = pcap_datalink(p);
  return CaptureReader(std::move(h));
}

Result<CaptureReader> CaptureReader::open_memory(std::span<const uint8_t> bytes) {
  // fmemopen wants a non-const buffer but only reads it in mode "rb".
  std::FILE* file = ::fmemopen(const_cast<uint8_t*>(bytes.data()), bytes.size(), "rb");
  if (file == nullptr) return make_error("tftp.pcap.open_failed", "fmemopen failed");
  char errbuf[PCAP_ERRBUF_SIZE] = {};
  pcap_t* p = pcap_fopen_offline_with_tstamp_precision(file, PCAP_TSTAMP_PRECISION_NANO, errbuf);
  if (p == nullptr) {
    std::fclose(file);
    return make_error("tftp.pcap.open_failed", std::string("capture in memory: ") + errbuf);
  }
  auto h = std::make_unique<Handle>();
  h->p = p;  // pcap_close closes `file`
  h->linktype = pcap_datalink(p);
  return CaptureReader(std::move(h));
}

Result<std::optional<Frame>> CaptureReader::next() {
  pcap_pkthdr* header = nullptr;
  const u_char* data = nullptr;
  const int rc = pcap_next_ex(h_->p, &header, &data);
  if (rc == PCAP_ERROR_BREAK) return std::nullopt;  // -2: end of file
  if (rc != 1) {
    return make_error("tftp.pcap.truncated_file", "after frame " + std::to_string(h_->number) + ": " + pcap_geterr(h_->p));
  }
  Frame f;
  f.number = ++h_->number;
  f.at = Instant(std::chrono::seconds(header->ts.tv_sec) + std::chrono::nanoseconds(header->ts.tv_usec));
  f.caplen = header->caplen;
  f.len = header->len;
  f.linktype = h_->linktype;
  f.bytes = std::span<const uint8_t>(data, header->caplen);
  return f;
}

int CaptureReader::linktype() const { return h_->linktype; }
uint32_t CaptureReader::snaplen() const { return static_cast<uint32_t>(pcap_snapshot(h_->p)); }

}  // namespace tftp::pcap
