// A boot storm: many reference-client transfers at once against one server, each on its own
// real UDP socket (its TID), all driven by one epoll loop in the caller's thread, not a
// thread per client. Every transfer is verified by the XXH3-64 digest of its content.
//
// Memory: per transfer in flight, one Transfer (its window of blocks), one socket and one
// digest state; per finished transfer, its latency (8 bytes) and, when it failed, a count
// under its cause. Nothing holds a file's content.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/address.h"
#include "common/hash.h"
#include "common/result.h"
#include "engine/transfer.h"
#include "net/virtual_network.h"

namespace tftp::client {

// What every transfer of a load run is checked against: the XXH3-64 digest of its content.
using ::tftp::content_digest;

struct LoadConfig {
  Address server;
  std::string remote;  // downloaded by every client; uploads go to `remote` + "." + client index
  size_t clients = 1;
  // Transfers each client makes one after the other; with a duration, as many as fit.
  uint64_t rounds = 1;
  // When set, rounds are unbounded and no transfer starts once it has passed.
  std::optional<Duration> duration;
  bool upload = false;
  // Upload: what every client sends. Download: unused.
  std::shared_ptr<const std::vector<uint8_t>> upload_content;
  std::vector<proto::OwnedOption> options;
  engine::TransferConfig transfer;
  // Applied at the clients' sockets to every datagram, sent or received (net::roll_faults).
  net::FaultProfile faults;
  uint64_t seed = 1;
  // Download: the digest every copy must have. Unset: the first successful download's
  // digest becomes the reference for the others.
  std::optional<uint64_t> expected_digest;
  // Upload: reads the server's copy back (e.g. from its root on this machine) and returns
  // its digest, or nullopt when it cannot. Unset: an upload is judged by its outcome alone.
  std::function<std::optional<uint64_t>(const std::string& remote)> uploaded_digest;
};

// Nearest-rank percentiles of transfer latencies.
struct LatencySummary {
  size_t count = 0;
  Duration p50{}, p95{}, p99{}, max{}, mean{};
};
// The smallest latency that at least `fraction` (0..1] of the sample is at or below
// (nearest rank); zero for an empty sample. Reorders `sample`.
Duration percentile(std::vector<Duration>& sample, double fraction);
LatencySummary summarize(std::vector<Duration> sample);

// What a load run counted, summed over its transfers.
struct LoadTally {
  uint64_t started = 0;
  uint64_t succeeded = 0;  // completed AND verified
  uint64_t failed = 0;
  uint64_t verified = 0;  // content checked against a digest
  uint64_t bytes = 0;     // payload delivered by successful transfers
  uint64_t retransmissions = 0;          // the clients' own, on timeout (DATA on upload, ACK on download)
  uint64_t request_retransmissions = 0;  // RRQ/WRQ re-sent for want of a reply
  uint64_t duplicates_received = 0;      // DATA (download) or ACKs (upload) seen twice: the server's retransmissions
  uint64_t timeouts = 0;
  uint64_t injected_losses = 0;      // datagrams the fault layer dropped
  uint64_t injected_duplicates = 0;  // datagrams the fault layer doubled
  std::map<std::string, uint64_t> failures;  // cause -> transfers
  std::vector<Duration> latencies;           // of successful transfers: request sent to last DATA/ACK
};

struct LoadProgress {
  uint64_t started = 0, succeeded = 0, failed = 0, active = 0, bytes = 0;
  Duration elapsed{};
};

struct LoadRun {
  LoadTally tally;
  Duration elapsed{};   // first request to the last transfer's outcome
  bool interrupted = false;
  std::optional<uint64_t> reference_digest;  // download: what copies were checked against
};

// Runs the storm to its end (or until *cancel). `progress` is called about every 200 ms.
// The error result is for local failures (no event loop); a socket that cannot be opened
// for one transfer fails that transfer with its cause.
Result<LoadRun> run_load(const LoadConfig& config, const std::function<void(const LoadProgress&)>& progress = {},
                         const std::atomic<bool>* cancel = nullptr);

}  // namespace tftp::client
