// tmpdump pull with alternates (docs/pull.md, "Alternates"): the first place
// that answers serves; when none does, the first error is reported with the
// others listed; a mirror with other bytes is refused by the #sha256= pin.
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

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

/// A loopback port nobody listens on (bound, then closed): connections are refused.
int closed_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    ::close(fd);
    return 9;  // discard: nothing listens there either
  }
  ::close(fd);
  return ntohs(addr.sin_port);
}

class AlternatesTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    server_ = new S3Server();
    corpus_ = new TempDir();
    make_real_library_tree(*corpus_ / "src");
    ASSERT_EQ(
        run({"zip", "-q", "-y", "-r", (*corpus_ / "dump.zip").string(), "lib"}, {.cwd = *corpus_ / "src"}).exit_code,
        0);
    server_->put(*corpus_ / "dump.zip", "tmpdump/fn.zip");
    // A mirror that serves other bytes under the same name: a valid archive, not the pinned one.
    fs::create_directories(*corpus_ / "other/lib");
    write_file(*corpus_ / "other/lib/evil.txt", "not the archive you pinned\n");
    ASSERT_EQ(run({"zip", "-q", "-r", (*corpus_ / "other.zip").string(), "lib"}, {.cwd = *corpus_ / "other"}).exit_code,
              0);
    server_->put(*corpus_ / "other.zip", "mirror/fn.zip");
    ASSERT_EQ(run({"unzip", "-q", (*corpus_ / "dump.zip").string(), "-d", (*corpus_ / "expected").string()}).exit_code,
              0);
    expected_ = new std::string(describe_tree(*corpus_ / "expected"));
    pin_ = new std::string("#sha256=" + sha256_hex(read_file(*corpus_ / "dump.zip")));
  }
  static void TearDownTestSuite() {
    delete pin_;
    delete expected_;
    delete corpus_;
    delete server_;
  }

  struct Outcome {
    RunResult result;
    double seconds;
  };

  /// Pulls SOURCE with S3 requests sent to `endpoint` (the server, or a proxy in front of it).
  Outcome pull(const std::string& source, const fs::path& root, const std::string& endpoint) {
    EnvChanges env = server_->client_env();
    env["AWS_ENDPOINT_URL"] = endpoint;
    env["TMPDUMP_STALL_SECONDS"] = "1";
    env["TMPDUMP_MAX_ATTEMPTS"] = "2";
    const auto t0 = Clock::now();
    auto r = run({tmpdump_binary().string(), "pull", "--no-progress", source, "--root", root.string()},
                 {.env = env, .timeout = std::chrono::seconds(120)});
    return {std::move(r), std::chrono::duration<double>(Clock::now() - t0).count()};
  }

  static S3Server* server_;
  static TempDir* corpus_;
  static std::string* expected_;
  static std::string* pin_;
};

S3Server* AlternatesTest::server_ = nullptr;
TempDir* AlternatesTest::corpus_ = nullptr;
std::string* AlternatesTest::expected_ = nullptr;
std::string* AlternatesTest::pin_ = nullptr;

TEST_F(AlternatesTest, ThrottledFirstPlaceIsPassedOverAndTheSecondServes) {
  FaultProxy proxy(server_->port());
  proxy.inject_every_request(Fault::SlowDown503);                 // the first bucket's endpoint throttles everything
  const std::string mirror = server_->presign("tmpdump/fn.zip");  // straight to the server
  TempDir work;
  auto o = pull("s3://dumps/tmpdump/fn.zip|" + mirror + *pin_, work / "root", proxy.endpoint());
  EXPECT_EQ(o.result.exit_code, 0) << o.result.all();
  EXPECT_GT(proxy.injected(), 0);
  EXPECT_EQ(describe_tree(work / "root"), *expected_);
  EXPECT_NE(o.result.out.find("served by alternate http://127.0.0.1"), std::string::npos) << o.result.out;
  EXPECT_NE(o.result.out.find("passed over s3://dumps/tmpdump/fn.zip: network:"), std::string::npos) << o.result.out;
  EXPECT_NE(o.result.out.find("503"), std::string::npos) << o.result.out;
  // The presigned URL's query (its signature) is never printed.
  EXPECT_EQ(o.result.all().find("X-Amz-Signature"), std::string::npos) << o.result.all();
}

TEST_F(AlternatesTest, MissingOrUnreachablePlacesArePassedOver) {
  const std::string down = fmt::format("http://127.0.0.1:{}/fn.zip", closed_port());
  TempDir work;
  auto o =
      pull("s3://dumps/tmpdump/missing.zip|" + down + "|s3://dumps/tmpdump/fn.zip", work / "root", server_->endpoint());
  EXPECT_EQ(o.result.exit_code, 0) << o.result.all();
  EXPECT_EQ(describe_tree(work / "root"), *expected_);
  EXPECT_NE(o.result.out.find("served by alternate s3://dumps/tmpdump/fn.zip"), std::string::npos) << o.result.out;
  // Pulling again is a cache hit although the first place is still missing.
  auto again =
      pull("s3://dumps/tmpdump/missing.zip|" + down + "|s3://dumps/tmpdump/fn.zip", work / "root", server_->endpoint());
  EXPECT_EQ(again.result.exit_code, 0) << again.result.all();
  EXPECT_NE(again.result.out.find("up to date"), std::string::npos) << again.result.out;
}

TEST_F(AlternatesTest, AllDownReportsTheFirstErrorWithTheOthersListed) {
  const std::string down = fmt::format("http://127.0.0.1:{}/fn.zip", closed_port());
  {
    SCOPED_TRACE("first not found, second unreachable");
    TempDir work;
    auto o = pull("s3://dumps/tmpdump/missing.zip|" + down, work / "root", server_->endpoint());
    report_outcome("alternates", "every place fails (not found, then connection refused)", o.result, o.seconds);
    EXPECT_EQ(o.result.exit_code, 3) << o.result.all();  // the first error's kind: not found
    const std::string& err = o.result.err;
    EXPECT_NE(err.find("missing.zip"), std::string::npos) << err;
    EXPECT_NE(err.find("also tried: " + down + ": network:"), std::string::npos) << err;
    EXPECT_EQ(std::count(err.begin(), err.end(), '\n'), 1) << err;  // one line
    EXPECT_FALSE(fs::exists(work / "root"));
  }
  {
    SCOPED_TRACE("first throttled, second unreachable");
    FaultProxy proxy(server_->port());
    proxy.inject_every_request(Fault::SlowDown503);
    TempDir work;
    auto o = pull("s3://dumps/tmpdump/fn.zip|" + down, work / "root", proxy.endpoint());
    EXPECT_EQ(o.result.exit_code, 9) << o.result.all();
    EXPECT_NE(o.result.err.find("503"), std::string::npos) << o.result.err;
    EXPECT_NE(o.result.err.find("all 2 alternates failed"), std::string::npos) << o.result.err;
    EXPECT_LT(o.seconds, 60.0);
    EXPECT_FALSE(fs::exists(work / "root/lib"));
  }
}

TEST_F(AlternatesTest, MirrorWithOtherBytesIsRefusedByThePin) {
  TempDir work;
  auto o = pull("s3://dumps/tmpdump/missing.zip|s3://dumps/mirror/fn.zip|s3://dumps/tmpdump/fn.zip" + *pin_,
                work / "root", server_->endpoint());
  report_outcome("alternates", "a mirror serves other bytes than the #sha256= pin", o.result, o.seconds);
  EXPECT_EQ(o.result.exit_code, 7) << o.result.all();
  EXPECT_NE(o.result.err.find(
                "served by s3://dumps/mirror/fn.zip, an alternate of s3://dumps/tmpdump/missing.zip; the #sha256= pin"),
            std::string::npos)
      << o.result.err;
  EXPECT_FALSE(fs::exists(work / "root/lib"));
  EXPECT_FALSE(has_staging_debris(work / "root"));
}

}  // namespace
}  // namespace tmpdump::testing
