#include "archive/extract.hpp"

#include <gtest/gtest.h>

#include "archive/testing/test_support.hpp"

namespace tmpdump::archive {
namespace {

using namespace testing;

std::set<std::string> listing(const fs::path& dir) {
  std::set<std::string> out;
  for (const auto& e : fs::directory_iterator(dir)) out.insert(e.path().filename().string());
  return out;
}

class ExtractTest : public ::testing::Test {
 protected:
  void SetUp() override { fs::create_directories(dest()); }
  [[nodiscard]] fs::path dest() const { return tmp_.path() / "dest"; }

  static std::string finish(ZipWriter& w) {
    EXPECT_TRUE(w.finish().has_value());
    return w.bytes();
  }

  // The archive is refused with `code`, the message names `fragment`, and
  // nothing was created beside dest.
  void expect_rejected(const std::string& zip, Errc code, const std::string& fragment,
                       std::optional<std::string> sha = std::nullopt) {
    auto r = extract_zip(zip, dest(), {}, std::move(sha));
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().code, code) << r.error().message;
    EXPECT_NE(r.error().message.find(fragment), std::string::npos) << r.error().message;
    EXPECT_EQ(listing(tmp_.path()), std::set<std::string>{"dest"});
  }

  TempDir tmp_;
};

TEST_F(ExtractTest, ExtractsFilesDirectoriesAndSymlinksWithModes) {
  ZipWriter w;
  ASSERT_TRUE(w.add_directory("lib", 0750).has_value());
  ASSERT_TRUE(w.add_file("lib/libx.so.1.2.3", compressible(100000), 0755).has_value());
  ASSERT_TRUE(w.add_symlink("lib/libx.so.1", "libx.so.1.2.3").has_value());
  ASSERT_TRUE(w.add_symlink("lib/libx.so", "libx.so.1").has_value());
  ASSERT_TRUE(w.add_file("lib/ro.txt", "read only", 0444, {Method::Stored, 0}).has_value());
  ASSERT_TRUE(w.add_file("lib/z.bin", compressible(50000, 2), 0644, {Method::Zstd, 19}).has_value());
  ASSERT_TRUE(w.add_file("lib/empty", "", 0644).has_value());
  ASSERT_TRUE(w.add_file("lib/suid", "s", 04755).has_value());
  ASSERT_TRUE(w.add_file("deep/er/file", "implicit parents").has_value());
  const auto zip = finish(w);
  Progress progress;
  ExtractOptions options;
  options.progress = &progress;
  auto stats = extract_zip(zip, dest(), options);
  ASSERT_TRUE(stats.has_value()) << stats.error().message;
  EXPECT_EQ(stats->files, 6u);
  EXPECT_EQ(stats->symlinks, 2u);
  EXPECT_EQ(stats->directories, 1u);
  EXPECT_EQ(progress.entries_done.load(), 9u);
  EXPECT_EQ(progress.bytes_written.load(), stats->bytes_written);
  EXPECT_EQ(slurp(dest() / "lib/libx.so"), compressible(100000));
  EXPECT_EQ(fs::read_symlink(dest() / "lib/libx.so"), "libx.so.1");
  EXPECT_EQ(slurp(dest() / "lib/z.bin"), compressible(50000, 2));
  EXPECT_EQ(fs::file_size(dest() / "lib/empty"), 0u);
  struct stat st {};
  ASSERT_EQ(::stat((dest() / "lib/libx.so.1.2.3").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0755u);
  EXPECT_EQ(st.st_mtime, 1'700'000'000);
  ASSERT_EQ(::stat((dest() / "lib/ro.txt").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0444u);
  ASSERT_EQ(::stat((dest() / "lib/suid").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0755u);
  ASSERT_EQ(::stat((dest() / "lib").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0750u);
  EXPECT_EQ(st.st_mtime, 1'700'000'000);
  ASSERT_EQ(::stat((dest() / "deep/er").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0755u);
}

TEST_F(ExtractTest, ZlibAndIsalInflatersAgreeEvenWithOneBytePieces) {
  ZipWriter w;
  ASSERT_TRUE(w.add_file("a", compressible(300000)).has_value());
  ASSERT_TRUE(w.add_file("b", compressible(3000, 5), 0644, {Method::Zstd, 3}).has_value());
  ASSERT_TRUE(w.add_file("c", compressible(3000, 6), 0644, {Method::Stored, 0}).has_value());
  const auto zip = finish(w);
  ExtractOptions zlib;
  zlib.inflater = Inflater::Zlib;
  ASSERT_TRUE(extract_zip(zip, dest(), zlib, std::nullopt, 1).has_value());
  TempDir other;
  auto r = extract_zip(zip, other.path(), {}, std::nullopt, 7);
  ASSERT_TRUE(r.has_value()) << r.error().message;
  EXPECT_EQ(snapshot(dest()), snapshot(other.path()));
  EXPECT_EQ(slurp(dest() / "a"), compressible(300000));
}

TEST_F(ExtractTest, ParallelExtractionMatchesSerialWithManyEntries) {
  ZipWriter w;
  for (int i = 0; i < 2000; ++i)
    ASSERT_TRUE(w.add_file(fmt::format("lib/d{}/f{}", i % 17, i),
                           compressible(static_cast<std::size_t>(i * 37), static_cast<unsigned>(i)))
                    .has_value());
  const auto zip = finish(w);
  const auto sha = sha256_hex(zip);
  ExtractOptions one;
  one.jobs = 1;
  one.chunk_bytes = 64 << 10;
  ASSERT_TRUE(extract_zip(zip, dest(), one, sha).has_value());
  TempDir other;
  ExtractOptions four;
  four.jobs = 4;
  four.chunk_bytes = 16 << 10;
  auto r = extract_zip(zip, other.path(), four, sha, 1000);
  ASSERT_TRUE(r.has_value()) << r.error().message;
  EXPECT_EQ(r->files, 2000u);
  EXPECT_EQ(r->bytes_read, zip.size());
  EXPECT_EQ(snapshot(dest()), snapshot(other.path()));
}

TEST_F(ExtractTest, ExtractsALargeEntryStreaming) {
  const auto big = compressible(80u << 20, 9);
  ZipWriter w;
  ASSERT_TRUE(w.add_file("big.so", big, 0755, {Method::Deflate, 1}).has_value());
  ASSERT_TRUE(w.add_file("small", "x").has_value());
  const auto zip = finish(w);
  ExtractOptions options;
  options.jobs = 4;
  auto r = extract_zip(zip, dest(), options, sha256_hex(zip));
  ASSERT_TRUE(r.has_value()) << r.error().message;
  EXPECT_EQ(r->bytes_written, big.size() + 1);
  EXPECT_EQ(sha256_hex(slurp(dest() / "big.so")), sha256_hex(big));
}

TEST_F(ExtractTest, ChecksWholeArchiveSha256) {
  ZipWriter w;
  ASSERT_TRUE(w.add_file("a", compressible(200000)).has_value());
  const auto zip = finish(w);
  auto wrong = sha256_hex("nope");
  auto r = extract_zip(zip, dest(), {}, wrong);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, Errc::ChecksumMismatch);
  EXPECT_NE(r.error().message.find(wrong), std::string::npos);
  EXPECT_NE(r.error().message.find(sha256_hex(zip)), std::string::npos);
}

TEST_F(ExtractTest, ReadsDataDescriptorsAndZip64) {
  ZipWriter w;
  w.force_zip64();
  auto e = *ZipWriter::make_raw("dd", compressible(5000));
  e.data_descriptor = true;
  ASSERT_TRUE(w.add_raw(e).has_value());
  ASSERT_TRUE(w.add_file("after", "x").has_value());
  auto r = extract_zip(finish(w), dest());
  ASSERT_TRUE(r.has_value()) << r.error().message;
  EXPECT_EQ(slurp(dest() / "dd"), compressible(5000));
}

TEST_F(ExtractTest, RefusesANonEmptyDestination) {
  write_file(dest() / "x", "x");
  ZipWriter w;
  ASSERT_TRUE(w.add_file("a", "b").has_value());
  auto r = extract_zip(finish(w), dest());
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, Errc::InvalidArgument);
}

TEST_F(ExtractTest, RejectsPathTraversalNames) {
  for (std::string name : {std::string("../evil"), std::string("/abs"), std::string("a/../../x"),
                           std::string("a\\..\\x"), std::string("nul\0x", 5)}) {
    ZipWriter w;
    ASSERT_TRUE(w.add_raw(*ZipWriter::make_raw(name, "evil")).has_value());
    expect_rejected(finish(w), Errc::Unsafe, "entry \"");
  }
}

TEST_F(ExtractTest, RejectsSymlinksEscapingTheRoot) {
  {
    ZipWriter w;
    ASSERT_TRUE(w.add_symlink("l", "../../etc").has_value());
    expect_rejected(finish(w), Errc::Unsafe, "\"l\"");
  }
  {
    ZipWriter w;
    ASSERT_TRUE(w.add_symlink("lib/pw", "/etc/passwd").has_value());
    expect_rejected(finish(w), Errc::Unsafe, "lib/pw");
  }
  {
    ZipWriter w;
    ASSERT_TRUE(w.add_symlink("lib/sub", "..").has_value());
    ASSERT_TRUE(w.add_symlink("lib/x", "sub/../..").has_value());
    expect_rejected(finish(w), Errc::Unsafe, "lib/x");
  }
  {
    ZipWriter w;
    ASSERT_TRUE(w.add_symlink("a", "b").has_value());
    ASSERT_TRUE(w.add_symlink("b", "a").has_value());
    expect_rejected(finish(w), Errc::Unsafe, "more than 40");
  }
}

TEST_F(ExtractTest, AllowsSymlinksThatStayInsideEvenDangling) {
  ZipWriter w;
  ASSERT_TRUE(w.add_symlink("lib/sub", "..").has_value());
  ASSERT_TRUE(w.add_symlink("lib/up", "../lib/missing").has_value());
  ASSERT_TRUE(w.add_symlink("lib/y", "sub/lib/up").has_value());
  auto r = extract_zip(finish(w), dest());
  ASSERT_TRUE(r.has_value()) << r.error().message;
  EXPECT_EQ(fs::read_symlink(dest() / "lib/y"), "sub/lib/up");
}

TEST_F(ExtractTest, RejectsWritingThroughASymlink) {
  ZipWriter w;
  ASSERT_TRUE(w.add_symlink("lib/l", "/tmp").has_value());
  ASSERT_TRUE(w.add_file("lib/l/evil", "x").has_value());
  expect_rejected(finish(w), Errc::Unsafe, "lib/l/evil");
}

TEST_F(ExtractTest, RejectsDuplicatesAndDevices) {
  {
    ZipWriter w;
    ASSERT_TRUE(w.add_file("lib/a", "1").has_value());
    ASSERT_TRUE(w.add_file("lib//a", "2").has_value());
    expect_rejected(finish(w), Errc::Unsafe, "lib//a");
  }
  {
    ZipWriter w;
    auto e = *ZipWriter::make_raw("fifo", "");
    e.external_attributes = (S_IFIFO | 0644u) << 16;
    ASSERT_TRUE(w.add_raw(e).has_value());
    expect_rejected(finish(w), Errc::Unsafe, "fifo");
  }
}

TEST_F(ExtractTest, RejectsEntriesDecodingPastTheirDeclaredSize) {
  ZipWriter w;
  auto e = *ZipWriter::make_raw("bomb", std::string(10u << 20, 'A'));
  e.uncompressed_size = 1000;
  ASSERT_TRUE(w.add_raw(e).has_value());
  expect_rejected(finish(w), Errc::Unsafe, "bomb");
  EXPECT_LE(fs::file_size(dest() / "bomb"), 1000u);
}

TEST_F(ExtractTest, TellsALyingSizeFromCorruptedDataThatDecodesPastIt) {
  {
    // An intact stream, with the CRC-32 of all it decodes to: the size lies.
    ZipWriter w;
    auto e = *ZipWriter::make_raw("lying", compressible(5000));
    e.uncompressed_size = 1000;
    ASSERT_TRUE(w.add_raw(e).has_value());
    expect_rejected(finish(w), Errc::Unsafe, "lying size");
    EXPECT_LE(fs::file_size(dest() / "lying"), 1000u);
  }
  {
    // The same, but the bytes are not those the CRC-32 was taken of: what a
    // corrupted byte does to a stream. Nothing past the declared size is written either.
    fs::remove_all(dest());
    fs::create_directories(dest());
    ZipWriter w;
    auto e = *ZipWriter::make_raw("broken", compressible(5000));
    e.uncompressed_size = 1000;
    e.crc32 ^= 1;
    ASSERT_TRUE(w.add_raw(e).has_value());
    expect_rejected(finish(w), Errc::Corrupt, "broken");
    EXPECT_LE(fs::file_size(dest() / "broken"), 1000u);
  }
}

TEST_F(ExtractTest, RejectsCrcMismatchAndShortData) {
  {
    ZipWriter w;
    auto e = *ZipWriter::make_raw("crc", compressible(1000));
    e.crc32 ^= 1;
    ASSERT_TRUE(w.add_raw(e).has_value());
    expect_rejected(finish(w), Errc::Corrupt, "crc");
  }
  {
    fs::remove_all(dest());
    fs::create_directories(dest());
    ZipWriter w;
    auto e = *ZipWriter::make_raw("short", compressible(1000));
    e.uncompressed_size = 2000;
    ASSERT_TRUE(w.add_raw(e).has_value());
    expect_rejected(finish(w), Errc::Corrupt, "short");
  }
  {
    fs::remove_all(dest());
    fs::create_directories(dest());
    ZipWriter w;
    auto e = *ZipWriter::make_raw("cut", compressible(100000));
    e.data.resize(e.data.size() / 2);
    e.compressed_size = e.data.size();
    ASSERT_TRUE(w.add_raw(e).has_value());
    expect_rejected(finish(w), Errc::Corrupt, "cut");
  }
}

TEST_F(ExtractTest, RejectsLocalHeaderThatDisagreesWithTheDirectory) {
  ZipWriter w;
  auto e = *ZipWriter::make_raw("lib/good", "x");
  e.local_name = "lib/evil";
  ASSERT_TRUE(w.add_raw(e).has_value());
  expect_rejected(finish(w), Errc::Corrupt, "lib/good");
}

TEST_F(ExtractTest, FirstRealErrorWinsInParallel) {
  ZipWriter w;
  for (int i = 0; i < 200; ++i)
    ASSERT_TRUE(w.add_file(fmt::format("f{}", i), compressible(20000, static_cast<unsigned>(i))).has_value());
  auto e = *ZipWriter::make_raw("broken", compressible(1000));
  e.crc32 ^= 1;
  ASSERT_TRUE(w.add_raw(e).has_value());
  ExtractOptions options;
  options.jobs = 4;
  options.chunk_bytes = 4096;
  auto r = extract_zip(finish(w), dest(), options, std::nullopt, 512);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, Errc::Corrupt);
  EXPECT_NE(r.error().message.find("broken"), std::string::npos) << r.error().message;
}

// The rule of docs/pull.md: of several defects, the one at the lowest archive
// offset is reported, in every interleaving of the workers. The early defect
// is slow to find (a CRC-32 known only after 8 MB are decoded), the late one
// immediate (a local header that names another entry), so a racy extractor
// would report the late one often; each run asserts the same answer.
TEST_F(ExtractTest, ReportsTheDefectAtTheLowestOffsetWhateverTheThreadsDo) {
  ZipWriter w;
  auto early = *ZipWriter::make_raw("early-crc", compressible(8u << 20, 7));
  early.crc32 ^= 1;
  ASSERT_TRUE(w.add_raw(early).has_value());
  for (int i = 0; i < 3; ++i)
    ASSERT_TRUE(w.add_file(fmt::format("f{}", i), compressible(8000, static_cast<unsigned>(i))).has_value());
  auto late = *ZipWriter::make_raw("late-header", "x");
  late.local_name = "late-other";
  ASSERT_TRUE(w.add_raw(late).has_value());
  const auto zip = finish(w);
  ExtractOptions options;
  options.jobs = 4;
  options.chunk_bytes = 4096;
  for (int run = 0; run < 10; ++run) {
    fs::remove_all(dest());
    fs::create_directories(dest());
    auto r = extract_zip(zip, dest(), options, std::nullopt, 4096);
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().code, Errc::Corrupt) << r.error().message;
    ASSERT_NE(r.error().message.find("early-crc"), std::string::npos) << "run " << run << ": " << r.error().message;
  }
}

// Symlinks are checked after decoding, in archive order: the first chunk
// (8 MB to inflate, then its link) finishes long after the second.
TEST_F(ExtractTest, ReportsTheFirstEscapingSymlinkOfTheArchive) {
  ZipWriter w;
  ASSERT_TRUE(w.add_file("big", compressible(8u << 20, 3)).has_value());
  ASSERT_TRUE(w.add_symlink("a-first", "../../outside").has_value());
  ASSERT_TRUE(w.add_file("pad", compressible(3u << 20, 4), 0644, {Method::Stored, 0}).has_value());
  ASSERT_TRUE(w.add_symlink("b-second", "/etc/passwd").has_value());
  const auto zip = finish(w);
  ExtractOptions options;
  options.jobs = 4;
  options.chunk_bytes = 4u << 20;
  for (int run = 0; run < 5; ++run) {
    fs::remove_all(dest());
    fs::create_directories(dest());
    auto r = extract_zip(zip, dest(), options, std::nullopt, 64 << 10);
    ASSERT_FALSE(r.has_value());
    ASSERT_NE(r.error().message.find("a-first"), std::string::npos) << "run " << run << ": " << r.error().message;
  }
}

TEST_F(ExtractTest, InstalledModesNeverKeepGroupOrWorldWrite) {
  ZipWriter w;
  ASSERT_TRUE(w.add_directory("open", 0777).has_value());
  ASSERT_TRUE(w.add_file("open/any", "x", 0777).has_value());
  ASSERT_TRUE(w.add_file("open/shared", "x", 0666).has_value());
  ASSERT_TRUE(w.add_file("open/setgid", "x", 02775).has_value());
  auto r = extract_zip(finish(w), dest());
  ASSERT_TRUE(r.has_value()) << r.error().message;
  const auto mode = [&](const char* name) {
    struct stat st {};
    EXPECT_EQ(::lstat((dest() / name).c_str(), &st), 0) << name;
    return st.st_mode & 07777;
  };
  EXPECT_EQ(mode("open"), 0755u);
  EXPECT_EQ(mode("open/any"), 0755u);
  EXPECT_EQ(mode("open/shared"), 0644u);
  EXPECT_EQ(mode("open/setgid"), 0755u);
}

TEST_F(ExtractTest, CheckUnionRejectsCollisionsAcrossArchives) {
  auto make = [](auto fill) {
    ZipWriter w;
    fill(w);
    EXPECT_TRUE(w.finish().has_value());
    return w.bytes();
  };
  const auto a = make([](ZipWriter& w) {
    (void)w.add_directory("lib");
    (void)w.add_file("lib/a.so", "a");
    (void)w.add_symlink("lib/link", "sub");
  });
  const auto b = make([](ZipWriter& w) {
    (void)w.add_directory("lib");
    (void)w.add_file("lib/a.so", "b");
  });
  const auto c = make([](ZipWriter& w) { (void)w.add_file("lib/link/x", "c"); });
  const auto d = make([](ZipWriter& w) { (void)w.add_file("lib/b.so", "d"); });
  auto sa = make_memory_source(a, "s3://b/a.zip"), sb = make_memory_source(b, "s3://b/b.zip"),
       sc = make_memory_source(c, "s3://b/c.zip"), sd = make_memory_source(d, "s3://b/d.zip");
  auto da = *read_central_directory(*sa, *sa->stat()), db = *read_central_directory(*sb, *sb->stat()),
       dc = *read_central_directory(*sc, *sc->stat()), dd = *read_central_directory(*sd, *sd->stat());
  std::vector<ArchiveInput> ab{{sa.get(), &da, {}}, {sb.get(), &db, {}}};
  auto r = check_union(ab);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, Errc::Unsafe);
  EXPECT_NE(r.error().message.find("a.zip"), std::string::npos);
  EXPECT_NE(r.error().message.find("b.zip"), std::string::npos);
  EXPECT_NE(r.error().message.find("lib/a.so"), std::string::npos);
  std::vector<ArchiveInput> ac{{sa.get(), &da, {}}, {sc.get(), &dc, {}}};
  auto through = check_union(ac);
  ASSERT_FALSE(through.has_value());
  EXPECT_NE(through.error().message.find("symlink"), std::string::npos);

  std::vector<ArchiveInput> ad{{sa.get(), &da, sha256_hex(a)}, {sd.get(), &dd, sha256_hex(d)}};
  ASSERT_TRUE(check_union(ad).has_value());
  auto both = extract(ad, dest());
  ASSERT_TRUE(both.has_value()) << both.error().message;
  EXPECT_EQ(slurp(dest() / "lib/b.so"), "d");
  EXPECT_EQ(slurp(dest() / "lib/a.so"), "a");
}

}  // namespace
}  // namespace tmpdump::archive
