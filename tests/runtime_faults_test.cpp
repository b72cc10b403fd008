// The runtime client (a real handler, tests/functions/echo_fn) against a
// Runtime API that fails: transient faults on /next are retried with a bounded
// backoff and the invocation is still answered; a refusing API (4xx) or one
// gone for good ends the process non-zero with a message naming the endpoint,
// within the retry budget (RetryPolicy in src/runtime/client.hpp: 5 s).
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <future>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "support/flaky_runtime_api.hpp"
#include "support/process.hpp"
#include "support/s3_server.hpp"

namespace tmpdump::testing {
namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

// RetryPolicy::budget, plus slack for a loaded 2-core CI machine running an
// ASan build beside the fuzz smoke (the bound is what matters, not its size).
constexpr double kGiveUpBound = 5.0 + 7.0;

bool contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

/// Appends a row to the docs/security.md outcome table (see report_outcome()):
/// the first line the runtime printed (a retry shows how it reacted), or with
/// `last` its final line (why it gave up). Ports are replaced so reruns agree.
void report_row(std::string_view input, std::string_view outcome, const RunResult& r, const std::string& endpoint,
                bool last = false) {
  const char* path = std::getenv("TMPDUMP_SECURITY_REPORT");
  if (path == nullptr || *path == '\0') return;
  std::string err = r.err;
  while (!err.empty() && err.back() == '\n') err.pop_back();
  std::string said =
      last ? err.substr(err.rfind('\n') == std::string::npos ? 0 : err.rfind('\n') + 1) : err.substr(0, err.find('\n'));
  for (auto at = said.find(endpoint); at != std::string::npos; at = said.find(endpoint)) {
    said.replace(at, endpoint.size(), "127.0.0.1:PORT");
  }
  for (auto& c : said) {
    if (c == '|') c = '/';
  }
  std::ofstream(path, std::ios::app) << fmt::format("| Runtime API | {} | {} | {} |\n", input, outcome, said);
}

/// echo_fn running against `api` in the background, its output captured.
class Handler {
 public:
  explicit Handler(const FlakyRuntimeApi& api) {
    const std::string exe = (build_dir() / "tests/functions/echo_fn").string();
    const std::string endpoint = api.endpoint();
    result_ = std::async(std::launch::async, [exe, endpoint] {
      return run({exe},
                 {.env = {{"AWS_LAMBDA_RUNTIME_API", endpoint}, {"AWS_LAMBDA_INITIALIZATION_TYPE", std::nullopt}},
                  .timeout = std::chrono::seconds(60)});
    });
  }
  /// Waits for the process to end (it must, within its 60 s run() bound).
  RunResult wait() { return result_.get(); }

 private:
  std::future<RunResult> result_;
};

class RuntimeFaults : public ::testing::TestWithParam<NextFault> {};

TEST_P(RuntimeFaults, TransientFaultOnNextIsRetriedAndTheInvocationAnswered) {
  const NextFault fault = GetParam();
  FlakyRuntimeApi api;
  api.push(fault);
  api.push(fault);
  api.push(NextFault::None, "r1", R"({"n":1})");
  const auto t0 = Clock::now();
  Handler handler(api);
  ASSERT_TRUE(api.wait_for_posts(1, 20s)) << "no response after two faults: " << next_fault_name(fault);
  const double served = seconds_since(t0);
  const auto posts = api.posts();
  EXPECT_EQ(posts[0].path, "/2018-06-01/runtime/invocation/r1/response");
  EXPECT_TRUE(contains(posts[0].body, R"({"echo":{"n":1},"request_id":"r1")")) << posts[0].body;
  EXPECT_GE(api.next_requests(), 3);

  // Then the API goes away for good: the runtime gives up within its budget.
  api.stop();
  const auto t1 = Clock::now();
  auto r = handler.wait();
  const double gave_up = seconds_since(t1);
  EXPECT_NE(r.exit_code, 0) << r.all();
  EXPECT_FALSE(r.timed_out);
  EXPECT_LT(gave_up, kGiveUpBound);
  EXPECT_TRUE(contains(r.err, "/next failed (")) << "each retry is logged: " << r.err;
  EXPECT_TRUE(contains(r.err, "the Runtime API at " + api.endpoint() + " is gone")) << r.err;
  report_row(fmt::format("{} on /next, twice", next_fault_name(fault)),
             fmt::format("retried; invocation answered after {:.1f} s", served), r, api.endpoint());
}

TEST(RuntimeErrorsOverTheLimit, ErrorOverSixMegabytesIsPostedAsResponseSizeTooLarge) {
  FlakyRuntimeApi api;
  api.push(NextFault::None, "r1", R"("overflow")");
  api.push(NextFault::None, "r2", R"({"n":2})");
  Handler handler(api);
  ASSERT_TRUE(api.wait_for_posts(2, 20s)) << "the runtime did not answer both invocations";
  const auto posts = api.posts();
  EXPECT_EQ(posts[0].path, "/2018-06-01/runtime/invocation/r1/error");
  EXPECT_EQ(posts[0].error_type, "Function.ResponseSizeTooLarge");
  // Lambda's shape, with the size of the error the handler raised: its 7 MiB
  // message in {"errorMessage":"...","errorType":"std::runtime_error","stackTrace":[]}.
  const std::size_t raised = (7u << 20) + 68;
  EXPECT_EQ(posts[0].body, R"({"errorMessage":"Response payload size ()" + std::to_string(raised) +
                               R"( bytes) exceeded maximum allowed payload size (6291556 bytes).",)"
                               R"("errorType":"Function.ResponseSizeTooLarge","stackTrace":[]})");
  // The loop goes on.
  EXPECT_EQ(posts[1].path, "/2018-06-01/runtime/invocation/r2/response");
  api.stop();
  handler.wait();
}

INSTANTIATE_TEST_SUITE_P(Next, RuntimeFaults,
                         ::testing::Values(NextFault::Status500, NextFault::Status429, NextFault::MalformedHead,
                                           NextFault::BadLength, NextFault::CloseBeforeHead, NextFault::CloseMidBody),
                         [](const ::testing::TestParamInfo<NextFault>& p) {
                           switch (p.param) {
                             case NextFault::Status500:
                               return std::string("Status500");
                             case NextFault::Status429:
                               return std::string("Status429");
                             case NextFault::MalformedHead:
                               return std::string("MalformedHead");
                             case NextFault::BadLength:
                               return std::string("BadLength");
                             case NextFault::CloseBeforeHead:
                               return std::string("CloseBeforeHead");
                             case NextFault::CloseMidBody:
                               return std::string("CloseMidBody");
                             default:
                               return std::string("Other");
                           }
                         });

TEST(RuntimeApiGone, ApiRestartingOnTheSamePortIsWaitedFor) {
  FlakyRuntimeApi api;
  api.push(NextFault::None, "r1", R"("before")");
  Handler handler(api);
  ASSERT_TRUE(api.wait_for_posts(1, 20s));
  // Down for a second (connections reset, then refused), then back.
  api.stop();
  std::this_thread::sleep_for(1s);
  api.push(NextFault::None, "r2", R"("after")");
  api.restart();
  ASSERT_TRUE(api.wait_for_posts(2, 20s)) << "the runtime did not come back after the API restarted";
  const auto posts = api.posts();
  EXPECT_EQ(posts[1].path, "/2018-06-01/runtime/invocation/r2/response");
  EXPECT_TRUE(contains(posts[1].body, R"({"echo":"after")")) << posts[1].body;
  api.stop();
  auto r = handler.wait();
  EXPECT_NE(r.exit_code, 0);
  EXPECT_TRUE(contains(r.err, "Connection refused")) << r.err;
  report_row("API stopped for 1 s, restarted on the same port", "waited; next invocation answered", r, api.endpoint());
}

TEST(RuntimeApiGone, NoApiAtAllEndsTheRuntimeWithinTheBudget) {
  int port = 0;
  {
    FlakyRuntimeApi probe;  // a port that was free a moment ago, now closed
    port = probe.port();
  }
  const std::string endpoint = "127.0.0.1:" + std::to_string(port);
  const auto t0 = Clock::now();
  auto r = run({(build_dir() / "tests/functions/echo_fn").string()},
               {.env = {{"AWS_LAMBDA_RUNTIME_API", endpoint}}, .timeout = std::chrono::seconds(60)});
  const double took = seconds_since(t0);
  EXPECT_EQ(r.exit_code, 1) << r.all();
  EXPECT_LT(took, kGiveUpBound);
  EXPECT_GT(took, 3.0) << "gave up before the budget";
  EXPECT_TRUE(contains(r.err, "tmpdump runtime: the Runtime API at " + endpoint + " is gone: /next failed")) << r.err;
  EXPECT_TRUE(contains(r.err, "last: cannot connect: Connection refused")) << r.err;
  report_row("nothing listening at AWS_LAMBDA_RUNTIME_API",
             fmt::format("gave up: exit {}, {:.1f} s", r.exit_code, took), r, endpoint, /*last=*/true);
}

TEST(RuntimeApiGone, NotFoundOnNextEndsTheRuntimeAtOnce) {
  FlakyRuntimeApi api;
  api.push(NextFault::Status404);
  const auto t0 = Clock::now();
  Handler handler(api);
  auto r = handler.wait();
  const double took = seconds_since(t0);
  EXPECT_EQ(r.exit_code, 1) << r.all();
  EXPECT_LT(took, 3.0) << "a 404 is not worth retrying";
  EXPECT_EQ(api.next_requests(), 1);
  EXPECT_TRUE(contains(r.err, "the Runtime API at " + api.endpoint() + " refused /next: HTTP 404")) << r.err;
  report_row("HTTP 404 on /next", fmt::format("no retry: exit {}, {:.1f} s", r.exit_code, took), r, api.endpoint());
}

TEST(RuntimeApiGone, InvocationWithoutRequestIdEndsTheRuntimeWithTheReason) {
  FlakyRuntimeApi api;
  api.push(NextFault::NoRequestId);
  Handler handler(api);
  auto r = handler.wait();
  EXPECT_EQ(r.exit_code, 1) << r.all();
  EXPECT_TRUE(contains(r.err, "without Lambda-Runtime-Aws-Request-Id")) << r.err;
  EXPECT_TRUE(api.posts().empty()) << "nothing can be answered without a request id";
  report_row("200 on /next without Lambda-Runtime-Aws-Request-Id", fmt::format("exit {}", r.exit_code), r,
             api.endpoint());
}

}  // namespace
}  // namespace tmpdump::testing
