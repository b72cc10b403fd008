// A Lambda Runtime API on 127.0.0.1 that misbehaves on request: /next answers
// with 500, 404 or 429, malformed heads, lying lengths, or a connection closed
// before or in the middle of the response; the whole server can stop and come
// back on the same port. Posted responses and errors are recorded. Header-only
// so it needs no change to the test support library.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "runtime/http.hpp"
#include "support/process.hpp"

namespace tmpdump::testing {

/// What one GET /next gets.
enum class NextFault {
  None,             ///< a well-formed invocation
  Status500,        ///< HTTP 500 with a JSON error body
  Status429,        ///< HTTP 429 Too Many Requests
  Status404,        ///< HTTP 404 (a client at the wrong endpoint)
  MalformedHead,    ///< a header line without a colon
  BadLength,        ///< Content-Length: twelve
  CloseBeforeHead,  ///< the connection closes without a byte
  CloseMidBody,     ///< the head and 10 of 100 body bytes, then close
  NoRequestId,      ///< 200 without Lambda-Runtime-Aws-Request-Id
};

/// Human-readable name of a /next fault, for tables.
inline const char* next_fault_name(NextFault f) {
  switch (f) {
    case NextFault::None:
      return "none";
    case NextFault::Status500:
      return "HTTP 500";
    case NextFault::Status429:
      return "HTTP 429";
    case NextFault::Status404:
      return "HTTP 404";
    case NextFault::MalformedHead:
      return "a header line without a colon";
    case NextFault::BadLength:
      return "Content-Length: twelve";
    case NextFault::CloseBeforeHead:
      return "connection closed before the response";
    case NextFault::CloseMidBody:
      return "connection closed after 10 of 100 body bytes";
    case NextFault::NoRequestId:
      return "200 without Lambda-Runtime-Aws-Request-Id";
  }
  return "?";
}

/// One request the runtime posted (response, error, init error).
struct RuntimePost {
  std::string path;        ///< e.g. /2018-06-01/runtime/invocation/r1/response
  std::string error_type;  ///< Lambda-Runtime-Function-Error-Type, "" when absent
  std::string body;
};

class FlakyRuntimeApi {
 public:
  /// Listens on 127.0.0.1:`port` (0: any free port).
  explicit FlakyRuntimeApi(int port = 0) { start(port); }
  ~FlakyRuntimeApi() { stop(); }
  FlakyRuntimeApi(const FlakyRuntimeApi&) = delete;
  FlakyRuntimeApi& operator=(const FlakyRuntimeApi&) = delete;

  [[nodiscard]] int port() const { return port_; }
  /// The value for AWS_LAMBDA_RUNTIME_API.
  [[nodiscard]] std::string endpoint() const { return "127.0.0.1:" + std::to_string(port_); }

  /// Queues what the next GET /next requests get, in order. With nothing
  /// queued, /next blocks (as Lambda's does between invocations).
  void push(NextFault fault, std::string request_id = "", std::string payload = "{}") {
    {
      std::lock_guard lock(mu_);
      script_.push_back({fault, std::move(request_id), std::move(payload)});
    }
    cv_.notify_all();
  }

  /// Waits until `count` posts have arrived; false on timeout.
  bool wait_for_posts(std::size_t count, std::chrono::milliseconds timeout) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return posts_.size() >= count; });
  }
  [[nodiscard]] std::vector<RuntimePost> posts() {
    std::lock_guard lock(mu_);
    return posts_;
  }
  /// How many GET /next requests arrived (retries included).
  [[nodiscard]] int next_requests() const { return next_requests_; }

  /// Closes the listening socket and every connection, as a crashed API would.
  void stop() {
    {
      // Under the lock: a connection thread between testing `stopping_` and
      // blocking in answer_next() would otherwise miss this wake-up and
      // never end (the hang once seen under ASan).
      std::lock_guard lock(mu_);
      stopping_ = true;
    }
    cv_.notify_all();
    if (acceptor_.joinable()) acceptor_.join();
    if (listen_fd_ >= 0) ::close(listen_fd_);
    listen_fd_ = -1;
    {
      std::lock_guard lock(mu_);
      for (int fd : open_fds_) ::shutdown(fd, SHUT_RDWR);
    }
    for (auto& t : connections_) t.join();
    connections_.clear();
  }

  /// Listens again on the same port (the queued script is kept).
  void restart() {
    stop();
    start(port_);
  }

 private:
  struct Step {
    NextFault fault;
    std::string request_id, payload;
  };

  void start(int port) {
    stopping_ = false;
    listen_fd_ = listen_loopback(port, 16, "FlakyRuntimeApi");
    port_ = bound_port(listen_fd_);
    acceptor_ = std::thread([this] { accept_loop(); });
  }

  void accept_loop() {
    while (!stopping_) {
      pollfd p{listen_fd_, POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0) continue;
      int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0) continue;
      std::lock_guard lock(mu_);
      open_fds_.push_back(fd);
      connections_.emplace_back([this, fd] { serve(fd); });
    }
  }

  void forget(int fd) {
    std::lock_guard lock(mu_);
    std::erase(open_fds_, fd);
  }

  void serve(int fd) {
    runtime::http::Socket socket(fd);
    for (;;) {
      auto text = socket.read_head(64 << 10);
      auto head = text ? runtime::http::parse_request_head(*text) : std::nullopt;
      auto framing = head ? runtime::http::body_framing(head->headers, 64 << 20) : std::nullopt;
      std::string body;
      if (!framing || !socket.read_body(*framing, 64 << 20, [&body](std::string_view p) {
            body.append(p);
            return true;
          })) {
        break;
      }
      if (head->method == "GET" && head->target.ends_with("/invocation/next")) {
        ++next_requests_;
        if (!answer_next(socket)) break;
      } else {
        {
          std::lock_guard lock(mu_);
          posts_.push_back({head->target,
                            std::string(head->headers.get("Lambda-Runtime-Function-Error-Type").value_or("")),
                            std::move(body)});
        }
        cv_.notify_all();
        if (!socket.send_all({"HTTP/1.1 202 Accepted\r\nContent-Type: application/json\r\nContent-Length: 16\r\n\r\n"
                              "{\"status\":\"OK\"}\n"})) {
          break;
        }
      }
    }
    forget(fd);
  }

  // Answers one /next; false when the connection must end.
  bool answer_next(runtime::http::Socket& socket) {
    Step step;
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [&] { return stopping_ || !script_.empty(); });
      if (stopping_) return false;
      step = std::move(script_.front());
      script_.pop_front();
    }
    auto plain = [&](std::string_view status, std::string_view body) {
      return socket.send_all({"HTTP/1.1 ", status, "\r\nContent-Type: application/json\r\nContent-Length: ",
                              std::to_string(body.size()), "\r\n\r\n", body});
    };
    const auto deadline = std::chrono::duration_cast<std::chrono::milliseconds>(
                              (std::chrono::system_clock::now() + std::chrono::minutes(1)).time_since_epoch())
                              .count();
    const std::string id_header = "Lambda-Runtime-Aws-Request-Id: " + step.request_id + "\r\n";
    const std::string common =
        "Lambda-Runtime-Deadline-Ms: " + std::to_string(deadline) +
        "\r\nLambda-Runtime-Invoked-Function-Arn: arn:aws:lambda:us-east-1:123456789012:function:fn"
        "\r\nLambda-Runtime-Trace-Id: Root=1-00000000-000000000000000000000000\r\n";
    switch (step.fault) {
      case NextFault::None:
        return socket.send_all({"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n", id_header, common,
                                "Content-Length: " + std::to_string(step.payload.size()) + "\r\n\r\n", step.payload});
      case NextFault::Status500:
        return plain("500 Internal Server Error", R"({"errorMessage":"injected","errorType":"Test.Injected"})");
      case NextFault::Status429:
        return plain("429 Too Many Requests", R"({"message":"slow down"})");
      case NextFault::Status404:
        return plain("404 Not Found", R"({"message":"no such route"})");
      case NextFault::MalformedHead:
        (void)socket.send_all({"HTTP/1.1 200 OK\r\nLambda-Runtime-Aws-Request-Id r1\r\nContent-Length: 2\r\n\r\n{}"});
        return false;
      case NextFault::BadLength:
        (void)socket.send_all({"HTTP/1.1 200 OK\r\n", id_header, "Content-Length: twelve\r\n\r\n{}"});
        return false;
      case NextFault::CloseBeforeHead:
        return false;
      case NextFault::CloseMidBody:
        (void)socket.send_all({"HTTP/1.1 200 OK\r\n", id_header, common, "Content-Length: 100\r\n\r\n{\"half\":1,"});
        return false;
      case NextFault::NoRequestId:
        return socket.send_all({"HTTP/1.1 200 OK\r\n", common, "Content-Length: 2\r\n\r\n{}"});
    }
    return false;
  }

  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stopping_{false};
  std::atomic<int> next_requests_{0};
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Step> script_;
  std::vector<RuntimePost> posts_;
  std::vector<int> open_fds_;
  std::thread acceptor_;
  std::vector<std::thread> connections_;
};

}  // namespace tmpdump::testing
