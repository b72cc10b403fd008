#include <gtest/gtest.h>

#include "s3/detail.hpp"
#include "s3/s3.hpp"
#include "s3/testing/fake_transport.hpp"

namespace tmpdump::s3 {
namespace {

Result<ClientConfig> config_of(std::map<std::string, std::string, std::less<>> vars) {
  testing::FakeTransport transport;
  vars.emplace("HOME", "/nonexistent-home");
  return config_from_env(fixed_env(std::move(vars)), transport);
}

TEST(ParseS3UriTest, SplitsBucketAndKey) {
  auto loc = parse_s3_uri("s3://my-bucket/dir/a b+c.zip");
  ASSERT_TRUE(loc);
  EXPECT_EQ(loc->bucket, "my-bucket");
  EXPECT_EQ(loc->key, "dir/a b+c.zip");
}

TEST(ParseS3UriTest, RejectsMalformedUris) {
  for (const char* bad :
       {"http://b/k", "s3://", "s3://bucket", "s3://bucket/", "s3:///key", "s3://b!d/key", "s3://bucket/a\nb"}) {
    auto loc = parse_s3_uri(bad);
    ASSERT_FALSE(loc) << bad;
    EXPECT_EQ(loc.error().code, Errc::InvalidArgument);
  }
}

TEST(ObjectUrlTest, VirtualHostedByDefault) {
  ClientConfig c;
  c.region = "eu-west-1";
  EXPECT_EQ(object_url(c, {"bucket", "dir/x.zip"}), "https://bucket.s3.eu-west-1.amazonaws.com/dir/x.zip");
}

TEST(ObjectUrlTest, PathStyleForDottedBucket) {
  ClientConfig c;
  c.region = "us-east-1";
  EXPECT_EQ(object_url(c, {"my.bucket", "k"}), "https://s3.us-east-1.amazonaws.com/my.bucket/k");
}

TEST(ObjectUrlTest, PathStyleForCustomEndpoint) {
  ClientConfig c;
  c.endpoint_url = "http://127.0.0.1:4569";
  EXPECT_EQ(object_url(c, {"dumps", "a/b.zip"}), "http://127.0.0.1:4569/dumps/a/b.zip");
}

TEST(ObjectUrlTest, ChinaRegionsUseTheirDomain) {
  ClientConfig c;
  c.region = "cn-north-1";
  EXPECT_EQ(object_url(c, {"b", "k"}), "https://b.s3.cn-north-1.amazonaws.com.cn/k");
}

TEST(EncodeKeyTest, KeepsUnreservedAndSlashEncodesTheRest) {
  EXPECT_EQ(detail::encode_key("a-b_c.d~e/F9"), "a-b_c.d~e/F9");
  EXPECT_EQ(detail::encode_key("a b+c=d?e#f%g&h"), "a%20b%2Bc%3Dd%3Fe%23f%25g%26h");
  EXPECT_EQ(detail::encode_key("\xc3\xa9"), "%C3%A9");
}

TEST(ConfigFromEnvTest, RegionFromAwsRegionThenDefaultRegion) {
  auto c = config_of({{"AWS_REGION", "eu-west-3"}, {"AWS_DEFAULT_REGION", "us-west-2"}});
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->region, "eu-west-3");
  c = config_of({{"AWS_DEFAULT_REGION", "us-west-2"}});
  ASSERT_TRUE(c);
  EXPECT_EQ(c->region, "us-west-2");
  c = config_of({});
  ASSERT_TRUE(c);
  EXPECT_EQ(c->region, "us-east-1");
  EXPECT_FALSE(c->credentials);
  EXPECT_FALSE(c->endpoint_url);
}

TEST(ConfigFromEnvTest, RejectsRegionWithForeignCharacters) {
  for (const char* bad : {"us-east-1.evil.com", "US-EAST-1", "us east", "a/b", "x\n"}) {
    auto c = config_of({{"AWS_REGION", bad}});
    ASSERT_FALSE(c) << bad;
    EXPECT_EQ(c.error().code, Errc::InvalidArgument);
    EXPECT_NE(c.error().message.find("AWS_REGION"), std::string::npos);
  }
}

TEST(ConfigFromEnvTest, EndpointS3WinsOverGeneralEndpoint) {
  auto c = config_of({{"AWS_ENDPOINT_URL_S3", "http://127.0.0.1:9000/"}, {"AWS_ENDPOINT_URL", "https://other"}});
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->endpoint_url, "http://127.0.0.1:9000");
  c = config_of({{"AWS_ENDPOINT_URL", "https://minio.example:9000"}});
  ASSERT_TRUE(c);
  EXPECT_EQ(c->endpoint_url, "https://minio.example:9000");
}

TEST(ConfigFromEnvTest, IgnoresEndpointsWhenAsked) {
  auto c = config_of({{"AWS_ENDPOINT_URL", "http://127.0.0.1:9000"}, {"AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "true"}});
  ASSERT_TRUE(c);
  EXPECT_FALSE(c->endpoint_url);
}

TEST(ConfigFromEnvTest, RejectsNonHttpEndpoints) {
  for (const char* bad :
       {"file:///etc/passwd", "ftp://h", "127.0.0.1:9000", "http://", "http://u:p@h", "http://h/?x=1", "gopher://h"}) {
    auto c = config_of({{"AWS_ENDPOINT_URL", bad}});
    ASSERT_FALSE(c) << bad;
    EXPECT_EQ(c.error().code, Errc::InvalidArgument) << bad;
    EXPECT_EQ(c.error().message.find("u:p"), std::string::npos);
  }
}

TEST(ContainerUriTest, AllowsHttpsAndLocalHttpOnly) {
  for (const char* ok : {"https://creds.example.com/x", "http://127.0.0.1:9001/creds", "http://127.1.2.3/c",
                         "http://169.254.170.2/v2/creds", "http://169.254.170.23/v1/creds", "http://[::1]:80/c",
                         "http://[fd00:ec2::23]/c", "http://localhost:8080/c"}) {
    EXPECT_TRUE(detail::container_uri_allowed(ok)) << ok;
  }
  for (const char* bad :
       {"http://example.com/creds", "http://10.0.0.1/c", "http://127.0.0.1.evil.com/c", "http://169.254.169.254/latest",
        "file:///etc/passwd", "http://user@127.0.0.1/c", "http://[fd00:ec2::24]/c", "ftp://127.0.0.1/c"}) {
    EXPECT_FALSE(detail::container_uri_allowed(bad)) << bad;
  }
}

TEST(ParseIniTest, ReadsSectionsAndSkipsGarbage) {
  auto ini = detail::parse_ini(
      "garbage before any section\n"
      "[default]\n"
      "aws_access_key_id = AKID\n"
      "# comment\n"
      "; another\n"
      "this line is garbage\n"
      "=novalue\n"
      "AWS_Secret_Access_Key=SECRET  \r\n"
      "s3 =\n"
      "  region = nested-should-not-win\n"
      "[profile dev]\n"
      "region = eu-west-1\n"
      "[broken\n"
      "region = lost\n");
  ASSERT_TRUE(ini.contains("default"));
  EXPECT_EQ(ini["default"]["aws_access_key_id"], "AKID");
  EXPECT_EQ(ini["default"]["aws_secret_access_key"], "SECRET");
  EXPECT_FALSE(ini["default"].contains("region"));
  EXPECT_EQ(ini["profile dev"]["region"], "eu-west-1");
  EXPECT_EQ(ini.size(), 2u);
}

TEST(ContentRangeTest, ParsesAndRejects) {
  auto r = detail::parse_content_range("bytes 5-9/20");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->first, 5u);
  EXPECT_EQ(r->last, 9u);
  EXPECT_EQ(r->total, 20u);
  EXPECT_TRUE(detail::parse_content_range("bytes 0-0/*"));
  for (const char* bad : {"bytes 9-5/20", "bytes 5-9/9", "bytes -1-9/20", "bytes 5-9", "items 5-9/20",
                          "bytes 5-99999999999999999999999/20", "bytes  5-9/20", "bytes 5-9/20x"}) {
    EXPECT_FALSE(detail::parse_content_range(bad)) << bad;
  }
  EXPECT_EQ(detail::parse_unsatisfied_range("bytes */0"), 0u);
}

}  // namespace
}  // namespace tmpdump::s3
