#include "scenario/catalogue_path.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <fstream>
#include <string>
#include <vector>

namespace tftp::scenario {
namespace {

namespace fs = std::filesystem;

// A scratch prefix with <prefix>/bin for the executable; removed afterwards.
class CataloguePath : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string templ = (fs::temp_directory_path() / "tftpspec-catalogue-XXXXXX").string();
    ASSERT_NE(::mkdtemp(templ.data()), nullptr);
    prefix_ = templ;
    fs::create_directories(prefix_ / "bin");
  }
  void TearDown() override { fs::remove_all(prefix_); }
  fs::path exe() const { return prefix_ / "bin" / "tftpspec"; }
  fs::path make_dir(const fs::path& p) {
    fs::create_directories(p);
    return p;
  }
  void write_marker(const std::string& content) { std::ofstream(prefix_ / "bin" / kBuildTreeMarker) << content << "\n"; }
  fs::path prefix_;
};

TEST_F(CataloguePath, FindsTheInstalledCatalogueBesideTheBinary) {
  const auto installed = make_dir((exe().parent_path() / kInstalledCatalogue).lexically_normal());
  EXPECT_EQ(installed, prefix_ / "share" / "tftpspec" / "scenarios") << "the default GNUInstallDirs layout";
  auto found = find_catalogue(exe(), std::nullopt);
  ASSERT_TRUE(found) << found.error().message;
  EXPECT_EQ(*found, installed);
}

TEST_F(CataloguePath, TheEnvironmentWinsOverTheInstalledCatalogue) {
  make_dir((exe().parent_path() / kInstalledCatalogue).lexically_normal());
  auto found = find_catalogue(exe(), std::string("/elsewhere/scenarios"));
  ASSERT_TRUE(found);
  EXPECT_EQ(*found, "/elsewhere/scenarios");
}

TEST_F(CataloguePath, ABuildTreeFollowsItsMarkerAbsoluteOrRelative) {
  const auto source = make_dir(prefix_ / "src" / "scenarios");
  write_marker(source.string());
  auto absolute = find_catalogue(exe(), std::nullopt);
  ASSERT_TRUE(absolute) << absolute.error().message;
  EXPECT_EQ(*absolute, source);
  write_marker("../src/scenarios");
  auto relative = find_catalogue(exe(), std::nullopt);
  ASSERT_TRUE(relative) << relative.error().message;
  EXPECT_EQ(*relative, source);
}

TEST_F(CataloguePath, TheInstalledCatalogueWinsOverAMarker) {
  const auto installed = make_dir((exe().parent_path() / kInstalledCatalogue).lexically_normal());
  write_marker(make_dir(prefix_ / "src" / "scenarios").string());
  EXPECT_EQ(*find_catalogue(exe(), std::nullopt), installed);
}

TEST_F(CataloguePath, NothingFoundNamesEveryPlaceLookedAt) {
  auto none = find_catalogue(exe(), std::nullopt);
  ASSERT_FALSE(none);
  const std::vector<std::string> places = {"TFTPSPEC_SCENARIOS", (prefix_ / "share/tftpspec/scenarios").string(),
                                           (prefix_ / "bin" / kBuildTreeMarker).string(), "--scenarios DIR"};
  for (const auto& want : places) {
    EXPECT_NE(none.error().message.find(want), std::string::npos) << want << " not in: " << none.error().message;
  }
  write_marker("/no/such/dir");
  auto stale = find_catalogue(exe(), std::nullopt);
  ASSERT_FALSE(stale);
  EXPECT_NE(stale.error().message.find("/no/such/dir"), std::string::npos) << stale.error().message;
}

}  // namespace
}  // namespace tftp::scenario
