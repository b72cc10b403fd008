#include "pack/glob.hpp"

#include <gtest/gtest.h>

namespace tmpdump::pack {
namespace {

TEST(GlobTest, StarStaysWithinOnePathPart) {
  EXPECT_TRUE(glob_match("lib/*.so", "lib/libx.so"));
  EXPECT_FALSE(glob_match("lib/*.so", "lib/sub/libx.so"));
  EXPECT_TRUE(glob_match("lib/libx.so*", "lib/libx.so.1.2"));
  EXPECT_FALSE(glob_match("*.so", "lib/libx.so"));
}

TEST(GlobTest, DoubleStarMatchesAnyNumberOfParts) {
  EXPECT_TRUE(glob_match("org/bytedeco/**/*.so*", "org/bytedeco/opencv/linux-x86_64/libopencv_core.so.409"));
  EXPECT_TRUE(glob_match("org/**/x.h", "org/x.h"));
  EXPECT_TRUE(glob_match("lib/glibc-hwcaps/**", "lib/glibc-hwcaps/x86-64-v3/libz.so.1"));
  EXPECT_FALSE(glob_match("org/**/x.h", "com/org/x.h"));
}

TEST(GlobTest, ClassesQuestionMarksAndEscapes) {
  EXPECT_TRUE(glob_match("libx.so.[0-9]", "libx.so.4"));
  EXPECT_FALSE(glob_match("libx.so.[!0-9]", "libx.so.4"));
  EXPECT_TRUE(glob_match("lib?.a", "libz.a"));
  EXPECT_FALSE(glob_match("a?b", "a/b"));
  EXPECT_TRUE(glob_match("a\\*b", "a*b"));
  EXPECT_FALSE(glob_match("a\\*b", "axb"));
}

TEST(GlobTest, PatternWithoutSlashMatchesTheLastPartAnywhere) {
  EXPECT_TRUE(glob_match_anywhere("*.a", "org/x/lib/libfoo.a"));
  EXPECT_TRUE(glob_match_anywhere("unneeded.txt", "lib/unneeded.txt"));
  EXPECT_FALSE(glob_match_anywhere("lib/*.a", "org/lib/libfoo.a"));
}

}  // namespace
}  // namespace tmpdump::pack
