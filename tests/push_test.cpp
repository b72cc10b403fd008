// tmpdump push end to end: the real binary against the real S3-API server,
// the AWS CLI reading back what was stored.
#include <filesystem>
#include <random>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "support/process.hpp"
#include "support/s3_server.hpp"
#include "util/sha256.hpp"

namespace tmpdump::testing {
namespace {

namespace fs = std::filesystem;

class PushTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { server_ = new S3Server(); }
  static void TearDownTestSuite() { delete server_; }
  void SetUp() override { server_->clear_log(); }

  RunResult push(std::vector<std::string> args, EnvChanges extra = {}) {
    std::vector<std::string> argv{tmpdump_binary().string(), "push"};
    argv.insert(argv.end(), args.begin(), args.end());
    EnvChanges env = server_->client_env();
    for (auto& [k, v] : extra) env[k] = v;
    return run(argv, {.env = env, .timeout = std::chrono::seconds(120)});
  }

  RunResult aws(std::vector<std::string> args) {
    std::vector<std::string> argv{"aws", "--endpoint-url", server_->endpoint()};
    argv.insert(argv.end(), args.begin(), args.end());
    return run(argv, {.env = server_->client_env(), .timeout = std::chrono::seconds(60)});
  }

  fs::path random_file(const std::string& name, std::size_t bytes) {
    std::mt19937_64 rng(bytes);
    std::string data(bytes, '\0');
    for (auto& c : data) c = static_cast<char>(rng() & 0xff);
    write_file(work_ / name, data);
    return work_ / name;
  }

  static S3Server* server_;
  TempDir work_;
};

S3Server* PushTest::server_ = nullptr;

TEST_F(PushTest, SmallFileIsOnePutWithItsSha256AsMetadata) {
  const auto file = random_file("small.zip", 300'000);
  auto r = push({file.string(), "s3://dumps/tmpdump/small.zip"});
  ASSERT_EQ(r.exit_code, 0) << r.all();
  const std::string digest = sha256_hex(read_file(file));
  EXPECT_NE(r.out.find("s3://dumps/tmpdump/small.zip#sha256=" + digest), std::string::npos) << r.out;

  auto head = aws({"s3api", "head-object", "--bucket", "dumps", "--key", "tmpdump/small.zip"});
  ASSERT_EQ(head.exit_code, 0) << head.all();
  EXPECT_NE(head.out.find(digest), std::string::npos) << head.out;
  ASSERT_EQ(
      aws({"s3", "cp", "--only-show-errors", "s3://dumps/tmpdump/small.zip", (work_ / "back").string()}).exit_code, 0);
  EXPECT_EQ(read_file(work_ / "back"), read_file(file));
}

TEST_F(PushTest, LargeFileGoesMultipartInParallelParts) {
  const auto file = random_file("big.zip", 23 * 1024 * 1024 + 17);
  auto r = push({file.string(), "s3://dumps/tmpdump/big.zip", "--part-size-mb", "5", "-j", "3"});
  ASSERT_EQ(r.exit_code, 0) << r.all();
  EXPECT_NE(r.out.find("in 5 parts"), std::string::npos) << r.out;
  int parts = 0;
  bool created = false, completed = false;
  for (const auto& line : server_->requests()) {
    if (line.starts_with("PUT") && line.find("partNumber=") != std::string::npos) ++parts;
    if (line.starts_with("POST") && line.find("uploads") != std::string::npos) created = true;
    if (line.starts_with("POST") && line.find("uploadId=") != std::string::npos) completed = true;
  }
  EXPECT_EQ(parts, 5);
  EXPECT_TRUE(created && completed);
  ASSERT_EQ(aws({"s3", "cp", "--only-show-errors", "s3://dumps/tmpdump/big.zip", (work_ / "back").string()}).exit_code,
            0);
  EXPECT_TRUE(read_file(work_ / "back") == read_file(file));
  auto head = aws({"s3api", "head-object", "--bucket", "dumps", "--key", "tmpdump/big.zip"});
  EXPECT_NE(head.out.find(sha256_hex(read_file(file))), std::string::npos) << head.out;
}

TEST_F(PushTest, SameBytesAgainAreNotUploaded) {
  const auto file = random_file("again.zip", 200'000);
  ASSERT_EQ(push({file.string(), "--bucket", "dumps", "--name", "again"}).exit_code, 0);
  server_->clear_log();
  auto r = push({file.string(), "--bucket", "dumps", "--name", "again"});
  ASSERT_EQ(r.exit_code, 0) << r.all();
  EXPECT_NE(r.out.find("already there"), std::string::npos) << r.out;
  const auto log = server_->requests();
  ASSERT_EQ(log.size(), 1u) << fmt::format("{}", fmt::join(log, "\n"));
  EXPECT_TRUE(log[0].starts_with("HEAD /dumps/tmpdump/again.zip")) << log[0];

  // Different bytes under the same key are uploaded.
  const auto other = random_file("again2.zip", 200'001);
  fs::rename(other, file);
  r = push({file.string(), "--bucket", "dumps", "--name", "again"});
  ASSERT_EQ(r.exit_code, 0) << r.all();
  EXPECT_EQ(r.out.find("already there"), std::string::npos) << r.out;
}

TEST_F(PushTest, WrongSecretIsForbiddenAndNeverPrinted) {
  const auto file = random_file("x.zip", 1000);
  auto r = push({file.string(), "s3://dumps/tmpdump/x.zip"}, {{"AWS_SECRET_ACCESS_KEY", "wrong-secret-value-123"}});
  EXPECT_EQ(r.exit_code, 4) << r.all();
  EXPECT_EQ(r.all().find("wrong-secret-value-123"), std::string::npos) << r.all();
}

TEST_F(PushTest, MissingBucketIsNotFound) {
  const auto file = random_file("x.zip", 1000);
  auto r = push({file.string(), "s3://no-such-bucket/x.zip"});
  EXPECT_EQ(r.exit_code, 3) << r.all();
  EXPECT_NE(r.err.find("no-such-bucket"), std::string::npos) << r.err;
}

TEST_F(PushTest, SeveralDestinationsEachGetTheFileAndOneAlternatesLine) {
  const auto file = random_file("multi.zip", 200'000);
  auto r = push({file.string(), "s3://dumps/tmpdump/multi.zip", "s3://dumps/mirror/multi.zip"});
  ASSERT_EQ(r.exit_code, 0) << r.all();
  const std::string digest = sha256_hex(read_file(file));
  EXPECT_NE(r.out.find("s3://dumps/tmpdump/multi.zip#sha256=" + digest), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("s3://dumps/mirror/multi.zip#sha256=" + digest), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("alternates for tmpdump.json / TMPDUMP_SOURCES: s3://dumps/tmpdump/multi.zip|"
                       "s3://dumps/mirror/multi.zip#sha256=" +
                       digest),
            std::string::npos)
      << r.out;
  for (const char* key : {"tmpdump/multi.zip", "mirror/multi.zip"}) {
    ASSERT_EQ(
        aws({"s3", "cp", "--only-show-errors", fmt::format("s3://dumps/{}", key), (work_ / "back").string()}).exit_code,
        0)
        << key;
    EXPECT_EQ(read_file(work_ / "back"), read_file(file)) << key;
  }
  // A bad destination anywhere in the list is refused before anything is uploaded.
  server_->clear_log();
  auto bad = push({file.string(), "s3://dumps/tmpdump/multi2.zip", "dumps/nope.zip"});
  EXPECT_EQ(bad.exit_code, 2) << bad.all();
  EXPECT_TRUE(server_->requests().empty());
  // A destination that fails stops the push with its error, naming which one it was.
  auto missing = push({file.string(), "s3://dumps/tmpdump/multi3.zip", "s3://no-such-bucket/x.zip"});
  EXPECT_EQ(missing.exit_code, 3) << missing.all();
  EXPECT_NE(missing.err.find("destination 2 of 2"), std::string::npos) << missing.err;
}

TEST_F(PushTest, MissingFileAndBadDestinationAreClearErrors) {
  EXPECT_EQ(push({(work_ / "absent.zip").string(), "s3://dumps/a.zip"}).exit_code, 3);
  const auto file = random_file("x.zip", 10);
  EXPECT_EQ(push({file.string()}).exit_code, 2);
  EXPECT_EQ(push({file.string(), "dumps/a.zip"}).exit_code, 2);
}

}  // namespace
}  // namespace tmpdump::testing
