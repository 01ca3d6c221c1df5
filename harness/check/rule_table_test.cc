// The rule table is the index a reader uses: each id unique, each rule in its family file,
// and each rule shown firing by some test.
#include "check/rule_table.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

namespace tftp::check {
namespace {

std::string read(const std::filesystem::path& p) {
  std::ifstream in(p);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

const std::filesystem::path kCheckDir = std::filesystem::path(TFTPSPEC_SOURCE_DIR) / "harness" / "check";

TEST(RuleTable, IdsAreUnique) {
  std::set<std::string_view> seen;
  for (const RuleSpec& r : rule_table()) EXPECT_TRUE(seen.insert(r.id).second) << "duplicate id " << r.id;
  EXPECT_GT(seen.size(), 30u);
}

TEST(RuleTable, NoteIdsAreNotes) {
  for (const RuleSpec& r : rule_table()) {
    const bool note_id = r.id.rfind("tftp.note.", 0) == 0;
    EXPECT_TRUE(note_id || r.id.rfind("tftp.rule.", 0) == 0) << r.id;
    if (note_id) {
      EXPECT_EQ(r.level, Level::kNote) << r.id;
    }
  }
}

TEST(RuleTable, EveryRuleHasACause) {
  for (const RuleSpec& r : rule_table()) {
    EXPECT_FALSE(r.cause.empty()) << r.id;
    EXPECT_EQ(r.cause.find("t="), std::string_view::npos) << r.id << ": a cause carries no time";
  }
}

TEST(RuleTable, EveryRuleLivesInTheFamilyFileNamed) {
  for (const RuleSpec& r : rule_table()) {
    const auto path = kCheckDir / std::string(r.family);
    ASSERT_TRUE(std::filesystem::exists(path)) << r.id << ": no " << path;
  }
}

TEST(RuleTable, FindRuleFindsEachIdAndNothingElse) {
  for (const RuleSpec& r : rule_table()) {
    ASSERT_NE(find_rule(r.id), nullptr) << r.id;
    EXPECT_EQ(find_rule(r.id)->requirement, r.requirement);
  }
  EXPECT_EQ(find_rule("tftp.rule.no_such_rule"), nullptr);
}

// Each rule is expected (by its quoted id) in a test of this directory: a rule no test
// shows firing could never fail anything.
TEST(RuleTable, EveryRuleIsEmittedBySomeTest) {
  std::string tests;
  for (const auto& e : std::filesystem::directory_iterator(kCheckDir)) {
    const auto name = e.path().filename().string();
    if (name.size() > 8 && name.ends_with("_test.cc") && name != "rule_table_test.cc") tests += read(e.path());
  }
  ASSERT_FALSE(tests.empty());
  for (const RuleSpec& r : rule_table()) {
    EXPECT_NE(tests.find("\"" + std::string(r.id) + "\""), std::string::npos) << r.id << " is emitted by no test";
  }
}

}  // namespace
}  // namespace tftp::check
