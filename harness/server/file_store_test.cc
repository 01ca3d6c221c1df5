#include "server/file_store.h"

#include <gtest/gtest.h>

namespace tftp::server {
namespace {

std::string confined(std::string_view name) {
  auto r = confine_filename(name);
  return r ? *r : "refused " + std::to_string(r.error().code);
}

// The reference server's reading of a name: what the path scenarios judge it by.
TEST(ConfineFilename, ResolvesDotDotThatStaysInsideTheRootAndRefusesTheRest) {
  EXPECT_EQ(confined("sub/f511.bin"), "sub/f511.bin");
  EXPECT_EQ(confined("/sub/f511.bin"), "sub/f511.bin");     // a leading '/' names the root
  EXPECT_EQ(confined("sub/../f511.bin"), "f511.bin");       // stays inside
  EXPECT_EQ(confined("./sub/./f511.bin"), "sub/f511.bin");
  EXPECT_EQ(confined("a/b/../../f1.bin"), "f1.bin");
  EXPECT_EQ(confined("dir/"), "dir/");                      // still names a directory
  EXPECT_EQ(confined("."), ".");
  EXPECT_EQ(confined("../x"), "refused 2");
  EXPECT_EQ(confined("a/../../x"), "refused 2");
  EXPECT_EQ(confined("sub/.."), "refused 2");               // the root itself
  EXPECT_EQ(confined("/"), "refused 2");
  EXPECT_EQ(confined("sub\\f511.bin"), "refused 2");        // '\' is neither guessed nor stored
  EXPECT_EQ(confined("..\\x"), "refused 2");
}

}  // namespace
}  // namespace tftp::server
