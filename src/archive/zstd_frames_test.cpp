// Multi-frame zstd entries (docs/formats.md): written reproducibly, read as
// one stream by other decoders, decoded in parallel parts by extract(), and
// every lie a frame table can tell is refused naming the entry.
#include "archive/zstd_frames.hpp"

#include <sys/stat.h>
#include <zstd.h>

#include <gtest/gtest.h>

#include "archive/testing/test_support.hpp"

namespace tmpdump::archive {
namespace {

using namespace testing;

constexpr std::uint32_t kSlice = 64 << 10;

std::string frame(std::string_view bytes, int level = 3) {
  ZstdFrameCompressor z(level);
  return *z.compress(std::span(bytes.data(), bytes.size()));
}

// An honest framed entry of `bytes`, as the writer makes it.
RawEntry framed(std::string_view name, std::string_view bytes, std::uint32_t slice = kSlice, unsigned threads = 2) {
  auto e = ZipWriter::make_raw(name, bytes, 0755, Compression{Method::Zstd, 3, slice, threads});
  EXPECT_TRUE(e.has_value());
  EXPECT_TRUE(e->frames.has_value());
  return *e;
}

// A framed entry whose frames are exactly `frames`, whatever they decode to.
RawEntry handmade(std::string_view name, const std::vector<std::string>& frames, std::string_view content,
                  std::uint32_t slice) {
  RawEntry e = *ZipWriter::make_raw(name, "", 0644, {Method::Stored, 0});
  e.method = static_cast<std::uint16_t>(Method::Zstd);
  e.crc32 = ZipWriter::crc32(content);
  e.uncompressed_size = content.size();
  e.frames = ZstdFrames{0, slice, {}};
  for (const auto& f : frames) {
    e.data += f;
    e.frames->compressed_sizes.push_back(static_cast<std::uint32_t>(f.size()));
  }
  e.compressed_size = e.data.size();
  return e;
}

std::string archive(const std::vector<RawEntry>& entries) {
  ZipWriter w;
  for (const auto& e : entries) EXPECT_TRUE(w.add_raw(e).has_value());
  EXPECT_TRUE(w.finish().has_value());
  return w.bytes();
}

Result<CentralDirectory> read_dir(const std::string& zip) {
  auto source = make_memory_source(zip, "test.zip");
  auto info = source->stat();
  return read_central_directory(*source, *info);
}

class ZstdFramesTest : public ::testing::Test {
 protected:
  void SetUp() override { fs::create_directories(dest()); }
  [[nodiscard]] fs::path dest() const { return tmp_.path() / "dest"; }
  void fresh() {
    fs::remove_all(dest());
    fs::create_directories(dest());
  }

  // Refused by the reader or the extractor with `code`, naming `fragment`.
  void expect_rejected(const std::string& zip, Errc code, const std::string& fragment, unsigned jobs = 2,
                       std::uint64_t chunk_bytes = 8ull << 20) {
    fresh();
    ExtractOptions options;
    options.jobs = jobs;
    options.chunk_bytes = chunk_bytes;
    auto r = extract_zip(zip, dest(), options);
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().code, code) << r.error().message;
    EXPECT_NE(r.error().message.find(fragment), std::string::npos) << r.error().message;
  }

  TempDir tmp_;
};

TEST_F(ZstdFramesTest, WriterSplitsIntoIndependentFramesThatFormOneZstdStream) {
  const auto bytes = compressible(10 * kSlice + 123);
  const auto e = framed("lib/big.so", bytes);
  ASSERT_EQ(e.frames->compressed_sizes.size(), 11u);
  EXPECT_EQ(e.frames->slice_size, kSlice);
  // Any zstd decoder reads the concatenation as one stream...
  std::string whole(bytes.size(), '\0');
  EXPECT_EQ(ZSTD_decompress(whole.data(), whole.size(), e.data.data(), e.data.size()), bytes.size());
  EXPECT_EQ(whole, bytes);
  // ...and each frame alone decodes to its slice.
  std::size_t at = 0;
  for (std::size_t i = 0; i < 11; ++i) {
    const auto size = e.frames->compressed_sizes[i];
    const auto slice = bytes.substr(i * kSlice, kSlice);
    std::string out(slice.size(), '\0');
    EXPECT_EQ(ZSTD_decompress(out.data(), out.size(), e.data.data() + at, size), slice.size()) << i;
    EXPECT_EQ(out, slice) << i;
    at += size;
  }
  EXPECT_EQ(at, e.data.size());
}

TEST_F(ZstdFramesTest, OutputIsByteIdenticalWhateverTheThreadCount) {
  const auto bytes = compressible(9 * kSlice + 5, 7);
  auto one = compress_zstd_frames(bytes, 5, kSlice, 1);
  auto many = compress_zstd_frames(bytes, 5, kSlice, 4);
  ASSERT_TRUE(one && many);
  EXPECT_EQ(one->data, many->data);
  EXPECT_EQ(one->sizes, many->sizes);
  EXPECT_EQ(archive({framed("a", bytes, kSlice, 1)}), archive({framed("a", bytes, kSlice, 3)}));
}

TEST_F(ZstdFramesTest, ReaderKeepsTheFrameTable) {
  const auto zip =
      archive({framed("lib/a.so", compressible(3 * kSlice)), framed("lib/b.so", compressible(kSlice / 2))});
  auto dir = read_dir(zip);
  ASSERT_TRUE(dir.has_value()) << dir.error().message;
  ASSERT_EQ(dir->entries.size(), 2u);
  const auto& a = dir->entries[0];
  ASSERT_TRUE(a.frames.has_value());
  EXPECT_EQ(a.frames->compressed_sizes.size(), 3u);
  // The local header: 30 bytes, the name, the extended timestamp (9 bytes).
  EXPECT_EQ(a.frames->data_offset, 30u + 8u + 9u);
  EXPECT_EQ(dir->entries[1].frames->compressed_sizes.size(), 1u);
}

TEST_F(ZstdFramesTest, ExtractsFramedEntriesInPartsWithAnyJobsChunksAndPieces) {
  const auto big = compressible(20 * kSlice + 777, 3);
  const auto mid = compressible(3 * kSlice, 4);
  ZipWriter w;
  ASSERT_TRUE(w.add_file("lib/first.txt", "before").has_value());
  ASSERT_TRUE(w.add_raw(framed("lib/big.so", big)).has_value());
  ASSERT_TRUE(w.add_raw(framed("lib/mid.so", mid)).has_value());
  ASSERT_TRUE(w.add_file("lib/last.so", compressible(5000), 0644, {Method::Zstd, 3}).has_value());
  ASSERT_TRUE(w.add_symlink("lib/big.so.1", "big.so").has_value());
  ASSERT_TRUE(w.finish().has_value());
  const auto zip = w.bytes();
  for (unsigned jobs : {1u, 2u, 5u}) {
    for (std::uint64_t chunk : {std::uint64_t{1}, std::uint64_t{40000}, std::uint64_t{8} << 20}) {
      for (std::size_t piece : {std::size_t{777}, std::size_t{64} << 10}) {
        SCOPED_TRACE(fmt::format("jobs {} chunk {} piece {}", jobs, chunk, piece));
        fresh();
        Progress progress;
        ExtractOptions options;
        options.jobs = jobs;
        options.chunk_bytes = chunk;
        options.progress = &progress;
        auto stats = extract_zip(zip, dest(), options, sha256_hex(zip), piece);
        ASSERT_TRUE(stats.has_value()) << stats.error().message;
        EXPECT_EQ(stats->files, 4u);
        EXPECT_EQ(stats->symlinks, 1u);
        EXPECT_EQ(stats->bytes_read, zip.size());
        EXPECT_EQ(stats->bytes_written, big.size() + mid.size() + 6 + 5000);
        EXPECT_EQ(progress.entries_done.load(), 5u);
        EXPECT_EQ(slurp(dest() / "lib/big.so"), big);
        EXPECT_EQ(slurp(dest() / "lib/mid.so"), mid);
        EXPECT_EQ(slurp(dest() / "lib/first.txt"), "before");
        struct stat st {};
        ASSERT_EQ(::stat((dest() / "lib/big.so").c_str(), &st), 0);
        EXPECT_EQ(st.st_mode & 07777, 0755u);
        EXPECT_EQ(st.st_mtime, 1'700'000'000);
      }
    }
  }
}

TEST_F(ZstdFramesTest, WholeArchiveSha256IsStillChecked) {
  const auto zip = archive({framed("lib/big.so", compressible(6 * kSlice))});
  ExtractOptions options;
  options.chunk_bytes = 1;
  auto r = extract_zip(zip, dest(), options, std::string(64, 'a'));
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, Errc::ChecksumMismatch);
}

TEST_F(ZstdFramesTest, ZstdCliAndBsdtarReadFramedEntries) {
  const auto bytes = compressible(5 * kSlice + 9, 5);
  const auto e = framed("big.so", bytes);
  write_file(tmp_.path() / "data.zst", e.data);
  ASSERT_EQ(run(fmt::format("zstd -q -d -f '{}' -o '{}'", (tmp_.path() / "data.zst").string(),
                            (tmp_.path() / "data").string())),
            0);
  EXPECT_EQ(slurp(tmp_.path() / "data"), bytes);
  write_file(tmp_.path() / "a.zip", archive({e}));
  fs::create_directories(tmp_.path() / "bsd");
  ASSERT_EQ(run(fmt::format("cd '{}' && bsdtar -xf '{}' 2>/dev/null", (tmp_.path() / "bsd").string(),
                            (tmp_.path() / "a.zip").string())),
            0);
  EXPECT_EQ(slurp(tmp_.path() / "bsd/big.so"), bytes);
}

TEST_F(ZstdFramesTest, ReaderRejectsInconsistentFrameTables) {
  const auto bytes = compressible(4 * kSlice, 6);
  auto check = [&](auto change, const std::string& fragment) {
    auto e = framed("lib/liar.so", bytes);
    change(e);
    auto r = read_dir(archive({e}));
    ASSERT_FALSE(r.has_value()) << fragment;
    EXPECT_EQ(r.error().code, Errc::Corrupt) << r.error().message;
    EXPECT_NE(r.error().message.find("lib/liar.so"), std::string::npos) << r.error().message;
    EXPECT_NE(r.error().message.find(fragment), std::string::npos) << r.error().message;
  };
  check([](RawEntry& e) { e.frames->compressed_sizes[1] += 1; }, "sum to");
  check([](RawEntry& e) { e.frames->compressed_sizes[0] = 0; }, "compressed size 0");
  check([](RawEntry& e) { e.frames->compressed_sizes.push_back(1); }, "lists 5 frames");
  check([](RawEntry& e) { e.frames->compressed_sizes.pop_back(); }, "lists 3 frames");
  check([](RawEntry& e) { e.frames->slice_size = 0; }, "slice size 0");
  check([](RawEntry& e) { e.frames->slice_size = kSlice * 2; }, "need 2");
  check([](RawEntry& e) { e.uncompressed_size += kSlice; }, "need 5");
  check([](RawEntry& e) { e.frames->data_offset = 10; }, "puts the data");
  check([](RawEntry& e) { e.frames->data_offset = 200000; }, "puts the data");
  check([](RawEntry& e) { e.method = 8; }, "not a zstd file");
  // A symlink with a frame table (small enough to pass the symlink target limit).
  auto link = framed("lib/liar.so", compressible(3000), 1024);
  link.external_attributes = (S_IFLNK | 0777u) << 16;
  auto r = read_dir(archive({link}));
  ASSERT_FALSE(r.has_value());
  EXPECT_NE(r.error().message.find("not a zstd file"), std::string::npos) << r.error().message;
  // A count far beyond what the field holds, and one beyond the limit.
  check([](RawEntry& e) { e.frames->compressed_sizes.assign(kMaxZstdFrames + 1, 1); }, "frames in");
}

TEST_F(ZstdFramesTest, ReaderRejectsHugeDeclaredCountsAndUnknownVersions) {
  const auto honest = archive({framed("lib/huge.so", compressible(2 * kSlice))});
  // The table in the central directory: id 0x7464, 22 bytes (14 + 2 frames).
  const auto at = honest.rfind(std::string("\x64\x74\x16\x00", 4));
  ASSERT_NE(at, std::string::npos);
  auto patched = [&](std::size_t offset, std::string_view bytes) {
    auto zip = honest;
    zip.replace(at + 4 + offset, bytes.size(), bytes);
    return read_dir(zip);
  };
  auto r = patched(10, std::string("\xff\xff\xff\xff", 4));
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, Errc::Corrupt);
  EXPECT_NE(r.error().message.find("lib/huge.so"), std::string::npos) << r.error().message;
  r = patched(0, "\x02");
  ASSERT_FALSE(r.has_value());
  EXPECT_NE(r.error().message.find("unknown version"), std::string::npos) << r.error().message;
  ASSERT_TRUE(patched(0, "\x01").has_value());
}

TEST_F(ZstdFramesTest, ExtractorRejectsAFrameDecodingToMoreThanItsSlice) {
  const auto content = compressible(2000, 8);
  const auto zip =
      archive({handmade("lib/more.so", {frame(content.substr(0, 1200)), frame(content.substr(1200))}, content, 1000)});
  for (unsigned jobs : {1u, 3u}) {
    expect_rejected(zip, Errc::Unsafe, "lib/more.so", jobs, 1);
    EXPECT_LE(fs::file_size(dest() / "lib/more.so"), 2000u);
  }
}

TEST_F(ZstdFramesTest, ExtractorRejectsAFrameDecodingToLessThanItsSlice) {
  const auto content = compressible(2000, 9);
  const auto zip =
      archive({handmade("lib/less.so", {frame(content.substr(0, 800)), frame(content.substr(800))}, content, 1000)});
  expect_rejected(zip, Errc::Corrupt, "lib/less.so", 2, 1);
}

TEST_F(ZstdFramesTest, ExtractorRejectsABombInOneFrame) {
  const std::string bomb(64u << 20, 'A');
  const auto zip = archive({handmade("lib/bomb.so", {frame("tiny"), frame(bomb)}, "tiny" + std::string(4, 'A'), 4)});
  expect_rejected(zip, Errc::Unsafe, "lib/bomb.so", 2, 1);
  EXPECT_LE(fs::file_size(dest() / "lib/bomb.so"), 8u);
}

TEST_F(ZstdFramesTest, ExtractorRejectsFrameBoundariesThatAreLies) {
  const auto content = compressible(3 * kSlice, 10);
  auto e = framed("lib/shifted.so", content);
  // Same sum, same count, but the first boundary moved into the second frame.
  e.frames->compressed_sizes[0] += 7;
  e.frames->compressed_sizes[1] -= 7;
  expect_rejected(archive({e}), Errc::Corrupt, "lib/shifted.so", 2, 1);
}

TEST_F(ZstdFramesTest, ExtractorRejectsADataOffsetThatDisagreesWithTheLocalHeader) {
  auto e = framed("lib/offset.so", compressible(3 * kSlice, 11));
  e.frames->data_offset = 30 + 13 + 9 + 4;  // plausible, but 4 bytes too far
  expect_rejected(archive({e}), Errc::Corrupt, "lib/offset.so", 2, 1);
}

TEST_F(ZstdFramesTest, ExtractorRejectsAWrongCrcAcrossParts) {
  auto e = framed("lib/crc.so", compressible(5 * kSlice, 12));
  e.crc32 ^= 1;
  expect_rejected(archive({e}), Errc::Corrupt, "CRC-32", 3, 1);
}

TEST_F(ZstdFramesTest, ExtractorRejectsCorruptFrameData) {
  auto e = framed("lib/garbage.so", compressible(4 * kSlice, 13));
  const auto second = e.frames->compressed_sizes[0];
  for (std::size_t i = second + 20; i < second + 60; ++i) e.data[i] = static_cast<char>(e.data[i] ^ 0x5a);
  expect_rejected(archive({e}), Errc::Corrupt, "lib/garbage.so", 2, 1);
}

}  // namespace
}  // namespace tmpdump::archive
