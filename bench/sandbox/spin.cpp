// The busy function bench/sandbox runs: the event "MS THREADS" (a JSON
// string) keeps THREADS threads spinning for MS milliseconds of wall time
// and answers with the CPU time the process got meanwhile:
//   {"wall_ms":..., "cpu_ms":..., "threads":...}
#include <time.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <tmpdump/runtime.hpp>

namespace rt = tmpdump::runtime;

namespace {

double process_cpu_ms() {
  timespec ts{};
  ::clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1e3 + static_cast<double>(ts.tv_nsec) / 1e6;
}

std::string spin(const std::string& payload) {
  const std::string text = payload.size() >= 2 && payload.front() == '"' ? payload.substr(1) : payload;
  char* end = nullptr;
  const long ms = std::strtol(text.c_str(), &end, 10);
  long threads = std::strtol(end, nullptr, 10);
  if (ms <= 0) throw std::invalid_argument("the event is \"MS THREADS\", e.g. \"2000 2\"");
  if (threads <= 0) threads = std::max(1U, std::thread::hardware_concurrency());

  using Clock = std::chrono::steady_clock;
  const auto stop_at = Clock::now() + std::chrono::milliseconds(ms);
  std::atomic<unsigned long> sink{0};
  const double cpu0 = process_cpu_ms();
  const auto t0 = Clock::now();
  std::vector<std::thread> workers;
  for (long i = 0; i < threads; ++i) {
    workers.emplace_back([&] {
      unsigned long n = 0;
      // The clock is read every 4,096 rounds: cheap, and a throttled thread
      // notices the deadline within microseconds of running again.
      while ((++n & 4095) != 0 || Clock::now() < stop_at) {
      }
      sink += n;
    });
  }
  for (auto& w : workers) w.join();
  const double wall = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
  const double cpu = process_cpu_ms() - cpu0;
  char out[160];
  std::snprintf(out, sizeof out, "{\"wall_ms\":%.1f,\"cpu_ms\":%.1f,\"threads\":%ld,\"rounds\":%lu}", wall, cpu,
                threads, sink.load());
  return out;
}

}  // namespace

int main() {
  return rt::run([](const rt::Invocation& inv) { return rt::Response::success(spin(inv.payload)); });
}
