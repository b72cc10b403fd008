#include "util/file_source.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

namespace tmpdump {
namespace {

std::string read_all(ByteSource& s, std::uint64_t off, std::uint64_t len) {
  std::string out;
  auto r = s.read(off, len, [&](std::span<const std::byte> b) -> Result<void> {
    out.append(reinterpret_cast<const char*>(b.data()), b.size());
    return {};
  });
  EXPECT_TRUE(r.has_value());
  return out;
}

class FileSourceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / fmt::format("file_source_test_{}", ::getpid());
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::filesystem::path dir_;
};

TEST_F(FileSourceTest, ReadsRangesAndReportsSizeAndEtag) {
  std::string content(1'000'000, '\0');
  for (std::size_t i = 0; i < content.size(); ++i) content[i] = static_cast<char>(i * 7 % 251);
  std::ofstream(dir_ / "f", std::ios::binary) << content;
  auto src = open_file_source(dir_ / "f");
  ASSERT_TRUE(src.has_value());
  auto info = (*src)->stat();
  ASSERT_TRUE(info.has_value());
  EXPECT_EQ(info->size, content.size());
  EXPECT_TRUE(info->etag.starts_with("1000000-"));
  EXPECT_EQ((*src)->describe(), (dir_ / "f").string());
  EXPECT_EQ(read_all(**src, 0, content.size()), content);
  auto clone = (*src)->clone();
  EXPECT_EQ(read_all(*clone, 300'000, 500'000), content.substr(300'000, 500'000));
  EXPECT_EQ(read_all(*clone, 5, 0), "");
}

TEST_F(FileSourceTest, MissingFileIsNotFound) {
  auto src = open_file_source(dir_ / "missing");
  ASSERT_FALSE(src.has_value());
  EXPECT_EQ(src.error().code, Errc::NotFound);
  EXPECT_NE(src.error().message.find("missing"), std::string::npos);
}

TEST_F(FileSourceTest, FifoDeviceAndDirectoryAreRefusedWithoutBlocking) {
  // No writer ever opens the FIFO: a blocking open() would hang this test.
  ASSERT_EQ(::mkfifo((dir_ / "fifo").c_str(), 0600), 0);
  struct Case {
    std::filesystem::path path;
    std::string says;
  };
  for (const auto& c :
       {Case{dir_ / "fifo", "a FIFO"}, Case{"/dev/zero", "a character device"}, Case{dir_, "a directory"}}) {
    auto s = open_file_source(c.path);
    ASSERT_FALSE(s.has_value()) << c.path;
    EXPECT_EQ(s.error().code, Errc::InvalidArgument);
    EXPECT_EQ(s.error().message, c.path.string() + ": " + c.says + ", not a regular file");
  }
}

TEST_F(FileSourceTest, SymlinkToARegularFileIsFollowed) {
  std::ofstream(dir_ / "real") << "bytes";
  std::filesystem::create_symlink("real", dir_ / "link");
  auto fd = open_input_file(dir_ / "link");
  ASSERT_TRUE(fd.has_value()) << fd.error().message;
  char buf[8] = {};
  EXPECT_EQ(::read(fd->get(), buf, sizeof buf), 5);
}

TEST_F(FileSourceTest, ReadPastEndIsAnError) {
  std::ofstream(dir_ / "f", std::ios::binary) << "abc";
  auto src = open_file_source(dir_ / "f");
  ASSERT_TRUE(src.has_value());
  auto r = (*src)->read(1, 10, [](std::span<const std::byte>) -> Result<void> { return {}; });
  EXPECT_FALSE(r.has_value());
}

TEST(MemorySourceTest, DeliversPiecesInOrderAndSinkErrorsAbort) {
  auto src = make_memory_source("hello world", "mem", 3);
  EXPECT_EQ(read_all(*src, 0, 11), "hello world");
  EXPECT_EQ(read_all(*src->clone(), 6, 5), "world");
  EXPECT_EQ(src->describe(), "mem");
  int calls = 0;
  auto r = src->read(0, 11, [&](std::span<const std::byte> b) -> Result<void> {
    EXPECT_LE(b.size(), 3u);
    if (++calls == 2) return fail(Errc::Io, "stop");
    return {};
  });
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().message, "stop");
  EXPECT_EQ(calls, 2);
  EXPECT_FALSE(src->read(5, 100, [](std::span<const std::byte>) -> Result<void> { return {}; }).has_value());
}

}  // namespace
}  // namespace tmpdump
