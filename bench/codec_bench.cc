// Microbenchmarks of the wire codec, netascii and the sans-IO engine (Google Benchmark).
// Run: build/release/tftpspec_bench [--benchmark_filter=Parse]
// The floors these should stay near are in ../shared/DESIGN.md ("Measured facts").
#include <benchmark/benchmark.h>

#include <cstdint>
#include <memory>
#include <span>
#include <string_view>
#include <vector>

#include "client/transfer_node.h"
#include "engine/transfer.h"
#include "net/simulation.h"
#include "proto/netascii.h"
#include "proto/packet.h"
#include "server/server_node.h"

namespace tftp {
namespace {

using proto::Opcode;
using proto::Option;

const Option kThreeOptions[] = {{"blksize", "1428"}, {"tsize", "0"}, {"windowsize", "16"}};

std::vector<uint8_t> pattern(size_t n) {
  std::vector<uint8_t> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = static_cast<uint8_t>(i * 7 + i / 251);
  return v;
}

// One packet of each kind, serialised once; the parse benchmarks read these.
std::vector<uint8_t> packet_bytes(Opcode op, size_t data_size = 512) {
  std::vector<uint8_t> buf(proto::kMaxDatagramSize);
  proto::WriteResult n;
  switch (op) {
    case Opcode::kRrq: n = proto::write_request(buf, op, "pxelinux.0", "octet", kThreeOptions); break;
    case Opcode::kWrq: n = proto::write_request(buf, op, "upload/firmware.bin", "octet"); break;
    case Opcode::kData: n = proto::write_data(buf, 4711, pattern(data_size)); break;
    case Opcode::kAck: n = proto::write_ack(buf, 4711); break;
    case Opcode::kError: n = proto::write_error(buf, 1, "File not found"); break;
    case Opcode::kOack: n = proto::write_oack(buf, kThreeOptions); break;
  }
  buf.resize(n.value());
  return buf;
}

// --- parse -----------------------------------------------------------------------------------

void parse_packet(benchmark::State& state, Opcode op, size_t data_size) {
  const auto bytes = packet_bytes(op, data_size);
  for (auto _ : state) {
    auto packet = proto::parse(bytes);
    benchmark::DoNotOptimize(packet);
    if (!packet) state.SkipWithError("parse failed");
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(bytes.size()));
}

// A request is only useful once its options are read: walk them too.
void BM_ParseRrqAndReadOptions(benchmark::State& state) {
  const auto bytes = packet_bytes(Opcode::kRrq);
  for (auto _ : state) {
    auto packet = proto::parse(bytes);
    if (!packet) state.SkipWithError("parse failed");
    const auto& request = std::get<proto::Request>(*packet);
    size_t value_bytes = 0;
    for (const Option o : request.options) value_bytes += o.value.size();
    benchmark::DoNotOptimize(value_bytes);
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(bytes.size()));
}
BENCHMARK(BM_ParseRrqAndReadOptions);

BENCHMARK_CAPTURE(parse_packet, Rrq3Options, Opcode::kRrq, 0);
BENCHMARK_CAPTURE(parse_packet, Wrq, Opcode::kWrq, 0);
BENCHMARK_CAPTURE(parse_packet, Data512, Opcode::kData, 512);
BENCHMARK_CAPTURE(parse_packet, Data65464, Opcode::kData, 65464);
BENCHMARK_CAPTURE(parse_packet, Ack, Opcode::kAck, 0);
BENCHMARK_CAPTURE(parse_packet, Error, Opcode::kError, 0);
BENCHMARK_CAPTURE(parse_packet, Oack3Options, Opcode::kOack, 0);

// --- serialise -------------------------------------------------------------------------------

void BM_WriteRrq3Options(benchmark::State& state) {
  std::vector<uint8_t> buf(proto::kMaxRequestSize);
  for (auto _ : state) {
    auto n = proto::write_request(buf, Opcode::kRrq, "pxelinux.0", "octet", kThreeOptions);
    benchmark::DoNotOptimize(n);
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_WriteRrq3Options);

void BM_WriteWrq(benchmark::State& state) {
  std::vector<uint8_t> buf(proto::kMaxRequestSize);
  for (auto _ : state) {
    auto n = proto::write_request(buf, Opcode::kWrq, "upload/firmware.bin", "octet");
    benchmark::DoNotOptimize(n);
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_WriteWrq);

// DATA: the header plus a copy of the payload into the datagram buffer.
void BM_WriteData(benchmark::State& state) {
  const auto payload = pattern(static_cast<size_t>(state.range(0)));
  std::vector<uint8_t> buf(proto::kMaxDatagramSize);
  uint16_t block = 0;
  for (auto _ : state) {
    auto n = proto::write_data(buf, ++block, payload);
    benchmark::DoNotOptimize(n);
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_WriteData)->Arg(512)->Arg(65464);

void BM_WriteAck(benchmark::State& state) {
  std::vector<uint8_t> buf(4);
  uint16_t block = 0;
  for (auto _ : state) {
    auto n = proto::write_ack(buf, ++block);
    benchmark::DoNotOptimize(n);
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_WriteAck);

void BM_WriteError(benchmark::State& state) {
  std::vector<uint8_t> buf(64);
  for (auto _ : state) {
    auto n = proto::write_error(buf, 1, "File not found");
    benchmark::DoNotOptimize(n);
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_WriteError);

void BM_WriteOack3Options(benchmark::State& state) {
  std::vector<uint8_t> buf(proto::kMaxRequestSize);
  for (auto _ : state) {
    auto n = proto::write_oack(buf, kThreeOptions);
    benchmark::DoNotOptimize(n);
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_WriteOack3Options);

// --- netascii --------------------------------------------------------------------------------

// Text with a newline every 40 bytes on average and an occasional bare CR.
std::vector<uint8_t> text(size_t n) {
  std::vector<uint8_t> v(n);
  for (size_t i = 0; i < n; ++i) {
    v[i] = static_cast<uint8_t>('a' + i % 26);
    if (i % 40 == 39) v[i] = '\n';
    if (i % 997 == 500) v[i] = '\r';
  }
  return v;
}

constexpr size_t kTextSize = 1 << 20;

// Streaming, block by block, as a server encodes a file into 512-byte DATA payloads.
void BM_NetasciiEncode(benchmark::State& state) {
  const auto local = text(kTextSize);
  std::vector<uint8_t> block(512);
  for (auto _ : state) {
    proto::NetasciiEncoder encoder;
    std::span<const uint8_t> rest(local);
    size_t produced = 0;
    while (!rest.empty() || encoder.has_pending()) {
      const auto p = encoder.encode(rest, block);
      rest = rest.subspan(p.consumed);
      produced += p.produced;
      benchmark::DoNotOptimize(block.data());
    }
    benchmark::DoNotOptimize(produced);
  }
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(kTextSize));
}
BENCHMARK(BM_NetasciiEncode);

// Block by block into one growing buffer, as a client writes a netascii download.
void BM_NetasciiDecode(benchmark::State& state) {
  const auto wire = proto::netascii_encode(text(kTextSize));
  std::vector<uint8_t> out;
  out.reserve(wire.size());
  for (auto _ : state) {
    out.clear();
    proto::NetasciiDecoder decoder;
    for (size_t at = 0; at < wire.size(); at += 512) {
      decoder.decode(std::span(wire).subspan(at, std::min<size_t>(512, wire.size() - at)), out);
    }
    decoder.finish(out);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(wire.size()));
}
BENCHMARK(BM_NetasciiDecode);

// --- engine pair -----------------------------------------------------------------------------

// Counts and discards: the benchmark measures the engines, not a growing vector.
class DiscardSink : public engine::ByteSink {
 public:
  explicit DiscardSink(uint64_t* bytes) : bytes_(bytes) {}
  Result<void> write(std::span<const uint8_t> bytes) override {
    *bytes_ += bytes.size();
    return {};
  }
  Result<void> commit() override { return {}; }
  void abort() override {}

 private:
  uint64_t* bytes_;
};

// The reference client downloads 1 MiB from the reference server over the virtual network
// (no loss) in virtual time: the whole cost is the two engines, the codec and the
// simulation's copies. Items are DATA blocks, so the time per item is the cost of one
// block round (DATA + its share of an ACK) through both engines.
void BM_EnginePairDownload1MiB(benchmark::State& state) {
  const size_t blksize = static_cast<size_t>(state.range(0));
  const auto windowsize = static_cast<uint16_t>(state.range(1));
  constexpr size_t kFileSize = 1 << 20;
  server::MemoryFileStore files;
  files.put("f.bin", std::make_shared<const std::vector<uint8_t>>(pattern(kFileSize)));
  std::vector<proto::OwnedOption> options;
  if (blksize != proto::kDefaultBlockSize) options.push_back({"blksize", std::to_string(blksize)});
  if (windowsize != 1) options.push_back({"windowsize", std::to_string(windowsize)});
  uint64_t blocks = 0;
  for (auto _ : state) {
    net::Simulation sim;
    server::ServerNode server(Address::loopback_v4(69), server::ServerConfig{}, files);
    uint64_t received = 0;
    client::TransferNode client(
        Address::loopback_v4(5000),
        engine::Transfer::client_read({}, server.listen(), "f.bin", proto::Mode::kOctet, options,
                                      std::make_unique<DiscardSink>(&received), sim.now()));
    sim.add(server);
    sim.add(client);
    auto result = sim.run([&] { return client.transfer().finished(); });
    if (result.stop != net::RunResult::Stop::kPredicate || received != kFileSize ||
        !client.transfer().outcome() || !client.transfer().outcome()->ok()) {
      state.SkipWithError("transfer did not complete");
      break;
    }
    blocks += client.transfer().stats().blocks;
  }
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(kFileSize));
  state.SetItemsProcessed(static_cast<int64_t>(blocks));
  state.SetLabel("items = DATA blocks");
}
BENCHMARK(BM_EnginePairDownload1MiB)
    ->ArgNames({"blksize", "windowsize"})
    ->Args({512, 1})
    ->Args({1428, 1})
    ->Args({65464, 1})
    ->Args({65464, 16})
    ->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace tftp
