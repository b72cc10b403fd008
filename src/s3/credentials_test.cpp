#include <unistd.h>

#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "s3/s3.hpp"
#include "s3/testing/fake_transport.hpp"

namespace tmpdump::s3 {
namespace {

using testing::FakeTransport;
using testing::request_header;
using testing::Step;

constexpr const char* kSecret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
constexpr const char* kToken = "IQoJb3JpZ2luX2VjEXAMPLETOKENVALUE";
constexpr const char* kAuth = "containerAuthTokenExample123";

/// A temporary HOME with ~/.aws files, removed afterwards.
class HomeDir {
 public:
  HomeDir() {
    path_ = std::filesystem::temp_directory_path() /
            ("tmpdump-s3-test-" + std::to_string(::getpid()) + "-" + std::to_string(counter_++));
    std::filesystem::create_directories(path_ / ".aws");
  }
  ~HomeDir() { std::filesystem::remove_all(path_); }
  HomeDir(const HomeDir&) = delete;
  HomeDir& operator=(const HomeDir&) = delete;
  void write(const std::string& name, const std::string& text) const { std::ofstream(path_ / ".aws" / name) << text; }
  std::string path() const { return path_.string(); }

 private:
  static inline int counter_ = 0;
  std::filesystem::path path_;
};

Step container_answer(std::string body) {
  Step s;
  s.status = 200;
  s.body = std::move(body);
  return s;
}

TEST(CredentialsTest, EnvironmentComesFirst) {
  FakeTransport transport;
  auto c = resolve_credentials(fixed_env({{"AWS_ACCESS_KEY_ID", "AKID"},
                                          {"AWS_SECRET_ACCESS_KEY", kSecret},
                                          {"AWS_SESSION_TOKEN", kToken},
                                          {"AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://127.0.0.1/c"}}),
                               transport);
  ASSERT_TRUE(c && *c);
  EXPECT_EQ((*c)->access_key_id, "AKID");
  EXPECT_EQ((*c)->session_token, kToken);
  EXPECT_EQ((*c)->origin, "environment");
  EXPECT_TRUE(transport.requests.empty());
}

TEST(CredentialsTest, HalfSetEnvironmentIsAnErrorWithoutTheSecret) {
  FakeTransport transport;
  auto c = resolve_credentials(fixed_env({{"AWS_SECRET_ACCESS_KEY", kSecret}}), transport);
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().code, Errc::InvalidArgument);
  EXPECT_EQ(c.error().message.find(kSecret), std::string::npos);
}

TEST(CredentialsTest, NoneConfiguredIsNullopt) {
  FakeTransport transport;
  auto c = resolve_credentials(fixed_env({{"HOME", "/nonexistent-home"}}), transport);
  ASSERT_TRUE(c);
  EXPECT_FALSE(*c);
}

TEST(CredentialsTest, ContainerCredentialsWithAuthorizationToken) {
  FakeTransport transport({container_answer(fmt::format(
      R"({{"AccessKeyId":"ASIA1","SecretAccessKey":"{}","Token":"{}","Expiration":"2030-01-01T00:00:00Z"}})", kSecret,
      kToken))});
  auto c = resolve_credentials(fixed_env({{"AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://127.0.0.1:9001/2021/creds"},
                                          {"AWS_CONTAINER_AUTHORIZATION_TOKEN", kAuth}}),
                               transport);
  ASSERT_TRUE(c && *c) << (c ? "" : c.error().message);
  EXPECT_EQ((*c)->access_key_id, "ASIA1");
  EXPECT_EQ((*c)->secret_access_key, kSecret);
  EXPECT_EQ((*c)->session_token, kToken);
  EXPECT_EQ((*c)->origin, "container credentials");
  ASSERT_EQ(transport.requests.size(), 1u);
  EXPECT_EQ(transport.requests[0].url, "http://127.0.0.1:9001/2021/creds");
  EXPECT_EQ(request_header(transport.requests[0], "Authorization"), kAuth);
  EXPECT_FALSE(transport.requests[0].sigv4);
}

TEST(CredentialsTest, ContainerTokenFileWinsAndIsTrimmed) {
  HomeDir home;
  home.write("token", std::string(kAuth) + "\n");
  FakeTransport transport({container_answer(R"({"AccessKeyId":"A","SecretAccessKey":"S"})")});
  auto c =
      resolve_credentials(fixed_env({{"AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://169.254.170.23/v1/credentials"},
                                     {"AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", home.path() + "/.aws/token"},
                                     {"AWS_CONTAINER_AUTHORIZATION_TOKEN", "ignored"}}),
                          transport);
  ASSERT_TRUE(c && *c);
  EXPECT_EQ(request_header(transport.requests[0], "Authorization"), kAuth);
}

TEST(CredentialsTest, RelativeUriGoesToEcsEndpoint) {
  FakeTransport transport({container_answer(R"({"AccessKeyId":"A","SecretAccessKey":"S","Token":"T"})")});
  auto c =
      resolve_credentials(fixed_env({{"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "/v2/credentials/abc"}}), transport);
  ASSERT_TRUE(c && *c);
  EXPECT_EQ(transport.requests[0].url, "http://169.254.170.2/v2/credentials/abc");
}

TEST(CredentialsTest, RejectsPlainHttpToRemoteContainerEndpoint) {
  FakeTransport transport;
  auto c = resolve_credentials(fixed_env({{"AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://evil.example.com/creds"},
                                          {"AWS_CONTAINER_AUTHORIZATION_TOKEN", kAuth}}),
                               transport);
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().code, Errc::InvalidArgument);
  EXPECT_TRUE(transport.requests.empty());
  EXPECT_EQ(c.error().message.find(kAuth), std::string::npos);
}

TEST(CredentialsTest, ContainerAnswerMissingFieldsFailsWithoutEchoingIt) {
  for (const char* body : {R"({"AccessKeyId":"A"})", R"({"SecretAccessKey":"topsecretvalue"})", "not json", "[1,2]",
                           R"({"AccessKeyId":5,"SecretAccessKey":"topsecretvalue"})"}) {
    FakeTransport transport({container_answer(body)});
    auto c = resolve_credentials(fixed_env({{"AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://127.0.0.1/c"}}), transport);
    ASSERT_FALSE(c) << body;
    EXPECT_EQ(c.error().code, Errc::Forbidden);
    EXPECT_EQ(c.error().message.find("topsecretvalue"), std::string::npos);
  }
}

TEST(CredentialsTest, ContainerRejectionAndOutageAreErrorsWithoutToken) {
  Step denied;
  denied.status = 401;
  denied.body = kAuth;
  FakeTransport transport({denied});
  auto c = resolve_credentials(fixed_env({{"AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://127.0.0.1/c?tok=abc"},
                                          {"AWS_CONTAINER_AUTHORIZATION_TOKEN", kAuth}}),
                               transport);
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().code, Errc::Forbidden);
  EXPECT_EQ(c.error().message.find(kAuth), std::string::npos);
  EXPECT_EQ(c.error().message.find("tok=abc"), std::string::npos);

  Step down;
  down.transport_error = Error{Errc::Network, fmt::format("refused (sent {})", kAuth)};
  FakeTransport transport2({down, down});
  c = resolve_credentials(fixed_env({{"AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://127.0.0.1/c"},
                                     {"AWS_CONTAINER_AUTHORIZATION_TOKEN", kAuth}}),
                          transport2);
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().code, Errc::Network);
  EXPECT_EQ(c.error().message.find(kAuth), std::string::npos) << c.error().message;
}

TEST(CredentialsTest, DefaultProfileFromCredentialsFile) {
  HomeDir home;
  home.write("credentials", fmt::format("[default]\naws_access_key_id = AKID\naws_secret_access_key = {}\n", kSecret));
  FakeTransport transport;
  auto c = resolve_credentials(fixed_env({{"HOME", home.path()}}), transport);
  ASSERT_TRUE(c && *c);
  EXPECT_EQ((*c)->access_key_id, "AKID");
  EXPECT_EQ((*c)->origin, fmt::format("profile 'default' in {}/.aws/credentials", home.path()));
}

TEST(CredentialsTest, NamedProfileFromConfigFileWithGarbageLines) {
  HomeDir home;
  home.write("config", fmt::format("!!garbage\n[profile dev]\nnonsense line\nregion = eu-west-1\n"
                                   "aws_access_key_id=AKDEV\naws_secret_access_key={}\naws_session_token={}\n",
                                   kSecret, kToken));
  FakeTransport transport;
  auto env = fixed_env({{"HOME", home.path()}, {"AWS_PROFILE", "dev"}});
  auto c = resolve_credentials(env, transport);
  ASSERT_TRUE(c && *c) << (c ? "" : c.error().message);
  EXPECT_EQ((*c)->access_key_id, "AKDEV");
  EXPECT_EQ((*c)->session_token, kToken);
  auto config = config_from_env(env, transport);
  ASSERT_TRUE(config);
  EXPECT_EQ(config->region, "eu-west-1");
}

TEST(CredentialsTest, MissingNamedProfileNamesProfileAndFiles) {
  HomeDir home;
  home.write("credentials", "[default]\naws_access_key_id=A\naws_secret_access_key=S\n");
  FakeTransport transport;
  auto c = resolve_credentials(fixed_env({{"HOME", home.path()}, {"AWS_PROFILE", "prod"}}), transport);
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().code, Errc::InvalidArgument);
  EXPECT_NE(c.error().message.find("'prod'"), std::string::npos);
  EXPECT_NE(c.error().message.find(home.path() + "/.aws/credentials"), std::string::npos);
  EXPECT_NE(c.error().message.find(home.path() + "/.aws/config"), std::string::npos);
}

TEST(CredentialsTest, ExplicitFilePathsAreUsed) {
  HomeDir home;
  home.write("elsewhere", fmt::format("[ci]\naws_access_key_id=AKCI\naws_secret_access_key={}\n", kSecret));
  FakeTransport transport;
  auto c = resolve_credentials(
      fixed_env({{"AWS_SHARED_CREDENTIALS_FILE", home.path() + "/.aws/elsewhere"}, {"AWS_DEFAULT_PROFILE", "ci"}}),
      transport);
  ASSERT_TRUE(c && *c);
  EXPECT_EQ((*c)->access_key_id, "AKCI");
}

TEST(CredentialsTest, RoleProfileIsUnsupportedNotSilentlyAnonymous) {
  HomeDir home;
  home.write("config", "[profile admin]\nrole_arn = arn:aws:iam::1:role/x\nsource_profile = default\n");
  FakeTransport transport;
  auto c = resolve_credentials(fixed_env({{"HOME", home.path()}, {"AWS_PROFILE", "admin"}}), transport);
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().code, Errc::Unsupported);
}

}  // namespace
}  // namespace tmpdump::s3
