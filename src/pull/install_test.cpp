#include "pull/install.hpp"

#include <grp.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>
#include <functional>
#include <sstream>

#include <gtest/gtest.h>

#include "archive/zip_writer.hpp"
#include "util/sha256.hpp"

namespace tmpdump::pull {
namespace {

namespace fs = std::filesystem;
using archive::ZipWriter;

class InstallTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::temp_directory_path() / "tmpdump-install-XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    root_ = dir_ / "root";
  }
  void TearDown() override { fs::remove_all(dir_); }

  /// Writes a zip of (name, content) files; names ending in '@' + target are symlinks.
  fs::path make_zip(const std::string& file, const std::vector<std::pair<std::string, std::string>>& entries) {
    const fs::path p = dir_ / file;
    auto w = ZipWriter::to_file(p);
    EXPECT_TRUE(w);
    for (const auto& [name, content] : entries) {
      if (content.starts_with("->")) {
        EXPECT_TRUE(w->add_symlink(name, content.substr(2)));
      } else {
        EXPECT_TRUE(w->add_file(name, content));
      }
    }
    EXPECT_TRUE(w->finish());
    return p;
  }

  Result<InstallReport> pull(const std::vector<fs::path>& zips, std::optional<std::string> sha = std::nullopt) {
    std::vector<SourceSpec> specs;
    for (const auto& z : zips) specs.push_back({SourceKind::File, z.string(), sha, {}});
    InstallOptions o;
    o.root = root_;
    return install(specs, o, fixed_env({}));
  }

  std::string read(const fs::path& p) {
    std::ifstream in(p);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }

  bool staging_left() {
    for (const auto& e : fs::directory_iterator(root_)) {
      if (e.path().filename().string().starts_with(kStagingPrefix)) return true;
    }
    return false;
  }

  fs::path dir_, root_;
};

TEST_F(InstallTest, InstallsThenFindsItCached) {
  auto zip = make_zip("a.zip", {{"lib/liba.so.1", "A"}, {"lib/liba.so", "->liba.so.1"}});
  auto first = pull({zip});
  ASSERT_TRUE(first) << first.error().message;
  EXPECT_FALSE(first->cached);
  EXPECT_EQ(read(root_ / "lib/liba.so"), "A");
  struct stat before {};
  ::lstat((root_ / "lib").c_str(), &before);

  auto second = pull({zip});
  ASSERT_TRUE(second) << second.error().message;
  EXPECT_TRUE(second->cached);
  EXPECT_EQ(second->bytes_read, 0u);
  struct stat after {};
  ::lstat((root_ / "lib").c_str(), &after);
  EXPECT_EQ(before.st_ino, after.st_ino);
}

TEST_F(InstallTest, ChangedArchiveReplacesTheTreeAndDropsOldTopLevelNames) {
  ASSERT_TRUE(pull({make_zip("v1.zip", {{"lib/old", "1"}, {"python/mod.py", "x"}})}));
  auto r = pull({make_zip("v1.zip", {{"lib/new", "2"}})});
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_FALSE(r->cached);
  EXPECT_EQ(read(root_ / "lib/new"), "2");
  EXPECT_FALSE(fs::exists(root_ / "lib/old"));
  EXPECT_FALSE(fs::exists(root_ / "python"));
  EXPECT_FALSE(staging_left());
}

TEST_F(InstallTest, FailedPullLeavesPreviousInstallAndNoDebris) {
  ASSERT_TRUE(pull({make_zip("good.zip", {{"lib/a", "good"}})}));
  const std::string stamp = read(root_ / kStampName);
  // An archive whose entry's CRC is wrong.
  auto w = ZipWriter::to_file(dir_ / "bad.zip");
  ASSERT_TRUE(w);
  auto raw = ZipWriter::make_raw("lib/a", "evil!");
  ASSERT_TRUE(raw);
  raw->crc32 ^= 1;
  ASSERT_TRUE(w->add_raw(*raw));
  ASSERT_TRUE(w->finish());
  auto r = pull({dir_ / "bad.zip"});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::Corrupt);
  EXPECT_EQ(read(root_ / "lib/a"), "good");
  EXPECT_EQ(read(root_ / kStampName), stamp);
  EXPECT_FALSE(staging_left());
}

TEST_F(InstallTest, RemovesStagingLeftByAKilledPull) {
  fs::create_directories(root_ / (std::string(kStagingPrefix) + "dead01/tree/lib"));
  ASSERT_TRUE(pull({make_zip("a.zip", {{"lib/a", "a"}})}));
  EXPECT_FALSE(staging_left());
}

TEST_F(InstallTest, TamperedStampIsNotTrustedAndCannotReachOutside) {
  fs::create_directories(dir_ / "outside");
  std::ofstream(dir_ / "outside/keep") << "keep";
  fs::create_directories(root_);
  std::ofstream(root_ / kStampName) << R"({"format":1,"archives":[],"top_level":["../outside"]})";
  ASSERT_TRUE(pull({make_zip("a.zip", {{"lib/a", "a"}})}));
  EXPECT_TRUE(fs::exists(dir_ / "outside/keep"));
  std::ofstream(root_ / kStampName, std::ios::trunc) << "{not json";
  auto r = pull({make_zip("a.zip", {{"lib/a", "a"}})});
  // Unreadable stamp: tmpdump no longer knows it owns lib/, so it refuses rather than guess.
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::Conflict);
  EXPECT_EQ(read(root_ / "lib/a"), "a");
  // A mistyped field is as unreadable as broken JSON (it used to end the process).
  std::ofstream(root_ / kStampName, std::ios::trunc) << R"({"format":"1","archives":[],"top_level":["lib"]})";
  r = pull({make_zip("a.zip", {{"lib/a", "a"}})});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::Conflict);
}

TEST_F(InstallTest, NeverReplacesAPathItDidNotInstall) {
  fs::create_directories(root_ / "lib");
  std::ofstream(root_ / "lib/mine") << "mine";
  auto r = pull({make_zip("a.zip", {{"lib/a", "a"}})});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::Conflict);
  EXPECT_NE(r.error().message.find("lib"), std::string::npos);
  EXPECT_EQ(read(root_ / "lib/mine"), "mine");
  EXPECT_FALSE(staging_left());
}

TEST_F(InstallTest, RejectsNamesReservedForItsOwnFiles) {
  auto r = pull({make_zip("a.zip", {{".tmpdump.stamp", "{}"}})});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::Unsafe);
  EXPECT_NE(r.error().message.find(".tmpdump.stamp"), std::string::npos);
}

TEST_F(InstallTest, InstallsThePackedManifestDirectory) {
  auto r = pull({make_zip("a.zip", {{"lib/a", "a"}, {".tmpdump/manifest.json", "{}"}})});
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(read(root_ / ".tmpdump/manifest.json"), "{}");
  EXPECT_TRUE(pull({make_zip("b.zip", {{".tmpdump-staging-x/evil", "x"}})}).error().code == Errc::Unsafe);
}

TEST_F(InstallTest, InstallsTheUnionOfSeveralArchives) {
  auto a = make_zip("a.zip", {{"lib/liba.so", "a"}});
  auto b = make_zip("b.zip", {{"lib/libb.so", "b"}, {"python/m.py", "m"}});
  auto r = pull({a, b});
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(read(root_ / "lib/liba.so"), "a");
  EXPECT_EQ(read(root_ / "lib/libb.so"), "b");
  EXPECT_EQ(r->top_level, (std::vector<std::string>{"lib", "python"}));
  EXPECT_TRUE(pull({a, b})->cached);
  EXPECT_FALSE(pull({a})->cached);
  EXPECT_FALSE(fs::exists(root_ / "python"));
}

TEST_F(InstallTest, SamePathInTwoArchivesIsRefused) {
  auto r = pull({make_zip("a.zip", {{"lib/x", "a"}}), make_zip("b.zip", {{"lib/x", "b"}})});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::Unsafe);
  EXPECT_NE(r.error().message.find("lib/x"), std::string::npos);
  EXPECT_FALSE(fs::exists(root_ / "lib"));
}

TEST_F(InstallTest, ChecksSha256AndRemembersIt) {
  auto zip = make_zip("a.zip", {{"lib/a", "a"}});
  auto wrong = pull({zip}, std::string(64, '0'));
  ASSERT_FALSE(wrong);
  EXPECT_EQ(wrong.error().code, Errc::ChecksumMismatch);
  EXPECT_FALSE(fs::exists(root_ / "lib"));

  const std::string digest = sha256_hex(read(zip));
  auto right = pull({zip}, digest);
  ASSERT_TRUE(right) << right.error().message;
  EXPECT_FALSE(right->cached);
  EXPECT_TRUE(pull({zip}, digest)->cached);
  EXPECT_TRUE(pull({zip})->cached);
}

TEST_F(InstallTest, UnverifiedInstallIsVerifiedWhenADigestIsAskedFor) {
  auto zip = make_zip("a.zip", {{"lib/a", "a"}});
  ASSERT_TRUE(pull({zip}));
  auto r = pull({zip}, sha256_hex(read(zip)));
  ASSERT_TRUE(r);
  EXPECT_FALSE(r->cached);
}

TEST_F(InstallTest, MissingSourceIsNotFoundAndCreatesNoRoot) {
  root_ = dir_ / "a/b/root";
  auto r = pull({dir_ / "nope.zip"});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::NotFound);
  EXPECT_NE(r.error().message.find("nope.zip"), std::string::npos);
  EXPECT_FALSE(fs::exists(dir_ / "a"));
}

TEST_F(InstallTest, FailedPullRemovesTheRootAndLockItMade) {
  root_ = dir_ / "a/b/root";
  auto wrong = pull({make_zip("a.zip", {{"lib/a", "a"}})}, std::string(64, '0'));
  ASSERT_FALSE(wrong);
  EXPECT_EQ(wrong.error().code, Errc::ChecksumMismatch);
  EXPECT_FALSE(fs::exists(dir_ / "a"));
  // A root that was there stays, as empty as it was: no lock file left behind.
  fs::create_directories(root_);
  wrong = pull({make_zip("a.zip", {{"lib/a", "a"}})}, std::string(64, '0'));
  ASSERT_FALSE(wrong);
  EXPECT_TRUE(fs::is_empty(root_));
  // After a pull that installed something, the lock file stays (the bootstrap's cache check needs it).
  ASSERT_TRUE(pull({make_zip("a.zip", {{"lib/a", "a"}})}));
  EXPECT_TRUE(fs::is_regular_file(root_ / kLockName));
}

TEST_F(InstallTest, RootThatIsAFileOrASymlinkIsAnIoErrorNamingIt) {
  std::ofstream(root_) << "a file";
  auto zip = make_zip("a.zip", {{"lib/a", "a"}});
  auto r = pull({zip});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::Io);
  EXPECT_NE(r.error().message.find(root_.string() + " is not a directory"), std::string::npos) << r.error().message;
  const fs::path file = root_;
  root_ = file / "sub";
  r = pull({zip});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::Io);
  EXPECT_NE(r.error().message.find(file.string() + " is not a directory"), std::string::npos) << r.error().message;

  fs::create_directories(dir_ / "real");
  root_ = dir_ / "link";
  fs::create_directory_symlink(dir_ / "real", root_);
  r = pull({zip});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::Io);
  EXPECT_NE(r.error().message.find("is a symbolic link"), std::string::npos) << r.error().message;
  EXPECT_TRUE(fs::is_empty(dir_ / "real"));
  // Links above the root are followed, but one to nothing makes nothing.
  root_ = dir_ / "link/sub";
  ASSERT_TRUE(pull({zip}));
  EXPECT_TRUE(fs::exists(dir_ / "real/sub/lib/a"));
  fs::create_symlink(dir_ / "nowhere", dir_ / "dangling");
  root_ = dir_ / "dangling/sub";
  r = pull({zip});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::Io);
  EXPECT_NE(r.error().message.find("dangling is a symbolic link to nothing"), std::string::npos) << r.error().message;
  EXPECT_FALSE(fs::exists(dir_ / "nowhere"));
}

TEST_F(InstallTest, WorldWritableRootWithoutStickyBitIsRefused) {
  fs::create_directories(root_);
  ASSERT_EQ(::chmod(root_.c_str(), 0777), 0);
  auto zip = make_zip("a.zip", {{"lib/a", "a"}});
  auto r = pull({zip});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::Io);
  EXPECT_NE(r.error().message.find("no sticky bit"), std::string::npos) << r.error().message;
  EXPECT_TRUE(fs::is_empty(root_));
  ASSERT_EQ(::chmod(root_.c_str(), 01777), 0);  // like /tmp
  ASSERT_TRUE(pull({zip}));
}

TEST_F(InstallTest, InstalledDirectoriesAreWritableOnlyByTheirOwner) {
  ASSERT_TRUE(pull({make_zip("a.zip", {{"lib/sub/a", "a"}, {"lib/b", "b"}})}));
  for (const char* d : {"lib", "lib/sub"}) {
    struct stat st {};
    ASSERT_EQ(::lstat((root_ / d).c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 022, 0u) << d;
    EXPECT_EQ(st.st_uid, ::geteuid()) << d;
  }
}

// Another user sharing the root (a 1777 directory, like /tmp) plants names
// before the pull. The tests run as root and plant as uid 65534.
class SharedRootTest : public InstallTest {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root to plant names as another user (uid 65534)";
    InstallTest::SetUp();
    ASSERT_EQ(::chmod(dir_.c_str(), 0755), 0);
    fs::create_directories(root_);
    ASSERT_EQ(::chmod(root_.c_str(), 01777), 0);
    precious_ = dir_ / "precious";
    std::ofstream(precious_) << "data";
    ASSERT_EQ(::chmod(precious_.c_str(), 0600), 0);
  }

  /// Runs `what` in a child process as uid and gid 65534; its exit code.
  static int as_nobody_exit(const std::function<int()>& what) {
    const pid_t pid = ::fork();
    if (pid == 0) {
      if (::setgroups(0, nullptr) != 0 || ::setresgid(65534, 65534, 65534) != 0 ||
          ::setresuid(65534, 65534, 65534) != 0) {
        ::_exit(125);
      }
      ::_exit(what());
    }
    int status = 0;
    ::waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }
  /// Runs `what` as uid and gid 65534; its errno when it fails, 0 on success.
  static int as_nobody(const std::function<bool()>& what) {
    return as_nobody_exit([&] { return what() ? 0 : (errno != 0 ? errno : 126); });
  }
  static int plant_link(const fs::path& target, const fs::path& link) {
    return as_nobody([&] { return ::symlink(target.c_str(), link.c_str()) == 0; });
  }

  void expect_precious_unchanged() {
    EXPECT_EQ(read(precious_), "data");
    struct stat st {};
    ASSERT_EQ(::stat(precious_.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 07777, 0600u);
  }

  fs::path precious_;
};

TEST_F(SharedRootTest, LinksPlantedAtTheStampAndItsTemporaryAreNeverWrittenThrough) {
  ASSERT_EQ(plant_link(precious_, root_ / ".tmpdump.stamp.new"), 0);
  ASSERT_EQ(plant_link(precious_, root_ / kStampName), 0);
  auto zip = make_zip("a.zip", {{"lib/a", "a"}});
  auto r = pull({zip});
  ASSERT_TRUE(r) << r.error().message;
  expect_precious_unchanged();
  struct stat st {};
  ASSERT_EQ(::lstat((root_ / kStampName).c_str(), &st), 0);
  EXPECT_TRUE(S_ISREG(st.st_mode));
  EXPECT_EQ(st.st_uid, ::geteuid());
  EXPECT_TRUE(pull({zip})->cached);
}

TEST_F(SharedRootTest, LinkPlantedAtTheLockIsRefusedNotFollowed) {
  ASSERT_EQ(plant_link(precious_, root_ / kLockName), 0);
  auto r = pull({make_zip("a.zip", {{"lib/a", "a"}})});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::Io);
  EXPECT_NE(r.error().message.find(".tmpdump.lock is a symbolic link"), std::string::npos) << r.error().message;
  expect_precious_unchanged();
  EXPECT_FALSE(fs::exists(root_ / "lib"));
}

TEST_F(SharedRootTest, LinkPlantedAsAStagingDirectoryIsUnlinkedNotDescended) {
  fs::create_directories(dir_ / "victim/sub");
  std::ofstream(dir_ / "victim/sub/file") << "keep";
  ASSERT_EQ(plant_link(dir_ / "victim", root_ / (std::string(kStagingPrefix) + "abc123")), 0);
  auto r = pull({make_zip("a.zip", {{"lib/a", "a"}})});
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(read(dir_ / "victim/sub/file"), "keep");
  EXPECT_FALSE(staging_left());
}

TEST_F(SharedRootTest, StampAndTreeAnotherUserMadeAreNotTrusted) {
  auto zip = make_zip("a.zip", {{"lib/a", "mine"}});
  ASSERT_TRUE(pull({zip}));
  const std::string stamp = read(root_ / kStampName);
  fs::remove_all(root_ / "lib");
  fs::remove(root_ / kStampName);
  fs::remove(root_ / kLockName);
  // Exactly the stamp tmpdump would write, beside their own lib/.
  ASSERT_EQ(as_nobody([&] {
              if (::mkdir((root_ / "lib").c_str(), 0755) != 0) return false;
              std::ofstream(root_ / "lib/a") << "theirs";
              std::ofstream(root_ / kStampName) << stamp;
              return true;
            }),
            0);
  auto r = pull({zip});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::Conflict);
  EXPECT_EQ(read(root_ / "lib/a"), "theirs");
}

TEST_F(SharedRootTest, NameThePullerCannotReplaceStopsItAndLeavesNoLockBehind) {
  // The other way round: root's link, and the pull runs as uid 65534, whom
  // the sticky bit keeps from replacing it.
  fs::create_symlink(precious_, root_ / kStampName);
  auto zip = make_zip("a.zip", {{"lib/a", "a"}});
  const int code = as_nobody_exit([&] {
    auto r = pull({zip});
    if (r) return 1;
    if (r.error().code != Errc::Io) return 2;
    return r.error().message.find(".tmpdump.stamp belongs to uid 0") != std::string::npos ? 0 : 3;
  });
  EXPECT_EQ(code, 0);
  expect_precious_unchanged();
  EXPECT_FALSE(fs::exists(root_ / kLockName));
  EXPECT_FALSE(fs::exists(root_ / "lib"));
  EXPECT_FALSE(staging_left());
}

TEST_F(SharedRootTest, RootAnotherUserOwnsIsRefused) {
  ASSERT_EQ(::chown(root_.c_str(), 65534, 65534), 0);
  auto r = pull({make_zip("a.zip", {{"lib/a", "a"}})});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::Io);
  EXPECT_NE(r.error().message.find("belongs to uid 65534"), std::string::npos) << r.error().message;
  EXPECT_TRUE(fs::is_empty(root_));
}

TEST_F(SharedRootTest, NobodyElseCanPlantInsideAnInstalledTreeAndAReplacedTreeIsNotWrittenThrough) {
  ASSERT_TRUE(pull({make_zip("v1.zip", {{"lib/sub/a", "1"}})}));
  EXPECT_EQ(plant_link(precious_, root_ / "lib/sub/b"), EACCES);
  EXPECT_EQ(plant_link(precious_, root_ / "lib/b"), EACCES);
  // Should a link get there anyway (its owner made it), the next pull swaps
  // the whole tree out and removes the old one without following it.
  fs::remove(root_ / "lib/sub/a");
  fs::create_symlink(precious_, root_ / "lib/sub/a");
  auto r = pull({make_zip("v2.zip", {{"lib/sub/a", "2"}})});
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_FALSE(r->cached);
  expect_precious_unchanged();
  EXPECT_FALSE(fs::is_symlink(root_ / "lib/sub/a"));
  EXPECT_EQ(read(root_ / "lib/sub/a"), "2");
}

// The cache check the bootstrap runs before it loads the network code.
TEST_F(InstallTest, PinnedSourceIsProvenByTheStampAloneEvenWhenItCannotBeReached) {
  auto zip = make_zip("a.zip", {{"lib/liba.so", "A"}});
  auto sha = sha256_file(zip);
  ASSERT_TRUE(sha);
  ASSERT_TRUE(pull({zip}, *sha));
  const std::uint64_t size = fs::file_size(zip);
  // An S3 source whose stamp entry carries the same name: rewrite the stamp
  // as an s3:// pull of this archive would have left it.
  auto text = read(root_ / kStampName);
  const auto at = text.find(zip.string());
  ASSERT_NE(at, std::string::npos);
  text.replace(at, zip.string().size(), "s3://nowhere/a.zip");
  std::ofstream(root_ / kStampName) << text;
  const std::vector<SourceSpec> pinned{{SourceKind::S3, "s3://nowhere/a.zip", *sha, {}}};
  auto hit = installed_locally(pinned, root_);
  ASSERT_TRUE(hit);
  EXPECT_EQ(hit->archive_bytes, size);
  EXPECT_EQ(hit->top_level, std::vector<std::string>{"lib"});
  // install() answers from it too: no endpoint, no credentials, still cached.
  InstallOptions o;
  o.root = root_;
  auto r = install(pinned, o, fixed_env({}));
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_TRUE(r->cached);
  EXPECT_EQ(r->bytes_read, 0U);

  // Unpinned, another digest, another order or a missing name: not provable here.
  EXPECT_FALSE(
      installed_locally(std::vector<SourceSpec>{{SourceKind::S3, "s3://nowhere/a.zip", std::nullopt, {}}}, root_));
  EXPECT_FALSE(installed_locally(
      std::vector<SourceSpec>{{SourceKind::S3, "s3://nowhere/a.zip", std::string(64, '0'), {}}}, root_));
  EXPECT_FALSE(installed_locally(std::vector<SourceSpec>{{SourceKind::S3, "s3://nowhere/b.zip", *sha, {}}}, root_));
  fs::remove_all(root_ / "lib");
  EXPECT_FALSE(installed_locally(pinned, root_));
}

TEST_F(InstallTest, LocalFileIsProvenByItsSizeMtimeAndInode) {
  auto zip = make_zip("a.zip", {{"lib/liba.so", "A"}});
  ASSERT_TRUE(pull({zip}));
  const std::vector<SourceSpec> spec{{SourceKind::File, zip.string(), std::nullopt, {}}};
  EXPECT_TRUE(installed_locally(spec, root_));
  fs::last_write_time(zip, fs::last_write_time(zip) + std::chrono::seconds(2));
  EXPECT_FALSE(installed_locally(spec, root_));
  const std::vector<SourceSpec> gone{{SourceKind::File, (dir_ / "gone.zip").string(), std::nullopt, {}}};
  EXPECT_FALSE(installed_locally(gone, root_));
}

TEST_F(InstallTest, LocalCheckNeitherWaitsForABusyRootNorCreatesOne) {
  auto zip = make_zip("a.zip", {{"lib/liba.so", "A"}});
  const std::vector<SourceSpec> spec{{SourceKind::File, zip.string(), std::nullopt, {}}};
  EXPECT_FALSE(installed_locally(spec, root_));
  EXPECT_FALSE(fs::exists(root_));  // nothing was ever installed: nothing made
  ASSERT_TRUE(pull({zip}));
  auto held = RootLock::acquire(root_, nullptr);
  ASSERT_TRUE(held);
  EXPECT_FALSE(installed_locally(spec, root_));  // another pull holds it: the long way
}

}  // namespace
}  // namespace tmpdump::pull
