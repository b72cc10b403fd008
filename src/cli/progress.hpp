// A one-line progress display on a terminal; silent when stderr is a log.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

namespace tmpdump::cli {

/// Redraws one line on stderr four times a second while it lives, if
/// `enabled`; the text comes from `render(seconds since start)`. The line is
/// cleared when it stops.
class ProgressLine {
 public:
  using Render = std::function<std::string(double seconds)>;
  ProgressLine(Render render, bool enabled);
  ~ProgressLine();
  ProgressLine(const ProgressLine&) = delete;
  ProgressLine& operator=(const ProgressLine&) = delete;

  /// Stops redrawing and clears the line.
  void stop();

 private:
  void loop();
  Render render_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::thread thread_;
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
};

/// True when stderr is a terminal and TMPDUMP_PROGRESS is not "0".
[[nodiscard]] bool progress_wanted();

}  // namespace tmpdump::cli
