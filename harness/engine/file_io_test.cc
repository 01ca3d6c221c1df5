#include "engine/file_io.h"

#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

namespace tftp::engine {
namespace {

std::vector<uint8_t> pattern(size_t n) {
  std::vector<uint8_t> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = static_cast<uint8_t>(i * 7 + i / 251);
  return v;
}

class FdSourceTest : public ::testing::TestWithParam<size_t> {
 protected:
  std::filesystem::path write_file(const std::vector<uint8_t>& bytes) {
    path_ = std::filesystem::temp_directory_path() /
            ("tftpspec-fd-source-" + std::to_string(::getpid()) + "-" + std::to_string(GetParam()));
    std::ofstream(path_, std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()),
                                                 static_cast<std::streamsize>(bytes.size()));
    return path_;
  }
  void TearDown() override { std::filesystem::remove(path_); }
  std::filesystem::path path_;
};

// The source reads ahead in chunks; whatever the block size, the blocks it yields are the
// file, each full until the last (RFC 1350 §6: only the final block is short).
TEST_P(FdSourceTest, YieldsTheFileInFullBlocks) {
  const size_t blksize = GetParam();
  const auto bytes = pattern(100000);
  auto source = open_file_source(write_file(bytes).string());
  ASSERT_TRUE(source.has_value());
  EXPECT_EQ((*source)->size(), bytes.size());
  std::vector<uint8_t> got;
  std::vector<uint8_t> block(blksize);
  for (;;) {
    auto n = (*source)->read(block);
    ASSERT_TRUE(n.has_value());
    got.insert(got.end(), block.begin(), block.begin() + static_cast<ptrdiff_t>(*n));
    if (*n < blksize) break;
    ASSERT_EQ(*n, blksize);
  }
  EXPECT_EQ(got, bytes);
  auto again = (*source)->read(block);  // past the end: nothing, not an error
  ASSERT_TRUE(again.has_value());
  EXPECT_EQ(*again, 0u);
}

INSTANTIATE_TEST_SUITE_P(BlockSizes, FdSourceTest, ::testing::Values(8, 512, 1428, 16384, 20000, 65464));

}  // namespace
}  // namespace tftp::engine
