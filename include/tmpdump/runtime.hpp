// The Lambda Runtime API client for C++ handlers.
//
//   #include <tmpdump/runtime.hpp>
//   int main() {
//     return tmpdump::runtime::run([](const tmpdump::runtime::Invocation& inv) {
//       return tmpdump::runtime::Response::success(R"({"echo":)" + inv.payload + "}");
//     });
//   }
//
// No exceptions cross this API: a handler's exception is caught and reported as
// the invocation's error; failures of the Runtime API end run() with a non-zero
// code to return from main().
#pragma once

#include <chrono>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "tmpdump/api.h"

namespace tmpdump::runtime {

/// One invocation, as the Runtime API's /next delivered it.
struct TMPDUMP_API Invocation {
  std::string payload;                             ///< the event, as sent
  std::string request_id;                          ///< Lambda-Runtime-Aws-Request-Id
  std::string function_arn;                        ///< Lambda-Runtime-Invoked-Function-Arn
  std::string trace_id;                            ///< Lambda-Runtime-Trace-Id (also exported as _X_AMZN_TRACE_ID)
  std::string client_context;                      ///< Lambda-Runtime-Client-Context: JSON text, "" when absent
  std::string cognito_identity;                    ///< Lambda-Runtime-Cognito-Identity: JSON text, "" when absent
  std::chrono::system_clock::time_point deadline;  ///< Lambda-Runtime-Deadline-Ms

  /// Time left before Lambda stops the invocation (negative once past).
  [[nodiscard]] std::chrono::milliseconds remaining_time() const;
};

/// What a buffered handler returns: a payload, or an error.
class TMPDUMP_API Response {
 public:
  /// A successful response. Payloads above 6 MB (6,291,556 bytes) are replaced
  /// by the error Function.ResponseSizeTooLarge, as Lambda would.
  [[nodiscard]] static Response success(std::string payload, std::string content_type = "application/json");
  /// A failed invocation, posted to /invocation/{id}/error with
  /// Lambda-Runtime-Function-Error-Type: error_type and the JSON body
  /// {"errorMessage": ..., "errorType": ..., "stackTrace": []}.
  [[nodiscard]] static Response failure(std::string error_type, std::string error_message);

  [[nodiscard]] bool ok() const noexcept { return ok_; }
  /// The payload (success) or the error message (failure).
  [[nodiscard]] const std::string& payload() const noexcept { return payload_; }
  /// The content type (success) or the error type (failure).
  [[nodiscard]] const std::string& type() const noexcept { return type_; }

 private:
  Response(bool ok, std::string payload, std::string type)
      : ok_(ok), payload_(std::move(payload)), type_(std::move(type)) {}
  bool ok_;
  std::string payload_, type_;
};

/// The body of a streamed response (Lambda-Runtime-Function-Response-Mode:
/// streaming), sent with chunked transfer encoding as the handler writes it.
class TMPDUMP_API ResponseStream {
 public:
  virtual ~ResponseStream() = default;
  /// Sets the Content-Type; only before the first write (default application/octet-stream).
  virtual void set_content_type(std::string_view content_type) = 0;
  /// Sends `data` as one chunk now. False when the connection failed; later
  /// writes then fail too.
  virtual bool write(std::string_view data) = 0;
  /// Ends the stream with an error: Lambda-Runtime-Function-Error-Type and
  /// Lambda-Runtime-Function-Error-Body trailers. Later writes fail.
  virtual void fail(std::string_view error_type, std::string_view error_message) = 0;
};

/// A buffered handler.
using Handler = std::function<Response(const Invocation&)>;
/// A streaming handler: writes to the stream; returning ends it. A thrown
/// exception ends it with error trailers (type = the exception's type name).
using StreamingHandler = std::function<void(const Invocation&, ResponseStream&)>;

/// SnapStart hooks, run when AWS_LAMBDA_INITIALIZATION_TYPE=snap-start: every
/// before_snapshot hook (in order) before the snapshot, then, after restore,
/// every after_restore hook (in order). An exception in a before_snapshot hook
/// is posted to /runtime/init/error, in an after_restore hook to
/// /runtime/restore/error; run() then returns non-zero.
struct TMPDUMP_API Options {
  std::vector<std::function<void()>> before_snapshot;
  std::vector<std::function<void()>> after_restore;
};

/// Runs the Runtime API loop ($AWS_LAMBDA_RUNTIME_API, one kept-alive
/// connection) until the Runtime API fails; returns the exit code for main()
/// (never 0: Lambda ends a healthy runtime by killing it).
/// A handler's exception is reported as the invocation's error (errorType =
/// the exception's type, errorMessage = what()) and the loop goes on.
[[nodiscard]] TMPDUMP_API int run(const Handler& handler, const Options& options = {});
/// The same for a streaming handler.
[[nodiscard]] TMPDUMP_API int run_streaming(const StreamingHandler& handler, const Options& options = {});

/// Posts /runtime/init/error (errorType, errorMessage) for a failure before the
/// first invocation. Returns false when the Runtime API could not be told
/// (unset AWS_LAMBDA_RUNTIME_API, connection refused). Exit non-zero afterwards.
TMPDUMP_API bool report_init_error(std::string_view error_type, std::string_view error_message);

}  // namespace tmpdump::runtime
