// Writes each transferred file of a capture into a directory (tftpspec analyze --extract).
// The filename comes from the capture and is hostile: only its last path component is used,
// reduced to safe characters and prefixed with the transfer number, so nothing is written
// outside the directory and two transfers of one name never overwrite each other. A file
// whose blocks are not all in the capture ends in ".incomplete": data is never lost
// silently, nor passed off as whole.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "common/result.h"
#include "pcap/analyzer.h"

namespace tftp::pcap {

// `filename` reduced to [A-Za-z0-9._+-] (others become '_'), its last path component only, no
// leading dot, at most 128 bytes; "unnamed" when nothing is left.
std::string safe_name(std::string_view filename);

class Extractor {
 public:
  // Creates `dir` if it does not exist. Errors: tftp.pcap.extract_dir.
  static Result<Extractor> open(const std::string& dir);
  ~Extractor();
  Extractor(Extractor&&) noexcept;
  Extractor& operator=(Extractor&&) noexcept;

  // A block of the transfer's file, in order, as on the wire (netascii is decoded here).
  void on_content(const TransferLog& t, std::span<const uint8_t> block);
  // Closes the transfer's file under its final name and returns that name (relative to the
  // directory); empty when the transfer carried no content. Errors: tftp.pcap.extract_write.
  Result<std::string> on_end(const TransferLog& t);

 private:
  struct State;
  explicit Extractor(std::unique_ptr<State> s);
  std::unique_ptr<State> s_;
};

}  // namespace tftp::pcap
