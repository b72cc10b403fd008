#include "check/checker.hpp"

#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "elf/testing/elf_builder.hpp"

namespace tmpdump::check {
namespace {

namespace fs = std::filesystem;

// A 64-bit little-endian x86-64 shared object: what elf::read_file() reads.
using Elf = elf::testing::ElfBuilder;

class CheckerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::random_device rd;
    root_ = fs::temp_directory_path() / ("tmpdump-checker-test-" + std::to_string(rd()));
    fs::create_directories(root_);
  }
  void TearDown() override { fs::remove_all(root_); }

  // Writes an unpacked tree's file at archive path `rel`.
  void put(const std::string& rel, const Elf& elf) const { write(root_ / rel, elf.build()); }
  static void write(const fs::path& path, const std::string& bytes) {
    fs::create_directories(path.parent_path());
    std::ofstream(path, std::ios::binary) << bytes;
  }

  std::vector<Problem> check(std::string_view target_name, const std::vector<std::string>& apps = {}) {
    auto target = find_target(target_name);
    EXPECT_TRUE(target) << target_name;
    if (!target) return {};
    Checker checker(root_, *target);
    checker.run(apps);
    bundles_libc_ = checker.bundles_libc();
    objects_ = checker.objects();
    return checker.problems();
  }

  static std::string listed(const std::vector<Problem>& problems) {
    std::string out;
    for (const auto& p : problems) out += p.where + ": " + p.what + "; fix: " + p.fix + "\n";
    return out;
  }

  fs::path root_;
  bool bundles_libc_ = false;
  std::size_t objects_ = 0;
};

Elf lib(std::string soname, std::vector<std::string> needed = {}, std::vector<std::string> glibc = {"GLIBC_2.2.5"}) {
  Elf e;
  e.soname = std::move(soname);
  e.needed = std::move(needed);
  e.glibc = std::move(glibc);
  return e;
}

TEST_F(CheckerTest, CompleteTreeOfOldSymbolsHasNoProblems) {
  put("lib/libold.so.1", lib("libold.so.1", {"libc.so.6"}));
  put("lib/libuser.so.1", lib("libuser.so.1", {"libdep.so.1", "libm.so.6"}));
  put("lib/libdep.so.1", lib("libdep.so.1"));
  write(root_ / "app" / "fn", lib("", {"libuser.so.1"}).build());
  write(root_ / "README.txt", "not an ELF file: not an object, not a problem\n");
  const auto problems = check("al2023");
  EXPECT_TRUE(problems.empty()) << listed(problems);
  EXPECT_EQ(objects_, 4u);
  EXPECT_TRUE(check("al2").empty());
  EXPECT_TRUE(check("java21").empty());
}

TEST_F(CheckerTest, GlibcNewerThanTheTargetIsAProblemWithTheSymbolsNamed) {
  put("lib/libnew.so.1", lib("libnew.so.1", {}, {"GLIBC_2.2.5", "GLIBC_2.36", "GLIBC_2.35"}));
  put("lib/libold.so.1", lib("libold.so.1", {}, {"GLIBC_2.17"}));
  const auto problems = check("al2023");
  ASSERT_EQ(problems.size(), 1u) << listed(problems);
  EXPECT_EQ(problems[0].where, "lib/libnew.so.1");
  EXPECT_EQ(problems[0].what, "needs GLIBC_2.36 (GLIBC_2.36, GLIBC_2.35) but provided.al2023 has glibc 2.34");
  EXPECT_NE(problems[0].fix.find("pack --with-libc"), std::string::npos) << problems[0].fix;
  // AL2's glibc is 2.26: GLIBC_2.17 still fits.
  const auto al2 = check("al2");
  ASSERT_EQ(al2.size(), 1u) << listed(al2);
  EXPECT_EQ(al2[0].where, "lib/libnew.so.1");
}

TEST_F(CheckerTest, BundledLibcServesBootstrapButNoManagedRuntime) {
  put("lib/libc/libc.so.6", lib("libc.so.6", {}, {"GLIBC_2.36"}));
  put("lib/libnew.so.1", lib("libnew.so.1", {"libc.so.6"}, {"GLIBC_2.36"}));
  // bootstrap starts the function through the bundled loader: its glibc decides.
  EXPECT_TRUE(check("provided.al2023").empty());
  EXPECT_TRUE(bundles_libc_);

  const auto java = check("java21");
  EXPECT_FALSE(bundles_libc_);
  ASSERT_EQ(java.size(), 2u) << listed(java);
  EXPECT_EQ(java[0].where, "lib/libc/libc.so.6");
  EXPECT_NE(java[0].what.find("bundles glibc (pack --with-libc), which java21 never loads"), std::string::npos);
  EXPECT_NE(java[0].fix.find("pack --with-libc cannot help"), std::string::npos);
  EXPECT_EQ(java[1].where, "lib/libnew.so.1");
  EXPECT_EQ(java[1].what, "needs GLIBC_2.36 (GLIBC_2.36) but java21 has glibc 2.34");
}

TEST_F(CheckerTest, BundledLibcOfTheOldLayoutInLibIsFoundToo) {
  put("lib/libc.so.6", lib("libc.so.6", {}, {"GLIBC_2.36"}));
  EXPECT_TRUE(check("provided.al2023").empty());
  EXPECT_TRUE(bundles_libc_);
  const auto python = check("python3.12");
  ASSERT_FALSE(python.empty());
  EXPECT_EQ(python[0].where, "lib/libc.so.6");
  EXPECT_NE(python[0].what.find("which python3.12 never loads"), std::string::npos) << listed(python);
}

TEST_F(CheckerTest, MissingDependencyIsAProblemForTheObjectThatNeedsIt) {
  put("lib/libuser.so.1", lib("libuser.so.1", {"libdep.so.1", "libc.so.6"}));
  const auto problems = check("al2023");
  ASSERT_EQ(problems.size(), 1u) << listed(problems);
  EXPECT_EQ(problems[0].where, "lib/libuser.so.1");
  EXPECT_EQ(problems[0].what, "needs libdep.so.1, which is neither in the archive's lib/ nor in provided.al2023");
  EXPECT_EQ(problems[0].fix, "add it to the archive (tmpdump pack --closure, or copy it into lib/)");
}

TEST_F(CheckerTest, DependencyPresentOnlyUnderItsRealNameNeedsItsSonameSymlink) {
  put("lib/libuser.so.1", lib("libuser.so.1", {"libdep.so.1"}));
  put("lib/libdep.so.1.0", lib("libdep.so.1"));
  const auto problems = check("al2023");
  ASSERT_EQ(problems.size(), 1u) << listed(problems);
  EXPECT_EQ(problems[0].what,
            "needs libdep.so.1; lib/libdep.so.1.0 has that soname but no file or symlink named "
            "libdep.so.1 exists");
  EXPECT_NE(problems[0].fix.find("add the symlink libdep.so.1 -> libdep.so.1.0"), std::string::npos);
}

TEST_F(CheckerTest, MissingDependencyOfTheAppOutsideTheArchiveIsAProblem) {
  const fs::path app = root_.parent_path() / (root_.filename().string() + "-app");
  write(app, lib("", {"libuser.so.1"}).build());
  const auto problems = check("al2023", {app.string()});
  fs::remove(app);
  ASSERT_EQ(problems.size(), 1u) << listed(problems);
  EXPECT_EQ(problems[0].where, app.string());
  EXPECT_NE(problems[0].what.find("needs libuser.so.1"), std::string::npos);
}

TEST_F(CheckerTest, PythonExtensionForAnotherCPythonIsAProblemOnPythonTargetsOnly) {
  put("python/pkg/_old.cpython-311-x86_64-linux-gnu.so", lib(""));
  put("python/pkg/_right.cpython-312-x86_64-linux-gnu.so", lib(""));
  put("python/pkg/_stable.abi3.so", lib(""));
  const auto py312 = check("python3.12");
  ASSERT_EQ(py312.size(), 1u) << listed(py312);
  EXPECT_EQ(py312[0].where, "python/pkg/_old.cpython-311-x86_64-linux-gnu.so");
  EXPECT_EQ(py312[0].what,
            "is an extension module for CPython 3.11 (cpython-311) but python3.12 runs CPython 3.12; "
            "it will not import");
  EXPECT_NE(py312[0].fix.find("--python-version 3.12"), std::string::npos);
  EXPECT_NE(py312[0].fix.find("cp312"), std::string::npos);
  const auto py313 = check("python3.13");
  EXPECT_EQ(py313.size(), 2u) << listed(py313);
  EXPECT_TRUE(check("java21").empty());
  EXPECT_TRUE(check("al2023").empty());
}

TEST_F(CheckerTest, IsaLevelAboveWhatItsDirectoryPromisesIsAProblem) {
  Elf v3 = lib("libv3.so.1");
  v3.isa_bits = 0x4;
  put("lib/libv3.so.1", v3);
  put("lib/glibc-hwcaps/x86-64-v3/libv3.so.1", v3);
  const auto problems = check("al2023");
  ASSERT_EQ(problems.size(), 1u) << listed(problems);
  EXPECT_EQ(problems[0].where, "lib/libv3.so.1");
  EXPECT_EQ(problems[0].what, "needs x86-64-v3 but its directory promises baseline x86-64");
}

TEST_F(CheckerTest, TruncatedElfIsAProblemAndOtherFilesAreNot) {
  write(root_ / "lib/libcut.so.1", lib("libcut.so.1").build().substr(0, 100));
  const auto problems = check("al2023");
  ASSERT_EQ(problems.size(), 1u) << listed(problems);
  EXPECT_EQ(problems[0].where, "lib/libcut.so.1");
  EXPECT_TRUE(problems[0].what.starts_with("not a valid ELF file: ")) << problems[0].what;
}

TEST(TargetTest, KnowsLambdasRuntimesAndTheirGlibc) {
  EXPECT_EQ(find_target("al2023")->name, "provided.al2023");
  EXPECT_EQ(find_target("al2")->glibc, (std::vector<int>{2, 26, 0}));
  EXPECT_EQ(find_target("java17")->glibc, (std::vector<int>{2, 26, 0}));
  EXPECT_EQ(find_target("python3.13")->cpython, "313");
  EXPECT_EQ(find_target("nodejs22.x")->managed, "node");
  EXPECT_FALSE(find_target("python2.7"));
  EXPECT_FALSE(find_target("provided"));
}

archive::CentralDirectory one_file(std::uint64_t unpacked, std::uint64_t packed) {
  archive::CentralDirectory dir;
  archive::Entry e;
  e.name = "lib/data.bin";
  e.method = archive::Method::Zstd;
  e.uncompressed_size = unpacked;
  e.compressed_size = packed;
  dir.entries.push_back(e);
  archive::Entry d;
  d.name = "lib";
  d.type = archive::EntryType::Directory;
  dir.entries.push_back(d);
  dir.archive_size = packed;
  dir.total_uncompressed = unpacked;
  return dir;
}

TEST(SizeTest, TreeOverTmpIsAProblemThatSaysHowMuchEphemeralStorageToGive) {
  const auto dir = one_file(600u << 20, 1000);
  // 4 KiB blocks: the file's 600 MiB and one block for the directory.
  EXPECT_EQ(on_disk_bytes(dir), (600u << 20) + 4096);
  EXPECT_EQ(on_disk_bytes(one_file(1, 1)), 8192u);
  const auto problem = check_fits(on_disk_bytes(dir), TmpSpace{512, false}, "dump.zip");
  ASSERT_TRUE(problem);
  EXPECT_EQ(problem->where, "dump.zip");
  EXPECT_EQ(problem->what, "unpacks to 600.0 MB on disk, more than the 512 MB of /tmp");
  EXPECT_NE(problem->fix.find("at least 665 MB of ephemeral storage"), std::string::npos) << problem->fix;
  EXPECT_FALSE(check_fits(on_disk_bytes(dir), TmpSpace{1024, false}, "dump.zip"));
  // SnapStart caps /tmp at 512 MB whatever the ephemeral storage.
  const auto snap = check_fits(on_disk_bytes(dir), TmpSpace{1024, true}, "dump.zip");
  ASSERT_TRUE(snap);
  EXPECT_EQ(snap->what, "unpacks to 600.0 MB on disk, more than the 512 MB of /tmp a SnapStart function may use");
  EXPECT_NE(snap->fix.find("make the archive smaller"), std::string::npos);
}

TEST(EstimateTest, PullEstimateIsForTheFunctionsMemorySize) {
  const fs::path no_manifest = fs::temp_directory_path() / "tmpdump-checker-test-no-such-tree";
  const auto dir = one_file(200'000'000, 60'000'000);
  const std::string at512 = describe_pull(dir, no_manifest, 512);
  EXPECT_TRUE(at512.starts_with("the pull takes about ")) << at512;
  EXPECT_NE(at512.find(" at 512 MB (0.29 vCPU)"), std::string::npos) << at512;
  const std::string at3538 = describe_pull(dir, no_manifest, 3538);
  EXPECT_NE(at3538.find(" at 3538 MB (2.00 vCPU)"), std::string::npos) << at3538;
  EXPECT_NE(at512, at3538);
}

}  // namespace
}  // namespace tmpdump::check
