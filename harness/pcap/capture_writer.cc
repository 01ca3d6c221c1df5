#include "pcap/capture_writer.h"

#include <cerrno>
#include <cstring>

namespace tftp::pcap {

namespace {

constexpr size_t kFlushAt = 64 * 1024;  // the most a file writer holds before writing out

}  // namespace

std::optional<CaptureFormat> capture_format_named(std::string_view name) {
  if (name == "pcap") return CaptureFormat::kPcap;
  if (name == "pcapng") return CaptureFormat::kPcapng;
  return std::nullopt;
}

CaptureWriter::CaptureWriter(CaptureWriterOptions options) : options_(options) { header(); }

Result<CaptureWriter> CaptureWriter::open(const std::string& path, CaptureWriterOptions options) {
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr) {
    return make_error("tftp.pcap.write_failed", "cannot write the capture " + path + ": " + std::strerror(errno));
  }
  CaptureWriter w(options);
  w.file_ = f;
  w.path_ = path;
  w.flush();
  if (w.error_) return tl::unexpected(*w.error_);
  return w;
}

CaptureWriter::~CaptureWriter() {
  if (file_ != nullptr) (void)close();
}

CaptureWriter::CaptureWriter(CaptureWriter&& o) noexcept
    : options_(o.options_), out_(std::move(o.out_)), file_(std::exchange(o.file_, nullptr)), path_(std::move(o.path_)),
      error_(std::move(o.error_)), frames_(o.frames_), ip_id_(o.ip_id_) {}

CaptureWriter& CaptureWriter::operator=(CaptureWriter&& o) noexcept {
  if (this != &o) {
    if (file_ != nullptr) (void)close();
    options_ = o.options_;
    out_ = std::move(o.out_);
    file_ = std::exchange(o.file_, nullptr);
    path_ = std::move(o.path_);
    error_ = std::move(o.error_);
    frames_ = o.frames_;
    ip_id_ = o.ip_id_;
  }
  return *this;
}

void CaptureWriter::header() {
  const auto linktype = static_cast<uint32_t>(options_.linktype);
  if (options_.format == CaptureFormat::kPcap) {
    // magic, version 2.4, thiszone, sigfigs, snaplen, network
    out_.le32(0xa1b2c3d4).le16(2).le16(4).le32(0).le32(0).le32(options_.snaplen).le32(linktype);
    return;
  }
  // pcapng: a Section Header Block (byte-order magic, version 1.0, section length unknown)
  // and one Interface Description Block without options (microsecond timestamps).
  out_.le32(0x0a0d0d0a).le32(28).le32(0x1a2b3c4d).le16(1).le16(0).le32(0xffffffff).le32(0xffffffff).le32(28);
  out_.le32(1).le32(20).le16(static_cast<uint16_t>(linktype)).le16(0).le32(options_.snaplen).le32(20);
}

uint64_t CaptureWriter::frame(std::span<const uint8_t> bytes, Instant at) {
  const auto us = static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(at.time_since_epoch()).count());
  const size_t caplen = std::min<size_t>(bytes.size(), options_.snaplen);
  if (options_.format == CaptureFormat::kPcap) {
    out_.le32(static_cast<uint32_t>(us / 1000000)).le32(static_cast<uint32_t>(us % 1000000));
    out_.le32(static_cast<uint32_t>(caplen)).le32(static_cast<uint32_t>(bytes.size())).add(bytes.first(caplen));
  } else {
    // An Enhanced Packet Block: interface 0, the timestamp in two halves, padded to 32 bits.
    const size_t padded = (caplen + 3) / 4 * 4;
    const auto total = static_cast<uint32_t>(32 + padded);
    out_.le32(6).le32(total).le32(0).le32(static_cast<uint32_t>(us >> 32)).le32(static_cast<uint32_t>(us));
    out_.le32(static_cast<uint32_t>(caplen)).le32(static_cast<uint32_t>(bytes.size())).add(bytes.first(caplen));
    out_.zeros(padded - caplen).le32(total);
  }
  flush_if_large();
  return ++frames_;
}

Result<uint64_t> CaptureWriter::datagram(const Address& from, const Address& to, std::span<const uint8_t> payload, Instant at) {
  if (!from.is_specified() || from.family() != to.family()) {
    return make_error("tftp.pcap.address_family", "cannot capture a datagram from " + from.to_string() + " to " + to.to_string() +
                                                      ": both ends must be IPv4 or both IPv6");
  }
  const size_t limit = from.is_v6() ? 65535 - 8 : 65535 - 20 - 8;
  if (payload.size() > limit) {
    return make_error("tftp.pcap.datagram_too_large", "a " + std::to_string(payload.size()) +
                                                          "-byte datagram does not fit one IP packet (at most " +
                                                          std::to_string(limit) + " bytes)");
  }
  if (options_.linktype != kLinkRaw && options_.linktype != kLinkEthernet) {
    return make_error("tftp.pcap.unsupported_link_type",
                      "datagrams are written with link type raw IP (101) or Ethernet (1), not " + std::to_string(options_.linktype));
  }
  const auto udp = udp_header_and_payload(from, to, payload);
  const auto ip = from.is_v6() ? ipv6_packets(from, to, udp) : ipv4_packets(from, to, udp, ++ip_id_);
  if (options_.linktype == kLinkRaw) return frame(ip.front(), at);
  return frame(link_frame(options_.linktype, ip.front()), at);
}

void CaptureWriter::flush_if_large() {
  if (file_ != nullptr && out_.vec().size() >= kFlushAt) flush();
}

void CaptureWriter::flush() {
  if (file_ == nullptr) return;
  auto& v = out_.vec();
  if (!error_ && !v.empty() && std::fwrite(v.data(), 1, v.size(), file_) != v.size()) {
    error_ = Error{"tftp.pcap.write_failed", "cannot write the capture " + path_ + ": " + std::strerror(errno)};
  }
  v.clear();
}

Result<void> CaptureWriter::close() {
  if (file_ == nullptr) {
    if (error_) return tl::unexpected(*error_);
    return {};
  }
  flush();
  if (std::fclose(std::exchange(file_, nullptr)) != 0 && !error_) {
    error_ = Error{"tftp.pcap.write_failed", "cannot write the capture " + path_ + ": " + std::strerror(errno)};
  }
  if (error_) return tl::unexpected(*error_);
  return {};
}

}  // namespace tftp::pcap
