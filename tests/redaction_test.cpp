// A presigned URL's query string is a credential (signature, access key id,
// session token). Every program that takes a source runs here with real
// presigned URLs of the local S3-API server, made by the AWS CLI with a session
// token: valid, with a bad signature, with a malformed pin, and for a missing
// object. Nothing they print, post to /runtime/init/error or store in the
// stamp may contain the query, yet every failure must still name host and path.
#include <algorithm>
#include <cctype>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "functions/lambda.hpp"
#include "support/flaky_runtime_api.hpp"
#include "support/process.hpp"
#include "support/s3_server.hpp"
#include "util/sha256.hpp"

namespace tmpdump::testing {
namespace {

namespace fs = std::filesystem;

// Alphanumeric, so it reads the same percent-encoded in the URL.
constexpr const char* kSessionToken = "IQoJb3JpZ2luX2VjTmpdumpRedactionToken7Hq2";

std::string lower(std::string s) {
  std::ranges::transform(s, s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

/// The value of query parameter `name` in `url`.
std::string query_param(const std::string& url, const std::string& name) {
  const auto at = url.find(name + "=");
  if (at == std::string::npos) return {};
  const auto start = at + name.size() + 1;
  return url.substr(start, url.find('&', start) - start);
}

/// What one program run left for a person or a log: its output, what it
/// posted to the Runtime API, and the stamp it wrote.
struct Outputs {
  RunResult result;
  std::string posted;  ///< bodies POSTed to the Runtime API, concatenated
  std::string stamp;   ///< <root>/.tmpdump.stamp, "" when none was written
  [[nodiscard]] std::string all() const { return result.all() + posted + stamp; }
};

/// One way of handing a presigned URL to tmpdump.
struct Variant {
  std::string name;
  std::string source;     ///< what the program gets
  std::string signature;  ///< the X-Amz-Signature value in it
  std::string query;      ///< everything after '?'
  std::string shown;      ///< "127.0.0.1:PORT/dumps/KEY": how a failure must still name it
  bool valid = false;
};

class RedactionTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    server_ = new S3Server();
    corpus_ = new TempDir();
    write_file(*corpus_ / "src/lib/hello.txt", "hello from the tmpdump\n");
    ASSERT_EQ(
        run({"zip", "-q", "-y", "-r", (*corpus_ / "fn.zip").string(), "lib"}, {.cwd = *corpus_ / "src"}).exit_code, 0);
    server_->put(*corpus_ / "fn.zip", "redact/fn.zip");
  }
  static void TearDownTestSuite() {
    delete corpus_;
    delete server_;
  }

  /// The client environment with a session token: the credentials a Lambda role has.
  static EnvChanges env() {
    EnvChanges e = server_->client_env();
    e["AWS_SESSION_TOKEN"] = kSessionToken;
    return e;
  }

  /// A presigned GET URL made by the AWS CLI, which puts the session token in
  /// it: SigV4, as the SDKs make them (with a custom endpoint the CLI's
  /// default would be the legacy SigV2).
  static std::string presign(const std::string& key, int expires = 900) {
    EnvChanges e = env();
    const fs::path config = *corpus_ / "aws-config";
    write_file(config, "[default]\ns3 =\n  signature_version = s3v4\n");
    e["AWS_CONFIG_FILE"] = config.string();
    auto r = run({"aws", "--endpoint-url", server_->endpoint(), "s3", "presign", "--expires-in",
                  std::to_string(expires), fmt::format("s3://{}/{}", S3Server::kBucket, key)},
                 {.env = e, .timeout = std::chrono::seconds(60)});
    EXPECT_EQ(r.exit_code, 0) << r.all();
    std::string url = r.out;
    while (!url.empty() && (url.back() == '\n' || url.back() == '\r')) url.pop_back();
    return url;
  }

  static std::vector<Variant> variants() {
    const std::string valid = presign("redact/fn.zip");
    std::string bad = valid;
    const std::string sig = query_param(valid, "X-Amz-Signature");
    EXPECT_EQ(sig.size(), 64u) << valid;
    const auto at = bad.find(sig);
    bad[at] = bad[at] == '0' ? '1' : '0';  // still 64 hex digits, no longer the signature
    const std::string missing = presign("redact/no-such.zip");
    const auto shown = [](const std::string& key) {
      return fmt::format("127.0.0.1:{}/{}/{}", server_->port(), S3Server::kBucket, key);
    };
    const auto query = [](const std::string& url) { return url.substr(url.find('?') + 1); };
    return {
        {"valid", valid, sig, query(valid), shown("redact/fn.zip"), true},
        {"bad signature", bad, query_param(bad, "X-Amz-Signature"), query(bad), shown("redact/fn.zip"), false},
        {"bad pin (#sha256=12)", valid + "#sha256=12", sig, query(valid), shown("redact/fn.zip"), false},
        {"missing object", missing, query_param(missing, "X-Amz-Signature"), query(missing),
         shown("redact/no-such.zip"), false},
    };
  }

  /// Fails the test when `out` holds any part of the URL's credentials.
  static void expect_no_secret(const std::string& program, const Variant& v, const Outputs& out) {
    const std::string text = lower(out.all());
    for (const std::string& secret :
         {std::string("X-Amz-Signature"), std::string("X-Amz-Credential"), std::string("X-Amz-Security-Token"),
          std::string("Signature="), std::string("AWSAccessKeyId"), v.signature, std::string(kSessionToken),
          std::string(S3Server::kKeyId), std::string(S3Server::kSecret), v.query}) {
      ASSERT_FALSE(secret.empty());
      EXPECT_EQ(text.find(lower(secret)), std::string::npos)
          << program << ", " << v.name << ": printed, posted or stored '" << secret << "':\n"
          << out.all();
    }
  }

  static Outputs tmpdump(std::vector<std::string> args, const fs::path& root = {}) {
    args.insert(args.begin(), tmpdump_binary().string());
    Outputs o{run(args, {.env = env(), .timeout = std::chrono::seconds(120)}), {}, {}};
    if (!root.empty() && fs::exists(root / ".tmpdump.stamp")) o.stamp = read_file(root / ".tmpdump.stamp");
    return o;
  }

  /// `program` (bootstrap or the exec wrapper) with TMPDUMP_SOURCES=`source`,
  /// against a Runtime API that records what is posted to it.
  static Outputs layer_program(const std::vector<std::string>& argv, const std::string& source, const TempDir& dir) {
    FlakyRuntimeApi api;
    EnvChanges e = env();
    for (auto& [k, v] : EnvChanges{{"AWS_LAMBDA_RUNTIME_API", api.endpoint()},
                                   {"LAMBDA_TASK_ROOT", (dir / "task").string()},
                                   {"TMPDUMP_ROOT", (dir / "root").string()},
                                   {"TMPDUMP_SOURCES", source},
                                   {"TMPDUMP_BUCKET", std::nullopt},
                                   {"HUMANGRAPHICS_BUCKET", std::nullopt},
                                   {"AWS_LAMBDA_INITIALIZATION_TYPE", std::nullopt},
                                   {"_HANDLER", "/bin/true"}}) {
      e[k] = v;
    }
    fs::create_directories(dir / "task");
    fs::create_directories(dir / "root");
    Outputs o{run(argv, {.env = e, .timeout = std::chrono::seconds(60)}), {}, {}};
    // The programs post before they exit, and the API records a post before it answers.
    for (const auto& p : api.posts()) o.posted += p.path + "\n" + p.body + "\n";
    if (fs::exists(dir / "root/.tmpdump.stamp")) o.stamp = read_file(dir / "root/.tmpdump.stamp");
    return o;
  }

  static S3Server* server_;
  static TempDir* corpus_;
};

S3Server* RedactionTest::server_ = nullptr;
TempDir* RedactionTest::corpus_ = nullptr;

/// A program that takes a source, and how to run it on one.
struct Program {
  enum Kind {
    Installs,     ///< pull, emulate: a valid source leaves a stamp naming it
    Reads,        ///< inspect, check: a valid source is named in the output
    Layer,        ///< bootstrap, the wrapper: also a stamp, and failures are posted as init errors
    RefusesHttp,  ///< pack --source: wants https://, so every variant here fails
  };
  std::string name;
  Kind kind;
  std::function<Outputs(const std::string& source, const TempDir& dir)> run;
};

TEST_F(RedactionTest, NoProgramPrintsPostsOrStoresAPresignedUrlsQueryString) {
  const std::vector<Program> programs{
      {"tmpdump pull", Program::Installs,
       [](const std::string& s, const TempDir& d) {
         return tmpdump({"pull", s, "--root", (d / "root").string()}, d / "root");
       }},
      {"tmpdump inspect", Program::Reads,
       [](const std::string& s, const TempDir&) {
         return tmpdump({"inspect", s});
       }},
      {"tmpdump inspect --json", Program::Reads,
       [](const std::string& s, const TempDir&) {
         return tmpdump({"inspect", "--json", s});
       }},
      {"tmpdump check", Program::Reads,
       [](const std::string& s, const TempDir&) {
         return tmpdump({"check", s});
       }},
      {"tmpdump pack --source", Program::RefusesHttp,
       [](const std::string& s, const TempDir& d) {
         write_file(d / "add/hello.txt", "hi\n");
         return tmpdump({"pack", "-q", "--add", (d / "add").string(), "-o", (d / "out.zip").string(),
                         "--function-config", (d / "tmpdump.json").string(), "--source", s});
       }},
      {"tmpdump emulate (bootstrap)", Program::Installs,
       [](const std::string& s, const TempDir&) {
         LambdaDirs dirs;
         dirs.sandbox = "off";  // the stamp it leaves in TMPDUMP_ROOT is read from the host afterwards
         Outputs o{dirs.emulate_once("bin/echo_fn", R"("hi")", {"--env", "TMPDUMP_SOURCES=" + s}, env()), {}, {}};
         if (fs::exists(dirs.root / ".tmpdump.stamp")) o.stamp = read_file(dirs.root / ".tmpdump.stamp");
         return o;
       }},
      {"bootstrap", Program::Layer,
       [](const std::string& s, const TempDir& d) {
         return layer_program({(build_dir() / "src/bootstrap/bootstrap").string()}, s, d);
       }},
      {"tmpdump-exec-wrapper", Program::Layer,
       [](const std::string& s, const TempDir& d) {
         return layer_program({(build_dir() / "src/wrapper/tmpdump-exec-wrapper").string(), "/bin/true"}, s, d);
       }},
  };
  const auto all = variants();
  ASSERT_FALSE(HasFatalFailure());
  for (const auto& v : all) {
    for (const auto& p : programs) {
      TempDir dir;
      const Outputs out = p.run(v.source, dir);
      report_outcome("presigned URL in output", fmt::format("{}, {}", p.name, v.name), out.result);
      expect_no_secret(p.name, v, out);
      const std::string what = p.name + ", " + v.name + ":\n" + out.all();
      if (v.valid && p.kind != Program::RefusesHttp) {
        EXPECT_EQ(out.result.exit_code, 0) << what;
      } else {
        EXPECT_NE(out.result.exit_code, 0) << what;
        // Which source failed is still plain: host, bucket and key.
        EXPECT_NE(out.result.err.find(v.shown), std::string::npos) << what;
      }
      if (p.kind == Program::Layer) {
        // A failure reaches Lambda as an init error naming the source; a start posts nothing.
        EXPECT_EQ(out.posted.find("/runtime/init/error") != std::string::npos, !v.valid) << what;
        EXPECT_EQ(out.posted.find(v.shown) != std::string::npos, !v.valid) << what;
      }
      if (v.valid && p.kind == Program::Reads) {
        EXPECT_NE(out.result.all().find(v.shown + "?…"), std::string::npos) << what;
      }
      if (v.valid && (p.kind == Program::Installs || p.kind == Program::Layer)) {
        EXPECT_NE(out.stamp.find(v.shown), std::string::npos) << "no stamp naming the source: " << what;
      }
    }
  }
}

TEST_F(RedactionTest, StampTellsApartUrlsThatDifferOnlyInTheirQueryWithoutStoringIt) {
  TempDir dir;
  const std::string root = (dir / "root").string();
  const std::string first = presign("redact/fn.zip", 600), second = presign("redact/fn.zip", 1200);
  ASSERT_NE(first, second);
  ASSERT_EQ(first.substr(0, first.find('?')), second.substr(0, second.find('?')));

  auto pulled = tmpdump({"pull", first, "--root", root}, dir / "root");
  ASSERT_EQ(pulled.result.exit_code, 0) << pulled.all();
  EXPECT_NE(pulled.stamp.find(sha256_hex(first.substr(first.find('?') + 1))), std::string::npos) << pulled.stamp;
  EXPECT_EQ(pulled.stamp.find(first.substr(first.find('?') + 1)), std::string::npos) << pulled.stamp;

  auto again = tmpdump({"pull", first, "--root", root}, dir / "root");
  ASSERT_EQ(again.result.exit_code, 0) << again.all();
  EXPECT_NE(again.result.out.find("up to date"), std::string::npos) << again.all();

  auto other = tmpdump({"pull", second, "--root", root}, dir / "root");
  ASSERT_EQ(other.result.exit_code, 0) << other.all();
  EXPECT_EQ(other.result.out.find("up to date"), std::string::npos) << other.all();
  EXPECT_NE(other.stamp.find(sha256_hex(second.substr(second.find('?') + 1))), std::string::npos) << other.stamp;

  // Pinned, the bytes are the identity: a warm start needs neither the query nor S3.
  auto digest = sha256_file(*corpus_ / "fn.zip");
  ASSERT_TRUE(digest) << digest.error().message;
  TempDir lambda;
  const std::string pinned = second + "#sha256=" + *digest;
  auto cold = layer_program({(build_dir() / "src/bootstrap/bootstrap").string()}, pinned, lambda);
  ASSERT_EQ(cold.result.exit_code, 0) << cold.all();
  EXPECT_NE(cold.result.err.find("cache miss"), std::string::npos) << cold.all();
  auto warm = layer_program({(build_dir() / "src/bootstrap/bootstrap").string()}, pinned, lambda);
  ASSERT_EQ(warm.result.exit_code, 0) << warm.all();
  EXPECT_NE(warm.result.err.find("cache hit"), std::string::npos) << warm.all();
}

}  // namespace
}  // namespace tmpdump::testing
