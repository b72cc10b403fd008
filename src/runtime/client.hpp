// The Runtime API's endpoints over one kept-alive connection.
#pragma once

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

/// {"errorMessage": ..., "errorType": ..., "stackTrace": []}
[[nodiscard]] std::string error_json(std::string_view error_type, std::string_view error_message);

/// A streamed response being sent (chunked, with error trailers).
class ChunkedPost;

/// Talks to $AWS_LAMBDA_RUNTIME_API ("host:port"). Reconnects once when the
/// kept-alive connection turns out closed before a request is sent.
class Client {
 public:
  /// nullopt when `endpoint` is not "host:port".
  [[nodiscard]] static std::optional<Client> create(std::string_view endpoint);

  /// GET /runtime/invocation/next. nullopt on failure (message in `why`).
  [[nodiscard]] std::optional<Invocation> next(std::string* why);
  /// POST /runtime/invocation/{id}/response (buffered). Returns the HTTP status (0: no answer).
  int respond(const std::string& request_id, std::string_view payload, std::string_view content_type);
  /// POST /runtime/invocation/{id}/error.
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
  Client(std::string host, std::string port) : host_(std::move(host)), port_(std::move(port)) {}
  bool ensure_connected();
  // Sends a request with a Content-Length body and reads the status; the
  // response body goes to `body` when given.
  int exchange(std::string_view method, std::string_view path, std::string_view extra_headers,
               std::string_view body, http::Headers* headers = nullptr, std::string* response_body = nullptr);
  int read_status(http::Headers* headers, std::string* response_body);

  std::string host_, port_, host_header_;
  http::Socket socket_;
};

}  // namespace tmpdump::runtime
