#include <fstream>

#include <gtest/gtest.h>

#include "pack/closure.hpp"
#include "pack/pack.hpp"

namespace tmpdump::pack {
namespace {

TEST(TraceFileTest, ReadsFormatOne) {
  auto t = parse_trace(R"({"format":1,"command":["a"],"libraries":[{"path":"/x/libz.so.1.3","names":["libz.so.1"]}]})",
                       "t.json");
  ASSERT_TRUE(t) << t.error().message;
  ASSERT_EQ(t->libraries.size(), 1u);
  EXPECT_EQ(t->libraries[0].names[0], "libz.so.1");
}

TEST(TraceFileTest, RefusesUnknownFormatsAndBadFieldsNamingTheFile) {
  auto t = parse_trace(R"({"format":2,"libraries":[]})", "t.json");
  ASSERT_FALSE(t);
  EXPECT_NE(t.error().message.find("t.json"), std::string::npos);
  EXPECT_FALSE(parse_trace(R"({"format":1,"libraries":[{"path":"relative.so"}]})", "t.json"));
  EXPECT_FALSE(parse_trace("not json", "t.json"));
}

TEST(GlibcFamilyTest, KnowsGlibcsOwnObjects) {
  for (auto n : {"libc.so.6", "libm.so.6", "libpthread.so.0", "ld-linux-x86-64.so.2", "libnss_dns.so.2", "libdl.so.2"}) {
    EXPECT_TRUE(is_glibc_family(n)) << n;
  }
  for (auto n : {"libcurl.so.4", "libcrypto.so.3", "libmagic.so.1", "libzstd.so.1", "libcrypt.so.1"}) {
    EXPECT_FALSE(is_glibc_family(n)) << n;
  }
}

TEST(ReproducibleTimeTest, UsesSourceDateEpochOr1980) {
  EXPECT_EQ(*reproducible_mtime(std::nullopt), 315532800);
  EXPECT_EQ(*reproducible_mtime("1700000000"), 1700000000);
  EXPECT_EQ(*reproducible_mtime("5"), 315532800);
  EXPECT_FALSE(reproducible_mtime("yesterday"));
}

TEST(SystemSearchPathTest, ReadsLdSoConfWithIncludes) {
  const auto dir = std::filesystem::temp_directory_path() / "tmpdump-ldconf-test";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir / "conf.d");
  std::filesystem::create_directories(dir / "extra");
  {
    std::ofstream(dir / "ld.so.conf") << "include conf.d/*.conf\n# comment\n";
    std::ofstream(dir / "conf.d/a.conf") << (dir / "extra").string() << "\n";
  }
  const auto path = system_search_path(dir / "ld.so.conf");
  ASSERT_FALSE(path.empty());
  EXPECT_EQ(path[0], dir / "extra");
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace tmpdump::pack
