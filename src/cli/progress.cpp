#include "cli/progress.hpp"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

#include <fmt/format.h>

namespace tmpdump::cli {

ProgressLine::ProgressLine(std::string label, const archive::Progress& progress, bool enabled)
    : label_(std::move(label)), progress_(progress) {
  if (enabled) thread_ = std::thread([this] { loop(); });
}

ProgressLine::~ProgressLine() { stop(); }

void ProgressLine::set_totals(std::uint64_t archive_bytes, std::uint64_t tree_bytes) {
  archive_total_ = archive_bytes;
  tree_total_ = tree_bytes;
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
    const double read_mb = static_cast<double>(progress_.bytes_read.load(std::memory_order_relaxed)) / 1e6;
    const double out_mb = static_cast<double>(progress_.bytes_written.load(std::memory_order_relaxed)) / 1e6;
    std::string line;
    if (archive_total_ > 0) {
      line = fmt::format("{} {:.1f}/{:.1f} MB  {:.1f} MB/s  -> {:.1f}/{:.1f} MB unpacked", label_, read_mb,
                         static_cast<double>(archive_total_.load()) / 1e6, secs > 0 ? read_mb / secs : 0.0, out_mb,
                         static_cast<double>(tree_total_.load()) / 1e6);
    } else {
      line = fmt::format("{} reading the central directory...", label_);
    }
    std::fprintf(stderr, "\r\033[K%s", line.c_str());
    std::fflush(stderr);
  }
}

bool progress_wanted() {
  const char* env = std::getenv("TMPDUMP_PROGRESS");
  if (env != nullptr && std::strcmp(env, "0") == 0) return false;
  return ::isatty(STDERR_FILENO) == 1;
}

}  // namespace tmpdump::cli
