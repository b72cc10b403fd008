// tmpdump pull through a proxy that breaks S3's responses: transient faults end
// in a byte-identical tree within the retry budget; persistent ones fail with a
// clear error in bounded time, leaving no partial tree.
#include <algorithm>
#include <chrono>
#include <filesystem>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "support/fault_proxy.hpp"
#include "support/process.hpp"
#include "support/s3_server.hpp"
#include "support/trees.hpp"
#include "util/sha256.hpp"

namespace tmpdump::testing {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

class FaultsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    server_ = new S3Server();
    corpus_ = new TempDir();
    make_real_library_tree(*corpus_ / "src");
    ASSERT_EQ(
        run({"zip", "-q", "-y", "-r", (*corpus_ / "dump.zip").string(), "lib"}, {.cwd = *corpus_ / "src"}).exit_code,
        0);
    server_->put(*corpus_ / "dump.zip", "tmpdump/fn.zip");
    ASSERT_EQ(run({"unzip", "-q", (*corpus_ / "dump.zip").string(), "-d", (*corpus_ / "expected").string()}).exit_code,
              0);
    expected_ = new std::string(describe_tree(*corpus_ / "expected"));
  }
  static void TearDownTestSuite() {
    delete expected_;
    delete corpus_;
    delete server_;
  }

  struct Outcome {
    RunResult result;
    double seconds;
  };

  /// Pulls through the proxy with a 1 s stall limit and 4 attempts per request.
  Outcome pull(FaultProxy& proxy, const fs::path& root, std::vector<std::string> extra = {}) {
    EnvChanges env = server_->client_env();
    env["AWS_ENDPOINT_URL"] = proxy.endpoint();
    env["TMPDUMP_STALL_SECONDS"] = "1";
    env["TMPDUMP_MAX_ATTEMPTS"] = "4";
    std::vector<std::string> argv{tmpdump_binary().string(), "pull", "s3://dumps/tmpdump/fn.zip", "--root",
                                  root.string()};
    argv.insert(argv.end(), extra.begin(), extra.end());
    const auto t0 = Clock::now();
    auto r = run(argv, {.env = env, .timeout = std::chrono::seconds(120)});
    return {std::move(r), std::chrono::duration<double>(Clock::now() - t0).count()};
  }

  static S3Server* server_;
  static TempDir* corpus_;
  static std::string* expected_;
};

S3Server* FaultsTest::server_ = nullptr;
TempDir* FaultsTest::corpus_ = nullptr;
std::string* FaultsTest::expected_ = nullptr;

TEST_F(FaultsTest, TransientFaultsEndInTheSameTree) {
  for (Fault f : {Fault::Status500, Fault::SlowDown503, Fault::Throttle429, Fault::ResetMidBody, Fault::Stall,
                  Fault::ShortBody}) {
    SCOPED_TRACE(fault_name(f));
    FaultProxy proxy(server_->port());
    proxy.inject(f, 2);
    TempDir work;
    auto o = pull(proxy, work / "root");
    report_outcome("network fault, twice", fault_name(f), o.result, o.seconds);
    EXPECT_EQ(o.result.exit_code, 0) << o.result.all();
    EXPECT_EQ(proxy.injected(), 2);
    EXPECT_EQ(describe_tree(work / "root"), *expected_);
    EXPECT_FALSE(has_staging_debris(work / "root"));
  }
}

TEST_F(FaultsTest, PersistentFaultsFailClearlyInBoundedTime) {
  struct Case {
    Fault fault;
    std::string says;
  };
  for (const auto& c :
       {Case{Fault::SlowDown503, "SlowDown"}, Case{Fault::Status500, "500"}, Case{Fault::Throttle429, "429"},
        Case{Fault::ResetMidBody, "attempts"}, Case{Fault::Stall, "attempts"}, Case{Fault::ShortBody, "attempts"}}) {
    SCOPED_TRACE(fault_name(c.fault));
    FaultProxy proxy(server_->port());
    proxy.inject(c.fault, -1);
    TempDir work;
    auto o = pull(proxy, work / "root");
    report_outcome("network fault, persistent", fault_name(c.fault), o.result, o.seconds);
    EXPECT_EQ(o.result.exit_code, 9) << o.result.all();
    EXPECT_NE(o.result.err.find(c.says), std::string::npos) << o.result.err;
    // The documented bound: 2 x TMPDUMP_MAX_ATTEMPTS x (TMPDUMP_STALL_SECONDS + 4 s)
    // = 2 x 4 x 5 s (curl notices a stall within about a second of the limit;
    // backoff is capped at 3 s).
    EXPECT_LT(o.seconds, 40.0);
    EXPECT_FALSE(fs::exists(work / "root/lib"));
    EXPECT_FALSE(has_staging_debris(work / "root"));
  }
}

TEST_F(FaultsTest, CorruptedBytesAreCaughtAndNothingIsInstalled) {
  for (bool with_digest : {false, true}) {
    SCOPED_TRACE(with_digest ? "with --sha256" : "without --sha256");
    FaultProxy proxy(server_->port());
    proxy.inject(Fault::CorruptByte, -1);
    TempDir work;
    std::vector<std::string> extra;
    if (with_digest) extra = {"--sha256", sha256_hex(read_file(*corpus_ / "dump.zip"))};
    auto o = pull(proxy, work / "root", extra);
    report_outcome("network fault, persistent",
                   with_digest ? "one corrupted byte, --sha256 given" : "one corrupted byte", o.result, o.seconds);
    // A flipped byte breaks the stream, its size or its CRC: corrupt (5), never
    // unsafe (6) even when the broken stream runs past its declared size
    // (docs/pull.md); with a digest, a wrong digest (7) may be what is seen first.
    if (with_digest) {
      EXPECT_TRUE(o.result.exit_code == 5 || o.result.exit_code == 7) << o.result.all();
    } else {
      EXPECT_EQ(o.result.exit_code, 5) << o.result.all();
    }
    EXPECT_FALSE(fs::exists(work / "root/lib"));
    EXPECT_FALSE(has_staging_debris(work / "root"));
  }
}

TEST_F(FaultsTest, ObjectThatShrankOnAServerIgnoringIfMatchIsCorruptNotAUsageError) {
  FaultProxy proxy(server_->port());
  proxy.inject(Fault::Shrunk416, -1);
  TempDir work;
  auto o = pull(proxy, work / "root");
  report_outcome("network fault, persistent", fault_name(Fault::Shrunk416), o.result, o.seconds);
  EXPECT_EQ(o.result.exit_code, 5) << o.result.all();
  EXPECT_NE(o.result.err.find("object changed"), std::string::npos) << o.result.err;
  EXPECT_EQ(std::count(o.result.err.begin(), o.result.err.end(), '\n'), 1) << o.result.err;
  EXPECT_FALSE(fs::exists(work / "root/lib"));
  EXPECT_FALSE(has_staging_debris(work / "root"));
}

TEST_F(FaultsTest, FailedPullThroughFaultsKeepsThePreviousInstall) {
  TempDir work;
  FaultProxy clean(server_->port());
  ASSERT_EQ(pull(clean, work / "root").result.exit_code, 0);
  // A new version of the object, then a network that keeps failing.
  TempDir other;
  write_file(other / "lib/v2.txt", "v2\n");
  ASSERT_EQ(run({"zip", "-q", "-r", (other / "v2.zip").string(), "lib"}, {.cwd = other.path()}).exit_code, 0);
  server_->put(other / "v2.zip", "tmpdump/fn.zip");
  FaultProxy broken(server_->port());
  broken.inject(Fault::ResetMidBody, -1);
  auto o = pull(broken, work / "root");
  server_->put(*corpus_ / "dump.zip", "tmpdump/fn.zip");
  EXPECT_EQ(o.result.exit_code, 9) << o.result.all();
  EXPECT_EQ(describe_tree(work / "root"), *expected_);
  EXPECT_FALSE(has_staging_debris(work / "root"));
}

}  // namespace
}  // namespace tmpdump::testing
