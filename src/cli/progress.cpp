#include "cli/progress.hpp"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace tmpdump::cli {

ProgressLine::ProgressLine(Render render, bool enabled) : render_(std::move(render)) {
  if (enabled) thread_ = std::thread([this] { loop(); });
}

ProgressLine::~ProgressLine() {
  stop();
}

void ProgressLine::stop() {
  {
    std::lock_guard lk(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) {
    thread_.join();
    std::fputs("\r\033[K", stderr);
  }
}

void ProgressLine::loop() {
  std::unique_lock lk(mu_);
  while (!cv_.wait_for(lk, std::chrono::milliseconds(250), [this] { return stopping_; })) {
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
    std::fprintf(stderr, "\r\033[K%s", render_(secs).c_str());
    std::fflush(stderr);
  }
}

bool progress_wanted() {
  const char* env = std::getenv("TMPDUMP_PROGRESS");
  if (env != nullptr && std::strcmp(env, "0") == 0) return false;
  return ::isatty(STDERR_FILENO) == 1;
}

}  // namespace tmpdump::cli
