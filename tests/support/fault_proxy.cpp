#include "support/fault_proxy.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <stdexcept>

#include <fmt/format.h>

#include "support/process.hpp"

namespace tmpdump::testing {

namespace {

bool send_all(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n <= 0) return false;
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

/// Reads until "\r\n\r\n"; returns the head (with it) and leaves extra bytes in `rest`.
bool read_head(int fd, std::string& head, std::string& rest, const std::atomic<bool>& stopping) {
  std::string buf;
  char tmp[16384];
  while (!stopping) {
    if (auto pos = buf.find("\r\n\r\n"); pos != std::string::npos) {
      head = buf.substr(0, pos + 4);
      rest = buf.substr(pos + 4);
      return true;
    }
    if (buf.size() > (64u << 10)) return false;
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 100) <= 0) continue;
    ssize_t n = ::recv(fd, tmp, sizeof tmp, 0);
    if (n <= 0) return false;
    buf.append(tmp, static_cast<std::size_t>(n));
  }
  return false;
}

std::string lower(std::string s) {
  std::ranges::transform(s, s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

/// The value of a header in a request/response head, or "".
std::string header_value(const std::string& head, const std::string& name) {
  const std::string l = lower(head);
  auto pos = l.find("\r\n" + name + ":");
  if (pos == std::string::npos) return "";
  pos += name.size() + 3;
  auto end = head.find("\r\n", pos);
  std::string v = head.substr(pos, end - pos);
  v.erase(0, v.find_first_not_of(' '));
  return v;
}

/// Adds "Connection: close" (one request per connection keeps relaying simple).
std::string with_connection_close(const std::string& head) {
  std::string out;
  std::size_t start = 0;
  while (start < head.size()) {
    auto end = head.find("\r\n", start);
    std::string line = head.substr(start, end - start);
    start = end + 2;
    if (line.empty()) break;
    if (lower(line).starts_with("connection:")) continue;
    out += line + "\r\n";
  }
  return out + "Connection: close\r\n\r\n";
}

std::string canned(int status, const char* reason, const char* code) {
  std::string body = fmt::format(
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{}</Code><Message>{}</Message></Error>", code, reason);
  return fmt::format(
      "HTTP/1.1 {} {}\r\nContent-Type: application/xml\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{}", status,
      reason, body.size(), body);
}

}  // namespace

const char* fault_name(Fault f) {
  switch (f) {
    case Fault::None:
      return "none";
    case Fault::Status500:
      return "HTTP 500";
    case Fault::SlowDown503:
      return "HTTP 503 SlowDown";
    case Fault::Throttle429:
      return "HTTP 429";
    case Fault::ResetMidBody:
      return "connection reset mid-body";
    case Fault::Stall:
      return "stall mid-body";
    case Fault::ShortBody:
      return "body shorter than Content-Length";
    case Fault::CorruptByte:
      return "one corrupted byte";
    case Fault::Shrunk416:
      return "HTTP 416: the object shrank, If-Match ignored";
  }
  return "?";
}

FaultProxy::FaultProxy(int upstream_port) : upstream_port_(upstream_port) {
  listen_fd_ = listen_loopback(0, 64, "fault proxy");
  port_ = bound_port(listen_fd_);
  acceptor_ = std::thread([this] { accept_loop(); });
}

FaultProxy::~FaultProxy() {
  stopping_ = true;
  ::shutdown(listen_fd_, SHUT_RDWR);
  acceptor_.join();
  ::close(listen_fd_);
  // Joined without the lock: a connection thread may still need it (take_fault).
  std::vector<std::thread> connections;
  {
    std::lock_guard lk(mu_);
    connections.swap(connections_);
  }
  for (auto& t : connections) t.join();
}

std::string FaultProxy::endpoint() const {
  return fmt::format("http://127.0.0.1:{}", port_);
}

void FaultProxy::inject(Fault fault, int times) {
  std::lock_guard lk(mu_);
  fault_ = fault;
  remaining_ = times;
}

void FaultProxy::inject_every_request(Fault fault) {
  std::lock_guard lk(mu_);
  fault_ = fault;
  remaining_ = -1;
  every_request_ = true;
}

Fault FaultProxy::take_fault(bool ranged_get) {
  std::lock_guard lk(mu_);
  if ((!ranged_get && !every_request_) || remaining_ == 0 || fault_ == Fault::None) return Fault::None;
  if (remaining_ > 0) --remaining_;
  ++injected_;
  return fault_;
}

void FaultProxy::accept_loop() {
  while (!stopping_) {
    pollfd p{listen_fd_, POLLIN, 0};
    if (::poll(&p, 1, 100) <= 0) continue;
    int client = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (client < 0) continue;
    std::lock_guard lk(mu_);
    connections_.emplace_back([this, client] {
      serve(client);
      ::close(client);
    });
  }
}

void FaultProxy::serve(int client) {
  std::string head, rest;
  if (!read_head(client, head, rest, stopping_)) return;
  const bool ranged_get = head.starts_with("GET ") && !header_value(head, "range").empty();
  const Fault fault = take_fault(ranged_get);
  switch (fault) {
    case Fault::Status500:
      send_all(client, canned(500, "Internal Server Error", "InternalError"));
      return;
    case Fault::SlowDown503:
      send_all(client, canned(503, "Slow Down", "SlowDown"));
      return;
    case Fault::Throttle429:
      send_all(client, canned(429, "Too Many Requests", "TooManyRequests"));
      return;
    case Fault::Shrunk416: {
      std::string answer = canned(416, "Requested Range Not Satisfiable", "InvalidRange");
      answer.insert(answer.find("\r\n") + 2, "Content-Range: bytes */100\r\n");
      send_all(client, answer);
      return;
    }
    default:
      break;
  }
  int up = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<std::uint16_t>(upstream_port_));
  if (::connect(up, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(up);
    return;
  }
  // Request bodies (PUTs) are relayed as they are; this proxy only breaks responses.
  const std::string body_len = header_value(head, "content-length");
  std::size_t want = body_len.empty() ? 0 : std::stoul(body_len);
  send_all(up, with_connection_close(head));
  send_all(up, rest);
  want = want > rest.size() ? want - rest.size() : 0;
  char buf[65536];
  while (want > 0) {
    ssize_t n = ::recv(client, buf, std::min(sizeof buf, want), 0);
    if (n <= 0) break;
    send_all(up, std::string_view(buf, static_cast<std::size_t>(n)));
    want -= static_cast<std::size_t>(n);
  }
  std::string rhead, rbody;
  if (!read_head(up, rhead, rbody, stopping_)) {
    ::close(up);
    return;
  }
  // The whole response body (the test archives are small), then the fault.
  const std::string clen = header_value(rhead, "content-length");
  const std::size_t total = clen.empty() ? 0 : std::stoul(clen);
  while (rbody.size() < total && !stopping_) {
    ssize_t n = ::recv(up, buf, sizeof buf, 0);
    if (n <= 0) break;
    rbody.append(buf, static_cast<std::size_t>(n));
  }
  ::close(up);
  send_all(client, rhead);
  const std::size_t half = rbody.size() / 2;
  switch (fault) {
    case Fault::ResetMidBody: {
      send_all(client, std::string_view(rbody).substr(0, half));
      linger l{1, 0};  // close() now sends RST
      ::setsockopt(client, SOL_SOCKET, SO_LINGER, &l, sizeof l);
      return;
    }
    case Fault::Stall:
      send_all(client, std::string_view(rbody).substr(0, half));
      // Silent until the client hangs up or the proxy stops.
      for (;;) {
        pollfd p{client, POLLIN, 0};
        if (stopping_ || (::poll(&p, 1, 100) > 0 && ::recv(client, buf, sizeof buf, 0) <= 0)) return;
      }
    case Fault::ShortBody:
      send_all(client, std::string_view(rbody).substr(0, rbody.size() > 100 ? rbody.size() - 100 : 0));
      return;
    case Fault::CorruptByte:
      if (!rbody.empty()) rbody[half] = static_cast<char>(rbody[half] ^ 0x5a);
      send_all(client, rbody);
      return;
    default:
      send_all(client, rbody);
      return;
  }
}

}  // namespace tmpdump::testing
