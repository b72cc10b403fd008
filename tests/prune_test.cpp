// tmpdump prune end to end: a real jar made by the JDK's `jar`, checked
// afterwards with `unzip -t` and `jar tf`.
#include <sys/stat.h>

#include <filesystem>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "support/process.hpp"
#include "support/s3_server.hpp"

namespace tmpdump::testing {
namespace {

namespace fs = std::filesystem;

class PruneTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (run({"jar", "--version"}).exit_code != 0) GTEST_SKIP() << "no `jar` on this machine";
    const fs::path src = work_ / "src";
    write_file(src / "com/example/App.class", std::string(5000, 'c'));
    write_file(src / "app.properties", "greeting=hi\n");
    write_file(src / "logback.xml", "<configuration/>\n");
    const std::string lib(3'000'000, 'L');
    write_file(src / "org/bytedeco/opencv/linux-x86_64/libopencv_core.so.409", lib);
    write_file(src / "org/bytedeco/opencv/linux-x86_64/libjniopencv_core.so", lib.substr(0, 100000));
    write_file(src / "org/bytedeco/opencv/linux-x86_64/lib/libopencv_core.a", lib.substr(0, 50000));
    write_file(src / "org/bytedeco/opencv/linux-x86_64/include/opencv2/core.hpp", "// header\n");
    write_file(src / "org/bytedeco/opencv/linux-x86_64/include/cv.h", "// header\n");
    write_file(src / "org/bytedeco/opencv/opencv_core.class", std::string(2000, 'k'));
    auto r = run({"jar", "cf", jar().string(), "-C", src.string(), "."});
    ASSERT_EQ(r.exit_code, 0) << r.all();
  }

  fs::path jar() const { return work_ / "app.jar"; }

  RunResult prune(std::vector<std::string> args) {
    std::vector<std::string> argv{tmpdump_binary().string(), "prune"};
    argv.insert(argv.end(), args.begin(), args.end());
    return run(argv, {.timeout = std::chrono::seconds(60)});
  }

  static std::vector<std::string> lines(const std::string& text) {
    std::vector<std::string> out;
    std::size_t start = 0;
    for (auto nl = text.find('\n'); nl != std::string::npos; nl = text.find('\n', start)) {
      out.push_back(text.substr(start, nl - start));
      start = nl + 1;
    }
    return out;
  }

  TempDir work_;
};

TEST_F(PruneTest, DefaultPatternsLeaveAValidJarWithoutNativeLibraries) {
  const auto before = fs::file_size(jar());
  const auto listed_before = lines(run({"jar", "tf", jar().string()}).out);
  auto r = prune({jar().string()});
  ASSERT_EQ(r.exit_code, 0) << r.all();
  EXPECT_NE(r.out.find("removed 5 of"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("saved"), std::string::npos) << r.out;
  EXPECT_LT(fs::file_size(jar()), before);

  auto test = run({"unzip", "-t", jar().string()});
  EXPECT_EQ(test.exit_code, 0) << test.all();
  auto listed = run({"jar", "tf", jar().string()});
  ASSERT_EQ(listed.exit_code, 0) << listed.all();
  const auto after = lines(listed.out);
  // Everything else is still there, in the same order; the manifest first.
  std::vector<std::string> expected;
  for (const auto& name : listed_before) {
    const bool native =
        name.starts_with("org/bytedeco/") && (name.ends_with(".so") || name.find(".so.") != std::string::npos ||
                                              name.ends_with(".a") || name.ends_with(".h") || name.ends_with(".hpp"));
    if (!native) expected.push_back(name);
  }
  EXPECT_EQ(after, expected);
  ASSERT_FALSE(after.empty());
  EXPECT_EQ(after[0], listed_before[0]);
  EXPECT_NE(std::find(after.begin(), after.end(), "logback.xml"), after.end());
  EXPECT_NE(std::find(after.begin(), after.end(), "org/bytedeco/opencv/opencv_core.class"), after.end());

  // The kept entries' bytes are intact, and the JDK can still read the manifest.
  auto content = run({"unzip", "-p", jar().string(), "app.properties"});
  EXPECT_EQ(content.out, "greeting=hi\n");
  auto manifest = run({"unzip", "-p", jar().string(), "META-INF/MANIFEST.MF"});
  EXPECT_NE(manifest.out.find("Manifest-Version"), std::string::npos) << manifest.out;
}

TEST_F(PruneTest, PatternsReplaceTheDefaultsAndMatchAtAnyDepth) {
  auto r = prune({jar().string(), "--pattern", "*.properties", "--pattern", "org/**/include/**"});
  ASSERT_EQ(r.exit_code, 0) << r.all();
  const auto listed = run({"jar", "tf", jar().string()}).out;
  EXPECT_EQ(listed.find("app.properties"), std::string::npos) << listed;
  EXPECT_EQ(listed.find("core.hpp"), std::string::npos) << listed;
  EXPECT_NE(listed.find("libopencv_core.so.409"), std::string::npos) << listed;
  EXPECT_EQ(run({"unzip", "-t", jar().string()}).exit_code, 0);
}

TEST_F(PruneTest, DryRunAndNoMatchChangeNothing) {
  struct stat before {};
  ASSERT_EQ(::stat(jar().c_str(), &before), 0);
  auto r = prune({jar().string(), "--dry-run"});
  ASSERT_EQ(r.exit_code, 0) << r.all();
  EXPECT_NE(r.out.find("would remove org/bytedeco/opencv/linux-x86_64/libopencv_core.so.409"), std::string::npos)
      << r.out;
  r = prune({jar().string(), "--pattern", "nothing/*"});
  ASSERT_EQ(r.exit_code, 0) << r.all();
  EXPECT_NE(r.out.find("no entry matches"), std::string::npos) << r.out;
  struct stat after {};
  ASSERT_EQ(::stat(jar().c_str(), &after), 0);
  EXPECT_EQ(before.st_ino, after.st_ino);
  EXPECT_EQ(before.st_mtim.tv_nsec, after.st_mtim.tv_nsec);
}

TEST_F(PruneTest, CorruptInputIsRefusedAndLeftAlone) {
  write_file(work_ / "bad.jar", "PK\x03\x04 this is not really a zip");
  auto r = prune({(work_ / "bad.jar").string()});
  EXPECT_EQ(r.exit_code, 5) << r.all();
  EXPECT_NE(r.err.find("bad.jar"), std::string::npos) << r.err;
  EXPECT_EQ(read_file(work_ / "bad.jar"), "PK\x03\x04 this is not really a zip");
  for (const auto& e : fs::directory_iterator(work_.path())) {
    EXPECT_FALSE(e.path().filename().string().find(".prune-") != std::string::npos) << e.path();
  }
}

}  // namespace
}  // namespace tmpdump::testing
