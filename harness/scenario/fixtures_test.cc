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

}  // namespace
}  // namespace tftp::scenario
