// tmpdump check end to end: libraries built here with gcc, archives made with
// zip -y -r (the Java layer's way) and with archive::ZipWriter.
#include <filesystem>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "archive/zip_writer.hpp"
#include "support/process.hpp"
#include "support/s3_server.hpp"

namespace tmpdump::testing {
namespace {

namespace fs = std::filesystem;

class CheckTest : public ::testing::Test {
 protected:
  // Built once: a library using only old glibc symbols, one using arc4random
  // (GLIBC_2.36), and a library linked against another one.
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    const fs::path d = dir_->path();
    fs::create_directories(d / "out");
    write_file(d / "old.c",
               "#include <stdio.h>\n#include <stdlib.h>\nint old_f(void) { return puts(\"x\") + abs(-1); }\n");
    write_file(d / "new.c", "#include <stdlib.h>\nunsigned new_f(void) { return arc4random(); }\n");
    write_file(d / "dep.c", "int dep_f(void) { return 1; }\n");
    write_file(d / "user.c", "int dep_f(void);\nint user_f(void) { return dep_f(); }\n");
    write_file(d / "v3.c", "int v3_f(void) { return 3; }\n");
    write_file(d / "app.c", "int user_f(void);\nint main(void) { return user_f(); }\n");
    compile({"-shared", "-fPIC", "-Wl,-soname,libold.so.1", "-o", (d / "out/libold.so.1").string(),
             (d / "old.c").string()});
    compile({"-shared", "-fPIC", "-Wl,-soname,libnew.so.1", "-o", (d / "out/libnew.so.1").string(),
             (d / "new.c").string()});
    compile({"-shared", "-fPIC", "-Wl,-soname,libdep.so.1", "-o", (d / "out/libdep.so.1.0").string(),
             (d / "dep.c").string()});
    fs::create_symlink("libdep.so.1.0", d / "out/libdep.so.1");
    compile({"-shared", "-fPIC", "-Wl,-soname,libuser.so.1", "-o", (d / "out/libuser.so.1").string(),
             (d / "user.c").string(), "-L" + (d / "out").string(), "-l:libdep.so.1"});
    compile({"-shared", "-fPIC", "-Wl,-z,x86-64-v3", "-Wl,-soname,libv3.so.1", "-o", (d / "out/libv3.so.1").string(),
             (d / "v3.c").string()});
    compile({"-o", (d / "out/app").string(), (d / "app.c").string(), "-L" + (d / "out").string(), "-l:libuser.so.1",
             "-Wl,-rpath-link," + (d / "out").string()});
  }
  static void TearDownTestSuite() {
    delete dir_;
    dir_ = nullptr;
  }
  void SetUp() override {
    ASSERT_TRUE(fs::exists(dir_->path() / "out/app")) << "the test libraries did not build (see above)";
  }

  static fs::path built(const std::string& name) { return dir_->path() / "out" / name; }

  // Makes lib/ from `files` (archive path -> built file) and `links`, zipped with zip -y -r.
  fs::path zip_tree(const std::map<std::string, std::string>& files,
                    const std::map<std::string, std::string>& links = {}) {
    const fs::path tree = work_ / "tree";
    for (const auto& [rel, src] : files) {
      fs::create_directories((tree / rel).parent_path());
      fs::copy_file(built(src), tree / rel);
    }
    for (const auto& [rel, target] : links) fs::create_symlink(target, tree / rel);
    const fs::path zip = work_ / "dump.zip";
    std::vector<std::string> argv{"zip", "-q", "-y", "-r", zip.string()};
    for (const auto& e : fs::directory_iterator(tree)) argv.push_back(e.path().filename().string());
    auto r = run(argv, {.cwd = tree});
    EXPECT_EQ(r.exit_code, 0) << r.all();
    return zip;
  }

  RunResult check(std::vector<std::string> args) {
    std::vector<std::string> argv{tmpdump_binary().string(), "check"};
    argv.insert(argv.end(), args.begin(), args.end());
    return run(argv, {.env = {{"TMPDIR", work_.path().string()}}, .timeout = std::chrono::seconds(120)});
  }

  // No scratch directory may survive a check.
  void expect_no_scratch_left() {
    for (const auto& e : fs::directory_iterator(work_.path())) {
      EXPECT_EQ(e.path().filename().string().find("tmpdump-check-"), std::string::npos) << e.path();
    }
  }

  static TempDir* dir_;
  TempDir work_;
};

TempDir* CheckTest::dir_ = nullptr;

TEST_F(CheckTest, PassesCompleteArchiveOfOldSymbolsAndApp) {
  const auto zip = zip_tree({{"lib/libold.so.1", "libold.so.1"},
                             {"lib/libuser.so.1", "libuser.so.1"},
                             {"lib/libdep.so.1.0", "libdep.so.1.0"}},
                            {{"lib/libdep.so.1", "libdep.so.1.0"}});
  auto r = check({zip.string(), "--app", built("app").string()});
  EXPECT_EQ(r.exit_code, 0) << r.all();
  EXPECT_TRUE(r.out.empty()) << r.out;
  EXPECT_NE(r.err.find("ok on provided.al2023"), std::string::npos) << r.err;
  expect_no_scratch_left();
}

TEST_F(CheckTest, EstimatesThePullAtTheFunctionsMemorySize) {
  const auto zip = zip_tree({{"lib/libold.so.1", "libold.so.1"}}, {});
  auto r = check({zip.string(), "--memory", "512"});
  EXPECT_EQ(r.exit_code, 0) << r.all();
  // A tiny archive: its download bounds nothing, so the estimate is small and
  // says which resource it is.
  EXPECT_NE(r.err.find("the pull takes about 0.0 s at 512 MB (0.29 vCPU)"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("-bound ("), std::string::npos) << r.err;
  auto quiet = check({zip.string(), "-q"});
  EXPECT_TRUE(quiet.err.empty()) << quiet.err;
  auto bad = check({zip.string(), "--memory", "100"});
  EXPECT_EQ(bad.exit_code, 2) << bad.all();
  EXPECT_NE(bad.err.find("--memory"), std::string::npos) << bad.err;
}

TEST_F(CheckTest, CatchesMissingDependency) {
  const auto zip = zip_tree({{"lib/libuser.so.1", "libuser.so.1"}});
  auto r = check({zip.string()});
  EXPECT_EQ(r.exit_code, 13) << r.all();
  EXPECT_NE(
      r.out.find("lib/libuser.so.1: needs libdep.so.1, which is neither in the archive's lib/ nor in provided.al2023"),
      std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("fix: add it to the archive"), std::string::npos) << r.out;
  expect_no_scratch_left();
}

TEST_F(CheckTest, CatchesAppDependencyMissingFromArchive) {
  const auto zip = zip_tree({{"lib/libold.so.1", "libold.so.1"}});
  auto r = check({zip.string(), "--app", built("app").string()});
  EXPECT_EQ(r.exit_code, 13) << r.all();
  EXPECT_NE(r.out.find(built("app").string() + ": needs libuser.so.1"), std::string::npos) << r.out;
}

TEST_F(CheckTest, CatchesMissingSonameSymlink) {
  // The real file is there, but not the name the loader looks for.
  const auto zip = zip_tree({{"lib/libuser.so.1", "libuser.so.1"}, {"lib/libdep.so.1.0", "libdep.so.1.0"}});
  auto r = check({zip.string()});
  EXPECT_EQ(r.exit_code, 13) << r.all();
  EXPECT_NE(r.out.find("lib/libdep.so.1.0 has that soname but no file or symlink named libdep.so.1 exists"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("add the symlink libdep.so.1 -> libdep.so.1.0"), std::string::npos) << r.out;
}

TEST_F(CheckTest, CatchesGlibcNewerThanTarget) {
  const auto zip = zip_tree({{"lib/libnew.so.1", "libnew.so.1"}, {"lib/libold.so.1", "libold.so.1"}});
  auto r = check({zip.string(), "--target", "al2023"});
  EXPECT_EQ(r.exit_code, 13) << r.all();
  EXPECT_NE(r.out.find("lib/libnew.so.1: needs GLIBC_2.36 (GLIBC_2.36) but provided.al2023 has glibc 2.34"),
            std::string::npos)
      << r.out;
  EXPECT_EQ(r.out.find("lib/libold.so.1"), std::string::npos) << r.out;
}

TEST_F(CheckTest, LibraryOfOldSymbolsPassesBothTargets) {
  const auto zip = zip_tree({{"lib/libold.so.1", "libold.so.1"}});
  auto al2023 = check({zip.string(), "--target", "al2023"});
  EXPECT_EQ(al2023.exit_code, 0) << al2023.all();
  // puts/abs are GLIBC_2.2.5: fine on AL2 as well.
  auto al2 = check({zip.string(), "--target", "al2"});
  EXPECT_EQ(al2.exit_code, 0) << al2.all();
  EXPECT_NE(al2.err.find("provided.al2:"), std::string::npos) << al2.err;
}

TEST_F(CheckTest, CatchesIsaLevelAboveItsDirectory) {
  const auto zip =
      zip_tree({{"lib/libv3.so.1", "libv3.so.1"}, {"lib/glibc-hwcaps/x86-64-v3/libv3.so.1", "libv3.so.1"}});
  auto r = check({zip.string()});
  EXPECT_EQ(r.exit_code, 13) << r.all();
  EXPECT_NE(r.out.find("lib/libv3.so.1: needs x86-64-v3 but its directory promises baseline x86-64"), std::string::npos)
      << r.out;
  // The same file in the v3 variant directory is fine.
  EXPECT_EQ(r.out.find("lib/glibc-hwcaps/x86-64-v3/libv3.so.1"), std::string::npos) << r.out;
}

TEST_F(CheckTest, CatchesOversizeDumpAndSnapStartLimit) {
  // 600 MiB of zeros compresses to almost nothing but unpacks past the default /tmp.
  const fs::path zip = work_ / "big.zip";
  {
    auto w = archive::ZipWriter::to_file(zip);
    ASSERT_TRUE(w);
    ASSERT_TRUE(w->add_file("lib/data.bin", std::string(600u << 20, '\0'), 0644, {archive::Method::Zstd, 1}));
    ASSERT_TRUE(w->finish());
  }
  auto r = check({zip.string()});
  EXPECT_EQ(r.exit_code, 13) << r.all();
  EXPECT_NE(r.out.find("unpacks to 600.0 MB on disk, more than the 512 MB of /tmp"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("ephemeral storage"), std::string::npos) << r.out;

  auto roomy = check({zip.string(), "--ephemeral-mb", "1024"});
  EXPECT_EQ(roomy.exit_code, 0) << roomy.all();

  auto snap = check({zip.string(), "--ephemeral-mb", "1024", "--snapstart"});
  EXPECT_EQ(snap.exit_code, 13) << snap.all();
  EXPECT_NE(snap.out.find("a SnapStart function may use"), std::string::npos) << snap.out;
  expect_no_scratch_left();
}

// Runs the real `tmpdump pack` on a trace of `libs` (real paths with their names).
RunResult pack_trace(const fs::path& work, const std::vector<std::pair<fs::path, std::string>>& libs,
                     const std::string& out, std::vector<std::string> extra = {}) {
  std::string json = R"({"format":1,"command":["app"],"libraries":[)";
  for (std::size_t i = 0; i < libs.size(); ++i) {
    json += fmt::format(R"({}{{"path":"{}","names":["{}"]}})", i == 0 ? "" : ",", fs::canonical(libs[i].first).string(),
                        libs[i].second);
  }
  json += "]}";
  write_file(work / "trace.json", json);
  std::vector<std::string> argv{tmpdump_binary().string(),
                                "pack",
                                (work / "trace.json").string(),
                                "-o",
                                (work / out).string(),
                                "--level",
                                "1",
                                "-q"};
  argv.insert(argv.end(), extra.begin(), extra.end());
  return run(argv, {.env = {{"TMPDUMP_PROGRESS", "0"}}, .timeout = std::chrono::seconds(120)});
}

TEST_F(CheckTest, PackAndCheckAgreeThatTheImageBringsLibgcc) {
  // Debian 12's libgcc_s.so.1 needs GLIBC_2.35: packed, check would flag it on provided.al2023.
  const fs::path libgcc = "/lib/x86_64-linux-gnu/libgcc_s.so.1";
  if (!fs::exists(libgcc)) GTEST_SKIP() << "no " << libgcc;
  auto p = pack_trace(work_.path(), {{libgcc, "libgcc_s.so.1"}, {built("libold.so.1"), "libold.so.1"}}, "gcc.zip");
  ASSERT_EQ(p.exit_code, 0) << p.all();
  auto listing = run({"unzip", "-Z1", (work_ / "gcc.zip").string()});
  EXPECT_EQ(listing.out.find("libgcc_s"), std::string::npos) << listing.out;
  auto r = check({(work_ / "gcc.zip").string()});
  EXPECT_EQ(r.exit_code, 0) << r.all();
}

TEST_F(CheckTest, ManagedRuntimeTargetSaysBundledGlibcCannotHelpAndWhatCan) {
  const fs::path libc = "/lib/x86_64-linux-gnu/libc.so.6";
  auto p = pack_trace(work_.path(), {{libc, "libc.so.6"}, {built("libnew.so.1"), "libnew.so.1"}}, "libc.zip",
                      {"--with-libc"});
  ASSERT_EQ(p.exit_code, 0) << p.all();
  // bootstrap starts an executable through the bundled loader: fine on provided.al2023.
  auto provided = check({(work_ / "libc.zip").string(), "--target", "provided.al2023"});
  EXPECT_EQ(provided.exit_code, 0) << provided.all();
  EXPECT_NE(provided.err.find("needs glibc bundled"), std::string::npos) << provided.err;

  for (const std::string target : {"java21", "python3.12", "nodejs22.x"}) {
    auto r = check({(work_ / "libc.zip").string(), "--target", target});
    EXPECT_EQ(r.exit_code, 13) << r.all();
    EXPECT_NE(r.out.find("lib/libc/libc.so.6: bundles glibc (pack --with-libc), which " + target + " never loads"),
              std::string::npos)
        << r.out;
    EXPECT_NE(r.out.find("lib/libnew.so.1: needs GLIBC_2.36 (GLIBC_2.36) but " + target + " has glibc 2.34"),
              std::string::npos)
        << r.out;
    for (const char* fix :
         {"pack --with-libc cannot help", "Amazon Linux 2023", "manylinux wheels", "JavaCPP's builds"}) {
      EXPECT_NE(r.out.find(fix), std::string::npos) << fix << "\n" << r.out;
    }
  }
  // java17 runs on Amazon Linux 2.
  auto java17 = check({(work_ / "libc.zip").string(), "--target", "java17"});
  EXPECT_NE(java17.out.find("java17 has glibc 2.26"), std::string::npos) << java17.out;
}

TEST_F(CheckTest, WhatPackLeftOutForTheRuntimeIsFoundOnlyOnThatRuntime) {
  // libdep stands in for libjvm.so: a JNI library needs it, the JDK brings it.
  write_file(work_ / "trace.json",
             fmt::format(R"({{"format":1,"libraries":[{{"path":"{}","names":["libuser.so.1"]}},)"
                         R"({{"path":"{}","names":["libdep.so.1"],"provided_by":"java"}}]}})",
                         built("libuser.so.1").string(), fs::canonical(built("libdep.so.1.0")).string()));
  auto p = run({tmpdump_binary().string(), "pack", (work_ / "trace.json").string(), "-o", (work_ / "jni.zip").string(),
                "--level", "1", "-q"},
               {.env = {{"TMPDUMP_PROGRESS", "0"}}, .timeout = std::chrono::seconds(60)});
  ASSERT_EQ(p.exit_code, 0) << p.all();
  auto java = check({(work_ / "jni.zip").string(), "--target", "java21"});
  EXPECT_EQ(java.exit_code, 0) << java.all();
  auto provided = check({(work_ / "jni.zip").string(), "--target", "provided.al2023"});
  EXPECT_EQ(provided.exit_code, 13) << provided.all();
  EXPECT_NE(provided.out.find("needs libdep.so.1"), std::string::npos) << provided.out;
  auto python = check({(work_ / "jni.zip").string(), "--target", "python3.12"});
  EXPECT_EQ(python.exit_code, 13) << python.all();
}

TEST_F(CheckTest, PythonTargetChecksExtensionTagsAgainstItsVersion) {
  const auto zip = zip_tree({{"python/pkg/_old.cpython-311-x86_64-linux-gnu.so", "libold.so.1"},
                             {"python/pkg/_right.cpython-312-x86_64-linux-gnu.so", "libold.so.1"},
                             {"python/pkg/_stable.abi3.so", "libold.so.1"}});
  auto r = check({zip.string(), "--target", "python3.12"});
  EXPECT_EQ(r.exit_code, 13) << r.all();
  EXPECT_NE(r.out.find("python/pkg/_old.cpython-311-x86_64-linux-gnu.so: is an extension module for CPython 3.11 "
                       "(cpython-311) but python3.12 runs CPython 3.12"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("--python-version 3.12"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("_right"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("_stable"), std::string::npos) << r.out;
  auto py313 = check({zip.string(), "--target", "python3.13"});
  EXPECT_NE(py313.out.find("_right.cpython-312-x86_64-linux-gnu.so: is an extension module for CPython 3.12"),
            std::string::npos)
      << py313.out;
  // provided.* and Java know nothing of Python tags.
  EXPECT_EQ(check({zip.string(), "--target", "java21"}).exit_code, 0);
}

TEST_F(CheckTest, MissingArchiveIsNotFound) {
  auto r = check({(work_ / "nope.zip").string()});
  EXPECT_EQ(r.exit_code, 3) << r.all();
  EXPECT_NE(r.err.find("nope.zip"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace tmpdump::testing
