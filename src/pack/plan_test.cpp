#include <algorithm>
#include <fstream>
#include <set>

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

TEST(ImageTest, PackAndCheckShareOneListOfWhatTheImageProvides) {
  // libgcc_s: every glibc system has it (glibc dlopens it), so pack leaves it
  // out like glibc and check counts it as found; a packed Debian 12 copy would
  // need GLIBC_2.35.
  for (auto n : {"libc.so.6", "libm.so.6", "ld-linux-x86-64.so.2", "ld-linux-aarch64.so.1", "libgcc_s.so.1"}) {
    EXPECT_TRUE(image_provides(n)) << n;
  }
  for (auto n : {"libstdc++.so.6", "libz.so.1", "libssl.so.3", "libgcc_s.so", "libgomp.so.1"}) {
    EXPECT_FALSE(image_provides(n)) << n;
  }
  EXPECT_EQ(kBundledLibcDir, "lib/libc");
}

std::filesystem::path write_trace_file(const std::string& name, const std::string& text) {
  const auto path = std::filesystem::temp_directory_path() / name;
  std::ofstream(path) << text;
  return path;
}

TEST(PlanTest, LibgccIsLeftToTheImageAndBundledWithLibcOnlyUnderLibLibc) {
  const auto libgcc = std::filesystem::canonical("/lib/x86_64-linux-gnu/libgcc_s.so.1").string();
  const auto libc = std::filesystem::canonical("/lib/x86_64-linux-gnu/libc.so.6").string();
  const auto trace = write_trace_file(
      "tmpdump-plan-libgcc.json",
      R"({"format":1,"libraries":[{"path":")" + libgcc + R"(","names":["libgcc_s.so.1"]},{"path":")" + libc +
          R"(","names":["libc.so.6"]}]})");
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
  const auto trace = write_trace_file(
      "tmpdump-plan-runtime.json",
      R"({"format":1,"libraries":[)"
      R"({"path":")" + (dir / "jdk/lib/server/libjvm.so").string() + R"(","names":["libjvm.so"],"provided_by":"java"},)"
      R"({"path":")" + (dir / "site/pkg/_mod.cpython-311-x86_64-linux-gnu.so").string() +
          R"(","names":[],"python_module":"pkg/_mod.cpython-311-x86_64-linux-gnu.so"},)"
      R"({"path":")" + (dir / "libuser.so.1").string() + R"(","names":["libuser.so.1"]}]})");
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
  EXPECT_TRUE(std::any_of(all->entries.begin(), all->entries.end(), [](const auto& e) { return e.path == "lib/libjvm.so"; }));
  EXPECT_TRUE(all->left_out.empty());
  std::filesystem::remove_all(dir);
  std::filesystem::remove(trace);
}

TEST(TraceFileTest, PythonModuleMustStayInsidePython) {
  for (auto bad : {"../x.so", "/abs.so", "a/../../x.so", ""}) {
    auto t = parse_trace(std::string(R"({"format":1,"libraries":[{"path":"/x.so","python_module":")") + bad + R"("}]})",
                         "t.json");
    EXPECT_FALSE(t) << bad;
  }
  auto ok = parse_trace(R"({"format":1,"libraries":[{"path":"/x.so","provided_by":"python","python_module":"a/b.so"}]})",
                        "t.json");
  ASSERT_TRUE(ok) << ok.error().message;
  EXPECT_EQ(ok->libraries[0].provided_by, "python");
  EXPECT_EQ(ok->libraries[0].python_module, "a/b.so");
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
