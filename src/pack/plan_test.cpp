#include "pack/plan.hpp"

#include <algorithm>
#include <fstream>
#include <set>

#include <gtest/gtest.h>

namespace tmpdump::pack {
namespace {

std::filesystem::path write_trace_file(const std::string& name, const std::string& text) {
  const auto path = std::filesystem::temp_directory_path() / name;
  std::ofstream(path) << text;
  return path;
}

TEST(PlanTest, LibgccIsLeftToTheImageAndBundledWithLibcOnlyUnderLibLibc) {
  const auto libgcc = std::filesystem::canonical("/lib/x86_64-linux-gnu/libgcc_s.so.1").string();
  const auto libc = std::filesystem::canonical("/lib/x86_64-linux-gnu/libc.so.6").string();
  const auto trace = write_trace_file("tmpdump-plan-libgcc.json", R"({"format":1,"libraries":[{"path":")" + libgcc +
                                                                      R"(","names":["libgcc_s.so.1"]},{"path":")" +
                                                                      libc + R"(","names":["libc.so.6"]}]})");
  PackOptions o;
  o.trace = trace;
  auto p = plan(o);
  ASSERT_TRUE(p) << p.error().message;
  for (const auto& e : p->entries) EXPECT_EQ(e.type, archive::EntryType::Directory) << e.path;

  o.with_libc = true;
  auto bundled = plan(o);
  ASSERT_TRUE(bundled) << bundled.error().message;
  std::set<std::string> paths;
  for (const auto& e : bundled->entries) paths.insert(e.path);
  EXPECT_TRUE(paths.contains("lib/libc/libc.so.6"));
  EXPECT_TRUE(paths.contains("lib/libc/libgcc_s.so.1"));
  EXPECT_TRUE(paths.contains("lib/libc/ld-linux-x86-64.so.2"));
  // Nothing of glibc where a library path points.
  for (const auto& path : paths) {
    if (path.starts_with("lib/") && path != "lib/libc" && path.find('/', 4) == std::string::npos) ADD_FAILURE() << path;
  }
  std::filesystem::remove(trace);
}

TEST(PlanTest, RuntimeLibrariesAreLeftOutAndExtensionModulesGoUnderPython) {
  const auto dir = std::filesystem::temp_directory_path() / "tmpdump-plan-runtime";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir / "jdk/lib/server");
  std::filesystem::create_directories(dir / "site/pkg");
  std::ofstream(dir / "jdk/lib/server/libjvm.so") << "jvm";
  std::ofstream(dir / "site/pkg/_mod.cpython-311-x86_64-linux-gnu.so") << "mod";
  std::ofstream(dir / "libuser.so.1") << "user";
  const auto trace = write_trace_file("tmpdump-plan-runtime.json",
                                      R"({"format":1,"libraries":[)"
                                      R"({"path":")" +
                                          (dir / "jdk/lib/server/libjvm.so").string() +
                                          R"(","names":["libjvm.so"],"provided_by":"java"},)"
                                          R"({"path":")" +
                                          (dir / "site/pkg/_mod.cpython-311-x86_64-linux-gnu.so").string() +
                                          R"(","names":[],"python_module":"pkg/_mod.cpython-311-x86_64-linux-gnu.so"},)"
                                          R"({"path":")" +
                                          (dir / "libuser.so.1").string() + R"(","names":["libuser.so.1"]}]})");
  PackOptions o;
  o.trace = trace;
  auto p = plan(o);
  ASSERT_TRUE(p) << p.error().message;
  std::set<std::string> paths;
  for (const auto& e : p->entries) paths.insert(e.path);
  EXPECT_FALSE(paths.contains("lib/libjvm.so"));
  EXPECT_TRUE(paths.contains("python/pkg/_mod.cpython-311-x86_64-linux-gnu.so"));
  EXPECT_FALSE(paths.contains("lib/_mod.cpython-311-x86_64-linux-gnu.so"));
  EXPECT_TRUE(paths.contains("lib/libuser.so.1"));
  ASSERT_EQ(p->left_out.size(), 1u);
  EXPECT_EQ(p->left_out[0].provided_by, "java");

  o.include_runtime = true;
  auto all = plan(o);
  ASSERT_TRUE(all) << all.error().message;
  EXPECT_TRUE(
      std::any_of(all->entries.begin(), all->entries.end(), [](const auto& e) { return e.path == "lib/libjvm.so"; }));
  EXPECT_TRUE(all->left_out.empty());
  std::filesystem::remove_all(dir);
  std::filesystem::remove(trace);
}

TEST(ReproducibleTimeTest, UsesSourceDateEpochOr1980) {
  EXPECT_EQ(*reproducible_mtime(std::nullopt), 315532800);
  EXPECT_EQ(*reproducible_mtime("1700000000"), 1700000000);
  EXPECT_EQ(*reproducible_mtime("5"), 315532800);
  EXPECT_FALSE(reproducible_mtime("yesterday"));
}

}  // namespace
}  // namespace tmpdump::pack
