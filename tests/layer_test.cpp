// layer.zip as Lambda sees it: unpacked with Info-ZIP into an /opt-like
// directory, it holds the entry points with the right modes, their own loader
// and glibc outside /opt/lib, and nothing that reaches out of the tree.
// (The chroot test runs it on an older glibc; this one checks the artifact.)
#include <sys/stat.h>

#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "elf/elf.hpp"
#include "support/process.hpp"
#include "support/s3_server.hpp"

namespace tmpdump::testing {
namespace {

namespace fs = std::filesystem;

#if defined(__x86_64__)
constexpr const char* kLoader = "ld-linux-x86-64.so.2";
#elif defined(__aarch64__)
constexpr const char* kLoader = "ld-linux-aarch64.so.1";
#endif

const std::vector<std::string> kEntryPoints{"bootstrap", "tmpdump-exec-wrapper", "bin/tmpdump"};
constexpr const char* kPullModule = "tmpdump/lib/libtmpdump-pull.so";

unsigned mode_of(const fs::path& p) {
  struct stat st {};
  if (::lstat(p.c_str(), &st) != 0) return 0;
  return st.st_mode & 07777U;
}

class LayerZip : public ::testing::Test {
 protected:
  void SetUp() override {
#if defined(__SANITIZE_ADDRESS__)
    GTEST_SKIP() << "the layer is made of unsanitized programs only (packaging/CMakeLists.txt)";
#endif
    zip_ = build_dir() / "layer.zip";
    ASSERT_TRUE(fs::exists(zip_)) << zip_ << " is missing: cmake --build <build> --target layer";
    // Info-ZIP keeps Unix modes and symlinks, as Lambda's extraction does.
    auto r = run({"unzip", "-q", zip_.string(), "-d", opt_.string()});
    ASSERT_EQ(r.exit_code, 0) << r.all();
  }

  TempDir tmp_;
  fs::path zip_;
  fs::path opt_ = tmp_ / "opt";
};

TEST_F(LayerZip, ReportsItsSize) {
  std::uintmax_t unpacked = 0;
  std::size_t files = 0;
  for (const auto& e : fs::recursive_directory_iterator(opt_)) {
    if (e.is_regular_file()) {
      unpacked += e.file_size();
      ++files;
    }
  }
  const auto zipped = fs::file_size(zip_);
  fmt::print("layer.zip: {:.1f} MB zipped, {:.1f} MB unpacked, {} files\n", static_cast<double>(zipped) / 1e6,
             static_cast<double>(unpacked) / 1e6, files);
  RecordProperty("zipped_bytes", std::to_string(zipped));
  RecordProperty("unpacked_bytes", std::to_string(unpacked));
  // Lambda allows 250 MB unpacked for function and layers together; the layer
  // must leave almost all of it to the function.
  EXPECT_LT(unpacked, 40'000'000U);
}

TEST_F(LayerZip, EntryPointsAndLoaderAreExecutableEverythingElseIsNot) {
  for (const auto& e : kEntryPoints) {
    ASSERT_TRUE(fs::is_regular_file(opt_ / e)) << e;
    EXPECT_EQ(mode_of(opt_ / e), 0755U) << e;
  }
  EXPECT_EQ(mode_of(opt_ / "tmpdump/lib" / kLoader), 0755U);
  for (const auto& e : fs::recursive_directory_iterator(opt_)) {
    const auto rel = fs::relative(e.path(), opt_).string();
    if (e.is_directory()) {
      EXPECT_EQ(mode_of(e.path()), 0755U) << rel;
    } else if (std::find(kEntryPoints.begin(), kEntryPoints.end(), rel) == kEntryPoints.end() &&
               rel != fmt::format("tmpdump/lib/{}", kLoader)) {
      EXPECT_EQ(mode_of(e.path()), 0644U) << rel;
    }
  }
}

TEST_F(LayerZip, SymlinksStayInsideTheLayer) {
  const auto root = fs::weakly_canonical(opt_);
  for (const auto& e : fs::recursive_directory_iterator(opt_)) {
    if (!e.is_symlink()) continue;
    const auto target = fs::weakly_canonical(e.path());
    const auto rel = fs::relative(target, root).string();
    EXPECT_TRUE(fs::exists(target)) << e.path() << " dangles";
    EXPECT_FALSE(rel.starts_with("..")) << e.path() << " points outside the layer: " << target;
  }
}

TEST_F(LayerZip, NothingInOptLibWhereLambdasLibraryPathWouldHandItToEveryProcess) {
  // Lambda's LD_LIBRARY_PATH ends in /opt/lib: a glibc there would be loaded
  // by the system loader of java, python and the handler, and break them.
  EXPECT_FALSE(fs::exists(opt_ / "lib"));
  EXPECT_TRUE(fs::exists(opt_ / "tmpdump/lib/libc.so.6"));
}

TEST_F(LayerZip, EntryPointsUseTheBundledLoaderAndRpathNotRunpath) {
  for (const auto& e : kEntryPoints) {
    auto info = elf::read_file(opt_ / e);
    ASSERT_TRUE(info) << e << ": " << info.error().message;
    EXPECT_EQ(info->interpreter.value_or(""), fmt::format("/opt/tmpdump/lib/{}", kLoader)) << e;
    // DT_RPATH is searched before LD_LIBRARY_PATH (which on Lambda names the
    // system glibc in /lib64); DT_RUNPATH would come after it.
    EXPECT_TRUE(info->runpath.empty()) << e;
    ASSERT_FALSE(info->rpath.empty()) << e;
    EXPECT_TRUE(info->rpath.front().starts_with("$ORIGIN/")) << e << ": " << info->rpath.front();
    EXPECT_EQ(info->rpath.back(), "/opt/tmpdump/lib") << e;
  }
}

TEST_F(LayerZip, PullModuleSitsAmongTheBundledLibrariesWithRpathToThem) {
  // The entry points dlopen it only when a tmpdump must be fetched; it finds
  // libcurl and the rest next to itself, whatever LD_LIBRARY_PATH says.
  auto info = elf::read_file(opt_ / kPullModule);
  ASSERT_TRUE(info) << info.error().message;
  EXPECT_TRUE(info->runpath.empty());
  EXPECT_EQ(info->rpath, (std::vector<std::string>{"$ORIGIN", "/opt/tmpdump/lib"}));
  EXPECT_EQ(mode_of(opt_ / kPullModule), 0644U);
  auto bootstrap = elf::read_file(opt_ / "bootstrap");
  ASSERT_TRUE(bootstrap) << bootstrap.error().message;
  for (const auto& so : bootstrap->needed) EXPECT_FALSE(so.starts_with("libcurl")) << "bootstrap links " << so;
}

TEST_F(LayerZip, EveryBundledLibraryIsForTheEntryPointsArchitecture) {
  auto entry = elf::read_file(opt_ / "bootstrap");
  ASSERT_TRUE(entry) << entry.error().message;
  for (const auto& e : fs::directory_iterator(opt_ / "tmpdump/lib")) {
    auto info = elf::read_file(e.path());
    ASSERT_TRUE(info) << e.path() << ": " << info.error().message;
    EXPECT_EQ(info->machine, entry->machine) << e.path();
  }
}

TEST_F(LayerZip, ClosureResolvesInsideTheLayerEvenWhenLdLibraryPathNamesTheSystemGlibc) {
  // `ld.so --list` is ldd through the bundled loader: every library the
  // program would load, with the path it would load it from.
#if defined(__x86_64__)
  const std::string system_libs = "/lib/x86_64-linux-gnu:/usr/lib/x86_64-linux-gnu:/lib64:/usr/lib64";
#else
  const std::string system_libs = "/lib/aarch64-linux-gnu:/usr/lib/aarch64-linux-gnu:/lib64:/usr/lib64";
#endif
  std::vector<std::string> objects = kEntryPoints;
  objects.emplace_back(kPullModule);
  for (const auto& e : objects) {
    auto r = run({(opt_ / "tmpdump/lib" / kLoader).string(), "--list", (opt_ / e).string()},
                 {.env = {{"LD_LIBRARY_PATH", system_libs}}});
    ASSERT_EQ(r.exit_code, 0) << e << ": " << r.all();
    std::size_t lines = 0;
    std::size_t pos = 0;
    while ((pos = r.out.find(" => ", pos)) != std::string::npos) {
      pos += 4;
      const auto end = r.out.find(' ', pos);
      const auto path = fs::path(r.out.substr(pos, end - pos));
      EXPECT_EQ(fs::relative(fs::weakly_canonical(path), fs::weakly_canonical(opt_ / "tmpdump/lib")).string(),
                path.filename().string())
          << e << " loads " << path << " from outside the layer";
      ++lines;
    }
    EXPECT_GE(lines, 3U) << r.out;  // at least libc, libstdc++, libm
  }
  auto version = run({(opt_ / "tmpdump/lib" / kLoader).string(), (opt_ / "bin/tmpdump").string(), "--version"},
                     {.env = {{"LD_LIBRARY_PATH", system_libs}}});
  EXPECT_EQ(version.exit_code, 0) << version.all();
}

}  // namespace
}  // namespace tmpdump::testing
