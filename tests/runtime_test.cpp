// The C++ runtime client and the C ABI under the real bootstrap and emulator.
#include <gtest/gtest.h>

#include "functions/lambda.hpp"

namespace tmpdump::testing {
namespace {

TEST(Runtime, ThrowingHandlerYieldsErrorWithTypeAndMessageAndNextInvokeWorks) {
  LambdaDirs dirs;
  EmulatorProcess emu(dirs, "bin/echo_fn");
  auto bad = invoke(emu.port(), R"("throw")");
  EXPECT_EQ(bad.status, 200);
  EXPECT_EQ(bad.headers.get("X-Amz-Function-Error"), "Unhandled");
  EXPECT_EQ(bad.body, R"({"errorMessage":"you asked for it","errorType":"std::invalid_argument","stackTrace":[]})");
  auto good = invoke(emu.port(), R"({"x":1})");
  EXPECT_EQ(good.status, 200);
  EXPECT_TRUE(contains(good.body, R"({"echo":{"x":1})")) << good.body;
  auto first = emu.log_line("REPORT");
  auto second = emu.log_line("REPORT");
  ASSERT_TRUE(first && second);
  EXPECT_FALSE(contains(*second, "Init Duration")) << "the runtime must survive a throwing handler: " << *second;
}

TEST(Runtime, OversizeBufferedResponseIsAnErrorAndTheLoopGoesOn) {
  LambdaDirs dirs;
  EmulatorProcess emu(dirs, "bin/echo_fn");
  auto big = invoke(emu.port(), R"("big")");
  EXPECT_EQ(big.headers.get("X-Amz-Function-Error"), "Unhandled");
  EXPECT_TRUE(contains(big.body, R"("errorType":"Function.ResponseSizeTooLarge")")) << big.body.substr(0, 300);
  auto next = invoke(emu.port(), R"(1)");
  EXPECT_TRUE(contains(next.body, R"({"echo":1)")) << next.body;
}

TEST(Runtime, StreamedResponseArrivesInSeveralChunks) {
  LambdaDirs dirs;
  EmulatorProcess emu(dirs, "bin/echo_fn", {"--env", "TEST_STREAM=1"});
  auto reply = invoke(emu.port(), R"("go")");
  EXPECT_EQ(reply.status, 200);
  EXPECT_EQ(reply.headers.get("Transfer-Encoding"), "chunked");
  EXPECT_EQ(reply.headers.get("Content-Type"), "text/plain");
  EXPECT_EQ(reply.body, "part 0\npart 1\npart 2\n");
  ASSERT_GE(reply.pieces.size(), 3u);
  // The handler sleeps 300 ms between writes: the pieces were passed through as written.
  EXPECT_GT(reply.pieces.back().first - reply.pieces.front().first, std::chrono::milliseconds(400));
}

TEST(Runtime, StreamBrokenByExceptionCarriesErrorTrailers) {
  LambdaDirs dirs;
  EmulatorProcess emu(dirs, "bin/echo_fn", {"--env", "TEST_STREAM=1"});
  auto reply = invoke(emu.port(), R"("throw")");
  EXPECT_TRUE(reply.body.starts_with("part 0\npart 1\npart 2\n")) << reply.body;
  EXPECT_TRUE(contains(reply.body, R"("errorMessage":"broke mid-stream","errorType":"std::runtime_error")"))
      << reply.body;
  auto next = invoke(emu.port(), R"("again")");
  EXPECT_EQ(next.body, "part 0\npart 1\npart 2\n");
}

TEST(Runtime, RestoreHooksRunInOrderUnderSnapStart) {
  LambdaDirs dirs;
  auto r = dirs.emulate_once("bin/echo_fn", R"("hooks")", {"--snap-start"});
  ASSERT_EQ(r.exit_code, 0) << r.all();
  EXPECT_EQ(r.out, "\"before-1 before-2 after-1 after-2\"\n");
  EXPECT_TRUE(contains(r.err, "Restore Duration: ")) << r.err;
}

TEST(Runtime, NoHooksRunWithoutSnapStart) {
  LambdaDirs dirs;
  auto r = dirs.emulate_once("bin/echo_fn", R"("hooks")");
  ASSERT_EQ(r.exit_code, 0) << r.all();
  EXPECT_EQ(r.out, "\"\"\n");
}

TEST(Runtime, SharedLibraryHandlerAnswers) {
  LambdaDirs dirs;
  auto r = dirs.emulate_once("lib/libecho.so:echo_handler", R"({"from":"c"})");
  ASSERT_EQ(r.exit_code, 0) << r.all();
  EXPECT_TRUE(contains(r.out, R"({"c_echo":{"from":"c"},"request_id":")")) << r.out;
}

TEST(Runtime, SharedLibraryHandlerFailureCarriesItsType) {
  LambdaDirs dirs;
  EmulatorProcess emu(dirs, "lib/libecho.so:echo_handler");
  auto bad = invoke(emu.port(), R"("fail")");
  EXPECT_EQ(bad.headers.get("X-Amz-Function-Error"), "Unhandled");
  EXPECT_TRUE(contains(bad.body, R"("errorType":"Test.Failure")")) << bad.body;
  auto good = invoke(emu.port(), R"(2)");
  EXPECT_TRUE(contains(good.body, R"({"c_echo":2)")) << good.body;
}

TEST(Runtime, SharedLibraryRestoreHooksRunInOrder) {
  LambdaDirs dirs;
  auto r = dirs.emulate_once("lib/libecho.so:echo_handler", R"("hooks")", {"--snap-start"});
  ASSERT_EQ(r.exit_code, 0) << r.all();
  EXPECT_EQ(r.out, "before after\n");
}

}  // namespace
}  // namespace tmpdump::testing
