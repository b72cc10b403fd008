// A hostile shared /tmp: another user plants symlinks under the names tmpdump
// writes (the stamp, its old temporary name, the lock, a staging directory,
// the temporaries beside pack's and trace's outputs) in a 1777 directory, then
// the real binary runs. Nothing outside may change: each planted link points
// at a 0600 "precious" file (or a directory) whose content and mode are
// checked afterwards. The tests run as root and plant as uid 65534 with
// setpriv, as the reproduction does.
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "archive/zip_writer.hpp"
#include "support/process.hpp"
#include "support/s3_server.hpp"

namespace tmpdump::testing {
namespace {

namespace fs = std::filesystem;

class RootSafetyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root to plant names as another user (uid 65534)";
    if (run({"setpriv", "--version"}).exit_code != 0) GTEST_SKIP() << "no setpriv (util-linux) on this machine";
    // Reachable by uid 65534, like /tmp: the TempDir itself is private.
    ASSERT_EQ(::chmod(work_.path().c_str(), 0755), 0);
    shared_ = work_ / "s";
    fs::create_directories(shared_);
    ASSERT_EQ(::chmod(shared_.c_str(), 01777), 0);
    precious_ = work_ / "precious";
    write_file(precious_, "data\n");
    ASSERT_EQ(::chmod(precious_.c_str(), 0600), 0);
  }

  /// `ln -s target link` as uid/gid 65534.
  static RunResult plant(const fs::path& target, const fs::path& link) {
    return run(
        {"setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "ln", "-s", target.string(), link.string()});
  }

  fs::path make_zip(const std::string& name, const std::string& content) {
    const fs::path p = work_ / name;
    auto w = archive::ZipWriter::to_file(p);
    EXPECT_TRUE(w);
    EXPECT_TRUE(w->add_file("lib/liba.so", content));
    EXPECT_TRUE(w->finish());
    return p;
  }

  RunResult tmpdump(const std::vector<std::string>& args) {
    std::vector<std::string> argv{tmpdump_binary().string()};
    argv.insert(argv.end(), args.begin(), args.end());
    return run(argv, {.timeout = std::chrono::seconds(60)});
  }

  void expect_precious_unchanged() {
    EXPECT_EQ(read_file(precious_), "data\n");
    struct stat st {};
    ASSERT_EQ(::stat(precious_.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 07777, 0600u);
  }

  TempDir work_;
  fs::path shared_, precious_;
};

TEST_F(RootSafetyTest, LinksPlantedAtTheStampNamesAreReplacedNeverWrittenThrough) {
  for (const std::string name : {".tmpdump.stamp.new", ".tmpdump.stamp"}) {
    SCOPED_TRACE(name);
    const fs::path root = shared_ / (name == ".tmpdump.stamp" ? "r1" : "r2");
    fs::create_directories(root);
    ASSERT_EQ(::chmod(root.c_str(), 01777), 0);
    ASSERT_EQ(plant(precious_, root / name).exit_code, 0);
    auto r = tmpdump({"pull", make_zip("a.zip", "A").string(), "--root", root.string()});
    report_outcome("hostile /tmp",
                   fmt::format("`{}` planted by another user: a symlink to a 0600 file outside (left unchanged)", name),
                   r);
    EXPECT_EQ(r.exit_code, 0) << r.all();
    expect_precious_unchanged();
    EXPECT_EQ(read_file(root / "lib/liba.so"), "A");
    EXPECT_FALSE(fs::is_symlink(root / ".tmpdump.stamp"));
  }
}

TEST_F(RootSafetyTest, LinkPlantedAtTheLockIsRefused) {
  ASSERT_EQ(plant(precious_, shared_ / ".tmpdump.lock").exit_code, 0);
  auto r = tmpdump({"pull", make_zip("a.zip", "A").string(), "--root", shared_.string()});
  report_outcome("hostile /tmp",
                 "`.tmpdump.lock` planted by another user: a symlink to a 0600 file outside (left unchanged)", r);
  EXPECT_EQ(r.exit_code, 10) << r.all();
  EXPECT_NE(r.err.find(".tmpdump.lock is a symbolic link"), std::string::npos) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  expect_precious_unchanged();
  EXPECT_FALSE(fs::exists(shared_ / "lib"));
}

TEST_F(RootSafetyTest, LinkPlantedAsAStagingDirectoryIsUnlinkedNotDescended) {
  write_file(work_ / "victim/keep", "keep\n");
  ASSERT_EQ(plant(work_ / "victim", shared_ / ".tmpdump-staging-Xy12Ab").exit_code, 0);
  auto r = tmpdump({"pull", make_zip("a.zip", "A").string(), "--root", shared_.string()});
  report_outcome("hostile /tmp",
                 "`.tmpdump-staging-Xy12Ab` planted by another user: a symlink to a directory outside (link removed, "
                 "directory left unchanged)",
                 r);
  EXPECT_EQ(r.exit_code, 0) << r.all();
  EXPECT_EQ(read_file(work_ / "victim/keep"), "keep\n");
  EXPECT_EQ(fs::symlink_status(shared_ / ".tmpdump-staging-Xy12Ab").type(), fs::file_type::not_found);
}

TEST_F(RootSafetyTest, InstalledTreeIsClosedToOthersAndTheNextPullReplacesIt) {
  ASSERT_EQ(tmpdump({"pull", make_zip("v1.zip", "1").string(), "--root", shared_.string()}).exit_code, 0);
  struct stat st {};
  ASSERT_EQ(::lstat((shared_ / "lib").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 022, 0u) << "lib/ is writable by group or others";
  auto planted = plant(precious_, shared_ / "lib/liba.so.2");
  EXPECT_NE(planted.exit_code, 0) << "another user could plant inside lib/";
  // Were a link there anyway (its owner put it there), the next pull swaps the
  // whole tree and removes the old one without following it.
  fs::remove(shared_ / "lib/liba.so");
  fs::create_symlink(precious_, shared_ / "lib/liba.so");
  auto r = tmpdump({"pull", make_zip("v2.zip", "2").string(), "--root", shared_.string()});
  report_outcome("hostile /tmp",
                 "a symlink to a 0600 file outside put in the installed `lib/` (others cannot: it is 0755), then a "
                 "pull of a new version (file left unchanged)",
                 r);
  EXPECT_EQ(r.exit_code, 0) << r.all();
  expect_precious_unchanged();
  EXPECT_EQ(read_file(shared_ / "lib/liba.so"), "2");
}

TEST_F(RootSafetyTest, RootsOthersCouldSwapAreRefused) {
  const fs::path theirs = shared_ / "theirs";
  ASSERT_EQ(run({"setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "mkdir", "-m", "1777", theirs.string()})
                .exit_code,
            0);
  auto r = tmpdump({"pull", make_zip("a.zip", "A").string(), "--root", theirs.string()});
  report_outcome("hostile /tmp", "`--root` a directory another user made first (mode 1777)", r);
  EXPECT_EQ(r.exit_code, 10) << r.all();
  EXPECT_NE(r.err.find("belongs to uid 65534"), std::string::npos) << r.err;
  EXPECT_TRUE(fs::is_empty(theirs));

  const fs::path open = work_ / "open";
  fs::create_directories(open);
  ASSERT_EQ(::chmod(open.c_str(), 0777), 0);
  r = tmpdump({"pull", make_zip("a.zip", "A").string(), "--root", (open / "root").string()});
  report_outcome("hostile /tmp", "`--root` inside a directory writable by everyone without the sticky bit", r);
  EXPECT_EQ(r.exit_code, 10) << r.all();
  EXPECT_NE(r.err.find("no sticky bit"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(open / "root"));
}

TEST_F(RootSafetyTest, FailedPullLeavesNoTrace) {
  auto r = tmpdump({"pull", (work_ / "missing.zip").string(), "--root", (shared_ / "a/b/root").string()});
  EXPECT_EQ(r.exit_code, 3) << r.all();
  EXPECT_FALSE(fs::exists(shared_ / "a"));
  write_file(shared_ / "file", "x");
  r = tmpdump({"pull", make_zip("a.zip", "A").string(), "--root", (shared_ / "file").string()});
  report_outcome("hostile /tmp", "`--root` names a regular file", r);
  EXPECT_EQ(r.exit_code, 10) << r.all();
  EXPECT_NE(r.err.find((shared_ / "file").string() + " is not a directory"), std::string::npos) << r.err;
}

TEST_F(RootSafetyTest, PackAndTraceTemporariesNeverFollowAPlantedLink) {
  // pack's output, the --function-config beside it, and trace's output, with
  // links at the fixed temporary names older versions used and at the outputs.
  write_file(work_ / "in/lib/liba.so", "A");
  for (const std::string name : {"fn.zip", "tmpdump.json.tmp", "tmpdump.json", "trace.json.tmp"}) {
    ASSERT_EQ(plant(precious_, shared_ / name).exit_code, 0) << name;
  }
  auto r = tmpdump({"pack", "--add", (work_ / "in").string(), "-o", (shared_ / "fn.zip").string(), "--function-config",
                    (shared_ / "tmpdump.json").string(), "--source", "s3://b/fn.zip"});
  report_outcome("hostile /tmp",
                 "`pack -o`, `--function-config` and their old temporary names planted as symlinks to a 0600 file "
                 "outside (left unchanged)",
                 r);
  EXPECT_EQ(r.exit_code, 0) << r.all();
  EXPECT_FALSE(fs::is_symlink(shared_ / "fn.zip"));
  EXPECT_FALSE(fs::is_symlink(shared_ / "tmpdump.json"));
  r = tmpdump({"trace", "-q", "-o", (shared_ / "trace.json").string(), "--", "/bin/true"});
  EXPECT_EQ(r.exit_code, 0) << r.all();
  EXPECT_FALSE(fs::is_symlink(shared_ / "trace.json"));
  expect_precious_unchanged();
}

}  // namespace
}  // namespace tmpdump::testing
