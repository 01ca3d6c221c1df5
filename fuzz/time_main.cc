// Times a fuzz target's own code per input, without libFuzzer's loop around it:
//   fuzz_packet_time ROUNDS DIR_OR_FILE...
// Loads every input (directories walked recursively) into memory, runs each once to warm
// up, then ROUNDS times over all of them, and prints the mean time per input. Built in the
// fuzz-nosan preset only, against libFuzzer's runtime without its main
// (libclang_rt.fuzzer_no_main): the coverage counters and the comparison hooks cost what
// they cost in a campaign. What it leaves out is libFuzzer's own work per execution
// (mutating, collecting features, the entropic schedule): an empty target measures the
// floor of that (bench/RESULTS.md, "libFuzzer speed, second pass").
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace fs = std::filesystem;

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: %s ROUNDS CORPUS_DIR_OR_FILE...\n", argv[0]);
    return 2;
  }
  const long rounds = std::strtol(argv[1], nullptr, 10);
  if (rounds < 1) {
    std::fprintf(stderr, "ROUNDS must be a positive number, not %s\n", argv[1]);
    return 2;
  }
  std::vector<std::vector<uint8_t>> inputs;
  size_t bytes = 0;
  const auto load = [&](const fs::path& path) {
    std::ifstream file(path, std::ios::binary);
    inputs.emplace_back((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
    bytes += inputs.back().size();
  };
  for (int i = 2; i < argc; ++i) {
    std::error_code ec;
    if (fs::is_directory(argv[i], ec)) {
      for (const auto& entry : fs::recursive_directory_iterator(argv[i])) {
        if (entry.is_regular_file()) load(entry.path());
      }
    } else if (fs::is_regular_file(argv[i], ec)) {
      load(argv[i]);
    } else {
      std::fprintf(stderr, "no such file or directory: %s\n", argv[i]);
      return 2;
    }
  }
  if (inputs.empty()) {
    std::fprintf(stderr, "no inputs found\n");
    return 2;
  }
  for (const auto& in : inputs) LLVMFuzzerTestOneInput(in.data(), in.size());
  const auto start = std::chrono::steady_clock::now();
  for (long r = 0; r < rounds; ++r) {
    for (const auto& in : inputs) LLVMFuzzerTestOneInput(in.data(), in.size());
  }
  const std::chrono::duration<double> took = std::chrono::steady_clock::now() - start;
  const double runs = static_cast<double>(rounds) * static_cast<double>(inputs.size());
  std::printf("%zu inputs (mean %.0f bytes) x %ld rounds: %.3f s, %.2f us per input (%.0f inputs/s)\n",
              inputs.size(), static_cast<double>(bytes) / static_cast<double>(inputs.size()), rounds,
              took.count(), took.count() / runs * 1e6, runs / took.count());
  return 0;
}
