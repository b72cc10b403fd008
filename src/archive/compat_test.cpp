// Archives made by Info-ZIP zip and Python's zipfile extract exactly as Info-ZIP
// unzip extracts them; archives ZipWriter makes pass `unzip -t`.
#include <gtest/gtest.h>

#include "archive/testing/test_support.hpp"

namespace tmpdump::archive {
namespace {

using namespace testing;

const fs::path kSystemLibs = "/usr/lib/x86_64-linux-gnu";

class CompatTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const fs::path lib = tmp_.path() / "src/lib";
    fs::create_directories(lib / "nested/deeper");
    // Real libraries with their real symlink chains, dereferenced into the tree.
    for (const char* real : {"libzstd.so.1.5.4", "libcurl.so.4.8.0"}) fs::copy_file(kSystemLibs / real, lib / real);
    fs::create_symlink("libzstd.so.1.5.4", lib / "libzstd.so.1");
    fs::create_symlink("libzstd.so.1", lib / "libzstd.so");
    fs::create_symlink("libcurl.so.4.8.0", lib / "libcurl.so.4");
    fs::create_symlink("libcurl.so.4", lib / "libcurl.so");
    fs::copy_file(kSystemLibs / "libcrypto.so.3", lib / "nested/libcrypto.so.3");
    fs::create_symlink("nested/libcrypto.so.3", lib / "libcrypto.so");
    write_file(lib / "run.sh", "#!/bin/sh\necho hi\n");
    fs::permissions(lib / "run.sh", fs::perms(0755));
    write_file(lib / "readonly.txt", "do not touch\n");
    fs::permissions(lib / "readonly.txt", fs::perms(0444));
    write_file(lib / "nested/deeper/data.bin", compressible(200000));
    write_file(lib / "dropme.txt", "removed by zip -d\n");
  }

  // zip in src/ with `flags`, drop one file, then compare unzip with extract().
  void check_same_as_unzip(const std::string& flags, unsigned jobs = 2) {
    const auto zip = tmp_.path() / "a.zip";
    fs::remove(zip);
    ASSERT_EQ(run(fmt::format("cd '{}' && zip -q {} -y -r '{}' lib && zip -q -d '{}' 'lib/dropme.txt'",
                              (tmp_.path() / "src").string(), flags, zip.string(), zip.string())),
              0);
    check_zip(zip, jobs);
  }

  void check_zip(const fs::path& zip, unsigned jobs = 2) {
    const auto by_unzip = tmp_.path() / "unzip";
    const auto by_us = tmp_.path() / "ours";
    fs::remove_all(by_unzip);
    fs::remove_all(by_us);
    fs::create_directories(by_unzip);
    fs::create_directories(by_us);
    ASSERT_EQ(run(fmt::format("cd '{}' && unzip -q '{}'", by_unzip.string(), zip.string())), 0);
    auto src = open_file_source(zip);
    ASSERT_TRUE(src.has_value());
    auto info = (*src)->stat();
    auto dir = read_central_directory(**src, *info);
    ASSERT_TRUE(dir.has_value()) << dir.error().message;
    ArchiveInput input{src->get(), &*dir, sha256_hex(slurp(zip))};
    ExtractOptions options;
    options.jobs = jobs;
    options.chunk_bytes = 256 << 10;
    auto r = extract(std::span(&input, 1), by_us, options);
    ASSERT_TRUE(r.has_value()) << r.error().message;
    const auto theirs = snapshot(by_unzip), ours = snapshot(by_us);
    EXPECT_EQ(theirs, ours);
    EXPECT_FALSE(ours.empty());
  }

  TempDir tmp_;
};

TEST_F(CompatTest, InfoZipArchiveExtractsLikeUnzip) {
  check_same_as_unzip("");
}
TEST_F(CompatTest, InfoZipZip64ArchiveExtractsLikeUnzip) {
  check_same_as_unzip("-fz");
}
TEST_F(CompatTest, InfoZipStoredArchiveExtractsLikeUnzip) {
  check_same_as_unzip("-0", 4);
}

TEST_F(CompatTest, InfoZipWritingToAPipeWithDataDescriptorsExtractsLikeUnzip) {
  const auto zip = tmp_.path() / "pipe.zip";
  ASSERT_EQ(
      run(fmt::format("cd '{}' && zip -q -r - lib/nested | cat > '{}'", (tmp_.path() / "src").string(), zip.string())),
      0);
  check_zip(zip);
}

TEST_F(CompatTest, InfoZipEntryReadFromStdinKeepsItsFifoModeAndIsRefused) {
  // `cat f | zip out.zip -` records the pipe's S_IFIFO mode; device/FIFO entries are refused.
  const auto zip = tmp_.path() / "stdin.zip";
  ASSERT_EQ(run(fmt::format("echo hi | zip -q '{}' -", zip.string())), 0);
  auto src = open_file_source(zip);
  ASSERT_TRUE(src.has_value());
  auto dir = read_central_directory(**src, *(*src)->stat());
  ASSERT_FALSE(dir.has_value());
  EXPECT_EQ(dir.error().code, Errc::Unsafe);
  EXPECT_NE(dir.error().message.find("entry \"-\""), std::string::npos);
}

TEST_F(CompatTest, PythonZipfileOnUnseekableStreamExtractsLikeUnzip) {
  const auto zip = tmp_.path() / "py.zip";
  const auto script = tmp_.path() / "mk.py";
  write_file(script,
             "import sys, zipfile\n"
             "with zipfile.ZipFile(sys.stdout.buffer, 'w', zipfile.ZIP_DEFLATED) as z:\n"
             "    z.write(sys.argv[1], 'lib/libzstd.so.1.5.4')\n"
             "    z.writestr('lib/notes.txt', 'hello ' * 1000)\n");
  ASSERT_EQ(run(fmt::format("/usr/bin/python3 '{}' '{}' | cat > '{}'", script.string(),
                            (kSystemLibs / "libzstd.so.1.5.4").string(), zip.string())),
            0);
  check_zip(zip);
}

TEST_F(CompatTest, ZipWriterOutputPassesUnzipTest) {
  for (bool zip64 : {false, true}) {
    const auto zip = tmp_.path() / fmt::format("w{}.zip", zip64);
    auto w = ZipWriter::to_file(zip);
    ASSERT_TRUE(w.has_value());
    w->force_zip64(zip64);
    ASSERT_TRUE(w->add_directory("lib").has_value());
    ASSERT_TRUE(w->add_file("lib/libzstd.so.1.5.4", slurp(kSystemLibs / "libzstd.so.1.5.4"), 0755).has_value());
    ASSERT_TRUE(w->add_symlink("lib/libzstd.so.1", "libzstd.so.1.5.4").has_value());
    ASSERT_TRUE(w->add_file("lib/stored", "plain", 0644, {Method::Stored, 0}).has_value());
    ASSERT_TRUE(w->add_file("lib/empty", "").has_value());
    auto dd = *ZipWriter::make_raw("lib/dd", compressible(10000));
    dd.data_descriptor = true;
    ASSERT_TRUE(w->add_raw(dd).has_value());
    ASSERT_TRUE(w->finish().has_value());
    EXPECT_EQ(run(fmt::format("unzip -tq '{}' > /dev/null", zip.string())), 0) << zip;
    check_zip(zip);
  }
}

}  // namespace
}  // namespace tmpdump::archive
