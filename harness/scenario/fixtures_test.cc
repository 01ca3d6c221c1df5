#include "scenario/fixtures.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>
#include <iterator>

namespace tftp::scenario {
namespace {

TEST(Fixtures, WritesTheSubdirectoryFixtureInItsDirectory) {
  const auto dir = std::filesystem::temp_directory_path() / ("tftpspec-fixtures-" + std::to_string(::getpid()));
  ASSERT_TRUE(write_fixtures(dir));
  std::ifstream in(dir / "sub" / "f511.bin", std::ios::binary);
  const std::vector<uint8_t> bytes{std::istreambuf_iterator<char>(in), {}};
  EXPECT_EQ(bytes, *fixture_bytes("sub/f511.bin"));
  EXPECT_NE(bytes, *fixture_bytes("f511.bin"));  // content is a function of the whole name
  EXPECT_FALSE(std::filesystem::exists(dir / "sub" / ".f511.bin.tmp"));
  std::filesystem::remove_all(dir);
}

// The world-writable fixture is what makes rfc1350.request.wrq-world-writable-existing mean
// anything; the others stay writable by their owner only.
TEST(Fixtures, WritesTheWorldWritableFixtureWritableByAnyoneAndTheDecoyInEtc) {
  const auto dir = std::filesystem::temp_directory_path() / ("tftpspec-fixtures-ww-" + std::to_string(::getpid()));
  ASSERT_TRUE(write_fixtures(dir));
  using std::filesystem::perms;
  const auto ww = std::filesystem::status(dir / "world-writable.bin").permissions();
  EXPECT_NE(ww & perms::others_write, perms::none);
  EXPECT_EQ(std::filesystem::file_size(dir / "world-writable.bin"), 0u);
  EXPECT_EQ(std::filesystem::status(dir / "f511.bin").permissions() & perms::others_write, perms::none);
  std::ifstream in(dir / "etc" / "passwd", std::ios::binary);
  const std::vector<uint8_t> bytes{std::istreambuf_iterator<char>(in), {}};
  EXPECT_EQ(bytes, *fixture_bytes("etc/passwd"));
  std::filesystem::remove_all(dir);
}

std::vector<uint8_t> read_all(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

// The canary goes beside the real root (a symlinked root's ".." is the target's parent, as
// the kernel resolves it), is never a file inside the root, and goes away with its guard.
TEST(Canary, IsPlantedBesideTheRealRootAndRemovedAfterTheRun) {
  const auto base = std::filesystem::temp_directory_path() / ("tftpspec-canary-" + std::to_string(::getpid()));
  std::filesystem::remove_all(base);
  ASSERT_TRUE(write_fixtures(base / "real" / "root"));
  std::filesystem::create_directory_symlink(base / "real" / "root", base / "link");
  {
    auto planted = plant_canary(base / "link");
    ASSERT_TRUE(planted) << planted.error().message;
    EXPECT_EQ((*planted)->path(), base / "real" / kCanaryName);
    EXPECT_EQ(read_all(base / "real" / kCanaryName), *fixture_bytes(kCanaryName));
    EXPECT_FALSE(std::filesystem::exists(base / "real" / "root" / kCanaryName));
    EXPECT_FALSE(is_fixture(kCanaryName));
  }
  EXPECT_FALSE(std::filesystem::exists(base / "real" / kCanaryName));
  std::filesystem::remove_all(base);
}

TEST(Canary, LeavesAForeignFileOfItsNameAloneAndRefusesTheFilesystemRoot) {
  const auto base = std::filesystem::temp_directory_path() / ("tftpspec-canary-foreign-" + std::to_string(::getpid()));
  std::filesystem::remove_all(base);
  std::filesystem::create_directories(base / "root");
  std::ofstream(base / kCanaryName) << "someone else's file";
  const auto refused = plant_canary(base / "root");
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().message.find("not tftpspec's canary"), std::string::npos) << refused.error().message;
  EXPECT_EQ(read_all(base / kCanaryName), (std::vector<uint8_t>{'s', 'o', 'm', 'e', 'o', 'n', 'e', ' ', 'e', 'l', 's', 'e',
                                                                 '\'', 's', ' ', 'f', 'i', 'l', 'e'}));
  // A canary left by a killed run (the same bytes) is taken over, and removed this time.
  std::filesystem::remove(base / kCanaryName);
  {
    const auto left = *fixture_bytes(kCanaryName);
    std::ofstream(base / kCanaryName, std::ios::binary).write(reinterpret_cast<const char*>(left.data()),
                                                               static_cast<std::streamsize>(left.size()));
  }
  { auto again = plant_canary(base / "root"); ASSERT_TRUE(again) << again.error().message; }
  EXPECT_FALSE(std::filesystem::exists(base / kCanaryName));
  const auto slash = plant_canary("/");
  ASSERT_FALSE(slash);
  EXPECT_NE(slash.error().message.find("the root is /"), std::string::npos);
  std::filesystem::remove_all(base);
}

}  // namespace
}  // namespace tftp::scenario
