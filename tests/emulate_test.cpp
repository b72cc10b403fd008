// tmpdump emulate end to end: the real emulator serving the real bootstrap,
// which runs the test handlers, all over HTTP on 127.0.0.1.
#include <thread>

#include <gtest/gtest.h>

#include "functions/lambda.hpp"

namespace tmpdump::testing {
namespace {

// The emulator with a runtime that never talks: the test itself plays the
// runtime over the Runtime API, byte for byte, to send what a client might.
class PlayedRuntime {
 public:
  PlayedRuntime() {
    // It marks its start: a /next sent before the emulator started the runtime
    // would belong to no runtime.
    // It marks its start in the host's function directory, so it runs unconfined:
    // the test plays the runtime; the sandbox is not what is tested here.
    dirs_.sandbox = "off";
    write_file(dirs_.function / "bootstrap", "#!/bin/sh\ntouch \"$LAMBDA_TASK_ROOT/started\"\nexec sleep 60\n");
    fs::permissions(dirs_.function / "bootstrap", fs::perms::owner_all);
    emu_ = std::make_unique<EmulatorProcess>(dirs_, "unused");
  }

  /// Invokes with `event` while the test answers /next with `respond`, which
  /// gets the request id and a connection to send the response on.
  InvokeReply invoke_and_answer(const std::string& event,
                                const std::function<void(const std::string&, runtime::http::Socket&)>& respond) {
    InvokeReply reply;
    std::thread client([&] { reply = invoke(emu_->port(), event); });
    const fs::path started = dirs_.function / "started";
    for (int i = 0; i < 1000 && !fs::exists(started); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    EXPECT_TRUE(fs::exists(started)) << "the emulator did not start the runtime";
    fs::remove(started);
    auto sock = runtime::http::Socket::connect_to("127.0.0.1", std::to_string(emu_->port()));
    EXPECT_TRUE(sock.valid());
    EXPECT_TRUE(sock.send_all({"GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: x\r\n\r\n"}));
    auto head = sock.read_head(1 << 16);
    auto parsed = head ? runtime::http::parse_response_head(*head) : std::nullopt;
    std::string id;
    if (parsed && parsed->status == 200) {
      id = std::string(parsed->headers.get("Lambda-Runtime-Aws-Request-Id").value_or(""));
      auto framing = runtime::http::body_framing(parsed->headers, 1 << 20);
      EXPECT_TRUE(framing && sock.read_body(*framing, 1 << 20, [](std::string_view) { return true; }));
    }
    EXPECT_FALSE(id.empty()) << "no invocation from /next";
    respond(id, sock);
    client.join();
    return reply;
  }

  /// The start of a streamed response to `id`, up to the first chunk.
  static std::string stream_head(const std::string& id) {
    return "POST /2018-06-01/runtime/invocation/" + id +
           "/response HTTP/1.1\r\nHost: x\r\nLambda-Runtime-Function-Response-Mode: streaming\r\n"
           "Content-Type: text/plain\r\nTransfer-Encoding: chunked\r\n"
           "Trailer: Lambda-Runtime-Function-Error-Type, Lambda-Runtime-Function-Error-Body\r\n\r\n";
  }
  /// The emulator's answer to the streamed POST.
  static int status(runtime::http::Socket& sock) {
    auto head = sock.read_head(1 << 16);
    auto parsed = head ? runtime::http::parse_response_head(*head) : std::nullopt;
    return parsed ? parsed->status : 0;
  }

 private:
  LambdaDirs dirs_;
  std::unique_ptr<EmulatorProcess> emu_;
};

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
  auto r = run({tmpdump_binary().string(), "emulate", "--function", empty.path().string(), "--handler", "x", "--event",
                "/dev/null"});
  EXPECT_EQ(r.exit_code, 3) << r.all();
  EXPECT_TRUE(contains(r.err, "no bootstrap in")) << r.err;
}

TEST(Emulate, StreamedErrorTrailersBecomeTheLastChunkOfTheInvokeResponse) {
  PlayedRuntime rt;
  const std::string error = R"({"errorMessage":"disk full after two parts","errorType":"Render.Failed"})";
  auto reply = rt.invoke_and_answer("{}", [&](const std::string& id, runtime::http::Socket& sock) {
    ASSERT_TRUE(sock.send_all({PlayedRuntime::stream_head(id), "7\r\npart 1\n\r\n", "7\r\npart 2\n\r\n",
                               "0\r\nLambda-Runtime-Function-Error-Type: Render.Failed\r\n"
                               "Lambda-Runtime-Function-Error-Body: " +
                                   runtime::http::base64_encode(error) + "\r\n\r\n"}));
    EXPECT_EQ(PlayedRuntime::status(sock), 202);
  });
  EXPECT_EQ(reply.status, 200);
  EXPECT_EQ(reply.headers.get("Transfer-Encoding"), "chunked");
  EXPECT_EQ(reply.headers.get("Content-Type"), "text/plain");
  EXPECT_EQ(reply.body, "part 1\npart 2\n" + error);
}

TEST(Emulate, StreamedErrorTypeWithoutBodyStillEndsWithAnErrorDocument) {
  PlayedRuntime rt;
  auto reply = rt.invoke_and_answer("{}", [&](const std::string& id, runtime::http::Socket& sock) {
    ASSERT_TRUE(sock.send_all({PlayedRuntime::stream_head(id), "7\r\npart 1\n\r\n",
                               "0\r\nLambda-Runtime-Function-Error-Type: Render.Failed\r\n\r\n"}));
    EXPECT_EQ(PlayedRuntime::status(sock), 202);
  });
  EXPECT_EQ(reply.status, 200);
  EXPECT_TRUE(reply.body.starts_with("part 1\n")) << reply.body;
  EXPECT_TRUE(contains(reply.body, R"("errorType":"Render.Failed")")) << reply.body;
}

TEST(Emulate, StreamThatBreaksOffEndsWithATruncatedResponseError) {
  PlayedRuntime rt;
  auto reply = rt.invoke_and_answer("{}", [&](const std::string& id, runtime::http::Socket& sock) {
    ASSERT_TRUE(sock.send_all({PlayedRuntime::stream_head(id), "7\r\npart 1\n\r\n", "20\r\nonly a few"}));
    sock.close();
  });
  EXPECT_EQ(reply.status, 200);
  EXPECT_TRUE(reply.body.starts_with("part 1\n")) << reply.body;
  EXPECT_TRUE(contains(reply.body, R"("errorType":"Runtime.TruncatedResponse")")) << reply.body;
}

TEST(Emulate, ErrorOverTheLimitIsReportedAsResponseSizeTooLarge) {
  PlayedRuntime rt;
  auto reply = rt.invoke_and_answer("{}", [&](const std::string& id, runtime::http::Socket& sock) {
    // The head and the start of a 7 MiB error: the emulator judges it by its Content-Length.
    ASSERT_TRUE(sock.send_all({"POST /2018-06-01/runtime/invocation/" + id +
                                   "/error HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                                   "Lambda-Runtime-Function-Error-Type: Render.Failed\r\n"
                                   "Content-Length: 7340032\r\n\r\n",
                               R"({"errorMessage":"eeee)"}));
    EXPECT_EQ(PlayedRuntime::status(sock), 413);
  });
  EXPECT_EQ(reply.status, 200);
  EXPECT_EQ(reply.headers.get("X-Amz-Function-Error"), "Unhandled");
  EXPECT_EQ(reply.body, R"({"errorMessage":"Response payload size (7340032 bytes) exceeded maximum allowed payload )"
                        R"(size (6291556 bytes).","errorType":"Function.ResponseSizeTooLarge","stackTrace":[]})");
}

TEST(Emulate, StreamWithoutErrorTrailersIsASuccess) {
  PlayedRuntime rt;
  auto reply = rt.invoke_and_answer("{}", [&](const std::string& id, runtime::http::Socket& sock) {
    ASSERT_TRUE(sock.send_all({PlayedRuntime::stream_head(id), "7\r\npart 1\n\r\n", "0\r\n\r\n"}));
    EXPECT_EQ(PlayedRuntime::status(sock), 202);
  });
  EXPECT_EQ(reply.status, 200);
  EXPECT_EQ(reply.body, "part 1\n");
}

}  // namespace
}  // namespace tmpdump::testing
