// The files a target must serve for the catalogue. Content is a pure function of the
// name, so the harness verifies downloads without keeping copies, and `tftpspec fixtures
// DIR` can write the same files anywhere.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"

namespace tftp::scenario {

struct FixtureInfo {
  std::string name;
  uint64_t size;
  std::string purpose;
};

const std::vector<FixtureInfo>& fixtures();
std::optional<std::vector<uint8_t>> fixture_bytes(const std::string& name);
bool is_fixture(const std::string& name);

// Writes every fixture into `dir` (created if missing), replacing stale copies.
Result<size_t> write_fixtures(const std::filesystem::path& dir);

}  // namespace tftp::scenario
