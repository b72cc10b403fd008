// tmpdump emulate end to end: the real emulator serving the real bootstrap,
// which runs the test handlers, all over HTTP on 127.0.0.1.
#include <gtest/gtest.h>

#include "functions/lambda.hpp"

namespace tmpdump::testing {
namespace {

TEST(Emulate, ExecutableHandlerAnswersOneShotEvent) {
  LambdaDirs dirs;
  auto r = dirs.emulate_once("bin/echo_fn", R"({"hello":"world"})");
  ASSERT_EQ(r.exit_code, 0) << r.all();
  EXPECT_TRUE(contains(r.out, R"({"echo":{"hello":"world"},"request_id":")")) << r.out;
  EXPECT_TRUE(contains(r.out, R"("trace_ok":true,"remaining_ok":true,"arn":"arn:aws:lambda:)")) << r.out;
  EXPECT_TRUE(contains(r.err, "START RequestId: ")) << r.err;
  EXPECT_TRUE(contains(r.err, "END RequestId: ")) << r.err;
  EXPECT_TRUE(contains(r.err, "Init Duration: ")) << r.err;
  EXPECT_TRUE(contains(r.err, "Max Memory Used: ")) << r.err;
  EXPECT_TRUE(contains(r.err, "tmpdump bootstrap: init in ")) << r.err;
}

TEST(Emulate, ServesInvokeEndpointCompatibleWithTheRuntimeInterfaceEmulator) {
  LambdaDirs dirs;
  EmulatorProcess emu(dirs, "bin/echo_fn");
  for (int i = 0; i < 3; ++i) {
    auto reply = invoke(emu.port(), "{\"n\":" + std::to_string(i) + "}");
    EXPECT_EQ(reply.status, 200);
    EXPECT_TRUE(contains(reply.body, "{\"echo\":{\"n\":" + std::to_string(i) + "}")) << reply.body;
    EXPECT_FALSE(reply.headers.get("X-Amz-Function-Error"));
  }
  auto first = emu.log_line("REPORT");
  ASSERT_TRUE(first);
  EXPECT_TRUE(contains(*first, "Init Duration")) << *first;  // only the cold start reports init
  auto second = emu.log_line("REPORT");
  ASSERT_TRUE(second);
  EXPECT_FALSE(contains(*second, "Init Duration")) << *second;
}

TEST(Emulate, TimedOutHandlerIsKilledAndNextInvokeWorks) {
  LambdaDirs dirs;
  EmulatorProcess emu(dirs, "bin/echo_fn", {"--timeout", "1"});
  const auto t0 = std::chrono::steady_clock::now();
  auto slow = invoke(emu.port(), R"("sleep")");
  const auto waited = std::chrono::steady_clock::now() - t0;
  EXPECT_EQ(slow.status, 200);
  EXPECT_EQ(slow.headers.get("X-Amz-Function-Error"), "Unhandled");
  EXPECT_TRUE(contains(slow.body, "Task timed out after 1.00 seconds")) << slow.body;
  EXPECT_LT(waited, std::chrono::seconds(5));
  auto report = emu.log_line("REPORT");
  ASSERT_TRUE(report);
  EXPECT_TRUE(contains(*report, "Status: timeout")) << *report;

  auto next = invoke(emu.port(), R"({"after":"timeout"})");
  EXPECT_EQ(next.status, 200);
  EXPECT_TRUE(contains(next.body, R"({"echo":{"after":"timeout"})")) << next.body;
  auto cold = emu.log_line("REPORT");
  ASSERT_TRUE(cold);
  EXPECT_TRUE(contains(*cold, "Init Duration")) << *cold;  // a fresh runtime
}

TEST(Emulate, InitErrorIsShownAsLambdaDoesAndExitsNonZero) {
  LambdaDirs dirs;
  auto r = dirs.emulate_once("bin/no_such_fn", "{}");
  EXPECT_EQ(r.exit_code, 14) << r.all();
  EXPECT_TRUE(contains(r.out, R"("errorType":"Runtime.HandlerNotFound")")) << r.out;
  EXPECT_TRUE(contains(r.out, "bin/no_such_fn")) << r.out;
  EXPECT_TRUE(contains(r.err, "INIT_REPORT Init Duration: ")) << r.err;
  EXPECT_TRUE(contains(r.err, "Status: error\tError Type: Runtime.HandlerNotFound")) << r.err;
}

TEST(Emulate, RefusesFunctionWithoutBootstrap) {
  TempDir empty;
  auto r = run({tmpdump_binary().string(), "emulate", "--function", empty.path().string(), "--handler", "x",
                "--event", "/dev/null"});
  EXPECT_EQ(r.exit_code, 3) << r.all();
  EXPECT_TRUE(contains(r.err, "no bootstrap in")) << r.err;
}

}  // namespace
}  // namespace tmpdump::testing
