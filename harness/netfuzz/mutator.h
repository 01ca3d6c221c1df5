// The network fuzzer's case generator, without I/O: CaseDriver plays a TFTP client that
// follows the target's answers (OACK, DATA, ACK, ERROR) and, at one protocol state chosen
// from the seed, sends a mutation instead of the valid packet. States: the request (opcode,
// filename, mode, option names, values, counts and lengths, missing NULs, truncation), the
// answer to an OACK (RFC 2347: ACK 0 or DATA 1), and mid-transfer DATA/ACK (block numbers,
// sizes, opcodes, truncation), for RRQ and WRQ. Given the same seed, case number and
// replies, it sends the same bytes: a campaign is reproducible against the same behaviour.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "netfuzz/case.h"
#include "netfuzz/rng.h"
#include "proto/options.h"

namespace tftp::netfuzz {

struct MutatorConfig {
  std::string read_file = "f3000.bin";        // RRQ cases ask for it (several blocks; any answer will do)
  // WRQ cases upload to PREFIX-N.bin, N the case number: a new name each time, since a
  // server may refuse to overwrite (each upload is at most 3000 bytes).
  std::string write_prefix = "tftpspec-fuzz";
  bool writes = true;                         // generate WRQ cases
  size_t max_datagrams = 8;                   // per case, after which it ends
};

class CaseDriver {
 public:
  CaseDriver(uint64_t seed, uint64_t number, MutatorConfig config);

  // The next datagram to send. `reply`: what the target answered to the last datagram that
  // awaited one (nullopt: nothing came in time, or this is the first call). nullopt: the
  // case is over.
  std::optional<Datagram> next(std::optional<std::span<const uint8_t>> reply);

  // The case so far: its state, mutation and every datagram returned by next().
  const Case& current() const { return case_; }

 private:
  enum class Target { kRequest, kAfterOack, kMidTransfer, kNone };
  std::optional<Datagram> emit(Datagram d);
  std::optional<Datagram> finish(bool cleanup);
  std::vector<uint8_t> upload_block(uint16_t block) const;
  void mutate(std::vector<uint8_t> valid, const char* state);

  Rng rng_;
  MutatorConfig config_;
  Case case_;
  bool rrq_ = true;
  Target target_ = Target::kNone;
  std::vector<proto::OwnedOption> options_;
  size_t mutate_after_ = 1;   // mid-transfer: mutate the answer to this in-transfer reply
  int tail_ = 0;              // valid datagrams after the mutation
  bool mutated_ = false;
  bool started_ = false;
  bool server_known_ = false;
  bool ended_ = false;
  size_t replies_ = 0;        // in-transfer replies seen
  size_t blksize_ = 512;
  size_t upload_size_ = 0;
  std::deque<Datagram> pending_;
};

// The mutations, usable on their own (tests, a corpus): each returns the datagram(s) and
// appends a label naming what it did.
std::vector<uint8_t> mutate_request(Rng& rng, bool rrq, const std::string& file,
                                    const std::vector<proto::OwnedOption>& options, std::string& label);
// `valid` is the packet the client should send now (ACK n or DATA n); the result may hold
// several datagrams (a duplicate, a stray request).
std::vector<Datagram> mutate_packet(Rng& rng, const std::vector<uint8_t>& valid, size_t blksize, std::string& label);

}  // namespace tftp::netfuzz
