// A C++ handler executable for the integration tests. The event picks the
// behaviour: "throw", "sleep", "big", "overflow" (an exception whose message
// is over Lambda's 6 MB), "dep", "hooks"; the sandbox's commands "whoami",
// "write PATH", "alloc N MB", "tmpfs"; anything else is echoed.
// TEST_STREAM=1 runs it as a streaming handler.
#include <fcntl.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
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

// The event's text without its JSON quotes.
std::string command(const std::string& payload) {
  if (payload.size() >= 2 && payload.front() == '"' && payload.back() == '"')
    return payload.substr(1, payload.size() - 2);
  return payload;
}

// Sandbox probes; empty when the event is not one of them.
std::string sandbox_reply(const std::string& cmd) {
  if (cmd == "whoami") {
    return "{\"uid\":" + std::to_string(::getuid()) + ",\"gid\":" + std::to_string(::getgid()) +
           ",\"euid\":" + std::to_string(::geteuid()) + ",\"cwd\":\"" + (::getcwd(nullptr, 0) ?: "") + "\"}";
  }
  if (cmd.starts_with("write ")) {
    const std::string path = cmd.substr(6);
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return std::string("{\"written\":false,\"errno\":\"") + ::strerrorname_np(errno) + "\"}";
    const bool ok = ::write(fd, "x", 1) == 1;
    ::close(fd);
    return std::string("{\"written\":") + (ok ? "true" : "false") + "}";
  }
  if (cmd.starts_with("alloc ")) {
    // Touches every page, so the memory is resident and counted.
    const std::size_t mb = std::strtoul(cmd.c_str() + 6, nullptr, 10);
    auto* block = static_cast<char*>(std::malloc(mb << 20));
    if (block == nullptr) return "{\"allocated\":false}";
    for (std::size_t i = 0; i < (mb << 20); i += 4096) block[i] = 1;
    const int sum = block[(mb << 20) - 4096];
    std::free(block);
    return "{\"allocated\":" + std::to_string(sum) + "}";
  }
  if (cmd == "tmpfs") {
    // What /tmp is, and whether an earlier invocation of this sandbox left its mark.
    struct statfs st {};
    if (::statfs("/tmp", &st) != 0) return "{\"statfs\":false}";
    const bool marked = ::access("/tmp/echo_fn-mark", F_OK) == 0;
    const int fd = ::open("/tmp/echo_fn-mark", O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    if (fd >= 0) ::close(fd);
    const unsigned long long bytes = static_cast<unsigned long long>(st.f_blocks) * st.f_bsize;
    return "{\"tmpfs\":" + std::string(st.f_type == 0x01021994 ? "true" : "false") +
           ",\"size_mb\":" + std::to_string(bytes >> 20) + ",\"marked\":" + (marked ? "true" : "false") + "}";
  }
  return {};
}

std::string reply(const rt::Invocation& inv) {
  const std::string& p = inv.payload;
  if (auto r = sandbox_reply(command(p)); !r.empty()) return r;
  if (p.find("throw") != std::string::npos) throw std::invalid_argument("you asked for it");
  if (p.find("sleep") != std::string::npos) std::this_thread::sleep_for(std::chrono::seconds(30));
  if (p.find("big") != std::string::npos) return "\"" + std::string(7u << 20, 'x') + "\"";
  if (p.find("overflow") != std::string::npos) throw std::runtime_error(std::string(7u << 20, 'e'));
  if (p.find("hooks") != std::string::npos) return "\"" + hook_log + "\"";
#ifdef WITH_TESTDEP
  if (p.find("dep") != std::string::npos) return std::string("\"") + testdep_greeting() + "\"";
#endif
  const char* trace = std::getenv("_X_AMZN_TRACE_ID");
  return "{\"echo\":" + p + ",\"request_id\":\"" + inv.request_id +
         "\",\"trace_ok\":" + (trace != nullptr && inv.trace_id == trace ? "true" : "false") +
         ",\"remaining_ok\":" + (inv.remaining_time().count() > 0 ? "true" : "false") + ",\"arn\":\"" +
         inv.function_arn + "\"}";
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
