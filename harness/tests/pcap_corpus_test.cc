// tftpspec analyze on every capture of the pcaps/ corpus, compared with its NAME.expect.json:
// the transfers (request, file, mode, bytes, blocks, result, the ids of their findings), the
// extracted files' sizes, the summary counts and the exit status.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "tests/support/process.h"

namespace tftp {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

nlohmann::json load(const fs::path& p) {
  std::ifstream in(p);
  return nlohmann::json::parse(in);
}

std::vector<fs::path> captures() {
  std::vector<fs::path> out;
  for (const auto& e : fs::directory_iterator(fs::path(TFTPSPEC_SOURCE_DIR) / "pcaps")) {
    const auto ext = e.path().extension();
    if (ext == ".pcap" || ext == ".pcapng") out.push_back(e.path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

TEST(PcapCorpus, EveryCaptureHasItsExpectedAnalysis) {
  const auto all = captures();
  EXPECT_GE(all.size(), 3u);
  for (const auto& c : all) {
    EXPECT_TRUE(fs::exists(fs::path(c).replace_extension(".expect.json"))) << c << " has no expectations";
  }
}

TEST(PcapCorpus, AnalysesMatchTheirExpectations) {
  const fs::path tmp = fs::temp_directory_path() / ("tftpspec-corpus-" + std::to_string(::getpid()));
  for (const auto& capture : captures()) {
    SCOPED_TRACE(capture.filename().string());
    const auto expect = load(fs::path(capture).replace_extension(".expect.json"));
    const fs::path dir = tmp / capture.stem();
    fs::create_directories(dir);
    std::vector<std::string> argv = {TFTPSPEC_BINARY, "analyze", capture.string(), "--json", (dir / "analysis.json").string(),
                                     "--extract", (dir / "files").string()};
    for (const auto& port : expect.value("ports", nlohmann::json::array())) argv.push_back("--port=" + std::to_string(port.get<int>()));
    const auto r = testing::run_command(argv, 120s);
    ASSERT_FALSE(r.timed_out);
    EXPECT_EQ(r.exit_code, expect.value("exit", 0)) << r.output;
    const auto actual = load(dir / "analysis.json");
    const auto& want = expect.at("transfers");
    const auto& got = actual.at("transfers");
    ASSERT_EQ(got.size(), want.size()) << r.output;
    for (size_t i = 0; i < want.size(); ++i) {
      SCOPED_TRACE("transfer " + std::to_string(i + 1));
      for (const auto& [key, value] : want[i].items()) {
        if (key == "findings") {
          std::vector<std::string> ids;
          for (const auto& f : got[i].at("findings")) ids.push_back(f.at("id"));
          std::sort(ids.begin(), ids.end());
          auto expected = value.get<std::vector<std::string>>();
          std::sort(expected.begin(), expected.end());
          EXPECT_EQ(ids, expected);
        } else if (key == "extracted_bytes") {
          ASSERT_TRUE(got[i].at("extracted").is_string());
          EXPECT_EQ(fs::file_size(dir / "files" / got[i].at("extracted").get<std::string>()), value.get<uint64_t>());
        } else {
          EXPECT_EQ(got[i].at(key), value) << key;
        }
      }
    }
    const auto summary = expect.value("summary", nlohmann::json::object());  // items() views it
    for (const auto& [key, value] : summary.items()) {
      EXPECT_EQ(actual.at("summary").at(key), value) << "summary." << key;
    }
  }
  fs::remove_all(tmp);
}

}  // namespace
}  // namespace tftp
