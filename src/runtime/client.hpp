// The Runtime API's endpoints over one kept-alive connection.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "runtime/http.hpp"
#include "tmpdump/runtime.hpp"

namespace tmpdump::runtime {

/// Lambda refuses buffered responses above this many bytes.
inline constexpr std::size_t kMaxBufferedResponse = 6291556;

/// Builds an Invocation from /next's headers and body. nullopt (with `why`)
/// when the request id is missing or the deadline is not a number.
[[nodiscard]] std::optional<Invocation> parse_invocation(const http::Headers& headers, std::string payload,
                                                         std::string* why = nullptr);

/// Lambda's errorMessage for a response or error body of `bytes` bytes over
/// kMaxBufferedResponse (errorType Function.ResponseSizeTooLarge).
[[nodiscard]] std::string response_too_large_message(std::size_t bytes);

/// {"errorMessage": ..., "errorType": ..., "stackTrace": []}
[[nodiscard]] std::string error_json(std::string_view error_type, std::string_view error_message);

/// How Client::next() rides out a Runtime API that is briefly unreachable
/// (restarting, overloaded): it retries failed connections, broken or malformed
/// responses, HTTP 5xx and 429, waiting `first_delay`, then twice as long each
/// time up to `max_delay`, and gives up once `budget` has passed since the
/// first failure. Any other status (400, 403, 404, ...) ends it at once.
struct RetryPolicy {
  std::chrono::milliseconds first_delay{50};
  std::chrono::milliseconds max_delay{1000};
  std::chrono::milliseconds budget{5000};
};

/// A streamed response being sent (chunked, with error trailers).
class ChunkedPost;

/// Talks to $AWS_LAMBDA_RUNTIME_API ("host:port"). Reconnects once when the
/// kept-alive connection turns out closed before a request is sent.
class Client {
 public:
  /// nullopt when `endpoint` is not "host:port".
  [[nodiscard]] static std::optional<Client> create(std::string_view endpoint, RetryPolicy retry = {});

  /// GET /runtime/invocation/next, retried as RetryPolicy says (each retry is
  /// logged to stderr). nullopt when the API is gone or refuses (message in
  /// `why`, naming the endpoint, the last failure and how long it tried).
  [[nodiscard]] std::optional<Invocation> next(std::string* why);
  /// POST /runtime/invocation/{id}/response (buffered). Returns the HTTP status (0: no answer).
  int respond(const std::string& request_id, std::string_view payload, std::string_view content_type);
  /// POST /runtime/invocation/{id}/error. An error whose body would be over
  /// kMaxBufferedResponse is posted as Function.ResponseSizeTooLarge instead,
  /// as Lambda reports it.
  int fail(const std::string& request_id, std::string_view error_type, std::string_view error_message);
  /// POST /runtime/init/error.
  int init_error(std::string_view error_type, std::string_view error_message);
  /// GET /runtime/restore/next (blocks through snapshot and restore).
  int restore_next();
  /// POST /runtime/restore/error.
  int restore_error(std::string_view error_type, std::string_view error_message);

  /// Streaming: starts the POST (headers only) on first write.
  [[nodiscard]] bool stream_begin(const std::string& request_id, std::string_view content_type);
  [[nodiscard]] bool stream_write(std::string_view data);
  /// Ends the stream, with error trailers when error_type is not empty. Returns the HTTP status.
  int stream_end(std::string_view error_type, std::string_view error_message);

 private:
  Client(std::string host, std::string port, RetryPolicy retry)
      : host_(std::move(host)), port_(std::move(port)), retry_(retry) {}
  bool ensure_connected();
  // Sends a request with a Content-Length body and reads the status; the
  // response body goes to `body` when given. 0 when no valid answer came
  // (the reason is in last_error_).
  int exchange(std::string_view method, std::string_view path, std::string_view extra_headers, std::string_view body,
               http::Headers* headers = nullptr, std::string* response_body = nullptr);
  int read_status(http::Headers* headers, std::string* response_body);

  std::string host_, port_, host_header_;
  RetryPolicy retry_;
  http::Socket socket_;
  std::string last_error_;  ///< why the last exchange() returned 0
};

}  // namespace tmpdump::runtime
