// Writes a synthetic capture of TFTP reads for the analysis benchmark (bench/pcap_bench.sh):
// transfers of 100 blocks of 512 bytes, each acknowledged, from many clients over Ethernet.
// Usage: make_tftp_capture OUT.pcap [PACKETS]   (default 200000)
#include <cstdio>
#include <cstdlib>
#include <string>

#include "pcap/capture_writer.h"
#include "proto/packet.h"

int main(int argc, char** argv) {
  using namespace tftp;
  using namespace tftp::pcap;
  if (argc < 2) {
    std::fprintf(stderr, "usage: make_tftp_capture OUT.pcap [PACKETS]\n");
    return 2;
  }
  const size_t target = argc > 2 ? std::strtoull(argv[2], nullptr, 10) : 200000;
  std::FILE* out = std::fopen(argv[1], "wb");
  if (out == nullptr) {
    std::perror(argv[1]);
    return 2;
  }
  CaptureWriter cap(kLinkEthernet);
  Instant t = Instant{} + std::chrono::seconds(1'700'000'000);
  size_t packets = 0;
  uint16_t ip_id = 0;
  auto send = [&](const Address& from, const Address& to, std::span<const uint8_t> payload) {
    t += std::chrono::microseconds(50);
    const auto ip = ipv4_packets(from, to, udp_header_and_payload(from, to, payload), ++ip_id)[0];
    cap.frame(link_frame(kLinkEthernet, ip), t);
    ++packets;
  };
  std::vector<uint8_t> block(512, 'x');
  std::vector<uint8_t> buf(600);
  for (uint32_t n = 0;; ++n) {
    if (packets >= target) break;  // `send` counts them (a loop condition would hide that)
    const Address client = Address::ipv4(0x0a000000 + (n % 250) + 1, static_cast<uint16_t>(20000 + n % 40000));
    const Address listen = Address::ipv4(0x0a0000fe, 69);
    const Address tid = listen.with_port(static_cast<uint16_t>(30000 + n % 30000));
    const std::string name = "file" + std::to_string(n) + ".bin";
    send(client, listen, std::span<const uint8_t>(buf.data(), *proto::write_request(buf, proto::Opcode::kRrq, name, "octet", {})));
    for (uint16_t b = 1; b <= 100; ++b) {
      const size_t size = b == 100 ? 100 : 512;  // the last block is short
      send(tid, client, std::span<const uint8_t>(buf.data(), *proto::write_data(buf, b, std::span(block).first(size))));
      send(client, tid, std::span<const uint8_t>(buf.data(), *proto::write_ack(buf, b)));
    }
    const auto bytes = cap.drain();
    std::fwrite(bytes.data(), 1, bytes.size(), out);
  }
  std::fclose(out);
  std::printf("%zu packets\n", packets);
  return 0;
}
