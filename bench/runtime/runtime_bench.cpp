// Times one function under the emulator library (the same code as
// `tmpdump emulate`, without the invoke endpoint's extra HTTP hop):
//   starts  N cold starts: runtime spawn -> first /next (the emulator's Init Duration),
//           each answering one event ("{}", or --event FILE's)
//   invokes N invocations with an event of B bytes on one warm runtime
// Unconfined unless --sandbox says otherwise; --memory sets the size (and,
// sandboxed, the CPU share: memory / 1,769 of a core).
// Prints one line of key=value pairs for bench/runtime/run.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "emulator/emulator.hpp"

namespace {

using Clock = std::chrono::steady_clock;

double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

[[noreturn]] void usage() {
  std::fputs(
      "usage: runtime_bench --function DIR [--layer DIR] [--handler H] [--env K=V]... [--memory MB] "
      "[--sandbox off|auto|required] [--log FILE] (--starts N [--event FILE] | --invokes N [--bytes B] [--batches "
      "K])\n",
      stderr);
  std::exit(2);
}

}  // namespace

int main(int argc, char** argv) {
  tmpdump::emulator::Options options;
  options.timeout = std::chrono::seconds(30);
  options.memory_mb = 1024;
  // Unconfined by default, as the runtime's own numbers have always been
  // taken: the sandbox's CPU share (0.58 of a core at 1,024 MB) would be
  // measured instead. The cold pull rows ask for the sandbox.
  options.sandbox = tmpdump::emulator::SandboxMode::Off;
  int starts = 0, invokes = 0, batches = 5;
  std::size_t bytes = 16;
  std::string start_event = "{}";
  std::string log_path = "/dev/null";
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (i + 1 >= argc) usage();
    const std::string v = argv[++i];
    if (a == "--function")
      options.function_dir = v;
    else if (a == "--layer")
      options.layers.emplace_back(v);
    else if (a == "--handler")
      options.handler = v;
    else if (a == "--env") {
      const auto eq = v.find('=');
      if (eq == std::string::npos) usage();
      options.env.emplace_back(v.substr(0, eq), v.substr(eq + 1));
    } else if (a == "--starts")
      starts = std::stoi(v);
    else if (a == "--invokes")
      invokes = std::stoi(v);
    else if (a == "--bytes")
      bytes = std::stoul(v);
    else if (a == "--batches")
      batches = std::stoi(v);
    else if (a == "--memory") {
      auto mb = tmpdump::emulator::check_memory_mb(std::stol(v));
      if (!mb) {
        fmt::print(stderr, "runtime_bench: {}\n", mb.error().message);
        return 2;
      }
      options.memory_mb = *mb;
    } else if (a == "--sandbox") {
      auto mode = tmpdump::emulator::parse_sandbox_mode(v);
      if (!mode) usage();
      options.sandbox = *mode;
    } else if (a == "--log") {
      log_path = v;
    } else if (a == "--event") {
      std::ifstream in(v, std::ios::binary);
      if (!in) {
        fmt::print(stderr, "runtime_bench: cannot read {}\n", v);
        return 2;
      }
      std::ostringstream text;
      text << in.rdbuf();
      start_event = text.str();
    } else
      usage();
  }
  if ((starts > 0) == (invokes > 0) || batches < 1) usage();
  // START/END/REPORT lines and the runtime's own output are not what is
  // timed: they go to /dev/null, or are appended to --log FILE.
  options.log_fd = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (options.log_fd < 0) {
    fmt::print(stderr, "runtime_bench: cannot open {}\n", log_path);
    return 2;
  }

  if (starts > 0) {
    std::vector<double> init_ms;
    unsigned long rss = 0;
    for (int i = 0; i < starts; ++i) {
      tmpdump::emulator::Emulator emu(options);
      if (auto port = emu.start(0); !port) {
        fmt::print(stderr, "runtime_bench: {}\n", port.error().message);
        return 1;
      }
      auto r = emu.invoke({.payload = start_event, .client_context = {}, .cognito_identity = {}});
      if (r.function_error || !r.init_ms) {
        fmt::print(stderr, "runtime_bench: the function failed: {:.500}\n", r.body);
        return 1;
      }
      init_ms.push_back(*r.init_ms);
      rss = std::max(rss, r.max_rss_kib);
      emu.stop();
    }
    fmt::print("start_ms={:.3f} start_min_ms={:.3f} rss_kib={} n={}\n", median(init_ms),
               *std::min_element(init_ms.begin(), init_ms.end()), rss, starts);
    return 0;
  }

  // A JSON string of `bytes` bytes, echoed back unchanged.
  const std::string event = "\"" + std::string(bytes > 2 ? bytes - 2 : 0, 'x') + "\"";
  tmpdump::emulator::Emulator emu(options);
  if (auto port = emu.start(0); !port) {
    fmt::print(stderr, "runtime_bench: {}\n", port.error().message);
    return 1;
  }
  const tmpdump::emulator::InvokeRequest request{.payload = event, .client_context = {}, .cognito_identity = {}};
  unsigned long rss = 0;
  auto once = [&] {
    auto r = emu.invoke(request);
    if (r.function_error || r.body != event) {
      fmt::print(stderr, "runtime_bench: wrong answer ({} bytes): {:.200}\n", r.body.size(), r.body);
      std::exit(1);
    }
    rss = std::max(rss, r.max_rss_kib);
  };
  for (int i = 0; i < std::min(invokes, 50); ++i) once();  // cold start and warm-up
  std::vector<double> per_invoke_us;
  for (int b = 0; b < batches; ++b) {
    const auto t0 = Clock::now();
    for (int i = 0; i < invokes; ++i) once();
    per_invoke_us.push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count() / invokes);
  }
  const double us = median(per_invoke_us);
  fmt::print("invoke_us={:.2f} invokes_per_s={:.0f} rss_kib={} bytes={} n={}x{}\n", us, 1e6 / us, rss, event.size(),
             batches, invokes);
  emu.stop();
  return 0;
}
