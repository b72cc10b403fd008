// tmpdump pull end to end: the real binary against the real S3-API server,
// with unzip and the AWS CLI as independent peers.
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <thread>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "support/process.hpp"
#include "support/s3_server.hpp"
#include "support/trees.hpp"
#include "util/sha256.hpp"

namespace tmpdump::testing {
namespace {

namespace fs = std::filesystem;

class PullTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    server_ = new S3Server();
    corpus_ = new TempDir();
    make_real_library_tree(*corpus_ / "src");
    // The existing Java layer's way: zip -y -r, then zip -d what is not needed.
    ASSERT_EQ(run({"zip", "-q", "-y", "-r", (*corpus_ / "java-layer.zip").string(), "lib"}, {.cwd = *corpus_ / "src"})
                  .exit_code,
              0);
    ASSERT_EQ(run({"zip", "-q", "-d", (*corpus_ / "java-layer.zip").string(), "lib/unneeded.txt"}).exit_code, 0);
    server_->put(*corpus_ / "java-layer.zip", "tmpdump/fn.zip");
  }
  static void TearDownTestSuite() {
    delete corpus_;
    delete server_;
  }
  void SetUp() override { server_->clear_log(); }

  RunResult pull(std::vector<std::string> args, EnvChanges extra = {}) {
    std::vector<std::string> argv{tmpdump_binary().string(), "pull"};
    argv.insert(argv.end(), args.begin(), args.end());
    EnvChanges env = server_->client_env();
    for (auto& [k, v] : extra) env[k] = v;
    return run(argv, {.env = env, .timeout = std::chrono::seconds(120)});
  }

  static fs::path archive() { return *corpus_ / "java-layer.zip"; }

  static S3Server* server_;
  static TempDir* corpus_;
  TempDir work_;
};

S3Server* PullTest::server_ = nullptr;
TempDir* PullTest::corpus_ = nullptr;

TEST_F(PullTest, ExtractsJavaLayerArchiveExactlyAsUnzipDoes) {
  auto r = pull({"s3://dumps/tmpdump/fn.zip", "--root", (work_ / "root").string()});
  ASSERT_EQ(r.exit_code, 0) << r.all();
  ASSERT_EQ(run({"unzip", "-q", archive().string(), "-d", (work_ / "unzipped").string()}).exit_code, 0);
  const std::string ours = describe_tree(work_ / "root"), theirs = describe_tree(work_ / "unzipped");
  EXPECT_EQ(ours, theirs);
  EXPECT_NE(ours.find("lib/libzstd.so link -> "), std::string::npos) << ours;
  EXPECT_EQ(ours.find("unneeded.txt"), std::string::npos);
  // The symlink chain resolves to the real library.
  EXPECT_TRUE(fs::is_regular_file(work_ / "root/lib/libzstd.so"));
  EXPECT_NE(r.out.find("tmpdump pull: 1 archive(s)"), std::string::npos) << r.out;
}

TEST_F(PullTest, SecondPullSendsOneHeadAndNoBody) {
  ASSERT_EQ(pull({"s3://dumps/tmpdump/fn.zip", "--root", (work_ / "root").string()}).exit_code, 0);
  struct stat before {};
  ASSERT_EQ(::lstat((work_ / "root/lib").c_str(), &before), 0);
  server_->clear_log();

  auto r = pull({"s3://dumps/tmpdump/fn.zip", "--root", (work_ / "root").string()});
  ASSERT_EQ(r.exit_code, 0) << r.all();
  EXPECT_NE(r.out.find("up to date"), std::string::npos) << r.out;
  auto reqs = server_->requests();
  ASSERT_EQ(reqs.size(), 1u) << fmt::format("{}", fmt::join(reqs, "\n"));
  EXPECT_TRUE(reqs[0].starts_with("HEAD /dumps/tmpdump/fn.zip")) << reqs[0];
  struct stat after {};
  ASSERT_EQ(::lstat((work_ / "root/lib").c_str(), &after), 0);
  EXPECT_EQ(before.st_ino, after.st_ino) << "the tree was replaced";
}

TEST_F(PullTest, ChangedObjectIsPulledAgainAndReplacesTree) {
  ASSERT_EQ(pull({"s3://dumps/tmpdump/fn.zip", "--root", (work_ / "root").string()}).exit_code, 0);
  TempDir other;
  write_file(other / "lib/only-in-v2.txt", "v2\n");
  ASSERT_EQ(run({"zip", "-q", "-r", (other / "v2.zip").string(), "lib"}, {.cwd = other.path()}).exit_code, 0);
  server_->put(other / "v2.zip", "tmpdump/changing.zip");
  server_->put(archive(), "tmpdump/changing.zip");
  ASSERT_EQ(pull({"s3://dumps/tmpdump/changing.zip", "--root", (work_ / "root").string()}).exit_code, 0);
  server_->put(other / "v2.zip", "tmpdump/changing.zip");
  auto r = pull({"s3://dumps/tmpdump/changing.zip", "--root", (work_ / "root").string()});
  ASSERT_EQ(r.exit_code, 0) << r.all();
  ASSERT_EQ(run({"unzip", "-q", (other / "v2.zip").string(), "-d", (work_ / "unzipped").string()}).exit_code, 0);
  EXPECT_EQ(describe_tree(work_ / "root"), describe_tree(work_ / "unzipped"));
  EXPECT_TRUE(fs::exists(work_ / "root/lib/only-in-v2.txt"));
  EXPECT_FALSE(fs::exists(work_ / "root/lib/libzstd.so"));
  EXPECT_FALSE(has_staging_debris(work_ / "root"));
}

TEST_F(PullTest, WrongSecretIsForbiddenAndTheSecretIsNeverPrinted) {
  const std::string wrong = "wrong-secret-Zk28fJq0aa";
  auto r = pull({"s3://dumps/tmpdump/fn.zip", "--root", (work_ / "root").string()}, {{"AWS_SECRET_ACCESS_KEY", wrong}});
  report_outcome("environment", "wrong AWS_SECRET_ACCESS_KEY", r);
  EXPECT_EQ(r.exit_code, 4) << r.all();
  EXPECT_NE(r.err.find("forbidden"), std::string::npos) << r.err;
  EXPECT_EQ(r.all().find(wrong), std::string::npos) << r.all();
  EXPECT_EQ(r.all().find(S3Server::kSecret), std::string::npos);
  EXPECT_FALSE(fs::exists(work_ / "root/lib"));
}

TEST_F(PullTest, MissingKeyIsNotFoundAndNamesBucketAndKey) {
  auto r = pull({"s3://dumps/tmpdump/no-such-function.zip", "--root", (work_ / "root").string()});
  report_outcome("S3 object", "missing key", r);
  EXPECT_EQ(r.exit_code, 3) << r.all();
  EXPECT_NE(r.err.find("dumps"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("tmpdump/no-such-function.zip"), std::string::npos) << r.err;
}

TEST_F(PullTest, SecretsNeverAppearInAnyOutput) {
  const std::string token = "session-token-Wq9LmT3xYY";
  for (const auto& args :
       std::vector<std::vector<std::string>>{{"s3://dumps/tmpdump/fn.zip", "--root", (work_ / "a").string()},
                                             {"s3://dumps/tmpdump/fn.zip", "--root", (work_ / "a").string()},
                                             {"s3://dumps/missing.zip", "--root", (work_ / "b").string()},
                                             {"s3://no-bucket/missing.zip", "--root", (work_ / "b").string()},
                                             {"--help"}}) {
    auto r = pull(args, {{"AWS_SESSION_TOKEN", token}});
    EXPECT_EQ(r.all().find(S3Server::kSecret), std::string::npos) << r.all();
    EXPECT_EQ(r.all().find(token), std::string::npos) << r.all();
  }
}

TEST_F(PullTest, WrongSha256FailsAndKeepsThePreviousInstall) {
  ASSERT_EQ(pull({"s3://dumps/tmpdump/fn.zip", "--root", (work_ / "root").string()}).exit_code, 0);
  const std::string before = describe_tree(work_ / "root", /*include_hidden=*/true);
  TempDir other;
  write_file(other / "lib/other.txt", "other\n");
  ASSERT_EQ(run({"zip", "-q", "-r", (other / "o.zip").string(), "lib"}, {.cwd = other.path()}).exit_code, 0);
  server_->put(other / "o.zip", "tmpdump/other.zip");
  auto r =
      pull({"s3://dumps/tmpdump/other.zip", "--root", (work_ / "root").string(), "--sha256", std::string(64, 'a')});
  report_outcome("S3 object", "replaced by other bytes than the --sha256 given", r);
  EXPECT_EQ(r.exit_code, 7) << r.all();
  EXPECT_NE(r.err.find(std::string(64, 'a')), std::string::npos) << r.err;
  EXPECT_EQ(describe_tree(work_ / "root", true), before);
  EXPECT_FALSE(has_staging_debris(work_ / "root"));
}

TEST_F(PullTest, RightSha256Passes) {
  const std::string digest = sha256_hex(read_file(archive()));
  auto r = pull({"s3://dumps/tmpdump/fn.zip#sha256=" + digest, "--root", (work_ / "root").string()});
  EXPECT_EQ(r.exit_code, 0) << r.all();
}

TEST_F(PullTest, PresignedUrlWorksAndItsSignatureIsNeverPrinted) {
  const std::string url = server_->presign("tmpdump/fn.zip");
  ASSERT_NE(url.find("Signature="), std::string::npos) << url;
  auto r = pull({url, "--root", (work_ / "root").string()},
                {{"AWS_ACCESS_KEY_ID", std::nullopt}, {"AWS_SECRET_ACCESS_KEY", std::nullopt}});
  ASSERT_EQ(r.exit_code, 0) << r.all();
  EXPECT_EQ(r.all().find("Signature="), std::string::npos) << r.all();
  ASSERT_EQ(run({"unzip", "-q", archive().string(), "-d", (work_ / "unzipped").string()}).exit_code, 0);
  EXPECT_EQ(describe_tree(work_ / "root"), describe_tree(work_ / "unzipped"));
}

TEST_F(PullTest, LocalFileSourceWorks) {
  auto r = pull({archive().string(), "--root", (work_ / "root").string()});
  ASSERT_EQ(r.exit_code, 0) << r.all();
  ASSERT_EQ(run({"unzip", "-q", archive().string(), "-d", (work_ / "unzipped").string()}).exit_code, 0);
  EXPECT_EQ(describe_tree(work_ / "root"), describe_tree(work_ / "unzipped"));
}

TEST_F(PullTest, RefusesToReplaceADirectoryItDidNotInstall) {
  write_file(work_ / "root/lib/mine.txt", "precious\n");
  auto r = pull({"s3://dumps/tmpdump/fn.zip", "--root", (work_ / "root").string()});
  report_outcome("root directory", "holds a lib/ tmpdump did not install", r);
  EXPECT_EQ(r.exit_code, 12) << r.all();
  EXPECT_NE(r.err.find("was not installed by tmpdump"), std::string::npos) << r.err;
  EXPECT_EQ(read_file(work_ / "root/lib/mine.txt"), "precious\n");
}

TEST_F(PullTest, ConcurrentPullsIntoOneRootAllEndWithTheCompleteTree) {
  std::vector<std::thread> threads;
  std::vector<RunResult> results(4);
  for (std::size_t i = 0; i < results.size(); ++i) {
    threads.emplace_back([&, i] {
      results[i] = pull({"s3://dumps/tmpdump/fn.zip", "--root", (work_ / "root").string()});
    });
  }
  for (auto& t : threads) t.join();
  for (const auto& r : results) EXPECT_EQ(r.exit_code, 0) << r.all();
  ASSERT_EQ(run({"unzip", "-q", archive().string(), "-d", (work_ / "unzipped").string()}).exit_code, 0);
  EXPECT_EQ(describe_tree(work_ / "root"), describe_tree(work_ / "unzipped"));
  const auto gets = std::ranges::count_if(server_->requests(), [](const std::string& l) {
    return l.starts_with("GET ") && l.find("bytes=") != std::string::npos;
  });
  EXPECT_GT(gets, 0);
  EXPECT_FALSE(has_staging_debris(work_ / "root"));
}

TEST_F(PullTest, TreeLargerThanFreeSpaceIsRefusedUpFront) {
  fs::create_directories(work_ / "small");
  if (::mount("tmpfs", (work_ / "small").c_str(), "tmpfs", 0, "size=1m") != 0) {
    GTEST_SKIP() << "cannot mount a tmpfs here (needs root): " << std::strerror(errno);
  }
  auto r = pull({"s3://dumps/tmpdump/fn.zip", "--root", (work_ / "small").string()});
  report_outcome("root directory", "1 MB tmpfs, tree larger than that", r);
  EXPECT_EQ(r.exit_code, 8) << r.all();
  EXPECT_NE(r.err.find("free"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(work_ / "small/lib"));
  EXPECT_FALSE(has_staging_debris(work_ / "small"));
  ::umount2((work_ / "small").c_str(), MNT_DETACH);
}

TEST_F(PullTest, BadArgumentsAreUsageErrors) {
  EXPECT_EQ(pull({}).exit_code, 2);
  EXPECT_EQ(pull({"ftp://x/y"}).exit_code, 2);
  EXPECT_EQ(pull({"s3://dumps/k", "--sha256", "xyz"}).exit_code, 2);
  EXPECT_EQ(pull({"s3://dumps/k#sha256=123"}).exit_code, 2);
  auto help = pull({"--help"});
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_NE(help.out.find("--root"), std::string::npos);
}

}  // namespace
}  // namespace tmpdump::testing
