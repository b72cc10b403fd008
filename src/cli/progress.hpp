// A one-line progress display on a terminal; silent when stderr is a log.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>

#include "archive/extract.hpp"

namespace tmpdump::cli {

/// Redraws "<label> 12.3/45.6 MB  75.0 MB/s" on stderr four times a second
/// while it lives, if `enabled`. The line is cleared when it stops.
class ProgressLine {
 public:
  ProgressLine(std::string label, const archive::Progress& progress, bool enabled);
  ~ProgressLine();
  ProgressLine(const ProgressLine&) = delete;
  ProgressLine& operator=(const ProgressLine&) = delete;

  /// Sets the totals once they are known; before that only counts are shown.
  void set_totals(std::uint64_t archive_bytes, std::uint64_t tree_bytes);
  /// Stops redrawing and clears the line.
  void stop();

 private:
  void loop();
  std::string label_;
  const archive::Progress& progress_;
  std::atomic<std::uint64_t> archive_total_{0}, tree_total_{0};
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::thread thread_;
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
};

/// True when stderr is a terminal and TMPDUMP_PROGRESS is not "0".
[[nodiscard]] bool progress_wanted();

}  // namespace tmpdump::cli
