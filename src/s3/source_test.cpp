#include <gtest/gtest.h>

#include "s3/detail.hpp"
#include "s3/s3.hpp"
#include "s3/testing/fake_transport.hpp"

namespace tmpdump::s3 {
namespace {

using testing::FakeTransport;
using testing::request_header;
using testing::Step;

constexpr const char* kSecret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
constexpr const char* kToken = "IQoJb3JpZ2luX2VjEXAMPLETOKENVALUE";

const std::string kObject = "0123456789abcdefghij";  // 20 bytes

Step range_answer(std::uint64_t first, std::uint64_t last, std::string etag = "\"v1\"") {
  Step s;
  s.status = 206;
  s.body = kObject.substr(first, last - first + 1);
  s.headers = {{"content-range", fmt::format("bytes {}-{}/{}", first, last, kObject.size())},
               {"content-length", std::to_string(s.body.size())},
               {"etag", std::move(etag)}};
  return s;
}

Step error_answer(long status, std::string code = "") {
  Step s;
  s.status = status;
  if (!code.empty()) s.body = "<Error><Code>" + code + "</Code><Message>details</Message></Error>";
  return s;
}

Step network_error() {
  Step s;
  s.transport_error = Error{Errc::Network, "GET https://b.s3.us-east-1.amazonaws.com/k: Connection refused"};
  return s;
}

/// A source over a FakeTransport that the test keeps a pointer to.
struct Fixture {
  FakeTransport* transport = nullptr;
  std::unique_ptr<ByteSource> source;
  std::vector<std::chrono::milliseconds> sleeps;
};

ClientConfig config_with_credentials() {
  ClientConfig c;
  c.region = "us-east-1";
  c.credentials = Credentials{"AKIDEXAMPLE", kSecret, kToken, "environment"};
  return c;
}

std::unique_ptr<Fixture> s3_fixture(std::deque<Step> steps, ClientConfig config = config_with_credentials()) {
  auto f = std::make_unique<Fixture>();
  auto transport = std::make_unique<FakeTransport>(std::move(steps));
  f->transport = transport.get();
  RetryPolicy retry;
  retry.max_attempts = 6;  // the budget these tests count against (the default is kDefaultMaxAttempts)
  retry.sleep = [fp = f.get()](std::chrono::milliseconds d) { fp->sleeps.push_back(d); };
  f->source = make_s3_source(Location{"bucket", "dir/file.zip"}, std::move(config), std::move(transport), retry);
  return f;
}

std::unique_ptr<Fixture> url_fixture(std::deque<Step> steps, std::string url) {
  auto f = std::make_unique<Fixture>();
  auto transport = std::make_unique<FakeTransport>(std::move(steps));
  f->transport = transport.get();
  RetryPolicy retry;
  retry.sleep = [fp = f.get()](std::chrono::milliseconds d) { fp->sleeps.push_back(d); };
  f->source = make_url_source(std::move(url), std::move(transport), retry);
  return f;
}

/// Reads [offset, offset+length) into a string.
Result<std::string> read_all(ByteSource& source, std::uint64_t offset, std::uint64_t length) {
  std::string out;
  auto r = source.read(offset, length, [&](std::span<const std::byte> b) -> Result<void> {
    out.append(reinterpret_cast<const char*>(b.data()), b.size());
    return {};
  });
  if (!r) return std::unexpected(r.error());
  return out;
}

void expect_no_secrets(const std::string& text) {
  EXPECT_EQ(text.find(kSecret), std::string::npos) << text;
  EXPECT_EQ(text.find(kToken), std::string::npos) << text;
}

TEST(S3SourceTest, StatIsOneSignedHeadGivingSizeAndEtag) {
  Step head;
  head.headers = {{"content-length", "20"}, {"etag", "\"v1\""}};
  auto f = s3_fixture({head});
  auto info = f->source->stat();
  ASSERT_TRUE(info) << info.error().message;
  EXPECT_EQ(info->size, 20u);
  EXPECT_EQ(info->etag, "\"v1\"");
  ASSERT_EQ(f->transport->requests.size(), 1u);
  const auto& req = f->transport->requests[0];
  EXPECT_EQ(req.method, "HEAD");
  EXPECT_EQ(req.url, "https://bucket.s3.us-east-1.amazonaws.com/dir/file.zip");
  ASSERT_TRUE(req.sigv4);
  EXPECT_EQ(req.sigv4->region, "us-east-1");
  EXPECT_EQ(req.sigv4->session_token, kToken);
}

TEST(S3SourceTest, ReadsRangeWithIfMatchOfStatEtag) {
  Step head;
  head.headers = {{"content-length", "20"}, {"etag", "\"v1\""}};
  auto f = s3_fixture({head, range_answer(5, 9)});
  ASSERT_TRUE(f->source->stat());
  auto got = read_all(*f->source, 5, 5);
  ASSERT_TRUE(got) << got.error().message;
  EXPECT_EQ(*got, "56789");
  const auto& req = f->transport->requests[1];
  ASSERT_TRUE(req.range);
  EXPECT_EQ(req.range->first, 5u);
  EXPECT_EQ(req.range->second, 5u);
  EXPECT_EQ(request_header(req, "If-Match"), "\"v1\"");
}

TEST(S3SourceTest, PinsEtagOfFirstResponseWithoutStat) {
  auto f = s3_fixture({range_answer(0, 4), range_answer(5, 9)});
  ASSERT_TRUE(read_all(*f->source, 0, 5));
  ASSERT_TRUE(read_all(*f->source, 5, 5));
  EXPECT_EQ(request_header(f->transport->requests[0], "If-Match"), std::nullopt);
  EXPECT_EQ(request_header(f->transport->requests[1], "If-Match"), "\"v1\"");
}

TEST(S3SourceTest, ResumesBrokenBodyFromNextByte) {
  Step broken = range_answer(0, 19);
  broken.break_after = 7;
  auto f = s3_fixture({broken, range_answer(7, 19)});
  auto got = read_all(*f->source, 0, 20);
  ASSERT_TRUE(got) << got.error().message;
  EXPECT_EQ(*got, kObject);
  ASSERT_EQ(f->transport->requests.size(), 2u);
  const auto& retry = f->transport->requests[1];
  EXPECT_EQ(retry.range->first, 7u);
  EXPECT_EQ(retry.range->second, 13u);
  EXPECT_EQ(request_header(retry, "If-Match"), "\"v1\"");
  EXPECT_EQ(f->sleeps.size(), 1u);
}

TEST(S3SourceTest, ConnectionThatKeepsBreakingAfterProgressStillEnds) {
  // Every attempt delivers one more byte, then breaks: progress each time.
  std::deque<Step> steps;
  for (std::uint64_t first = 0; first < 20; ++first) {
    Step s = range_answer(first, 19);
    s.break_after = 1;
    steps.push_back(s);
  }
  auto f = s3_fixture(steps);
  auto got = read_all(*f->source, 0, 20);
  ASSERT_FALSE(got);
  EXPECT_EQ(got.error().code, Errc::Network);
  EXPECT_EQ(f->transport->requests.size(), 12u);  // twice the budget of 6
  EXPECT_NE(got.error().message.find("after 12 attempts"), std::string::npos) << got.error().message;
}

TEST(S3SourceTest, RetriesServerErrorsAndThrottlingThenSucceeds) {
  auto f = s3_fixture({error_answer(503, "SlowDown"), error_answer(500, "InternalError"), error_answer(429),
                       network_error(), range_answer(0, 19)});
  auto got = read_all(*f->source, 0, 20);
  ASSERT_TRUE(got) << got.error().message;
  EXPECT_EQ(*got, kObject);
  EXPECT_EQ(f->sleeps.size(), 4u);
}

TEST(S3SourceTest, GivesUpAfterBudgetWithLastReason) {
  const auto retries_before = source_retries();
  std::deque<Step> steps;
  for (int i = 0; i < 6; ++i) steps.push_back(error_answer(503, "SlowDown"));
  auto f = s3_fixture(steps);
  auto got = read_all(*f->source, 0, 20);
  ASSERT_FALSE(got);
  EXPECT_EQ(got.error().code, Errc::Network);
  EXPECT_EQ(got.error().message, "s3://bucket/dir/file.zip: after 6 attempts: HTTP 503 SlowDown");
  EXPECT_EQ(f->transport->requests.size(), 6u);
  EXPECT_EQ(f->sleeps.size(), 5u);
  // The process-wide count the init's Retries metric reports.
  EXPECT_EQ(source_retries() - retries_before, 5u);
}

TEST(S3SourceTest, BackoffStaysWithinFullJitterBounds) {
  RetryPolicy policy;
  std::mt19937_64 rng(42);
  for (int attempt = 1; attempt <= 10; ++attempt) {
    for (int i = 0; i < 50; ++i) {
      auto d = detail::backoff_delay(policy, attempt, rng);
      EXPECT_GE(d.count(), 0);
      EXPECT_LE(d.count(), std::min<std::int64_t>(3000, 100LL << (attempt - 1)));
    }
  }
}

TEST(S3SourceTest, PreconditionFailedSaysObjectChanged) {
  Step head;
  head.headers = {{"content-length", "20"}, {"etag", "\"v1\""}};
  auto f = s3_fixture({head, error_answer(412, "PreconditionFailed")});
  ASSERT_TRUE(f->source->stat());
  auto got = read_all(*f->source, 0, 20);
  ASSERT_FALSE(got);
  EXPECT_EQ(got.error().code, Errc::Corrupt);
  EXPECT_NE(got.error().message.find("changed during download"), std::string::npos) << got.error().message;
}

TEST(S3SourceTest, DifferentEtagOnResumeIsObjectChanged) {
  Step broken = range_answer(0, 19);
  broken.break_after = 5;
  auto f = s3_fixture({broken, range_answer(5, 19, "\"v2\"")});
  auto got = read_all(*f->source, 0, 20);
  ASSERT_FALSE(got);
  EXPECT_EQ(got.error().code, Errc::Corrupt);
  EXPECT_NE(got.error().message.find("changed during download"), std::string::npos);
}

TEST(S3SourceTest, MissingKeyIsNotFoundNamingBucketAndKey) {
  auto f = s3_fixture({error_answer(404, "NoSuchKey")});
  auto got = read_all(*f->source, 0, 20);
  ASSERT_FALSE(got);
  EXPECT_EQ(got.error().code, Errc::NotFound);
  EXPECT_EQ(got.error().message, "s3://bucket/dir/file.zip: no such key 'dir/file.zip' in bucket 'bucket'");
}

TEST(S3SourceTest, MissingBucketSaysBucketNotFound) {
  auto f = s3_fixture({error_answer(404, "NoSuchBucket")});
  auto got = read_all(*f->source, 0, 20);
  ASSERT_FALSE(got);
  EXPECT_EQ(got.error().code, Errc::NotFound);
  EXPECT_EQ(got.error().message, "s3://bucket/dir/file.zip: bucket 'bucket' not found");
}

TEST(S3SourceTest, HeadNotFoundAsksGetWhetherBucketOrKeyIsMissing) {
  auto f = s3_fixture({error_answer(404), error_answer(404, "NoSuchBucket")});
  auto info = f->source->stat();
  ASSERT_FALSE(info);
  EXPECT_EQ(info.error().code, Errc::NotFound);
  EXPECT_EQ(info.error().message, "s3://bucket/dir/file.zip: bucket 'bucket' not found");
  ASSERT_EQ(f->transport->requests.size(), 2u);
  EXPECT_EQ(f->transport->requests[1].method, "GET");
}

TEST(S3SourceTest, HeadForbiddenAsksGetForTheReason) {
  auto f = s3_fixture({error_answer(403), error_answer(403, "SignatureDoesNotMatch")});
  auto info = f->source->stat();
  ASSERT_FALSE(info);
  EXPECT_EQ(info.error().code, Errc::Forbidden);
  EXPECT_NE(info.error().message.find("secret access key does not match"), std::string::npos);
}

TEST(S3SourceTest, WrongSecretNamesCredentialOrigin) {
  auto f = s3_fixture({error_answer(403, "SignatureDoesNotMatch")});
  auto got = read_all(*f->source, 0, 20);
  ASSERT_FALSE(got);
  EXPECT_EQ(got.error().code, Errc::Forbidden);
  EXPECT_EQ(got.error().message,
            "s3://bucket/dir/file.zip: the secret access key does not match the key id (credentials from "
            "environment)");
  expect_no_secrets(got.error().message);
}

TEST(S3SourceTest, UnknownKeyIdIsForbidden) {
  auto f = s3_fixture({error_answer(403, "InvalidAccessKeyId")});
  auto got = read_all(*f->source, 0, 20);
  ASSERT_FALSE(got);
  EXPECT_EQ(got.error().code, Errc::Forbidden);
  EXPECT_NE(got.error().message.find("InvalidAccessKeyId"), std::string::npos);
}

TEST(S3SourceTest, ForbiddenWithoutDetailsNamesOrigin) {
  auto f = s3_fixture({error_answer(403), error_answer(403)});
  auto info = f->source->stat();
  ASSERT_FALSE(info);
  EXPECT_EQ(info.error().code, Errc::Forbidden);
  EXPECT_NE(info.error().message.find("access denied"), std::string::npos);
  EXPECT_NE(info.error().message.find("credentials from environment"), std::string::npos);
}

TEST(S3SourceTest, ForbiddenWithoutCredentialsSaysNoneWereFound) {
  ClientConfig config;
  auto f = s3_fixture({error_answer(403, "AccessDenied")}, config);
  auto info = f->source->stat();
  ASSERT_FALSE(info);
  EXPECT_EQ(info.error().code, Errc::Forbidden);
  EXPECT_NE(info.error().message.find("no credentials were found"), std::string::npos);
  EXPECT_FALSE(f->transport->requests[0].sigv4);
}

TEST(S3SourceTest, WrongRegionSaysWhichRegion) {
  Step moved = error_answer(301, "PermanentRedirect");
  moved.headers = {{"x-amz-bucket-region", "eu-central-1"}};
  auto f = s3_fixture({moved});
  auto info = f->source->stat();
  ASSERT_FALSE(info);
  EXPECT_EQ(info.error().code, Errc::InvalidArgument);
  EXPECT_NE(info.error().message.find("AWS_REGION=eu-central-1"), std::string::npos);
}

TEST(S3SourceTest, OtherClientErrorsAreNotRetried) {
  auto f = s3_fixture({error_answer(400, "InvalidRequest")});
  auto got = read_all(*f->source, 0, 20);
  ASSERT_FALSE(got);
  EXPECT_EQ(got.error().code, Errc::InvalidArgument);
  EXPECT_EQ(f->transport->requests.size(), 1u);
}

TEST(S3SourceTest, MismatchedContentRangeIsCorruptAndSinkSeesNothing) {
  Step wrong = range_answer(0, 4);
  auto f = s3_fixture({wrong});
  std::size_t seen = 0;
  auto r = f->source->read(5, 5, [&](std::span<const std::byte> b) -> Result<void> {
    seen += b.size();
    return {};
  });
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::Corrupt);
  EXPECT_EQ(seen, 0u);
}

TEST(S3SourceTest, UnparsableContentRangeIsCorrupt) {
  Step bad = range_answer(0, 4);
  bad.headers[0].second = "bytes 0-99999999999999999999999/20";
  auto f = s3_fixture({bad});
  auto got = read_all(*f->source, 0, 5);
  ASSERT_FALSE(got);
  EXPECT_EQ(got.error().code, Errc::Corrupt);
}

TEST(S3SourceTest, WholeObjectAnswerToPartialRangeIsUnsupported) {
  Step whole;
  whole.status = 200;
  whole.body = kObject;
  whole.headers = {{"content-length", "20"}};
  auto f = s3_fixture({whole});
  auto got = read_all(*f->source, 5, 5);
  ASSERT_FALSE(got);
  EXPECT_EQ(got.error().code, Errc::Unsupported);
  EXPECT_NE(got.error().message.find("ignores Range"), std::string::npos);
}

TEST(S3SourceTest, WholeObjectAnswerToWholeRangeIsAccepted) {
  Step whole;
  whole.status = 200;
  whole.body = kObject;
  whole.headers = {{"content-length", "20"}};
  auto f = s3_fixture({whole});
  auto got = read_all(*f->source, 0, 20);
  ASSERT_TRUE(got) << got.error().message;
  EXPECT_EQ(*got, kObject);
}

TEST(S3SourceTest, MoreBytesThanAskedIsCorrupt) {
  Step lying = range_answer(0, 4);
  lying.body = "0123456789";  // headers say 5 bytes
  auto f = s3_fixture({lying});
  std::size_t seen = 0;
  auto r = f->source->read(0, 5, [&](std::span<const std::byte> b) -> Result<void> {
    seen += b.size();
    return {};
  });
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::Corrupt);
  EXPECT_LE(seen, 5u);
}

TEST(S3SourceTest, SinkErrorStopsReadWithoutRetry) {
  auto f = s3_fixture({range_answer(0, 19), range_answer(0, 19)});
  auto r = f->source->read(0, 20,
                           [](std::span<const std::byte>) -> Result<void> { return fail(Errc::NoSpace, "disk full"); });
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::NoSpace);
  EXPECT_EQ(f->transport->requests.size(), 1u);
}

TEST(S3SourceTest, UnparsableContentLengthOnHeadIsCorrupt) {
  for (const char* bad : {"-1", "", "12abc", "99999999999999999999999", "1125899906842625"}) {
    Step head;
    head.headers = {{"content-length", bad}, {"etag", "\"v1\""}};
    auto f = s3_fixture({head});
    auto info = f->source->stat();
    ASSERT_FALSE(info) << bad;
    EXPECT_EQ(info.error().code, Errc::Corrupt) << bad;
  }
}

TEST(S3SourceTest, MissingEtagIsAcceptedAndNoIfMatchSent) {
  Step head;
  head.headers = {{"content-length", "20"}};
  Step body = range_answer(0, 19);
  body.headers.pop_back();
  auto f = s3_fixture({head, body});
  auto info = f->source->stat();
  ASSERT_TRUE(info);
  EXPECT_EQ(info->etag, "");
  ASSERT_TRUE(read_all(*f->source, 0, 20));
  EXPECT_EQ(request_header(f->transport->requests[1], "If-Match"), std::nullopt);
}

TEST(S3SourceTest, LengthZeroReadsNothing) {
  auto f = s3_fixture({});
  EXPECT_TRUE(read_all(*f->source, 7, 0));
  EXPECT_TRUE(f->transport->requests.empty());
}

TEST(S3SourceTest, CloneKeepsVersionPin) {
  Step head;
  head.headers = {{"content-length", "20"}, {"etag", "\"v1\""}};
  auto f = s3_fixture({head});
  ASSERT_TRUE(f->source->stat());
  EXPECT_EQ(f->source->clone()->describe(), "s3://bucket/dir/file.zip");
}

TEST(S3SourceTest, NoErrorMessageContainsSecrets) {
  std::vector<Step> cases = {error_answer(403, "SignatureDoesNotMatch"), error_answer(403, "InvalidToken"),
                             error_answer(400, "InvalidRequest"), error_answer(404, "NoSuchKey")};
  // A server that echoes the token back in its message must not leak it either.
  Step echo = error_answer(400);
  echo.body = fmt::format("<Error><Code>Bad</Code><Message>token {} secret {}</Message></Error>", kToken, kSecret);
  cases.push_back(echo);
  Step net;
  net.transport_error = Error{Errc::Network, fmt::format("reset while sending {}", kToken)};
  std::deque<Step> nets(6, net);
  for (const auto& step : cases) {
    auto f = s3_fixture({step});
    auto got = read_all(*f->source, 0, 20);
    ASSERT_FALSE(got);
    expect_no_secrets(got.error().message);
  }
  auto f = s3_fixture(nets);
  auto got = read_all(*f->source, 0, 20);
  ASSERT_FALSE(got);
  expect_no_secrets(got.error().message);
}

TEST(UrlSourceTest, DescribeDropsQueryString) {
  auto f = url_fixture({}, "https://b.s3.amazonaws.com/k.zip?X-Amz-Signature=abcdef&X-Amz-Credential=AKID");
  EXPECT_EQ(f->source->describe(), "https://b.s3.amazonaws.com/k.zip?…");
}

TEST(UrlSourceTest, AServerEchoingAQueryParameterDoesNotPutItInTheError) {
  const std::string credential = "AKIDEXAMPLE/20260101/us-east-1/s3/aws4_request";
  Step denied = error_answer(403);
  denied.body = "<Error><Code>AccessDenied</Code><Message>signature 0f1e2d3c4b5a6978 for " + credential +
                " is not valid</Message></Error>";
  auto f = url_fixture({denied, denied},
                       "https://h/k.zip?X-Amz-Credential=AKIDEXAMPLE%2F20260101%2Fus-east-1%2Fs3%2Faws4_request"
                       "&X-Amz-Signature=0f1e2d3c4b5a6978");
  auto info = f->source->stat();
  ASSERT_FALSE(info);
  EXPECT_EQ(info.error().code, Errc::Forbidden);
  EXPECT_EQ(info.error().message.find("0f1e2d3c4b5a6978"), std::string::npos) << info.error().message;
  EXPECT_EQ(info.error().message.find("AKIDEXAMPLE"), std::string::npos) << info.error().message;
  EXPECT_NE(info.error().message.find("https://h/k.zip?…"), std::string::npos) << info.error().message;
}

TEST(UrlSourceTest, StatFallsBackToFirstByteWhenHeadIsForbidden) {
  Step probe;
  probe.status = 206;
  probe.body = "0";
  probe.headers = {{"content-range", "bytes 0-0/12345"}, {"content-length", "1"}, {"etag", "\"e\""}};
  auto f = url_fixture({error_answer(403), probe}, "https://h/k.zip?X-Amz-Signature=abc");
  auto info = f->source->stat();
  ASSERT_TRUE(info) << info.error().message;
  EXPECT_EQ(info->size, 12345u);
  EXPECT_EQ(info->etag, "\"e\"");
  const auto& req = f->transport->requests[1];
  EXPECT_EQ(req.method, "GET");
  EXPECT_EQ(req.range->first, 0u);
  EXPECT_EQ(req.range->second, 1u);
  EXPECT_FALSE(req.sigv4);
}

TEST(UrlSourceTest, ProbeStopsAtHeadWhenServerSendsWholeObject) {
  Step whole;
  whole.status = 206;
  whole.body = kObject;
  whole.headers = {{"content-range", "bytes 0-19/20"}, {"content-length", "20"}};
  auto f = url_fixture({error_answer(403), whole}, "https://h/k.zip?sig=abc");
  auto info = f->source->stat();
  ASSERT_TRUE(info) << info.error().message;
  EXPECT_EQ(info->size, 20u);
}

TEST(UrlSourceTest, StatOfEmptyObjectThroughProbe) {
  Step empty;
  empty.status = 416;
  empty.headers = {{"content-range", "bytes */0"}};
  auto f = url_fixture({error_answer(405), empty}, "https://h/k.zip?sig=abc");
  auto info = f->source->stat();
  ASSERT_TRUE(info) << info.error().message;
  EXPECT_EQ(info->size, 0u);
}

TEST(UrlSourceTest, ExpiredPresignedUrlIsForbiddenWithoutQuery) {
  Step expired = error_answer(403, "AccessDenied");
  expired.body = "<Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>";
  auto f = url_fixture({error_answer(403), expired}, "https://h/k.zip?X-Amz-Signature=topsecretsig");
  auto info = f->source->stat();
  ASSERT_FALSE(info);
  EXPECT_EQ(info.error().code, Errc::Forbidden);
  EXPECT_NE(info.error().message.find("Request has expired"), std::string::npos);
  EXPECT_EQ(info.error().message.find("topsecretsig"), std::string::npos);
}

TEST(UrlSourceTest, NetworkErrorMessageHasNoQuery) {
  Step net;
  net.transport_error = Error{Errc::Network, "GET https://h/k.zip?X-Amz-Signature=topsecretsig: reset"};
  auto f = url_fixture(std::deque<Step>(6, net), "https://h/k.zip?X-Amz-Signature=topsecretsig");
  auto got = read_all(*f->source, 0, 20);
  ASSERT_FALSE(got);
  EXPECT_EQ(got.error().message.find("topsecretsig"), std::string::npos) << got.error().message;
}

}  // namespace
}  // namespace tmpdump::s3
