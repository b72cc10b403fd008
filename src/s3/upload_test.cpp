#include "s3/upload.hpp"

#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "s3/testing/fake_transport.hpp"
#include "util/sha256.hpp"

// Scripted steps name only the fields they need (designated initializers).
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

namespace tmpdump::s3 {
namespace {

using testing::FakeTransport;
using testing::Step;

class UploadTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("tmpdump-upload-test-" + std::to_string(::testing::UnitTest::GetInstance()->random_seed()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
    std::ofstream(file()) << "archive bytes";
    config_.endpoint_url = "http://127.0.0.1:9";
    config_.credentials = Credentials{"AKID", "SECRET-never-shown", "", "environment"};
    retry_.sleep = [](std::chrono::milliseconds) {};
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::filesystem::path file() const { return dir_ / "a.zip"; }

  Result<UploadResult> upload(std::deque<Step> steps) {
    FakeTransport transport(std::move(steps));
    UploadOptions o;
    o.retry = retry_;
    return upload_file(file(), Location{"b", "tmpdump/a.zip"}, config_, transport, o);
  }

  std::filesystem::path dir_;
  ClientConfig config_;
  RetryPolicy retry_;
};

TEST_F(UploadTest, SkipsWhenTheKeyHoldsTheSameSha256) {
  const auto digest = sha256_hex("archive bytes");
  auto r = upload({Step{.status = 200, .headers = {{"content-length", "13"}, {"x-amz-meta-tmpdump-sha256", digest}}}});
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_TRUE(r->skipped);
  EXPECT_EQ(r->sha256, digest);
}

TEST_F(UploadTest, UploadsWhenTheDigestDiffersAndRetriesServerErrors) {
  auto r = upload({Step{.status = 200, .headers = {{"content-length", "13"}, {"x-amz-meta-tmpdump-sha256", "0"}}},
                   Step{.status = 503, .body = "<Error><Code>SlowDown</Code></Error>"},
                   Step{.transport_error = Error{Errc::Network, "reset"}},
                   Step{.status = 200, .headers = {{"etag", "\"e\""}}}});
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_FALSE(r->skipped);
  EXPECT_EQ(r->etag, "\"e\"");
  EXPECT_EQ(r->parts, 0u);
}

TEST_F(UploadTest, AccessDeniedIsForbiddenAndHidesTheSecret) {
  auto r = upload({Step{.status = 404}, Step{.status = 403, .body = "<Error><Code>AccessDenied</Code></Error>"}});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::Forbidden);
  EXPECT_NE(r.error().message.find("AccessDenied"), std::string::npos) << r.error().message;
  EXPECT_EQ(r.error().message.find("SECRET-never-shown"), std::string::npos);
}

TEST_F(UploadTest, GivesUpAfterTheRetryBudget) {
  std::deque<Step> steps{Step{.status = 404}};
  for (int i = 0; i < 6; ++i) steps.push_back(Step{.status = 500});
  auto r = upload(std::move(steps));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::Network);
}

}  // namespace
}  // namespace tmpdump::s3
