// Runs one scenario's steps against a target through a Wire and judges the result,
// combining the steps' verdict with the rule engine's findings.
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>

#include "report/model.h"
#include "scenario/model.h"
#include "scenario/wire.h"

namespace tftp::scenario {

// What discovery learned about the target before the run.
struct TargetProfile {
  Duration rto = std::chrono::seconds(1);   // its first retransmission timeout (measured)
  Duration srto = std::chrono::seconds(1);  // its timeout mid-transfer (measured; see Wait)
  std::optional<Duration> rtt;     // median round trip (measured; nullopt: no sample)
  std::optional<Duration> jitter;  // spread of the round-trip samples
  Duration resolve(const Wait& w) const { return w.resolve(rto, srto); }
  std::set<std::string> capabilities;      // write, options, blksize, windowsize, tsize, timeout, netascii
  std::map<std::string, std::string> fixture_problems;  // fixture -> "missing (...)", "different (...)"
};

// The reason of every scenario an interrupt kept from finishing (verdict error): the
// runner, the interpreter and the CLI's last-resort report all say it the same way.
inline constexpr const char* kInterruptedReason = "interrupted: the run was stopped before this scenario finished";

// `unique` makes upload names distinct across runs and scenarios; `cancel` (optional)
// ends the scenario early with verdict error when it becomes true.
report::ScenarioResult run_scenario(const Scenario& scenario, Wire& wire, const TargetProfile& profile,
                                    const std::string& unique, const std::atomic<bool>* cancel = nullptr);

// Runs a whole transfer with the reference client engine over the wire until it ends, the
// deadline passes or `cancel` turns true (nullopt). `socket` is the client's TID;
// datagrams reaching the other socket are ignored. `send` (optional) replaces wire.send,
// e.g. to drop or duplicate what the harness sends.
using SendFunction = std::function<void(const Address& to, std::span<const uint8_t> bytes)>;
std::optional<engine::Outcome> drive_transfer(Wire& wire, engine::Transfer& transfer, Socket socket, Instant deadline,
                                              const std::atomic<bool>* cancel, const SendFunction& send);

// Runs the transfers side by side, transfer i on sockets[i], until all end, the deadline
// passes or `cancel` turns true. Outcome i is nullopt for a transfer that had not ended.
std::vector<std::optional<engine::Outcome>> drive_transfers(Wire& wire, std::span<engine::Transfer> transfers,
                                                            std::span<const Socket> sockets, Instant deadline,
                                                            const std::atomic<bool>* cancel);

// What a download of `fixture` may deliver before it is cut off as a transfer that does not
// end: the fixture and one largest block more, so a file served slightly too long is still
// judged on its bytes.
size_t download_limit(const std::optional<std::vector<uint8_t>>& fixture);

// Downloads `file` in octet mode with the reference client (discovery checks fixtures this way),
// keeping at most `limit` bytes (see download_limit).
struct Fetched {
  std::optional<engine::Outcome> outcome;  // nullopt: not finished within the budget
  std::vector<uint8_t> bytes;
};
Fetched fetch(Wire& wire, const std::string& file, const std::vector<proto::OwnedOption>& options, Duration rto,
              Duration budget, size_t limit, const std::atomic<bool>* cancel);

// The scenario's fields copied into a result (verdict still pass).
report::ScenarioResult result_header(const Scenario& scenario);

}  // namespace tftp::scenario
