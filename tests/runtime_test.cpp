// The C++ runtime client and the C ABI under the real bootstrap and emulator.
#include <gtest/gtest.h>

#include "functions/lambda.hpp"

namespace tmpdump::testing {
namespace {

// Handlers that exist for one test only are compiled here, against the
// installed-style API: the C handler ABI needs only the header; a C++ handler
// links the built tmpdump::runtime archive.
void compile_c_handler(const fs::path& dir, const std::string& name, const std::string& source) {
  write_file(dir / (name + ".c"), source);
  compile({"-shared", "-fPIC", "-O1", "-I", (source_dir() / "include").string(), "-o",
           (dir / ("lib" + name + ".so")).string(), (dir / (name + ".c")).string()});
}

void compile_cpp_handler(const fs::path& out, const std::string& source) {
  const fs::path src = out.parent_path() / (out.filename().string() + ".cpp");
  write_file(src, source);
  compile_with_runtime(src, out);
}

// POST to the invoke endpoint with extra request headers ("Name: value\r\n" each).
InvokeReply invoke_with_headers(int port, const std::string& event, const std::string& headers) {
  InvokeReply reply;
  auto sock = runtime::http::Socket::connect_to("127.0.0.1", std::to_string(port));
  if (!sock.valid()) return reply;
  const std::string head = "POST /2015-03-31/functions/function/invocations HTTP/1.1\r\nHost: x\r\n" + headers +
                           "Content-Length: " + std::to_string(event.size()) + "\r\n\r\n";
  if (!sock.send_all({head, event})) return reply;
  auto text = sock.read_head(1 << 20);
  if (!text) return reply;
  auto parsed = runtime::http::parse_response_head(*text);
  if (!parsed) return reply;
  auto framing = runtime::http::body_framing(parsed->headers, 1 << 20);
  if (!framing || !sock.read_body(*framing, 1 << 20, [&](std::string_view p) {
        reply.body.append(p);
        return true;
      })) {
    return reply;
  }
  reply.status = parsed->status;
  reply.headers = std::move(parsed->headers);
  return reply;
}

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

TEST(Runtime, ThrowingAfterRestoreHookIsPostedAsRestoreErrorAndNoInvocationRuns) {
  LambdaDirs dirs;
  compile_cpp_handler(dirs.function / "bin/restore_fails", R"(
#include <stdexcept>
#include <tmpdump/runtime.hpp>
struct CacheNotWarm : std::runtime_error { using std::runtime_error::runtime_error; };
int main() {
  namespace rt = tmpdump::runtime;
  rt::Options o;
  o.before_snapshot = {[] {}};
  o.after_restore = {[] {}, [] { throw CacheNotWarm("the model cache did not come back"); }};
  return rt::run([](const rt::Invocation&) { return rt::Response::success("\"handler ran\""); }, o);
}
)");
  auto r = dirs.emulate_once("bin/restore_fails", "{}", {"--snap-start"});
  EXPECT_EQ(r.exit_code, 14) << r.all();  // emulate --event: the function failed
  EXPECT_TRUE(contains(r.out, R"("errorType":"Runtime.AfterRestoreError")")) << r.out;
  EXPECT_TRUE(contains(r.out, "CacheNotWarm: the model cache did not come back")) << r.out;
  EXPECT_FALSE(contains(r.out, "handler ran")) << r.out;
  EXPECT_TRUE(contains(r.err, "Phase: restore\tStatus: error\tError Type: Runtime.AfterRestoreError")) << r.err;

  // The same function without SnapStart runs no hook and answers.
  auto plain = dirs.emulate_once("bin/restore_fails", "{}");
  ASSERT_EQ(plain.exit_code, 0) << plain.all();
  EXPECT_EQ(plain.out, "\"handler ran\"\n");
}

TEST(Runtime, SharedLibraryAfterRestoreFailureIsARestoreError) {
  LambdaDirs dirs;
  compile_c_handler(dirs.function / "lib", "restore_fails", R"(
#include <tmpdump/handler.h>
TMPDUMP_API int tmpdump_after_restore(void) { return 7; }
TMPDUMP_API int handler(tmpdump_invocation* inv) { return tmpdump_respond(inv, "1", 1, 0); }
)");
  auto r = dirs.emulate_once("lib/librestore_fails.so:handler", "{}", {"--snap-start"});
  EXPECT_EQ(r.exit_code, 14) << r.all();
  EXPECT_TRUE(contains(r.out, R"("errorType":"Runtime.AfterRestoreError")")) << r.out;
  EXPECT_TRUE(contains(r.out, "tmpdump_after_restore returned 7")) << r.out;
  EXPECT_TRUE(contains(r.err, "Phase: restore")) << r.err;
}

TEST(Runtime, CognitoIdentityAndClientContextFromTheInvokeEndpointReachTheHandler) {
  LambdaDirs dirs;
  compile_c_handler(dirs.function / "lib", "who", R"(
#include <stdio.h>
#include <string.h>
#include <tmpdump/handler.h>
TMPDUMP_API int who(tmpdump_invocation* inv) {
  char out[1024];
  int n = snprintf(out, sizeof out, "identity=[%s] context=[%s]", tmpdump_cognito_identity(inv),
                   tmpdump_client_context(inv));
  return tmpdump_respond(inv, out, (size_t)n, "text/plain");
}
)");
  EmulatorProcess emu(dirs, "lib/libwho.so:who");
  const std::string identity = R"({"cognitoIdentityId":"us-east-1:1234","cognitoIdentityPoolId":"us-east-1:pool"})";
  const std::string context = R"({"client":{"app_title":"bench"},"custom":{"k":"v"}})";

  auto plain = invoke_with_headers(emu.port(), "{}", "X-Amz-Cognito-Identity: " + identity + "\r\n");
  EXPECT_EQ(plain.status, 200);
  EXPECT_EQ(plain.body, "identity=[" + identity + "] context=[]");

  // base64, as X-Amz-Client-Context is sent, works for both.
  auto encoded = invoke_with_headers(emu.port(), "{}",
                                     "X-Amz-Cognito-Identity: " + runtime::http::base64_encode(identity) +
                                         "\r\nX-Amz-Client-Context: " + runtime::http::base64_encode(context) + "\r\n");
  EXPECT_EQ(encoded.body, "identity=[" + identity + "] context=[" + context + "]");

  auto none = invoke_with_headers(emu.port(), "{}", "");
  EXPECT_EQ(none.body, "identity=[] context=[]");

  // A value that would break the /next header in two is not passed on.
  auto split = invoke_with_headers(
      emu.port(), "{}", "X-Amz-Cognito-Identity: " + runtime::http::base64_encode("{}\r\nX-Evil: 1") + "\r\n");
  EXPECT_EQ(split.status, 200);
  EXPECT_EQ(split.body, "identity=[] context=[]");
}

}  // namespace
}  // namespace tmpdump::testing
