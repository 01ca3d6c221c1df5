#include "common/atomic_file.h"

#include <gtest/gtest.h>
#include <sys/resource.h>

#include <csignal>
#include <fstream>
#include <set>
#include <sstream>

namespace tftp {
namespace {

namespace fs = std::filesystem;

class AtomicFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (fs::temp_directory_path() / "tftpspec-atomic-XXXXXX").string();
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::set<std::string> names() const {
    std::set<std::string> out;
    for (const auto& e : fs::directory_iterator(dir_)) out.insert(e.path().filename().string());
    return out;
  }
  static std::string read(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  }
  static void put(const fs::path& p, const std::string& text) { std::ofstream(p, std::ios::binary) << text; }

  fs::path dir_;
};

TEST_F(AtomicFileTest, WritesTheWholeFileAndNothingElse) {
  ASSERT_TRUE(write_file_atomic(dir_ / "report.json", std::string_view("{\"a\": 1}\n")));
  EXPECT_EQ(read(dir_ / "report.json"), "{\"a\": 1}\n");
  EXPECT_EQ(names(), std::set<std::string>{"report.json"});
}

TEST_F(AtomicFileTest, ReplacesAnOldFile) {
  put(dir_ / "report.json", "old");
  ASSERT_TRUE(write_file_atomic(dir_ / "report.json", std::string_view("new")));
  EXPECT_EQ(read(dir_ / "report.json"), "new");
  EXPECT_EQ(names(), std::set<std::string>{"report.json"});
}

TEST_F(AtomicFileTest, UncommittedIsDiscardedAndTheOldFileStays) {
  put(dir_ / "report.json", "old");
  {
    auto f = AtomicFile::create(dir_ / "report.json");
    ASSERT_TRUE(f);
    ASSERT_TRUE(f->write("half a rep"));
    std::fprintf(f->stream(), "ort");
  }  // an interrupted writer: gone without commit
  EXPECT_EQ(read(dir_ / "report.json"), "old");
  EXPECT_EQ(names(), std::set<std::string>{"report.json"});
}

TEST_F(AtomicFileTest, AFailedWriteKeepsTheOldFileAndLeavesNoTemporary) {
  put(dir_ / "report.json", "old");
  // A file size limit makes the write fail with EFBIG, like a full disk would.
  rlimit saved{};
  ASSERT_EQ(::getrlimit(RLIMIT_FSIZE, &saved), 0);
  auto* previous = std::signal(SIGXFSZ, SIG_IGN);
  rlimit small = saved;
  small.rlim_cur = 1000;
  ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &small), 0);
  const auto written = write_file_atomic(dir_ / "report.json", std::string(100000, 'x'));
  ::setrlimit(RLIMIT_FSIZE, &saved);
  std::signal(SIGXFSZ, previous);
  ASSERT_FALSE(written);
  EXPECT_NE(written.error().message.find("report.json"), std::string::npos) << written.error().message;
  EXPECT_EQ(read(dir_ / "report.json"), "old");
  EXPECT_EQ(names(), std::set<std::string>{"report.json"});
}

TEST_F(AtomicFileTest, AFailedRenameLeavesNoTemporary) {
  fs::create_directories(dir_ / "report.json" / "inside");  // a directory where the file should go
  const auto written = write_file_atomic(dir_ / "report.json", std::string_view("new"));
  ASSERT_FALSE(written);
  EXPECT_NE(written.error().message.find("rename"), std::string::npos) << written.error().message;
  EXPECT_EQ(names(), std::set<std::string>{"report.json"});
  EXPECT_TRUE(fs::is_directory(dir_ / "report.json" / "inside"));
}

TEST_F(AtomicFileTest, AMissingDirectoryIsAnErrorNamingIt) {
  const auto written = write_file_atomic(dir_ / "nowhere" / "report.json", std::string_view("x"));
  ASSERT_FALSE(written);
  EXPECT_NE(written.error().message.find("nowhere"), std::string::npos) << written.error().message;
}

}  // namespace
}  // namespace tftp
