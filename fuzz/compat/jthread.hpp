// Forced into every fuzz-build translation unit: libc++ 16 has no std::jthread
// (it arrived in libc++ 18), which the project uses only as a thread joined on
// destruction. This is that much of it, for the fuzz build only.
#pragma once

#include <thread>
#include <utility>
#include <version>

#if defined(_LIBCPP_VERSION) && !defined(__cpp_lib_jthread)
_LIBCPP_BEGIN_NAMESPACE_STD
class jthread {
 public:
  jthread() noexcept = default;
  template <class F, class... Args>
  explicit jthread(F&& f, Args&&... args) : thread_(std::forward<F>(f), std::forward<Args>(args)...) {}
  jthread(jthread&&) noexcept = default;
  jthread& operator=(jthread&& other) noexcept {
    if (thread_.joinable()) thread_.join();
    thread_ = std::move(other.thread_);
    return *this;
  }
  ~jthread() {
    if (thread_.joinable()) thread_.join();
  }
  [[nodiscard]] bool joinable() const noexcept { return thread_.joinable(); }
  void join() { thread_.join(); }
  [[nodiscard]] thread::id get_id() const noexcept { return thread_.get_id(); }

 private:
  thread thread_;
};
_LIBCPP_END_NAMESPACE_STD
#endif
