#include "pull/source.hpp"

#include <gtest/gtest.h>

#include "util/sha256.hpp"

namespace tmpdump::pull {
namespace {

TEST(ParseSourceTest, RecognisesEachKind) {
  auto s3 = parse_source("s3://bucket/tmpdump/fn.zip");
  ASSERT_TRUE(s3) << s3.error().message;
  EXPECT_EQ(s3->kind, SourceKind::S3);
  EXPECT_EQ(s3->location, "s3://bucket/tmpdump/fn.zip");
  EXPECT_FALSE(s3->sha256);
  EXPECT_EQ(parse_source("https://h/x.zip?sig=1")->kind, SourceKind::Url);
  EXPECT_EQ(parse_source("HTTP://127.0.0.1:9/x.zip")->kind, SourceKind::Url);
  EXPECT_EQ(parse_source("./dump.zip")->kind, SourceKind::File);
  EXPECT_EQ(parse_source("/abs/dump.zip")->kind, SourceKind::File);
}

TEST(ParseSourceTest, TakesSha256SuffixInEitherCase) {
  const std::string hex(64, 'A');
  auto s = parse_source("s3://bucket/k#sha256=" + hex);
  ASSERT_TRUE(s);
  EXPECT_EQ(s->location, "s3://bucket/k");
  EXPECT_EQ(*s->sha256, std::string(64, 'a'));
}

TEST(ParseSourceTest, RejectsBadInputWithReason) {
  EXPECT_EQ(parse_source("").error().code, Errc::InvalidArgument);
  EXPECT_EQ(parse_source("s3://bkt-b/k#sha256=abc").error().code, Errc::InvalidArgument);
  auto ftp = parse_source("ftp://host/x.zip");
  ASSERT_FALSE(ftp);
  EXPECT_NE(ftp.error().message.find("ftp://"), std::string::npos);
  EXPECT_FALSE(parse_source("s3://"));
  EXPECT_FALSE(parse_source("s3://bucket-only"));
  EXPECT_FALSE(parse_source(std::string("a\0b", 3)));
}

TEST(ParseSourceTest, AlternatesShareOnePinAtTheEnd) {
  const std::string digest(64, 'b');
  auto s = parse_source("s3://bkt-a/k.zip|s3://bkt-b/k.zip|https://m/k.zip?X-Amz-Signature=x%7Cy#sha256=" + digest);
  ASSERT_TRUE(s) << s.error().message;
  EXPECT_EQ(s->kind, SourceKind::S3);
  EXPECT_EQ(s->location, "s3://bkt-a/k.zip");
  EXPECT_EQ(s->sha256, digest);
  ASSERT_EQ(s->alternates.size(), 2u);
  EXPECT_EQ(s->alternates[0].location, "s3://bkt-b/k.zip");
  EXPECT_EQ(s->alternates[1].kind, SourceKind::Url);
  EXPECT_EQ(s->alternates[1].location, "https://m/k.zip?X-Amz-Signature=x%7Cy");
  const auto all = candidates(*s);
  ASSERT_EQ(all.size(), 3u);
  for (const auto& c : all) {
    EXPECT_EQ(c.sha256, digest);  // the pin applies to every place
    EXPECT_TRUE(c.alternates.empty());
  }
  EXPECT_EQ(all[2].location, "https://m/k.zip?X-Amz-Signature=x%7Cy");
  EXPECT_EQ(display_name(all[2]).find("Signature"), std::string::npos);
}

TEST(ParseSourceTest, OldSyntaxHasNoAlternates) {
  auto s = parse_source("s3://bucket/k.zip#sha256=" + std::string(64, 'c'));
  ASSERT_TRUE(s);
  EXPECT_TRUE(s->alternates.empty());
  EXPECT_EQ(candidates(*s).size(), 1u);
}

TEST(ParseSourceTest, MalformedAlternatesAreRefusedWithReason) {
  const std::string pin = "#sha256=" + std::string(64, 'd');
  for (const std::string bad : {"s3://bkt-a/k.zip|", "|s3://bkt-a/k.zip", "s3://bkt-a/k.zip||s3://bkt-b/k.zip"}) {
    auto r = parse_source(bad);
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error().code, Errc::InvalidArgument);
    EXPECT_NE(r.error().message.find("empty"), std::string::npos) << r.error().message;
  }
  auto twice = parse_source("s3://bkt-a/k.zip" + pin + "|s3://bkt-b/k.zip" + pin);
  ASSERT_FALSE(twice);
  EXPECT_NE(twice.error().message.find("once, at the end"), std::string::npos) << twice.error().message;
  auto scheme = parse_source("s3://bkt-a/k.zip|ftp://m/k.zip");
  ASSERT_FALSE(scheme);
  EXPECT_NE(scheme.error().message.find("ftp://"), std::string::npos);
  auto secret = parse_source("https://m/k.zip?X-Amz-Signature=SECRET" + pin + "|s3://bkt-b/k.zip");
  ASSERT_FALSE(secret);
  EXPECT_EQ(secret.error().message.find("SECRET"), std::string::npos) << secret.error().message;
}

TEST(DisplayNameTest, HidesPresignedQueryString) {
  auto s = parse_source("https://b.s3.amazonaws.com/k.zip?X-Amz-Signature=deadbeef&X-Amz-Credential=AKID");
  ASSERT_TRUE(s);
  const std::string shown = display_name(*s);
  EXPECT_EQ(shown.find("deadbeef"), std::string::npos);
  EXPECT_EQ(shown.find("AKID"), std::string::npos);
  EXPECT_TRUE(shown.starts_with("https://b.s3.amazonaws.com/k.zip"));
}

TEST(DisplayNameTest, StampKeepsOnlyADigestOfTheQuery) {
  auto url = parse_source("https://host/k.zip?X-Amz-Signature=deadbeef#sha256=" + std::string(64, 'a'));
  ASSERT_TRUE(url);
  EXPECT_EQ(display_name(*url), "https://host/k.zip?…");
  EXPECT_EQ(query_digest(*url), sha256_hex("X-Amz-Signature=deadbeef"));
  EXPECT_EQ(query_digest(*parse_source("https://host/k.zip")), std::nullopt);
  EXPECT_EQ(query_digest(*parse_source("s3://bucket/k?x")), std::nullopt);
  auto bad_pin = parse_source("https://host/k.zip?X-Amz-Signature=deadbeef#sha256=12");
  ASSERT_FALSE(bad_pin);
  EXPECT_EQ(bad_pin.error().message.find("deadbeef"), std::string::npos) << bad_pin.error().message;
  EXPECT_NE(bad_pin.error().message.find("https://host/k.zip?…"), std::string::npos) << bad_pin.error().message;
}

TEST(OpenSourceTest, RefusesHostileNetworkSettings) {
  const SourceSpec spec{SourceKind::S3, "s3://bucket/key", std::nullopt, {}};
  for (const char* bad : {"0", "-1", "abc", "10s", "99999999999999999999"}) {
    auto r = open_source(spec, fixed_env({{"TMPDUMP_STALL_SECONDS", bad}}));
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error().code, Errc::InvalidArgument);
    EXPECT_NE(r.error().message.find("TMPDUMP_STALL_SECONDS"), std::string::npos);
  }
  auto r = open_source(spec, fixed_env({{"TMPDUMP_MAX_ATTEMPTS", "100"}}));
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("TMPDUMP_MAX_ATTEMPTS"), std::string::npos);
}

}  // namespace
}  // namespace tmpdump::pull
