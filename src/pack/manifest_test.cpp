#include "pack/manifest.hpp"

#include <gtest/gtest.h>

namespace tmpdump::pack {
namespace {

TEST(Manifest, CompressionAndLevelAreReadWhenWellFormed) {
  auto m = parse_manifest(R"({"format": 1, "compression": "zstd", "level": 12})", "m");
  ASSERT_TRUE(m) << m.error().message;
  EXPECT_EQ(m->compression, "zstd");
  EXPECT_EQ(m->level, 12);
}

TEST(Manifest, ALevelOfTheWrongTypeOrOutOfRangeIsIgnored) {
  for (const char* text : {R"({"format": 1, "level": "19"})", R"({"format": 1, "level": 0})",
                           R"({"format": 1, "level": -3})", R"({"format": 1, "level": 23})",
                           R"({"format": 1, "level": 18446744073709551615})", R"({"format": 1, "level": 12.5})"}) {
    auto m = parse_manifest(text, "m");
    ASSERT_TRUE(m) << text;
    EXPECT_FALSE(m->level) << text;
  }
}

TEST(Manifest, WithoutFormatOneItIsRefused) {
  EXPECT_FALSE(parse_manifest(R"({"format": 2})", "m"));
  EXPECT_FALSE(parse_manifest("[]", "m"));
}

}  // namespace
}  // namespace tmpdump::pack
