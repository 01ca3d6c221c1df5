// The report of `tftpspec load` (schema: reports/tftpspec-load.schema.json): one step per
// crowd size (one step, or several with --ramp), each with its throughput, latency
// percentiles, retransmissions and failures by cause.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "client/load.h"

namespace tftp::report {

inline constexpr const char* kLoadSchemaId = "https://tftpspec.dev/schema/load-1.json";

struct LoadStep {
  size_t clients = 0;
  client::LoadRun run;
};

struct LoadReport {
  std::string version;    // of tftpspec
  std::string target;     // HOST:PORT
  std::string file;
  bool upload = false;
  std::string started;    // UTC, ISO 8601
  // As asked for (absent: not asked).
  size_t clients = 0;
  std::optional<uint64_t> rounds;
  std::optional<double> duration_seconds;
  double loss = 0;
  double duplicate = 0;
  std::optional<size_t> blksize;
  std::optional<uint16_t> windowsize;
  uint64_t seed = 0;
  bool ramp = false;
  std::vector<LoadStep> steps;
  // --ramp: the smallest crowd at which a transfer failed, and the largest that all passed.
  std::optional<size_t> first_failure_clients;
  std::optional<size_t> last_good_clients;
  bool interrupted = false;
  uint64_t peak_rss_kib = 0;  // of the load generator (getrusage)
};

// MiB (2^20 bytes) of content per second of the step.
double throughput_mib_s(uint64_t bytes, Duration elapsed);
std::string load_report_json(const LoadReport& report);

}  // namespace tftp::report
