#include "archive/zip.hpp"

#include <gtest/gtest.h>

#include "archive/testing/test_support.hpp"

namespace tmpdump::archive {
namespace {

using namespace testing;

Result<CentralDirectory> read_dir(const std::string& zip, const Limits& limits = {}) {
  auto src = make_memory_source(zip, "t.zip");
  return read_central_directory(*src, *src->stat(), limits);
}

std::string simple_zip(bool zip64 = false) {
  ZipWriter w;
  w.force_zip64(zip64);
  EXPECT_TRUE(w.add_directory("lib", 0755).has_value());
  EXPECT_TRUE(w.add_file("lib/a.so", "hello", 0755).has_value());
  EXPECT_TRUE(w.add_symlink("lib/b.so", "a.so").has_value());
  EXPECT_TRUE(w.finish().has_value());
  return w.bytes();
}

TEST(NormaliseNameTest, DropsEmptyAndDotPartsAndTrailingSlash) {
  EXPECT_EQ(*normalise_name("lib//a", 100), "lib/a");
  EXPECT_EQ(*normalise_name("./lib/./a/", 100), "lib/a");
  EXPECT_EQ(*normalise_name("a", 100), "a");
}

TEST(NormaliseNameTest, RejectsHostileNames) {
  for (std::string_view bad : {"../evil", "/abs", "a/../../x", "a\\..\\x", "a/..", "", "./", "x\ny"}) {
    auto r = normalise_name(bad, 100);
    ASSERT_FALSE(r.has_value()) << bad;
    EXPECT_EQ(r.error().code, Errc::Unsafe);
  }
  auto nul = normalise_name(std::string_view("a\0b", 3), 100);
  ASSERT_FALSE(nul.has_value());
  EXPECT_NE(nul.error().message.find("a\\x00b"), std::string::npos);
  EXPECT_FALSE(normalise_name(std::string(101, 'a'), 100).has_value());
}

TEST(ZipReaderTest, ReadsEntriesTypesModesInOffsetOrder) {
  auto dir = read_dir(simple_zip());
  ASSERT_TRUE(dir.has_value()) << dir.error().message;
  ASSERT_EQ(dir->entries.size(), 3u);
  EXPECT_EQ(dir->entries[0].name, "lib");
  EXPECT_EQ(dir->entries[0].type, EntryType::Directory);
  EXPECT_EQ(dir->entries[1].name, "lib/a.so");
  EXPECT_EQ(dir->entries[1].mode, 0755u);
  EXPECT_EQ(dir->entries[1].uncompressed_size, 5u);
  EXPECT_EQ(dir->entries[1].mtime, 1'700'000'000);
  EXPECT_EQ(dir->entries[2].type, EntryType::Symlink);
  EXPECT_EQ(dir->total_uncompressed, 9u);
  EXPECT_LT(dir->entries[0].local_header_offset, dir->entries[1].local_header_offset);
}

TEST(ZipReaderTest, ReadsZip64Records) {
  auto dir = read_dir(simple_zip(true));
  ASSERT_TRUE(dir.has_value()) << dir.error().message;
  EXPECT_EQ(dir->entries.size(), 3u);
  EXPECT_EQ(dir->entries[1].compressed_size > 0, true);
}

TEST(ZipReaderTest, ReadsCentralDirectoryBeforeTheTailWithASecondRead) {
  ZipWriter w;
  for (int i = 0; i < 3000; ++i)
    ASSERT_TRUE(w.add_file(fmt::format("lib/file-with-a-long-name-{:05}", i), "x").has_value());
  ASSERT_TRUE(w.finish().has_value());
  auto dir = read_dir(w.bytes());
  ASSERT_TRUE(dir.has_value()) << dir.error().message;
  EXPECT_EQ(dir->entries.size(), 3000u);

  std::uint64_t need = 0;
  const auto& z = w.bytes();
  const std::size_t tail = 1000;
  auto partial = parse_tail(std::as_bytes(std::span(z.data() + z.size() - tail, tail)), z.size(), {}, &need);
  ASSERT_TRUE(partial.has_value());
  EXPECT_EQ(partial->archive_size, 0u);
  EXPECT_EQ(need, dir->cd_offset);
}

TEST(ZipReaderTest, RejectsGarbageAndTruncation) {
  auto garbage = read_dir(compressible(5000));
  ASSERT_FALSE(garbage.has_value());
  EXPECT_EQ(garbage.error().code, Errc::Corrupt);
  EXPECT_NE(garbage.error().message.find("t.zip"), std::string::npos);
  const auto z = simple_zip();
  auto truncated = read_dir(z.substr(0, z.size() - 10));
  ASSERT_FALSE(truncated.has_value());
  EXPECT_EQ(truncated.error().code, Errc::Corrupt);
  EXPECT_FALSE(read_dir("PK").has_value());
}

TEST(ZipReaderTest, RejectsEndRecordPointingOutOfRange) {
  auto z = simple_zip();
  const std::size_t eocd = z.size() - 22;
  z[eocd + 16] = '\xff';
  z[eocd + 17] = '\xff';
  z[eocd + 18] = '\xff';
  z[eocd + 19] = '\x7f';
  auto r = read_dir(z);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, Errc::Corrupt);
}

TEST(ZipReaderTest, RejectsAbsurdEntryCounts) {
  auto z = simple_zip();
  const std::size_t eocd = z.size() - 22;
  z[eocd + 8] = z[eocd + 10] = '\xfe';
  z[eocd + 9] = z[eocd + 11] = '\xff';
  auto r = read_dir(z);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, Errc::Corrupt);
  Limits small;
  small.max_entries = 2;
  auto limited = read_dir(simple_zip(), small);
  ASSERT_FALSE(limited.has_value());
  EXPECT_EQ(limited.error().code, Errc::Unsafe);
}

class ZipReaderRejectTest : public ::testing::Test {
 protected:
  void expect_rejected(const std::string& zip, Errc code, const std::string& fragment) {
    auto r = read_dir(zip);
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().code, code) << r.error().message;
    EXPECT_NE(r.error().message.find(fragment), std::string::npos) << r.error().message;
  }
  std::string one(RawEntry e) {
    ZipWriter w;
    EXPECT_TRUE(w.add_raw(e).has_value());
    EXPECT_TRUE(w.finish().has_value());
    return w.bytes();
  }
};

TEST_F(ZipReaderRejectTest, RejectsEncryptedEntries) {
  auto e = *ZipWriter::make_raw("secret.so", "x");
  e.flags = 1;
  expect_rejected(one(e), Errc::Unsupported, "secret.so");
}

TEST_F(ZipReaderRejectTest, RejectsUnknownMethodsNamingThem) {
  auto e = *ZipWriter::make_raw("lzma.so", "x");
  e.method = 14;
  expect_rejected(one(e), Errc::Unsupported, "method 14");
}

TEST_F(ZipReaderRejectTest, RejectsDevicesAndFifos) {
  for (std::uint32_t type : {0020000u, 0060000u, 0010000u, 0140000u}) {
    auto e = *ZipWriter::make_raw("dev/thing", "");
    e.external_attributes = (type | 0666u) << 16;
    expect_rejected(one(e), Errc::Unsafe, "dev/thing");
  }
}

TEST_F(ZipReaderRejectTest, RejectsHostileNames) {
  for (std::string name : {std::string("../evil"), std::string("/abs"), std::string("a/../../x"),
                           std::string("a\\..\\x"), std::string("nul\0name", 8)}) {
    expect_rejected(one(*ZipWriter::make_raw(name, "x")), Errc::Unsafe, "entry \"");
  }
}

TEST_F(ZipReaderRejectTest, RejectsDuplicateNamesAfterNormalising) {
  ZipWriter w;
  ASSERT_TRUE(w.add_file("lib/a", "1").has_value());
  ASSERT_TRUE(w.add_file("lib//a", "2").has_value());
  ASSERT_TRUE(w.finish().has_value());
  expect_rejected(w.bytes(), Errc::Unsafe, "duplicate");
}

TEST_F(ZipReaderRejectTest, RejectsPathsThroughFilesAndSymlinks) {
  ZipWriter w;
  ASSERT_TRUE(w.add_file("lib/a", "1").has_value());
  ASSERT_TRUE(w.add_file("lib/a/b", "2").has_value());
  ASSERT_TRUE(w.finish().has_value());
  expect_rejected(w.bytes(), Errc::Unsafe, "lib/a/b");

  ZipWriter s;
  ASSERT_TRUE(s.add_symlink("lib/l", "/tmp").has_value());
  ASSERT_TRUE(s.add_file("lib/l/evil", "2").has_value());
  ASSERT_TRUE(s.finish().has_value());
  expect_rejected(s.bytes(), Errc::Unsafe, "would write through symlink");
}

TEST_F(ZipReaderRejectTest, RejectsOverlappingEntries) {
  ZipWriter w;
  ASSERT_TRUE(w.add_file("a", compressible(1000)).has_value());
  auto e = *ZipWriter::make_raw("b", compressible(1000));
  e.cd_local_header_offset = 0;
  e.write_local = false;
  ASSERT_TRUE(w.add_raw(e).has_value());
  ASSERT_TRUE(w.finish().has_value());
  expect_rejected(w.bytes(), Errc::Unsafe, "overlap");
}

TEST_F(ZipReaderRejectTest, RejectsDataRunningPastTheCentralDirectory) {
  auto e = *ZipWriter::make_raw("big", "abc", 0644, {Method::Stored, 0});
  e.compressed_size = e.uncompressed_size = 100000;
  expect_rejected(one(e), Errc::Corrupt, "big");
}

TEST_F(ZipReaderRejectTest, RejectsHugeSymlinkTargets) {
  auto e = *ZipWriter::make_raw("l", std::string(5000, 'a'), 0777, {Method::Stored, 0});
  e.external_attributes = (S_IFLNK | 0777u) << 16;
  expect_rejected(one(e), Errc::Unsafe, "symlink target");
}

TEST(ZipReaderTest, NonUnixEntriesGetDefaultModes) {
  ZipWriter w;
  auto f = *ZipWriter::make_raw("f.txt", "x");
  f.made_by = 20;  // MS-DOS
  f.external_attributes = 0x20;
  auto d = *ZipWriter::make_raw("d/", "");
  d.made_by = 20;
  d.external_attributes = 0x10;
  ASSERT_TRUE(w.add_raw(f).has_value());
  ASSERT_TRUE(w.add_raw(d).has_value());
  ASSERT_TRUE(w.finish().has_value());
  auto dir = read_dir(w.bytes());
  ASSERT_TRUE(dir.has_value());
  EXPECT_EQ(dir->entries[0].mode, 0644u);
  EXPECT_EQ(dir->entries[1].type, EntryType::Directory);
  EXPECT_EQ(dir->entries[1].mode, 0755u);
}

TEST(ZipReaderTest, StripsSetuidAndSetgid) {
  ZipWriter w;
  ASSERT_TRUE(w.add_file("suid", "x", 06755).has_value());
  ASSERT_TRUE(w.finish().has_value());
  auto dir = read_dir(w.bytes());
  ASSERT_TRUE(dir.has_value());
  EXPECT_EQ(dir->entries[0].mode, 0755u);
}

}  // namespace
}  // namespace tmpdump::archive
