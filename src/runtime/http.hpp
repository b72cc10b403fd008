// A small blocking HTTP/1.1 over one socket: the Runtime API client's
// transport and the emulator's server. Only what the Runtime API uses:
// Content-Length and chunked bodies (with trailers), keep-alive.
#pragma once

#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "util/unique_fd.hpp"

namespace tmpdump::runtime::http {

/// Header fields in arrival order; names compared case-insensitively.
struct Headers {
  std::vector<std::pair<std::string, std::string>> fields;
  /// The first value of `name`, or nullopt.
  [[nodiscard]] std::optional<std::string_view> get(std::string_view name) const;
  void add(std::string name, std::string value) { fields.emplace_back(std::move(name), std::move(value)); }
};

/// "HTTP/1.1 200 OK" + headers.
struct ResponseHead {
  int status = 0;
  Headers headers;
};

/// "GET /path HTTP/1.1" + headers.
struct RequestHead {
  std::string method, target;
  Headers headers;
};

/// Parses a response head (everything before the blank line, CRLF-separated).
[[nodiscard]] std::optional<ResponseHead> parse_response_head(std::string_view text);
/// Parses a request head.
[[nodiscard]] std::optional<RequestHead> parse_request_head(std::string_view text);

/// How a message's body is framed.
struct Framing {
  bool chunked = false;
  std::size_t length = 0;  ///< when not chunked
};
/// From Transfer-Encoding / Content-Length; nullopt when malformed or too large.
[[nodiscard]] std::optional<Framing> body_framing(const Headers& headers, std::size_t max_length);

/// The standard base64 alphabet, padded.
[[nodiscard]] std::string base64_encode(std::string_view data);
/// nullopt when `text` is not base64.
[[nodiscard]] std::optional<std::string> base64_decode(std::string_view text);
/// `s` as a JSON string literal, quotes included.
[[nodiscard]] std::string json_quote(std::string_view s);

/// A connected stream socket with a read buffer. Move-only; closes on destruction.
class Socket {
 public:
  Socket() = default;
  explicit Socket(int fd) : fd_(fd) {}

  /// Connects to host:port (TCP, Nagle off). Invalid socket on failure; then
  /// `why`, when given, says what failed ("connection refused", ...).
  [[nodiscard]] static Socket connect_to(const std::string& host, const std::string& port, std::string* why = nullptr);

  [[nodiscard]] bool valid() const noexcept { return fd_.valid(); }
  [[nodiscard]] int fd() const noexcept { return fd_.get(); }
  void close();
  /// True when the peer has closed (or reset) the connection and nothing is buffered.
  [[nodiscard]] bool peer_closed();

  /// Sends all pieces with as few system calls as possible.
  [[nodiscard]] bool send_all(std::initializer_list<std::string_view> pieces);
  /// Reads up to the blank line ending a head; returns the head without it.
  /// `idle` is set when the connection closed before any byte arrived.
  [[nodiscard]] std::optional<std::string> read_head(std::size_t max_bytes, bool* idle = nullptr);
  /// Reads a body framed by `framing`: every piece goes to `sink` (false
  /// aborts); chunked trailers are added to `trailers`.
  [[nodiscard]] bool read_body(const Framing& framing, std::size_t max_bytes,
                               const std::function<bool(std::string_view)>& sink, Headers* trailers = nullptr);

 private:
  bool fill();
  std::optional<std::string> read_line(std::size_t max_bytes);
  UniqueFd fd_;
  std::string buf_;
  std::size_t pos_ = 0;
};

}  // namespace tmpdump::runtime::http
