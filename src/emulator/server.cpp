#include "emulator/server.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>

#include "util/io.hpp"

namespace tmpdump::emulator {

namespace http = runtime::http;

std::string_view reason(int status) noexcept {
  switch (status) {
    case 200:
      return "OK";
    case 202:
      return "Accepted";
    case 400:
      return "Bad Request";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 413:
      return "Payload Too Large";
    case 500:
      return "Internal Server Error";
    default:
      return "Status";
  }
}

bool Exchange::expects_continue() const noexcept {
  auto expect = head_.headers.get("Expect");
  if (!expect) return false;
  std::string_view v = *expect;
  while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
  while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.remove_suffix(1);
  constexpr std::string_view token = "100-continue";
  return std::ranges::equal(v, token, [](char a, char b) {
    return std::tolower(static_cast<unsigned char>(a)) == static_cast<unsigned char>(b);
  });
}

bool Exchange::read_body(std::size_t max_bytes, const std::function<bool(std::string_view)>& sink,
                         http::Headers* trailers) {
  body_read_ = true;
  auto framing = http::body_framing(head_.headers, max_bytes);
  if (!framing) {
    close_ = true;
    return false;
  }
  // curl sends `Expect: 100-continue` with a body over 1 KiB and then waits
  // a second for this line before sending the body anyway (RFC 9110 10.1.1).
  if (!continued_ && !responded_ && expects_continue() && (framing->chunked || framing->length > 0)) {
    continued_ = true;
    if (!socket_.send_all({"HTTP/1.1 100 Continue\r\n\r\n"})) {
      close_ = true;
      return false;
    }
  }
  if (!socket_.read_body(*framing, max_bytes, sink, trailers)) {
    close_ = true;
    return false;
  }
  return true;
}

std::optional<std::string> Exchange::read_all(std::size_t max_bytes) {
  std::string body;
  if (!read_body(max_bytes, [&body](std::string_view p) {
        body.append(p);
        return true;
      })) {
    return std::nullopt;
  }
  return body;
}

bool Exchange::respond(int status, std::string_view headers, std::string_view body) {
  responded_ = true;
  // Answered before its body, which its client holds back or sends late.
  if (!body_read_ && expects_continue()) close_ = true;
  char length[24];
  auto [end, ec] = std::to_chars(length, length + sizeof length, body.size());
  (void)ec;
  std::string head = "HTTP/1.1 " + std::to_string(status) + " " + std::string(reason(status)) + "\r\n";
  head.append(headers).append("Content-Length: ").append(length, end).append("\r\n");
  if (close_) head.append("Connection: close\r\n");
  head.append("\r\n");
  return socket_.send_all({head, body});
}

bool Exchange::begin_chunked(int status, std::string_view headers) {
  responded_ = true;
  std::string head = "HTTP/1.1 " + std::to_string(status) + " " + std::string(reason(status)) + "\r\n";
  head.append(headers).append("Transfer-Encoding: chunked\r\n\r\n");
  return socket_.send_all({head});
}

bool Exchange::write_chunk(std::string_view data) {
  if (data.empty()) return true;
  char size[24];
  auto [end, ec] = std::to_chars(size, size + sizeof size - 2, data.size(), 16);
  (void)ec;
  *end++ = '\r';
  *end++ = '\n';
  return socket_.send_all({std::string_view(size, static_cast<std::size_t>(end - size)), data, "\r\n"});
}

bool Exchange::end_chunked() {
  return socket_.send_all({"0\r\n\r\n"});
}

Server::~Server() {
  stop();
}

Result<int> Server::listen(const std::string& host, int port) {
  listen_fd_.reset(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!listen_fd_) return std::unexpected(sys_error(errno, "socket"));
  int one = 1;
  ::setsockopt(listen_fd_.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  if (::inet_pton(AF_INET, host.c_str(), &addr.sin_addr) != 1) {
    return fail(Errc::InvalidArgument, "not an IPv4 address: {}", host);
  }
  if (::bind(listen_fd_.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    return std::unexpected(sys_error(errno, "binding " + host + ":" + std::to_string(port)));
  }
  if (::listen(listen_fd_.get(), 64) != 0) return std::unexpected(sys_error(errno, "listen"));
  socklen_t len = sizeof addr;
  ::getsockname(listen_fd_.get(), reinterpret_cast<sockaddr*>(&addr), &len);
  acceptor_ = std::thread([this] { accept_loop(); });
  return static_cast<int>(ntohs(addr.sin_port));
}

void Server::accept_loop() {
  while (!stopping_) {
    const int fd = retry_eintr([this] { return ::accept4(listen_fd_.get(), nullptr, nullptr, SOCK_CLOEXEC); });
    if (fd < 0) {
      if (errno == ECONNABORTED) continue;
      return;
    }
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    std::lock_guard lock(mutex_);
    if (stopping_) {
      ::close(fd);
      return;
    }
    connections_.insert(fd);
    ++active_;
    std::thread([this, fd] { serve(fd); }).detach();
  }
}

void Server::serve(int fd) {
  {
    http::Socket socket(fd);
    for (;;) {
      auto text = socket.read_head(64 << 10);
      if (!text) break;
      auto head = http::parse_request_head(*text);
      if (!head) {
        Exchange bad(socket, {});
        bad.close_after();
        bad.respond(400, "Content-Type: text/plain\r\n", "malformed request\n");
        break;
      }
      Exchange ex(socket, std::move(*head));
      handler_(ex);
      if (!ex.responded()) ex.respond(500, "", "");
      if (ex.closing() || stopping_) break;
      if (!ex.body_read()) {
        // A client waiting for 100 Continue sends the body only after a
        // delay, if at all: the connection cannot be reused.
        if (ex.expects_continue()) break;
        // An unread body would be taken for the next request.
        if (!ex.read_body(64 << 20, [](std::string_view) { return true; })) break;
      }
    }
    // Closed under the lock, so stop() never shuts down a reused fd number.
    std::lock_guard lock(mutex_);
    connections_.erase(fd);
    socket.close();
  }
  std::lock_guard lock(mutex_);
  --active_;
  idle_.notify_all();
}

void Server::stop() {
  if (stopping_.exchange(true)) return;
  if (listen_fd_) ::shutdown(listen_fd_.get(), SHUT_RDWR);
  if (acceptor_.joinable()) acceptor_.join();
  listen_fd_.reset();
  std::unique_lock lock(mutex_);
  for (int fd : connections_) ::shutdown(fd, SHUT_RDWR);
  idle_.wait(lock, [this] { return active_ == 0; });
}

}  // namespace tmpdump::emulator
