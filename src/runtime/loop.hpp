// The run loop shared by the C++ API (run, run_streaming) and the C ABI
// adapter the bootstrap uses for .so handlers.
#pragma once

#include <functional>
#include <optional>
#include <string>

#include "runtime/client.hpp"
#include "tmpdump/runtime.hpp"

namespace tmpdump::runtime::detail {

/// The answer to one invocation, chosen by the handler: a buffered response,
/// or a stream started by the first write.
class Exchange final : public ResponseStream {
 public:
  Exchange(Client& client, const Invocation& invocation) : client_(client), invocation_(invocation) {}

  /// Sets the buffered response; false when one is set or streaming began.
  bool respond(Response response);
  [[nodiscard]] bool answered() const noexcept { return buffered_.has_value() || streaming_; }
  [[nodiscard]] bool streaming() const noexcept { return streaming_; }

  void set_content_type(std::string_view content_type) override;
  bool write(std::string_view data) override;
  void fail(std::string_view error_type, std::string_view error_message) override;

  /// Sends what the handler chose (or `fallback` when it chose nothing).
  void finish(const Response& fallback);
  /// The handler threw: report it as the invocation's error.
  void finish_with_exception(std::string_view type, std::string_view message);

 private:
  bool start_stream();
  Client& client_;
  const Invocation& invocation_;
  std::optional<Response> buffered_;
  std::string content_type_ = "application/octet-stream";
  bool streaming_ = false, stream_failed_ = false, stream_ended_ = false;
};

/// Called once per invocation; may throw.
using CoreHandler = std::function<void(const Invocation&, Exchange&)>;

/// The loop behind run() and run_streaming(); `default_response` is what an
/// invocation gets when the handler answered nothing.
int run_loop(const CoreHandler& handler, const Options& options, const Response& default_response);

/// The name of the exception being handled (demangled), or "Unknown" for non-std ones.
std::string current_exception_type();
/// what() of the exception being handled.
std::string current_exception_message();

}  // namespace tmpdump::runtime::detail
