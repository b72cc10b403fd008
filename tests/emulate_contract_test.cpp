// tmpdump emulate keeps Lambda's contract at its edges: the init limit and
// the init retry inside the first invoke, Expect: 100-continue, the invoke
// URL's qualifier, the ARN's region, the caller's trace header, the payload
// limits, and the Runtime API's state errors as the AWS runtime interface
// emulator (RIE) gives them.
#include <sys/socket.h>
#include <sys/time.h>

#include <regex>
#include <thread>

#include <gtest/gtest.h>

#include "functions/lambda.hpp"

namespace tmpdump::testing {
namespace {

namespace http = runtime::http;

struct Reply {
  int status = 0;
  http::Headers headers;
  std::string body;
};

// Reads one response head, waiting at most `limit` for it: a server that does
// not answer fails the test instead of hanging it.
std::optional<http::ResponseHead> read_head_within(http::Socket& sock, std::chrono::seconds limit) {
  timeval tv{static_cast<time_t>(limit.count()), 0};
  ::setsockopt(sock.fd(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  auto text = sock.read_head(1 << 16);
  return text ? http::parse_response_head(*text) : std::nullopt;
}

// The rest of a response whose head is `head`.
Reply read_reply(http::Socket& sock, std::optional<http::ResponseHead> head) {
  Reply reply;
  if (!head) return reply;
  auto framing = http::body_framing(head->headers, 64 << 20);
  if (!framing || !sock.read_body(*framing, 64 << 20, [&](std::string_view p) {
        reply.body.append(p);
        return true;
      })) {
    return reply;
  }
  reply.status = head->status;
  reply.headers = std::move(head->headers);
  return reply;
}

// POST `target` with `body`; `headers` are extra "Name: value\r\n" lines.
Reply post(http::Socket& sock, const std::string& target, const std::string& body, const std::string& headers = "") {
  if (!sock.send_all({"POST " + target + " HTTP/1.1\r\nHost: x\r\n" + headers +
                          "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n",
                      body})) {
    return {};
  }
  return read_reply(sock, read_head_within(sock, std::chrono::seconds(30)));
}

Reply post(int port, const std::string& target, const std::string& body, const std::string& headers = "") {
  auto sock = http::Socket::connect_to("127.0.0.1", std::to_string(port));
  if (!sock.valid()) return {};
  return post(sock, target, body, headers);
}

constexpr std::string_view kInvoke = "/2015-03-31/functions/function/invocations";

// The emulator with a runtime that never talks: the test plays the runtime
// over the Runtime API, to see what the emulator hands it and how it answers.
class PlayedEmulator {
 public:
  explicit PlayedEmulator(std::vector<std::string> extra = {}, const EnvChanges& env = {}) {
    // The test plays the runtime; the sandbox is not what is tested here.
    dirs_.sandbox = "off";
    write_file(dirs_.function / "bootstrap", "#!/bin/sh\ntouch \"$LAMBDA_TASK_ROOT/started\"\nexec sleep 60\n");
    fs::permissions(dirs_.function / "bootstrap", fs::perms::owner_all);
    std::vector<std::string> argv{tmpdump_binary().string(),
                                  "emulate",
                                  "--function",
                                  dirs_.function.string(),
                                  "--handler",
                                  "unused",
                                  "--port",
                                  "0",
                                  "--sandbox",
                                  "off"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    process_ = std::make_unique<Background>(argv, env);
    auto line = process_->wait_for_line("tmpdump emulate: listening on", std::chrono::seconds(20));
    if (!line) throw std::runtime_error("the emulator did not start");
    port_ = std::stoi(line->substr(line->find("127.0.0.1:") + 10));
  }
  [[nodiscard]] int port() const { return port_; }

  struct Next {
    std::string id;
    http::Headers headers;
    http::Socket sock;  ///< the runtime's connection, to answer on
  };
  /// Waits for the emulator to start the runtime (the first time), then asks
  /// for the invocation. A /next sent before the runtime started would belong to no runtime.
  Next next() {
    Next n;
    if (!runtime_started_) {
      const fs::path started = dirs_.function / "started";
      for (int i = 0; i < 1000 && !fs::exists(started); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
      EXPECT_TRUE(fs::exists(started)) << "the emulator did not start the runtime";
      runtime_started_ = true;
    }
    n.sock = http::Socket::connect_to("127.0.0.1", std::to_string(port_));
    EXPECT_TRUE(n.sock.send_all({"GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: x\r\n\r\n"}));
    auto reply = read_reply(n.sock, read_head_within(n.sock, std::chrono::seconds(30)));
    EXPECT_EQ(reply.status, 200);
    n.headers = std::move(reply.headers);
    n.id = std::string(n.headers.get("Lambda-Runtime-Aws-Request-Id").value_or(""));
    EXPECT_FALSE(n.id.empty()) << "no invocation from /next";
    return n;
  }

  /// Invokes `target` (with extra `headers`) and answers "{}" as the runtime;
  /// returns the /next headers the runtime got.
  http::Headers invoke_seen_by_runtime(const std::string& target, const std::string& headers = "") {
    Reply reply;
    std::thread client([&] { reply = post(port_, target, "{}", headers); });
    auto n = next();
    EXPECT_EQ(post(n.sock, "/2018-06-01/runtime/invocation/" + n.id + "/response", "{}").status, 202);
    client.join();
    EXPECT_EQ(reply.status, 200);
    EXPECT_EQ(reply.body, "{}");
    return std::move(n.headers);
  }

 private:
  LambdaDirs dirs_;
  std::unique_ptr<Background> process_;
  int port_ = 0;
  bool runtime_started_ = false;
};

// The number after `field` in a log line ("Duration: 123.45 ms" -> 123.45).
double number_after(const std::string& line, const std::string& field) {
  const auto at = line.find(field);
  return at == std::string::npos ? -1 : std::stod(line.substr(at + field.size()));
}

std::string line_starting(const std::string& text, const std::string& prefix) {
  const auto at = text.find(prefix);
  return at == std::string::npos ? "" : text.substr(at, text.find('\n', at) - at);
}

// A function bootstrap that takes `seconds` before starting the real one
// (the layer's), so its init runs past a short init limit.
void slow_bootstrap(const LambdaDirs& dirs, int seconds) {
  write_file(dirs.function / "bootstrap",
             "#!/bin/sh\nsleep " + std::to_string(seconds) + "\nexec " + dirs.seen(dirs.layer / "bootstrap") + "\n");
  fs::permissions(dirs.function / "bootstrap", fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                                                   fs::perms::others_read | fs::perms::others_exec);
}

TEST(EmulateContract, InitThatRunsOutIsReportedAndRunAgainInsideTheFirstInvoke) {
  LambdaDirs dirs;
  slow_bootstrap(dirs, 2);
  // A 1 s init limit instead of Lambda's 10 s; each init takes 2 s.
  auto r = dirs.emulate_once("bin/echo_fn", R"({"n":1})", {"--timeout", "30"},
                             {{"TMPDUMP_EMULATE_INIT_TIMEOUT_MS", "1000"}});
  ASSERT_EQ(r.exit_code, 0) << r.all();
  EXPECT_TRUE(r.out.starts_with(R"({"echo":{"n":1})")) << r.out;
  const std::string init = line_starting(r.err, "INIT_REPORT");
  EXPECT_TRUE(init.ends_with("\tPhase: init\tStatus: timeout")) << r.err;
  EXPECT_GE(number_after(init, "Init Duration: "), 1000) << init;
  EXPECT_LT(r.err.find("INIT_REPORT"), r.err.find("START RequestId: ")) << r.err;
  // The second init ran inside the invoke: its time is the invoke's, not an Init Duration.
  const std::string report = line_starting(r.err, "REPORT RequestId: ");
  EXPECT_FALSE(report.find("Init Duration") != std::string::npos) << report;
  EXPECT_FALSE(report.find("Status:") != std::string::npos) << report;
  EXPECT_GE(number_after(report, "\tDuration: "), 2000) << report;
}

TEST(EmulateContract, InitThatRunsOutAgainInsideTheInvokeTimesTheInvokeOut) {
  LambdaDirs dirs;
  slow_bootstrap(dirs, 60);
  auto r = dirs.emulate_once("bin/echo_fn", "{}", {"--timeout", "1"}, {{"TMPDUMP_EMULATE_INIT_TIMEOUT_MS", "500"}});
  EXPECT_EQ(r.exit_code, 14) << r.all();
  EXPECT_TRUE(r.out.find("Task timed out after 1.00 seconds") != std::string::npos) << r.out;
  EXPECT_TRUE(r.err.find("\tPhase: init\tStatus: timeout\n") != std::string::npos) << r.err;
  EXPECT_TRUE(r.err.find("\tPhase: invoke\tStatus: timeout\n") != std::string::npos) << r.err;
  const std::string report = line_starting(r.err, "REPORT RequestId: ");
  EXPECT_TRUE(report.ends_with("\tStatus: timeout")) << report;
  EXPECT_FALSE(report.find("Init Duration") != std::string::npos) << report;
}

TEST(EmulateContract, InvokeEndpointAnswersExpectContinueBeforeTheBody) {
  LambdaDirs dirs;
  EmulatorProcess emu(dirs, "bin/echo_fn");
  const std::string event = "\"" + std::string(64 << 10, 'e') + "\"";
  auto sock = http::Socket::connect_to("127.0.0.1", std::to_string(emu.port()));
  ASSERT_TRUE(sock.send_all({"POST " + std::string(kInvoke) +
                             " HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n"
                             "Content-Length: " +
                             std::to_string(event.size()) + "\r\n\r\n"}));
  // curl waits a second for this line, then sends the body anyway.
  auto interim = read_head_within(sock, std::chrono::seconds(5));
  ASSERT_TRUE(interim) << "no 100 Continue before the body";
  EXPECT_EQ(interim->status, 100);
  ASSERT_TRUE(sock.send_all({event}));
  auto reply = read_reply(sock, read_head_within(sock, std::chrono::seconds(30)));
  EXPECT_EQ(reply.status, 200);
  EXPECT_TRUE(reply.body.starts_with("{\"echo\":" + event)) << reply.body.substr(0, 200);
}

TEST(EmulateContract, RuntimeApiAnswersExpectContinueBeforeTheResponseBody) {
  PlayedEmulator emu;
  Reply reply;
  std::thread client([&] { reply = post(emu.port(), std::string(kInvoke), "{}"); });
  auto n = emu.next();
  const std::string response = "\"" + std::string(1 << 20, 'r') + "\"";
  EXPECT_TRUE(n.sock.send_all({"POST /2018-06-01/runtime/invocation/" + n.id +
                               "/response HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: " +
                               std::to_string(response.size()) + "\r\n\r\n"}));
  auto interim = read_head_within(n.sock, std::chrono::seconds(5));
  EXPECT_TRUE(interim && interim->status == 100) << "no 100 Continue before the body";
  EXPECT_TRUE(n.sock.send_all({response}));
  EXPECT_EQ(read_reply(n.sock, read_head_within(n.sock, std::chrono::seconds(30))).status, 202);
  client.join();
  EXPECT_EQ(reply.status, 200);
  EXPECT_EQ(reply.body, response);
}

TEST(EmulateContract, RequestOverLambdasLimitIsRefusedWithLambdasError) {
  PlayedEmulator emu;
  auto sock = http::Socket::connect_to("127.0.0.1", std::to_string(emu.port()));
  // Judged by its Content-Length: the body is never asked for.
  ASSERT_TRUE(sock.send_all({"POST " + std::string(kInvoke) +
                             " HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n"
                             "Content-Length: 6291457\r\n\r\n"}));
  auto reply = read_reply(sock, read_head_within(sock, std::chrono::seconds(5)));
  EXPECT_EQ(reply.status, 413);
  EXPECT_EQ(reply.headers.get("X-Amzn-ErrorType"), "RequestEntityTooLargeException");
  EXPECT_EQ(
      reply.body,
      R"({"Type":"User","message":"Request must be smaller than 6291456 bytes for the InvokeFunction operation"})");
}

TEST(EmulateContract, EventFileOverLambdasLimitIsRefused) {
  LambdaDirs dirs;
  auto r = dirs.emulate_once("bin/echo_fn", "\"" + std::string(6291455, 'e') + "\"");  // 6,291,457 bytes
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_TRUE(r.err.find("Request must be smaller than 6291456 bytes for the InvokeFunction operation") !=
              std::string::npos)
      << r.err;
  EXPECT_TRUE(r.err.find("START RequestId") == std::string::npos) << r.err;  // the function never ran
  // At the limit it runs ("hooks" makes echo_fn answer briefly).
  auto at_limit = dirs.emulate_once("bin/echo_fn", "\"" + std::string(6291449, 'e') + "hooks\"");
  EXPECT_EQ(at_limit.exit_code, 0) << at_limit.err;
}

TEST(EmulateContract, QualifierAndRegionAreInTheFunctionArn) {
  PlayedEmulator emu({"--name", "thumbs"}, {{"AWS_REGION", "eu-south-2"}});
  auto arn = [&](const std::string& target) {
    return std::string(emu.invoke_seen_by_runtime(target).get("Lambda-Runtime-Invoked-Function-Arn").value_or(""));
  };
  EXPECT_EQ(arn(std::string(kInvoke)), "arn:aws:lambda:eu-south-2:000000000000:function:thumbs");
  EXPECT_EQ(arn("/2015-03-31/functions/thumbs/invocations?Qualifier=%24LATEST"),
            "arn:aws:lambda:eu-south-2:000000000000:function:thumbs:$LATEST");
  EXPECT_EQ(arn(std::string(kInvoke) + "?Qualifier=live"),
            "arn:aws:lambda:eu-south-2:000000000000:function:thumbs:live");
  EXPECT_EQ(arn("/2015-03-31/functions/thumbs%3A7/invocations"),
            "arn:aws:lambda:eu-south-2:000000000000:function:thumbs:7");

  auto unknown = post(emu.port(), "/2015-03-31/functions/other/invocations?Qualifier=live", "{}");
  EXPECT_EQ(unknown.status, 404);
  EXPECT_EQ(unknown.headers.get("X-Amzn-ErrorType"), "ResourceNotFoundException");
  EXPECT_EQ(
      unknown.body,
      R"({"Message":"Function not found: arn:aws:lambda:eu-south-2:000000000000:function:other:live","Type":"User"})");
  // A qualifier goes into a header: one that could end it is refused.
  auto invalid = post(emu.port(), std::string(kInvoke) + "?Qualifier=a%0D%0AX-Evil:%201", "{}");
  EXPECT_EQ(invalid.status, 400);
  EXPECT_EQ(invalid.headers.get("X-Amzn-ErrorType"), "ValidationException");
}

TEST(EmulateContract, RegionComesFromTheOptionThenAwsRegionThenAwsDefaultRegion) {
  const auto region_of = [](std::vector<std::string> extra, const EnvChanges& env) {
    PlayedEmulator emu(std::move(extra), env);
    return std::string(
        emu.invoke_seen_by_runtime(std::string(kInvoke)).get("Lambda-Runtime-Invoked-Function-Arn").value_or(""));
  };
  EXPECT_EQ(region_of({"--region", "sa-east-1"}, {{"AWS_REGION", "eu-south-2"}}),
            "arn:aws:lambda:sa-east-1:000000000000:function:function");
  EXPECT_EQ(region_of({}, {{"AWS_REGION", std::nullopt}, {"AWS_DEFAULT_REGION", "ca-west-1"}}),
            "arn:aws:lambda:ca-west-1:000000000000:function:function");
  EXPECT_EQ(region_of({}, {{"AWS_REGION", std::nullopt}, {"AWS_DEFAULT_REGION", std::nullopt}}),
            "arn:aws:lambda:us-east-1:000000000000:function:function");
}

TEST(EmulateContract, CallersTraceIdReachesTheRuntime) {
  PlayedEmulator emu;
  const std::string trace = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1";
  auto seen = emu.invoke_seen_by_runtime(std::string(kInvoke), "X-Amzn-Trace-Id: " + trace + "\r\n");
  EXPECT_EQ(seen.get("Lambda-Runtime-Trace-Id"), trace);
  // Without one, a new one in X-Ray's format.
  const std::string made(emu.invoke_seen_by_runtime(std::string(kInvoke)).get("Lambda-Runtime-Trace-Id").value_or(""));
  EXPECT_TRUE(std::regex_match(made, std::regex("Root=1-[0-9a-f]{8}-[0-9a-f]{24};Parent=[0-9a-f]{16};Sampled=0")))
      << made;
}

TEST(EmulateContract, RuntimeApiStateErrorsAreTheRuntimeInterfaceEmulators) {
  PlayedEmulator emu;
  Reply reply;
  std::thread client([&] { reply = post(emu.port(), std::string(kInvoke), "{}"); });
  auto n = emu.next();
  const std::string base = "/2018-06-01/runtime/invocation/" + n.id;
  const auto refused = [](std::string_view from, std::string_view to) {
    return R"({"errorMessage":"State transition from )" + std::string(from) + " to " + std::string(to) +
           R"( failed for runtime. Error: State transition is not allowed","errorType":"InvalidStateTransition"})";
  };

  auto init_error = post(n.sock, "/2018-06-01/runtime/init/error", "{}", "Lambda-Runtime-Function-Error-Type: X\r\n");
  EXPECT_EQ(init_error.status, 403);
  EXPECT_EQ(init_error.body, refused("Running", "InitError"));

  auto unknown = post(n.sock, "/2018-06-01/runtime/invocation/no-such-id/response", "{}");
  EXPECT_EQ(unknown.status, 400);
  EXPECT_EQ(unknown.body, R"({"errorMessage":"Invalid request ID","errorType":"InvalidRequestID"})");

  EXPECT_EQ(post(n.sock, base + "/response", "{}").status, 202);
  auto again = post(n.sock, base + "/response", "{}");
  EXPECT_EQ(again.status, 403);
  EXPECT_EQ(again.body, refused("RuntimeResponseSentState", "InvocationResponse"));
  auto error_after = post(n.sock, base + "/error", "{}");
  EXPECT_EQ(error_after.status, 403);
  EXPECT_EQ(error_after.body, refused("RuntimeResponseSentState", "InvocationErrorResponse"));
  client.join();
  EXPECT_EQ(reply.status, 200);
  EXPECT_EQ(reply.body, "{}");
  EXPECT_FALSE(reply.headers.get("X-Amz-Function-Error"));
}

}  // namespace
}  // namespace tmpdump::testing
