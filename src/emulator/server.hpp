// A small threaded HTTP/1.1 server on one loopback port: the Runtime API and
// the invoke endpoint of `tmpdump emulate`.
//
// Not cpp-httplib: Debian's 0.11.4 answers 400 to a chunked request body that
// ends in trailers (measured), and streamed responses carry their errors in
// trailers (Lambda-Runtime-Function-Error-Type/-Body).
#pragma once

#include <atomic>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <thread>

#include "runtime/http.hpp"
#include "util/error.hpp"
#include "util/unique_fd.hpp"

namespace tmpdump::emulator {

/// One request on a kept-alive connection, and the means to answer it.
class Exchange {
 public:
  Exchange(runtime::http::Socket& socket, runtime::http::RequestHead head) : socket_(socket), head_(std::move(head)) {}

  [[nodiscard]] const runtime::http::RequestHead& head() const noexcept { return head_; }
  /// Streams the request body to `sink`; trailers of a chunked body go to `trailers`.
  /// A client that sent `Expect: 100-continue` is told `100 Continue` first.
  /// False when the body is malformed, larger than `max_bytes`, or the peer left.
  bool read_body(std::size_t max_bytes, const std::function<bool(std::string_view)>& sink,
                 runtime::http::Headers* trailers = nullptr);
  /// Reads the whole body into a string (nullopt as read_body fails).
  std::optional<std::string> read_all(std::size_t max_bytes);

  /// A complete response. `headers` is "Name: value\r\n" lines.
  bool respond(int status, std::string_view headers, std::string_view body);
  /// A chunked response, written as it comes.
  bool begin_chunked(int status, std::string_view headers);
  bool write_chunk(std::string_view data);
  bool end_chunked();

  [[nodiscard]] bool responded() const noexcept { return responded_; }
  [[nodiscard]] bool body_read() const noexcept { return body_read_; }
  /// The client waits for `100 Continue` before it sends the body (`Expect: 100-continue`).
  [[nodiscard]] bool expects_continue() const noexcept;
  /// Closes the connection after this exchange.
  void close_after() noexcept { close_ = true; }
  [[nodiscard]] bool closing() const noexcept { return close_; }

 private:
  runtime::http::Socket& socket_;
  runtime::http::RequestHead head_;
  bool responded_ = false, body_read_ = false, close_ = false, continued_ = false;
};

class Server {
 public:
  using Handler = std::function<void(Exchange&)>;
  explicit Server(Handler handler) : handler_(std::move(handler)) {}
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  /// Binds host:port (0 = any free port) and starts accepting; returns the port.
  [[nodiscard]] Result<int> listen(const std::string& host, int port);
  /// Stops accepting, shuts every connection down and waits for their threads.
  void stop();

 private:
  void accept_loop();
  void serve(int fd);
  Handler handler_;
  UniqueFd listen_fd_;
  std::thread acceptor_;
  std::mutex mutex_;
  std::condition_variable idle_;
  std::set<int> connections_;
  int active_ = 0;
  std::atomic<bool> stopping_{false};
};

/// Reason phrase for the statuses the emulator uses.
std::string_view reason(int status) noexcept;

}  // namespace tmpdump::emulator
