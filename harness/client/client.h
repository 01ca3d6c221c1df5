// The reference client: one transfer over one UDP socket, in the caller's thread.
#pragma once

#include <atomic>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/address.h"
#include "engine/transfer.h"

namespace tftp::client {

struct Request {
  Address server;  // where the RRQ/WRQ goes (port 69 by default)
  std::string remote;
  proto::Mode mode = proto::Mode::kOctet;
  std::vector<proto::OwnedOption> options;  // as sent, e.g. {"blksize","1024"}
  engine::TransferConfig transfer;
};

// Builds the option list from the usual knobs (RFC 2348/2349/7440).
std::vector<proto::OwnedOption> make_options(std::optional<size_t> blksize, std::optional<uint16_t> windowsize,
                                             std::optional<uint64_t> tsize, std::optional<int> timeout_seconds);

struct Report {
  engine::Outcome outcome;
  engine::TransferStats stats;
  engine::TransferParams params;
  Duration elapsed{};
};

// Runs the transfer to its end. The error result is for local failures before the
// transfer could start (no socket); protocol failures are in Report::outcome.
// `cancel` (optional) aborts the transfer with ERROR 0 when it becomes true.
Result<Report> download(const Request& request, std::unique_ptr<engine::ByteSink> sink,
                        const std::atomic<bool>* cancel = nullptr);
Result<Report> upload(const Request& request, std::unique_ptr<engine::ByteSource> source,
                      const std::atomic<bool>* cancel = nullptr);

}  // namespace tftp::client
