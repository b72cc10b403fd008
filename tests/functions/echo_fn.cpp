// A C++ handler executable for the integration tests. The event picks the
// behaviour: "throw", "sleep", "big", "overflow" (an exception whose message
// is over Lambda's 6 MB), "dep", "hooks", anything else is echoed.
// TEST_STREAM=1 runs it as a streaming handler.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <thread>

#include <tmpdump/runtime.hpp>

#ifdef WITH_TESTDEP
#include "testdep.h"
#endif

namespace rt = tmpdump::runtime;

namespace {

std::string hook_log;

std::string reply(const rt::Invocation& inv) {
  const std::string& p = inv.payload;
  if (p.find("throw") != std::string::npos) throw std::invalid_argument("you asked for it");
  if (p.find("sleep") != std::string::npos) std::this_thread::sleep_for(std::chrono::seconds(30));
  if (p.find("big") != std::string::npos) return "\"" + std::string(7u << 20, 'x') + "\"";
  if (p.find("overflow") != std::string::npos) throw std::runtime_error(std::string(7u << 20, 'e'));
  if (p.find("hooks") != std::string::npos) return "\"" + hook_log + "\"";
#ifdef WITH_TESTDEP
  if (p.find("dep") != std::string::npos) return std::string("\"") + testdep_greeting() + "\"";
#endif
  const char* trace = std::getenv("_X_AMZN_TRACE_ID");
  return "{\"echo\":" + p + ",\"request_id\":\"" + inv.request_id + "\",\"trace_ok\":" +
         (trace != nullptr && inv.trace_id == trace ? "true" : "false") + ",\"remaining_ok\":" +
         (inv.remaining_time().count() > 0 ? "true" : "false") + ",\"arn\":\"" + inv.function_arn + "\"}";
}

}  // namespace

int main() {
  rt::Options options;
  options.before_snapshot = {[] { hook_log += "before-1 "; }, [] { hook_log += "before-2 "; }};
  options.after_restore = {[] { hook_log += "after-1 "; }, [] { hook_log += "after-2"; }};
  if (const char* s = std::getenv("TEST_STREAM"); s != nullptr && std::string(s) == "1") {
    return rt::run_streaming(
        [](const rt::Invocation& inv, rt::ResponseStream& out) {
          out.set_content_type("text/plain");
          for (int i = 0; i < 3; ++i) {
            out.write("part " + std::to_string(i) + "\n");
            std::this_thread::sleep_for(std::chrono::milliseconds(300));
          }
          if (inv.payload.find("throw") != std::string::npos) throw std::runtime_error("broke mid-stream");
        },
        options);
  }
  return rt::run([](const rt::Invocation& inv) { return rt::Response::success(reply(inv)); }, options);
}
