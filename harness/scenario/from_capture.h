// Captured transfers as the harness can use them again: read with their datagrams from a
// capture (the analyzer finds them), turned into a scenario file that `run` executes
// (`pcap2scenario`), or played again against a server (`replay`).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"
#include "common/time.h"
#include "pcap/analyzer.h"

namespace tftp::scenario {

struct CapturedDatagram {
  bool from_client = true;  // else from the server's TID (or its listening port)
  std::vector<uint8_t> bytes;
  Instant at{};             // capture time
  uint64_t frame = 0;
};

struct CapturedTransfer {
  pcap::TransferLog log;
  // The client's and the server's datagrams in capture order (datagrams from other ports,
  // strays, are left out), the request's retransmissions included.
  std::vector<CapturedDatagram> datagrams;
  bool cut = false;  // more than CaptureSelection::max_datagrams: the rest was not kept
};

struct CaptureSelection {
  std::optional<size_t> transfer;  // only this one (1-based, as `analyze` numbers them)
  std::vector<uint16_t> ports;     // as analyze --port
  // Per transfer, the datagrams kept (a 32 MiB file in 512-byte blocks is 130,000): memory
  // holds the transfers still open in the capture, each at most this many datagrams.
  size_t max_datagrams = 300000;
};

// Each transfer of the capture at `path`, as soon as it has ended, in the order they end.
// Errors: tftp.pcap.open_failed. Returns the capture's statistics (a truncated file is not an
// error: they say where it ended).
Result<pcap::CaptureStats> read_captured_transfers(const std::string& path, const CaptureSelection& selection,
                                                   const std::function<void(CapturedTransfer&&)>& on_transfer);

// A scenario (YAML, the catalogue's format: scenarios/README.md) that plays the client's side
// of `t` and expects the server's answers as captured:
// - every client datagram is sent in order: the request (its retransmissions before the
//   answer left out), ACKs and ERRORs as captured, duplicates included (they are what may
//   provoke a server's bug); an upload's DATA with the captured block numbers and sizes, its
//   bytes the harness's pattern (a server's answers do not depend on them);
// - every new server datagram is expected (retransmissions are skipped, as `expect` skips
//   them): DATA by block and size, its bytes checked against the fixture of that name when
//   the file is one of the harness's fixtures (octet mode), OACK with the captured option
//   values, ERROR by code, ACK by block;
// - a request whose name, mode or options hold bytes outside printable ASCII is sent as RAW
//   bytes (YAML strings cannot carry them exactly), and its DATA is then checked by size only.
// `id` must be a dotted slug; `source` names the capture in the title and citation.
struct ScenarioStyle {
  // Every DATA compared with the captured bytes (`payload:`), and an upload's DATA sent with
  // them: for a target serving the same files (replay --root writes them).
  bool exact = false;
  // The client's datagrams sent after the gaps the capture shows (`wait:` steps); otherwise
  // each goes as soon as the previous step is done.
  bool original_pace = false;
};
std::string scenario_yaml(const CapturedTransfer& t, const std::string& id, const std::string& source,
                          ScenarioStyle style = {});

// The file content a captured RRQ or WRQ carried, its blocks in order (netascii decoded);
// nullopt when a block is missing (the capture does not hold the whole file).
std::optional<std::vector<uint8_t>> captured_content(const CapturedTransfer& t);

// "capture.NAME.tN" from a capture's file name: lower-case, anything but a-z 0-9 as '-'.
std::string scenario_id_for(const std::string& capture_path, size_t transfer);

}  // namespace tftp::scenario
