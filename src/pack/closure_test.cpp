#include "pack/closure.hpp"

#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

namespace tmpdump::pack {
namespace {

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
