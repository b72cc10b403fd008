#include "http/transport.hpp"

#include <set>

#include <gtest/gtest.h>

namespace tmpdump::http {
namespace {

auto env_of(std::map<std::string, std::string> values) {
  return [values = std::move(values)](std::string_view name) -> std::optional<std::string> {
    auto it = values.find(std::string(name));
    if (it == values.end()) return std::nullopt;
    return it->second;
  };
}

auto files(std::set<std::string> existing) {
  return [existing = std::move(existing)](const std::string& path) { return existing.contains(path); };
}

TEST(FindCaBundleTest, PrefersEnvironmentVariableWhenFileExists) {
  EXPECT_EQ(find_ca_bundle(env_of({{"SSL_CERT_FILE", "/my/ca.pem"}}),
                           files({"/my/ca.pem", "/etc/ssl/certs/ca-certificates.crt"})),
            "/my/ca.pem");
}

TEST(FindCaBundleTest, SkipsEnvironmentVariableNamingMissingFile) {
  EXPECT_EQ(
      find_ca_bundle(env_of({{"SSL_CERT_FILE", "/gone.pem"}, {"AWS_CA_BUNDLE", "/aws.pem"}}), files({"/aws.pem"})),
      "/aws.pem");
}

TEST(FindCaBundleTest, FindsAmazonLinuxBundle) {
  EXPECT_EQ(find_ca_bundle(env_of({}), files({"/etc/pki/tls/certs/ca-bundle.crt"})),
            "/etc/pki/tls/certs/ca-bundle.crt");
}

TEST(FindCaBundleTest, FindsDebianBundle) {
  EXPECT_EQ(find_ca_bundle(env_of({}), files({"/etc/ssl/certs/ca-certificates.crt"})),
            "/etc/ssl/certs/ca-certificates.crt");
}

TEST(FindCaBundleTest, EmptyWhenNoneExists) {
  EXPECT_EQ(find_ca_bundle(env_of({}), files({})), "");
}

TEST(ResponseTest, HeaderReturnsFirstMatch) {
  Response r;
  r.headers = {{"etag", "\"a\""}, {"etag", "\"b\""}};
  EXPECT_EQ(r.header("etag"), "\"a\"");
  EXPECT_EQ(r.header("content-length"), std::nullopt);
}

}  // namespace
}  // namespace tmpdump::http
