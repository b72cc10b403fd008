// tmpdump pack end to end: the real binary packs real shared libraries, the
// real `tmpdump pull` and Info-ZIP's unzip read the result back.
#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "support/process.hpp"
#include "support/s3_server.hpp"
#include "support/trees.hpp"
#include "util/sha256.hpp"

namespace tmpdump::testing {
namespace {

namespace fs = std::filesystem;

const fs::path kSystemLib = "/usr/lib/x86_64-linux-gnu";

class PackTest : public ::testing::Test {
 protected:
  RunResult tmpdump(std::vector<std::string> args, EnvChanges env = {}) {
    std::vector<std::string> argv{tmpdump_binary().string()};
    argv.insert(argv.end(), args.begin(), args.end());
    env["TMPDUMP_PROGRESS"] = "0";
    if (!env.contains("SOURCE_DATE_EPOCH")) env["SOURCE_DATE_EPOCH"] = std::nullopt;
    return run(argv, {.env = env, .timeout = std::chrono::seconds(180)});
  }

  /// Pulls `archive` into a fresh root and returns it.
  fs::path pull(const fs::path& archive, const std::string& name) {
    const fs::path root = work_ / name;
    auto r = tmpdump({"pull", archive.string(), "--root", root.string(), "-q"});
    EXPECT_EQ(r.exit_code, 0) << r.all();
    return root;
  }

  /// A trace file naming real system libraries by the names a loader used.
  fs::path write_trace(const std::vector<std::pair<std::string, std::vector<std::string>>>& libs) {
    nlohmann::json doc = {{"format", 1}, {"command", {"app"}}, {"libraries", nlohmann::json::array()}};
    for (const auto& [name, names] : libs) {
      doc["libraries"].push_back({{"path", fs::canonical(kSystemLib / name).string()}, {"names", names}});
    }
    const fs::path path = work_ / "trace.json";
    write_file(path, doc.dump());
    return path;
  }

  static nlohmann::json manifest(const fs::path& root) {
    return nlohmann::json::parse(read_file(root / ".tmpdump/manifest.json"));
  }

  TempDir work_;
};

TEST_F(PackTest, PackThenPullRoundTripsTheTreeWithNormalisedModes) {
  make_real_library_tree(work_ / "src");
  auto r = tmpdump({"pack", "--add", (work_ / "src/lib").string(), "-o", (work_ / "out.zip").string()});
  ASSERT_EQ(r.exit_code, 0) << r.all();
  EXPECT_NE(r.out.find("tmpdump pack: "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("sha256 "), std::string::npos) << r.out;

  // What the pull must give: the source tree with modes 0644/0755 and without
  // its one dangling symlink.
  ASSERT_EQ(run({"cp", "-a", (work_ / "src").string(), (work_ / "expected").string()}).exit_code, 0);
  fs::remove(work_ / "expected/lib/glibc-hwcaps/zstd-link");
  for (const auto& e : fs::recursive_directory_iterator(work_ / "expected")) {
    if (e.is_symlink()) continue;
    struct stat st {};
    ::lstat(e.path().c_str(), &st);
    fs::permissions(e.path(), fs::perms(e.is_directory() || (st.st_mode & 0111) != 0 ? 0755 : 0644));
  }
  const fs::path root = pull(work_ / "out.zip", "root");
  EXPECT_EQ(describe_tree(root), describe_tree(work_ / "expected"));
  EXPECT_TRUE(fs::is_symlink(root / "lib/libzstd.so.1"));
  EXPECT_TRUE(fs::exists(root / ".tmpdump/manifest.json"));
}

TEST_F(PackTest, TwoPacksOfTheSameInputAreByteIdentical) {
  make_real_library_tree(work_ / "src");
  const auto trace =
      write_trace({{"libcurl.so.4", {"libcurl.so.4"}}, {"libzstd.so.1", {"libzstd.so.1", "libzstd.so"}}});
  ASSERT_EQ(tmpdump({"pack", trace.string(), "--add", (work_ / "src/lib").string() + "=extra", "-o",
                     (work_ / "a.zip").string(), "-j", "1"})
                .exit_code,
            0);
  // Different source times and thread counts must not change a byte.
  for (const auto& e : fs::recursive_directory_iterator(work_ / "src")) {
    if (!e.is_symlink()) fs::last_write_time(e.path(), fs::file_time_type::clock::now());
  }
  auto r = tmpdump({"pack", trace.string(), "--add", (work_ / "src/lib").string() + "=extra", "-o",
                    (work_ / "b.zip").string(), "-j", "4"});
  ASSERT_EQ(r.exit_code, 0) << r.all();
  const std::string a = read_file(work_ / "a.zip"), b = read_file(work_ / "b.zip");
  EXPECT_EQ(a.size(), b.size());
  EXPECT_TRUE(a == b) << "the two archives differ";
}

TEST_F(PackTest, SourceDateEpochSetsEveryEntryTime) {
  const auto trace = write_trace({{"libzstd.so.1", {"libzstd.so.1"}}});
  ASSERT_EQ(tmpdump({"pack", trace.string(), "-o", (work_ / "a.zip").string(), "--compress", "deflate"},
                    {{"SOURCE_DATE_EPOCH", "1700000000"}})
                .exit_code,
            0);
  auto listing = run({"unzip", "-Z", "-T", (work_ / "a.zip").string()});
  ASSERT_EQ(listing.exit_code, 0) << listing.all();
  EXPECT_NE(listing.out.find("20231114"), std::string::npos) << listing.out;
  EXPECT_EQ(listing.out.find("19800101"), std::string::npos) << listing.out;
}

TEST_F(PackTest, TraceLibrariesGoUnderLibWithTheirSymlinkChains) {
  const auto trace =
      write_trace({{"libzstd.so.1", {"libzstd.so.1", "libzstd.so", "/usr/lib/x86_64-linux-gnu/libzstd.so.1"}},
                   {"libc.so.6", {"libc.so.6"}}});
  auto r = tmpdump({"pack", trace.string(), "-o", (work_ / "a.zip").string()});
  ASSERT_EQ(r.exit_code, 0) << r.all();
  const fs::path root = pull(work_ / "a.zip", "root");
  const auto real = fs::canonical(kSystemLib / "libzstd.so.1").filename();
  EXPECT_TRUE(fs::is_regular_file(fs::symlink_status(root / "lib" / real)));
  EXPECT_EQ(fs::read_symlink(root / "lib/libzstd.so.1"), real);
  EXPECT_EQ(read_file(root / "lib" / real), read_file(kSystemLib / real));
  // glibc is the Lambda image's.
  EXPECT_FALSE(fs::exists(root / "lib/libc.so.6"));

  const auto m = manifest(root);
  EXPECT_EQ(m["format"], 1);
  EXPECT_EQ(m["compression"], "zstd");
  ASSERT_EQ(m["files"].size(), 1u);
  EXPECT_EQ(m["files"][0]["path"], "lib/" + real.string());
  EXPECT_EQ(m["files"][0]["sha256"], sha256_hex(read_file(kSystemLib / real)));
  EXPECT_EQ(m["files"][0]["soname"], "libzstd.so.1");
  EXPECT_TRUE(m["files"][0].contains("needs_glibc"));
  EXPECT_EQ(m["requirements"]["glibc"], m["files"][0]["needs_glibc"]);
  EXPECT_EQ(m["unpacked_bytes"], fs::file_size(kSystemLib / real));
  EXPECT_GE(m["symlinks"].size(), 1u);
}

TEST_F(PackTest, WithLibcBundlesGlibcAndItsLoaderWhereNoLibraryPathLooks) {
  const auto trace = write_trace(
      {{"libc.so.6", {"libc.so.6"}}, {"libgcc_s.so.1", {"libgcc_s.so.1"}}, {"libzstd.so.1", {"libzstd.so.1"}}});
  ASSERT_EQ(
      tmpdump({"pack", trace.string(), "-o", (work_ / "a.zip").string(), "--with-libc", "--level", "3"}).exit_code, 0);
  const fs::path root = pull(work_ / "a.zip", "root");
  // lib/libc/: only bootstrap's start through the bundled loader names it; lib/
  // is on LD_LIBRARY_PATH, where a newer libc would break the image's loader.
  EXPECT_TRUE(fs::exists(root / "lib/libc/libc.so.6"));
  EXPECT_TRUE(fs::exists(root / "lib/libc/ld-linux-x86-64.so.2"));
  EXPECT_TRUE(fs::exists(root / "lib/libc/libgcc_s.so.1"));
  EXPECT_FALSE(fs::exists(root / "lib/libc.so.6"));
  EXPECT_FALSE(fs::exists(root / "lib/ld-linux-x86-64.so.2"));
  EXPECT_FALSE(fs::exists(root / "lib/libgcc_s.so.1"));
  EXPECT_TRUE(fs::exists(root / "lib/libzstd.so.1"));
  // The bundled loader runs a program on the bundled libc.
  auto ran = run(
      {(root / "lib/libc/ld-linux-x86-64.so.2").string(), "--library-path", (root / "lib/libc").string(), "/bin/true"});
  EXPECT_EQ(ran.exit_code, 0) << ran.all();
}

TEST_F(PackTest, WithoutWithLibcTheImagesLibrariesAreLeftOut) {
  const auto trace = write_trace(
      {{"libc.so.6", {"libc.so.6"}}, {"libgcc_s.so.1", {"libgcc_s.so.1"}}, {"libzstd.so.1", {"libzstd.so.1"}}});
  auto r = tmpdump({"pack", "-v", trace.string(), "-o", (work_ / "a.zip").string(), "--level", "3"});
  ASSERT_EQ(r.exit_code, 0) << r.all();
  EXPECT_NE(r.err.find("libgcc_s.so.1: the Lambda image provides it"), std::string::npos) << r.err;
  const fs::path root = pull(work_ / "a.zip", "root");
  EXPECT_FALSE(fs::exists(root / "lib/libgcc_s.so.1"));
  EXPECT_FALSE(fs::exists(root / "lib/libc"));
  EXPECT_TRUE(fs::exists(root / "lib/libzstd.so.1"));
}

TEST_F(PackTest, ManifestIsTheLastEntry) {
  const auto trace = write_trace({{"libzstd.so.1", {"libzstd.so.1"}}});
  ASSERT_EQ(tmpdump({"pack", trace.string(), "-o", (work_ / "a.zip").string(), "--compress", "deflate"}).exit_code, 0);
  auto listing = run({"unzip", "-Z1", (work_ / "a.zip").string()});
  ASSERT_EQ(listing.exit_code, 0);
  EXPECT_TRUE(listing.out.ends_with(".tmpdump/manifest.json\n")) << listing.out;
}

TEST_F(PackTest, DeflateArchiveExtractsWithUnzipLikeWithPull) {
  make_real_library_tree(work_ / "src");
  ASSERT_EQ(tmpdump({"pack", "--add", (work_ / "src/lib").string(), "-o", (work_ / "a.zip").string(), "--compress",
                     "deflate", "--level", "6"})
                .exit_code,
            0);
  auto test = run({"unzip", "-t", (work_ / "a.zip").string()});
  EXPECT_EQ(test.exit_code, 0) << test.all();
  ASSERT_EQ(run({"unzip", "-q", (work_ / "a.zip").string(), "-d", (work_ / "unzipped").string()}).exit_code, 0);
  const fs::path root = pull(work_ / "a.zip", "root");
  EXPECT_EQ(describe_tree(root), describe_tree(work_ / "unzipped"));
}

TEST_F(PackTest, ExcludeLeavesOutMatchesAndTheLinksToThem) {
  make_real_library_tree(work_ / "src");
  auto r = tmpdump({"pack", "--add", (work_ / "src/lib").string(), "-o", (work_ / "a.zip").string(), "--exclude",
                    "unneeded.txt", "--exclude", "lib/libzstd.so.1.*", "--exclude", "lib/glibc-hwcaps/**"});
  ASSERT_EQ(r.exit_code, 0) << r.all();
  const fs::path root = pull(work_ / "a.zip", "root");
  EXPECT_FALSE(fs::exists(root / "lib/unneeded.txt"));
  EXPECT_FALSE(fs::exists(fs::symlink_status(root / "lib/libzstd.so.1")));
  EXPECT_FALSE(fs::exists(fs::symlink_status(root / "lib/libzstd.so")));
  EXPECT_TRUE(fs::exists(root / "lib/glibc-hwcaps"));
  EXPECT_FALSE(fs::exists(root / "lib/glibc-hwcaps/x86-64-v3"));
  EXPECT_TRUE(fs::exists(root / "lib/tool.sh"));
}

TEST_F(PackTest, VariantGoesUnderGlibcHwcaps) {
  write_file(work_ / "v3/libfast.so.1", "avx2 build");
  auto r = tmpdump({"pack", "--variant", "x86-64-v3=" + (work_ / "v3").string(), "--add", (work_ / "v3").string(), "-o",
                    (work_ / "a.zip").string()});
  ASSERT_EQ(r.exit_code, 0) << r.all();
  const fs::path root = pull(work_ / "a.zip", "root");
  EXPECT_EQ(read_file(root / "lib/glibc-hwcaps/x86-64-v3/libfast.so.1"), "avx2 build");
  EXPECT_EQ(manifest(root)["variants"]["x86-64-v3"], "lib/glibc-hwcaps/x86-64-v3");
  EXPECT_NE(
      tmpdump({"pack", "--variant", "avx9=" + (work_ / "v3").string(), "-o", (work_ / "b.zip").string()}).exit_code, 0);
}

TEST_F(PackTest, TwoDifferentFilesForOnePathIsAClearError) {
  write_file(work_ / "one/libx.so.1", "one");
  write_file(work_ / "two/libx.so.1", "two");
  auto r = tmpdump(
      {"pack", "--add", (work_ / "one").string(), "--add", (work_ / "two").string(), "-o", (work_ / "a.zip").string()});
  EXPECT_EQ(r.exit_code, 2) << r.all();
  EXPECT_NE(r.err.find("lib/libx.so.1"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(work_ / "a.zip"));
  // No temporary file is left behind.
  for (const auto& e : fs::directory_iterator(work_.path()))
    EXPECT_FALSE(e.path().filename().string().starts_with(".a.zip")) << e.path();
}

TEST_F(PackTest, UnknownTraceFormatIsRefused) {
  write_file(work_ / "t.json", R"({"format": 7, "libraries": []})");
  auto r = tmpdump({"pack", (work_ / "t.json").string(), "-o", (work_ / "a.zip").string()});
  EXPECT_EQ(r.exit_code, 2) << r.all();
  EXPECT_NE(r.err.find("format 7"), std::string::npos) << r.err;
}

TEST_F(PackTest, LevelsAboveNineteenAreRefused) {
  const auto trace = write_trace({{"libzstd.so.1", {"libzstd.so.1"}}});
  auto r = tmpdump({"pack", trace.string(), "-o", (work_ / "a.zip").string(), "--level", "22"});
  EXPECT_EQ(r.exit_code, 2) << r.all();
}

TEST_F(PackTest, ClosureAddsMissingDependenciesButNotGlibc) {
  const auto trace = write_trace({{"libcurl.so.4", {"libcurl.so.4"}}});
  auto r = tmpdump({"pack", trace.string(), "-o", (work_ / "a.zip").string(), "--closure", "--level", "1"});
  ASSERT_EQ(r.exit_code, 0) << r.all();
  const fs::path root = pull(work_ / "a.zip", "root");
  // libcurl needs libnghttp2.so.14, libssl.so.3, libz.so.1 ... on Debian 12.
  EXPECT_TRUE(fs::exists(root / "lib/libnghttp2.so.14")) << r.out;
  EXPECT_TRUE(fs::exists(root / "lib/libz.so.1")) << r.out;
  EXPECT_FALSE(fs::exists(root / "lib/libc.so.6"));
  EXPECT_NE(r.out.find("the closure added"), std::string::npos) << r.out;
  // Every DT_NEEDED of the packed libraries resolves inside lib/ or to glibc.
  auto ldd =
      run({"ldd", (root / "lib/libcurl.so.4").string()}, {.env = {{"LD_LIBRARY_PATH", (root / "lib").string()}}});
  EXPECT_EQ(ldd.out.find("not found"), std::string::npos) << ldd.out;
}

TEST_F(PackTest, FunctionConfigNamesTheSourceWithTheDigest) {
  const auto trace = write_trace({{"libzstd.so.1", {"libzstd.so.1"}}});
  auto r = tmpdump({"pack", trace.string(), "-o", (work_ / "a.zip").string(), "--function-config",
                    (work_ / "tmpdump.json").string(), "--source", "s3://b/tmpdump/fn.zip"});
  ASSERT_EQ(r.exit_code, 0) << r.all();
  const auto config = nlohmann::json::parse(read_file(work_ / "tmpdump.json"));
  EXPECT_EQ(config["format"], 1);
  EXPECT_EQ(config["root"], "/tmp");
  EXPECT_EQ(config["sources"][0], "s3://b/tmpdump/fn.zip#sha256=" + sha256_hex(read_file(work_ / "a.zip")));
}

}  // namespace
}  // namespace tmpdump::testing
