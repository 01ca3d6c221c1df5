#include "scenario/fixtures.h"

#include <fstream>
#include <iterator>

#include "common/atomic_file.h"
#include "common/hash.h"

namespace tftp::scenario {

namespace {

constexpr const char* kWorldWritableFixture = "world-writable.bin";

std::vector<uint8_t> pattern(const std::string& name, uint64_t size) {
  uint64_t x = fnv1a(name);  // the name's hash seeds xorshift64
  std::vector<uint8_t> out(size);
  for (auto& b : out) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    b = static_cast<uint8_t>(x >> 24);
  }
  return out;
}

// Local text whose netascii encoding puts a CR as the last byte of block 1 (the LF
// starts block 2) and a bare CR's CR NUL across the end of block 2 (RFC 1350 §1,
// FreeBSD PR 178055).
std::vector<uint8_t> netascii_text() {
  std::string text(511, 'A');
  text += '\n';               // encoded CR at offset 511, LF at 512
  text += std::string(510, 'B');
  text += '\r';               // encoded CR at offset 1023, NUL at 1024
  text += "tail line\nlast line without newline";
  return {text.begin(), text.end()};
}

}  // namespace

const std::vector<FixtureInfo>& fixtures() {
  static const std::vector<FixtureInfo> kAll = {
      {"f0.bin", 0, "empty file: the first DATA is empty"},
      {"f1.bin", 1, "one byte; used by sanity and discovery probes"},
      {"f511.bin", 511, "one byte short of a block"},
      {"f512.bin", 512, "exactly one block: a zero-length DATA 2 must follow"},
      {"f513.bin", 513, "one byte over a block"},
      {"f1024.bin", 1024, "two full blocks"},
      {"f3000.bin", 3000, "several blocks, short final block"},
      {"f65464.bin", 65464, "exactly one block at the largest blksize"},
      {"f1m.bin", 1 << 20, "1 MiB, a multiple of every power-of-two blksize"},
      {"rollover.bin", 600000, "75000 blocks at blksize 8: the block number wraps past 65535"},
      {"netascii.txt", netascii_text().size(), "text with CR and LF at block boundaries"},
      // The one fixture below the root: PXE loaders fetch names like pxelinux.cfg/default,
      // and the path scenarios spell this name in other ways (a leading slash, x/../y, a backslash).
      {"sub/f511.bin", 511, "in a subdirectory: a name with a '/' inside"},
      // A decoy for the traversal oracle: a reply to ../../etc/passwd or /etc/passwd that
      // carries these bytes stayed inside the root (a chroot), any other bytes did not.
      // Empty and world-writable (0666 when the harness writes it): a WRQ onto it shows the
      // server's overwrite policy, and an accepted empty upload leaves it as it was.
      {"world-writable.bin", 0, "existing and writable by anyone: what a WRQ onto it does is the server's policy"},
      {"etc/passwd", 600, "decoy inside the root: the traversal scenarios tell a chroot from an escape by it"},
  };
  return kAll;
}

bool is_fixture(const std::string& name) {
  for (const auto& f : fixtures()) {
    if (f.name == name) return true;
  }
  return false;
}

namespace {

// Text a person recognises in a capture or a hex dump, then bytes no file has by chance.
std::vector<uint8_t> canary_content() {
  const std::string text =
      "tftpspec canary: planted outside the TFTP server's root. A client that read this read outside the root.\n";
  std::vector<uint8_t> out(text.begin(), text.end());
  const auto tail = pattern(kCanaryName, 64);
  out.insert(out.end(), tail.begin(), tail.end());
  return out;
}

}  // namespace

std::optional<std::vector<uint8_t>> fixture_bytes(const std::string& name) {
  if (name == "netascii.txt") return netascii_text();
  if (name == kCanaryName) return canary_content();
  for (const auto& f : fixtures()) {
    if (f.name == name) return pattern(name, f.size);
  }
  return std::nullopt;
}

Result<size_t> write_fixtures(const std::filesystem::path& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return make_error("tftp.fixtures.mkdir_failed", "cannot create " + dir.string() + ": " + ec.message());
  size_t count = 0;
  for (const auto& f : fixtures()) {
    const auto bytes = *fixture_bytes(f.name);
    const auto path = dir / f.name;
    std::filesystem::create_directories(path.parent_path(), ec);  // sub/f511.bin
    if (ec) return make_error("tftp.fixtures.mkdir_failed", "cannot create " + path.parent_path().string() + ": " + ec.message());
    if (auto written = write_file_atomic(path, std::span<const uint8_t>(bytes)); !written) {
      return make_error("tftp.fixtures.write_failed", written.error().message);
    }
    // Readable by a server running as another user, whatever our umask; the world-writable
    // fixture writable by anyone (rfc1350.request.wrq-world-writable-existing).
    using std::filesystem::perms;
    perms mode = perms::owner_read | perms::owner_write | perms::group_read | perms::others_read;
    if (f.name == kWorldWritableFixture) mode |= perms::group_write | perms::others_write;
    std::filesystem::permissions(path, mode, ec);
    ++count;
  }
  return count;
}

PlantedCanary::~PlantedCanary() {
  std::error_code ec;
  std::filesystem::remove(path_, ec);  // best effort: a run must not fail on its way out
}

Result<std::unique_ptr<PlantedCanary>> plant_canary(const std::filesystem::path& root) {
  std::error_code ec;
  const auto real = std::filesystem::canonical(root, ec);
  if (ec) return make_error("tftp.fixtures.canary_failed", "cannot resolve " + root.string() + ": " + ec.message());
  if (real == real.root_path()) {
    return make_error("tftp.fixtures.canary_failed", "the root is /: nothing is outside it to plant a canary in");
  }
  const auto path = real.parent_path() / kCanaryName;
  const auto bytes = canary_content();
  if (std::filesystem::exists(path, ec)) {
    std::ifstream in(path, std::ios::binary);
    const std::vector<uint8_t> there((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (there != bytes) {
      return make_error("tftp.fixtures.canary_failed",
                        path.string() + " exists and is not tftpspec's canary: left alone, no canary planted");
    }
  }
  if (auto written = write_file_atomic(path, std::span<const uint8_t>(bytes)); !written) {
    return make_error("tftp.fixtures.canary_failed", "cannot plant the canary: " + written.error().message);
  }
  // Readable by a server running as another user: only then does its absence prove anything.
  using std::filesystem::perms;
  std::filesystem::permissions(path, perms::owner_read | perms::owner_write | perms::group_read | perms::others_read, ec);
  return std::make_unique<PlantedCanary>(path);
}

}  // namespace tftp::scenario
