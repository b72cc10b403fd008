#include "util/display.hpp"

#include <gtest/gtest.h>

namespace tmpdump {
namespace {

TEST(DisplaySourceTest, ReplacesAPresignedUrlsQueryString) {
  EXPECT_EQ(display_source("https://b.s3.amazonaws.com/k.zip?X-Amz-Signature=deadbeef&X-Amz-Credential=AKID"),
            "https://b.s3.amazonaws.com/k.zip?…");
  EXPECT_EQ(display_source("HTTP://127.0.0.1:9000/dumps/k.zip?X-Amz-Security-Token=tok"),
            "HTTP://127.0.0.1:9000/dumps/k.zip?…");
  EXPECT_EQ(display_source("https://host/k.zip?"), "https://host/k.zip?…");
}

TEST(DisplaySourceTest, DropsUserinfoAndFragment) {
  EXPECT_EQ(display_source("https://user:pa55@host:8443/a/b.zip?sig=1#sha256=12"), "https://host:8443/a/b.zip?…");
  EXPECT_EQ(display_source("https://host/a.zip#sha256=12"), "https://host/a.zip");
  EXPECT_EQ(display_source("https://user@host"), "https://host");
  EXPECT_EQ(display_source("https://host/a.zip#frag?not-a-query"), "https://host/a.zip");
  EXPECT_EQ(display_source("ftp://u:p@host/x?y"), "ftp://host/x?…");
  // An '@' in the path is not userinfo.
  EXPECT_EQ(display_source("https://host/v@2/a.zip"), "https://host/v@2/a.zip");
}

TEST(DisplaySourceTest, LeavesS3UrisAndPathsAlone) {
  EXPECT_EQ(display_source("s3://bucket/key?with#odd@chars"), "s3://bucket/key?with#odd@chars");
  EXPECT_EQ(display_source("/tmp/a?b.zip"), "/tmp/a?b.zip");
  EXPECT_EQ(display_source("dumps/fn.zip"), "dumps/fn.zip");
  EXPECT_EQ(display_source("https://host/a.zip"), "https://host/a.zip");
  EXPECT_EQ(display_source(""), "");
}

}  // namespace
}  // namespace tmpdump
