#include "pcap/extractor.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <unordered_map>
#include <vector>

#include "proto/netascii.h"
#include "proto/packet.h"

namespace tftp::pcap {

std::string safe_name(std::string_view filename) {
  const size_t slash = filename.find_last_of("/\\");
  if (slash != std::string_view::npos) filename.remove_prefix(slash + 1);
  std::string out;
  for (unsigned char c : filename) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
                    c == '_' || c == '-' || c == '+';
    out += ok ? static_cast<char>(c) : '_';
  }
  const size_t first = out.find_first_not_of('.');  // no hidden file, no "." or ".."
  out = first == std::string::npos ? std::string() : out.substr(first);
  if (out.size() > 128) out.resize(128);
  return out.empty() ? "unnamed" : out;
}

namespace {
// Content is written in pieces of at least this size, not a block at a time: one write(2) per
// 512-byte block made 99,649 calls for the benchmark capture, 2,041 now (bench/RESULTS.md).
// Held per open file: under 32 KiB plus one block each, the analyser's live transfers at most.
constexpr size_t kWriteBuffer = 32 << 10;

struct Open {
  int fd = -1;
  std::string part;  // the name while writing
  bool netascii = false;
  proto::NetasciiDecoder decoder;
  std::vector<uint8_t> pending;  // content not yet written (less than kWriteBuffer)
  std::optional<std::string> failed;  // the first write error
};

std::string numbered(size_t id, const std::string& name) {
  char prefix[24];
  std::snprintf(prefix, sizeof prefix, "%04zu-", id);
  return prefix + name;
}
}  // namespace

struct Extractor::State {
  int dir = -1;
  std::string path;
  std::unordered_map<size_t, Open> open;  // one per live transfer (bounded by the analyzer)
  std::vector<uint8_t> decoded;
  ~State() {
    for (auto& [id, o] : open) {
      if (o.fd >= 0) ::close(o.fd);
    }
    if (dir >= 0) ::close(dir);
  }
  Open& file(const TransferLog& t);
  void write(Open& o, std::span<const uint8_t> bytes);   // buffered
  void flush(Open& o);
  void write_now(Open& o, std::span<const uint8_t> bytes);
};

Extractor::Extractor(std::unique_ptr<State> s) : s_(std::move(s)) {}
Extractor::~Extractor() = default;
Extractor::Extractor(Extractor&&) noexcept = default;
Extractor& Extractor::operator=(Extractor&&) noexcept = default;

Result<Extractor> Extractor::open(const std::string& dir) {
  if (::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) {
    return make_error("tftp.pcap.extract_dir", dir + ": " + std::strerror(errno));
  }
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return make_error("tftp.pcap.extract_dir", dir + ": " + std::strerror(errno));
  auto s = std::make_unique<State>();
  s->dir = fd;
  s->path = dir;
  return Extractor(std::move(s));
}

Open& Extractor::State::file(const TransferLog& t) {
  auto [it, fresh] = open.try_emplace(t.id);
  Open& o = it->second;
  if (fresh) {
    o.part = numbered(t.id, safe_name(t.filename)) + ".part";
    o.netascii = proto::mode_from_text(t.mode) == proto::Mode::kNetascii;
    // Relative to the directory, never following a link planted under the name.
    o.fd = ::openat(dir, o.part.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (o.fd < 0) o.failed = path + "/" + o.part + ": " + std::strerror(errno);
  }
  return o;
}

void Extractor::State::write(Open& o, std::span<const uint8_t> bytes) {
  if (o.failed) return;
  if (o.pending.capacity() == 0) o.pending.reserve(kWriteBuffer);
  o.pending.insert(o.pending.end(), bytes.begin(), bytes.end());
  if (o.pending.size() >= kWriteBuffer) flush(o);
}

void Extractor::State::flush(Open& o) {
  write_now(o, o.pending);
  o.pending.clear();
}

void Extractor::State::write_now(Open& o, std::span<const uint8_t> bytes) {
  while (!bytes.empty() && !o.failed) {
    const ssize_t n = ::write(o.fd, bytes.data(), bytes.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      o.failed = path + "/" + o.part + ": " + std::strerror(errno);
      return;
    }
    bytes = bytes.subspan(static_cast<size_t>(n));
  }
}

void Extractor::on_content(const TransferLog& t, std::span<const uint8_t> block) {
  Open& o = s_->file(t);
  if (o.failed) return;
  if (!o.netascii) {
    s_->write(o, block);
    return;
  }
  s_->decoded.clear();
  o.decoder.decode(block, s_->decoded);
  s_->write(o, s_->decoded);
}

Result<std::string> Extractor::on_end(const TransferLog& t) {
  if (!s_->open.contains(t.id) && !t.content_complete) return std::string();  // nothing carried
  Open& o = s_->file(t);  // a complete empty file is created here
  if (o.netascii && !o.failed) {
    s_->decoded.clear();
    o.decoder.finish(s_->decoded);
    s_->write(o, s_->decoded);
  }
  s_->flush(o);
  if (o.fd >= 0) ::close(o.fd);
  o.fd = -1;
  const std::string name = numbered(t.id, safe_name(t.filename)) + (t.content_complete ? "" : ".incomplete");
  std::optional<std::string> failed = o.failed;
  if (!failed && ::renameat(s_->dir, o.part.c_str(), s_->dir, name.c_str()) != 0) {
    failed = s_->path + "/" + name + ": " + std::strerror(errno);
  }
  s_->open.erase(t.id);
  if (failed) return make_error("tftp.pcap.extract_write", *failed);
  return name;
}

}  // namespace tftp::pcap
