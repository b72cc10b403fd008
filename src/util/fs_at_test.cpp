#include "util/fs_at.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

#include <gtest/gtest.h>

namespace tmpdump {
namespace {

namespace fs = std::filesystem;

class FsAtTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::temp_directory_path() / "tmpdump-fsat-XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    fs::create_directories(dir_ / "outside/sub");
    std::ofstream(dir_ / "outside/sub/keep") << "keep";
    std::ofstream(dir_ / "outside/file") << "data";
    auto d = open_directory_nofollow(dir_);
    ASSERT_TRUE(d);
    fd_ = std::move(*d);
  }
  void TearDown() override { fs::remove_all(dir_); }

  static std::string read(const fs::path& p) {
    std::ifstream in(p);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }

  fs::path dir_;
  UniqueFd fd_;
};

TEST_F(FsAtTest, RemoveTreeUnlinksLinksAndNeverDescendsThem) {
  fs::create_directories(dir_ / "tree/a");
  fs::create_directory_symlink(dir_ / "outside", dir_ / "tree/a/into-outside");
  fs::create_symlink(dir_ / "outside/file", dir_ / "tree/file-link");
  fs::create_directory_symlink(dir_ / "outside", dir_ / "top-link");
  ASSERT_TRUE(remove_tree_at(fd_.get(), "tree"));
  ASSERT_TRUE(remove_tree_at(fd_.get(), "top-link"));
  EXPECT_FALSE(fs::exists(fs::symlink_status(dir_ / "tree")));
  EXPECT_FALSE(fs::exists(fs::symlink_status(dir_ / "top-link")));
  EXPECT_EQ(read(dir_ / "outside/sub/keep"), "keep");
  EXPECT_EQ(read(dir_ / "outside/file"), "data");
  EXPECT_TRUE(remove_tree_at(fd_.get(), "never-was"));
}

TEST_F(FsAtTest, ReplaceFileReplacesALinkAtTheNameInsteadOfWritingThroughIt) {
  fs::create_symlink(dir_ / "outside/file", dir_ / "out.json");
  ASSERT_TRUE(replace_file_at(fd_.get(), "out.json", "new\n", 0644, "out.json"));
  EXPECT_EQ(read(dir_ / "outside/file"), "data");
  EXPECT_FALSE(fs::is_symlink(dir_ / "out.json"));
  EXPECT_EQ(read(dir_ / "out.json"), "new\n");
  // No temporary is left beside it.
  EXPECT_EQ(std::distance(fs::directory_iterator(dir_), fs::directory_iterator()), 2);
}

TEST_F(FsAtTest, NewFilesAndDirectoriesGetFreshNames) {
  auto a = create_unique_file(fd_.get(), ".x-", 0600, dir_.string());
  auto b = create_unique_file(fd_.get(), ".x-", 0600, dir_.string());
  ASSERT_TRUE(a && b);
  EXPECT_NE(a->name, b->name);
  EXPECT_TRUE(a->name.starts_with(".x-"));
  EXPECT_EQ(a->name.size(), 9u);
  auto d = create_unique_directory(fd_.get(), ".d-", 0700, dir_.string());
  ASSERT_TRUE(d);
  struct stat st {};
  ASSERT_EQ(::fstat(d->fd.get(), &st), 0);
  EXPECT_TRUE(S_ISDIR(st.st_mode));
  EXPECT_EQ(st.st_mode & 0777, 0700u);
}

TEST_F(FsAtTest, OpeningADirectoryRefusesALinkOrAFileByName) {
  fs::create_directory_symlink(dir_ / "outside", dir_ / "link");
  auto r = open_directory_nofollow(dir_ / "link");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::Io);
  EXPECT_NE(r.error().message.find("is a symbolic link"), std::string::npos);
  r = open_directory_nofollow(dir_ / "outside/file");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::Io);
  EXPECT_NE(r.error().message.find("outside/file is not a directory"), std::string::npos);
  EXPECT_TRUE(open_directory_nofollow(dir_ / "outside"));
}

}  // namespace
}  // namespace tmpdump
