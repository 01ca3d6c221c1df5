// The files a target must serve for the catalogue. Content is a pure function of the
// name, so the harness verifies downloads without keeping copies, and `tftpspec fixtures
// DIR` can write the same files anywhere.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
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
// A fixture's bytes, or the canary's (below); nullopt for any other name.
std::optional<std::vector<uint8_t>> fixture_bytes(const std::string& name);
bool is_fixture(const std::string& name);

// The canary for the traversal oracle (RFC 1123 §4.2.3.4): a file planted OUTSIDE a local
// target's root, beside it (ROOT/../tftpspec-canary.bin). Its bytes coming back for a name
// that climbs out of the root prove the escape, where the decoy etc/passwd inside the root
// only tells a chroot from an escape. Scenarios that need it say `needs: [canary]` and
// compare with `content: tftpspec-canary.bin`; the capability exists when `run --root` could
// plant it, and always for the embedded target (whose traversal fault reaches it).
inline constexpr const char* kCanaryName = "tftpspec-canary.bin";

// The planted canary; removes the file on destruction if this run created it (a copy left
// by a killed run, same bytes, is adopted and removed too; other bytes are never touched).
class PlantedCanary {
 public:
  explicit PlantedCanary(std::filesystem::path path) : path_(std::move(path)) {}
  PlantedCanary(const PlantedCanary&) = delete;
  PlantedCanary& operator=(const PlantedCanary&) = delete;
  ~PlantedCanary();
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

// Plants the canary in the directory that holds `root` (the real one: `..` is resolved by
// the kernel from where the root really is, symlinks followed). Fails, saying why, when the
// root is "/", the parent is not writable, or a different file already has the name.
Result<std::unique_ptr<PlantedCanary>> plant_canary(const std::filesystem::path& root);

// Writes every fixture into `dir` (created if missing), replacing stale copies.
Result<size_t> write_fixtures(const std::filesystem::path& dir);

}  // namespace tftp::scenario
