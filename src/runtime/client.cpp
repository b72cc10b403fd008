#include "runtime/client.hpp"

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <cstdio>
#include <thread>

namespace tmpdump::runtime {

namespace {

constexpr std::string_view kPrefix = "/2018-06-01/runtime";
constexpr std::string_view kUserAgent = "User-Agent: tmpdump-runtime/0.1\r\n";
constexpr std::size_t kMaxHead = 64 << 10;
constexpr std::size_t kMaxEvent = 64 << 20;

// A header value must not carry CR/LF (it would end the header early).
std::string header_safe(std::string_view v) {
  std::string out(v.substr(0, 1024));
  for (auto& c : out) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = ' ';
  }
  return out;
}

}  // namespace

std::optional<Invocation> parse_invocation(const http::Headers& headers, std::string payload, std::string* why) {
  Invocation inv;
  auto id = headers.get("Lambda-Runtime-Aws-Request-Id");
  if (!id || id->empty()) {
    if (why != nullptr) *why = "the Runtime API sent an invocation without Lambda-Runtime-Aws-Request-Id";
    return std::nullopt;
  }
  inv.request_id = *id;
  if (auto deadline = headers.get("Lambda-Runtime-Deadline-Ms")) {
    std::int64_t ms = 0;
    auto [p, ec] = std::from_chars(deadline->data(), deadline->data() + deadline->size(), ms);
    // The clock counts finer than milliseconds: a larger value would overflow converting (found by fuzzing).
    constexpr auto kMaxMs =
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::duration::max()).count();
    if (ec != std::errc() || p != deadline->data() + deadline->size() || ms < 0 || ms > kMaxMs) {
      if (why != nullptr)
        *why = "Lambda-Runtime-Deadline-Ms is not a number of milliseconds: " + std::string(*deadline);
      return std::nullopt;
    }
    inv.deadline = std::chrono::system_clock::time_point(std::chrono::milliseconds(ms));
  }
  if (auto v = headers.get("Lambda-Runtime-Invoked-Function-Arn")) inv.function_arn = *v;
  if (auto v = headers.get("Lambda-Runtime-Trace-Id")) inv.trace_id = *v;
  if (auto v = headers.get("Lambda-Runtime-Client-Context")) inv.client_context = *v;
  if (auto v = headers.get("Lambda-Runtime-Cognito-Identity")) inv.cognito_identity = *v;
  inv.payload = std::move(payload);
  return inv;
}

std::string response_too_large_message(std::size_t bytes) {
  return "Response payload size (" + std::to_string(bytes) + " bytes) exceeded maximum allowed payload size (" +
         std::to_string(kMaxBufferedResponse) + " bytes).";
}

std::string error_json(std::string_view error_type, std::string_view error_message) {
  return "{\"errorMessage\":" + http::json_quote(error_message) + ",\"errorType\":" + http::json_quote(error_type) +
         ",\"stackTrace\":[]}";
}

std::optional<Client> Client::create(std::string_view endpoint, RetryPolicy retry) {
  auto colon = endpoint.rfind(':');
  if (colon == std::string_view::npos || colon == 0 || colon + 1 == endpoint.size()) return std::nullopt;
  Client c(std::string(endpoint.substr(0, colon)), std::string(endpoint.substr(colon + 1)), retry);
  c.host_header_ = "Host: " + std::string(endpoint) + "\r\n";
  return c;
}

bool Client::ensure_connected() {
  if (socket_.valid() && !socket_.peer_closed()) return true;
  std::string why;
  socket_ = http::Socket::connect_to(host_, port_, &why);
  if (!socket_.valid()) last_error_ = "cannot connect: " + why;
  return socket_.valid();
}

int Client::read_status(http::Headers* headers, std::string* response_body) {
  auto broken = [this](std::string why) {
    last_error_ = std::move(why);
    socket_.close();
    return 0;
  };
  auto head_text = socket_.read_head(kMaxHead);
  if (!head_text) return broken("the connection closed before a complete response head");
  auto head = http::parse_response_head(*head_text);
  if (!head) return broken("malformed response head: " + header_safe(head_text->substr(0, 80)));
  auto framing = http::body_framing(head->headers, kMaxEvent);
  if (!framing) return broken("malformed or oversized Content-Length / Transfer-Encoding");
  std::string body;
  if (!socket_.read_body(*framing, kMaxEvent, [&body](std::string_view piece) {
        body.append(piece);
        return true;
      })) {
    return broken("the connection broke in the middle of the response body");
  }
  if (auto conn = head->headers.get("Connection"); conn && *conn == "close") socket_.close();
  if (headers != nullptr) *headers = std::move(head->headers);
  if (response_body != nullptr) *response_body = std::move(body);
  return head->status;
}

int Client::exchange(std::string_view method, std::string_view path, std::string_view extra_headers,
                     std::string_view body, http::Headers* headers, std::string* response_body) {
  char length[32];
  auto [end, ec] = std::to_chars(length, length + sizeof length, body.size());
  (void)ec;
  std::string head;
  head.reserve(256 + extra_headers.size());
  head.append(method).append(" ").append(kPrefix).append(path).append(" HTTP/1.1\r\n");
  head.append(host_header_).append(kUserAgent).append(extra_headers);
  if (method != "GET") head.append("Content-Length: ").append(length, end).append("\r\n");
  head.append("\r\n");
  // A kept-alive connection can be closed by the server at any moment between
  // requests; a failed send or a silent close before any answer is retried once.
  for (int attempt = 0; attempt < 2; ++attempt) {
    if (!ensure_connected()) return 0;
    if (!socket_.send_all({head, body})) {
      last_error_ = "the connection broke while sending the request";
      socket_.close();
      continue;
    }
    int status = read_status(headers, response_body);
    if (status != 0 || attempt == 1) return status;
  }
  return 0;
}

std::optional<Invocation> Client::next(std::string* why) {
  using Clock = std::chrono::steady_clock;
  const std::string endpoint = host_ + ":" + port_;
  std::optional<Clock::time_point> first_failure;
  auto delay = retry_.first_delay;
  for (int failures = 1;; ++failures) {
    http::Headers headers;
    std::string body;
    const int status = exchange("GET", "/invocation/next", {}, {}, &headers, &body);
    if (status == 200) return parse_invocation(headers, std::move(body), why);
    std::string failure = status == 0 ? last_error_ : "HTTP " + std::to_string(status) + ": " + header_safe(body);
    // Only what a restarting or overloaded API does is worth waiting out; a 4xx
    // means this client or endpoint is wrong, and no retry changes that.
    const bool transient = status == 0 || status == 429 || status >= 500;
    if (!transient) {
      // NOLINTNEXTLINE(performance-inefficient-string-concatenation): one message on the way out
      if (why != nullptr) *why = "the Runtime API at " + endpoint + " refused /next: " + failure;
      return std::nullopt;
    }
    const auto now = Clock::now();
    if (!first_failure) first_failure = now;
    const auto spent = std::chrono::duration_cast<std::chrono::milliseconds>(now - *first_failure);
    if (spent + delay > retry_.budget) {
      if (why != nullptr) {
        char seconds[32];
        std::snprintf(seconds, sizeof seconds, "%.1f", static_cast<double>(spent.count()) / 1000.0);
        // NOLINTBEGIN(performance-inefficient-string-concatenation): one message on the way out
        *why = "the Runtime API at " + endpoint + " is gone: /next failed " + std::to_string(failures) +
               (failures == 1 ? " time" : " times") + " in " + seconds + " s; last: " + failure;
        // NOLINTEND(performance-inefficient-string-concatenation)
      }
      return std::nullopt;
    }
    std::fprintf(stderr, "tmpdump runtime: /next failed (%s); retrying in %lld ms\n", failure.c_str(),
                 static_cast<long long>(delay.count()));
    std::this_thread::sleep_for(delay);
    delay = std::min(delay * 2, retry_.max_delay);
  }
}

int Client::respond(const std::string& request_id, std::string_view payload, std::string_view content_type) {
  std::string extra = "Content-Type: " + header_safe(content_type) + "\r\n";
  return exchange("POST", "/invocation/" + request_id + "/response", extra, payload);
}

int Client::fail(const std::string& request_id, std::string_view error_type, std::string_view error_message) {
  std::string body = error_json(error_type, error_message);
  if (body.size() > kMaxBufferedResponse) {
    error_type = "Function.ResponseSizeTooLarge";
    body = error_json(error_type, response_too_large_message(body.size()));
  }
  std::string extra =
      "Content-Type: application/json\r\nLambda-Runtime-Function-Error-Type: " + header_safe(error_type) + "\r\n";
  return exchange("POST", "/invocation/" + request_id + "/error", extra, body);
}

int Client::init_error(std::string_view error_type, std::string_view error_message) {
  std::string extra =
      "Content-Type: application/json\r\nLambda-Runtime-Function-Error-Type: " + header_safe(error_type) + "\r\n";
  return exchange("POST", "/init/error", extra, error_json(error_type, error_message));
}

int Client::restore_next() {
  return exchange("GET", "/restore/next", {}, {});
}

int Client::restore_error(std::string_view error_type, std::string_view error_message) {
  std::string extra =
      "Content-Type: application/json\r\nLambda-Runtime-Function-Error-Type: " + header_safe(error_type) + "\r\n";
  return exchange("POST", "/restore/error", extra, error_json(error_type, error_message));
}

bool Client::stream_begin(const std::string& request_id, std::string_view content_type) {
  std::string head = "POST " + std::string(kPrefix) + "/invocation/" + request_id + "/response HTTP/1.1\r\n";
  head.append(host_header_).append(kUserAgent);
  head.append("Content-Type: ").append(header_safe(content_type)).append("\r\n");
  head.append(
      "Lambda-Runtime-Function-Response-Mode: streaming\r\n"
      "Transfer-Encoding: chunked\r\n"
      "Trailer: Lambda-Runtime-Function-Error-Type, Lambda-Runtime-Function-Error-Body\r\n\r\n");
  if (!ensure_connected()) return false;
  if (socket_.send_all({head})) return true;
  // The connection died while idle: one fresh attempt, nothing was sent yet.
  socket_.close();
  return ensure_connected() && socket_.send_all({head});
}

bool Client::stream_write(std::string_view data) {
  if (data.empty()) return socket_.valid();
  char size[24];
  auto [end, ec] = std::to_chars(size, size + sizeof size - 2, data.size(), 16);
  (void)ec;
  *end++ = '\r';
  *end++ = '\n';
  if (!socket_.send_all({std::string_view(size, static_cast<std::size_t>(end - size)), data, "\r\n"})) {
    socket_.close();
    return false;
  }
  return true;
}

int Client::stream_end(std::string_view error_type, std::string_view error_message) {
  std::string tail = "0\r\n";
  if (!error_type.empty()) {
    tail += "Lambda-Runtime-Function-Error-Type: " + header_safe(error_type) + "\r\n";
    tail +=
        "Lambda-Runtime-Function-Error-Body: " + http::base64_encode(error_json(error_type, error_message)) + "\r\n";
  }
  tail += "\r\n";
  if (!socket_.valid() || !socket_.send_all({tail})) {
    socket_.close();
    return 0;
  }
  return read_status(nullptr, nullptr);
}

}  // namespace tmpdump::runtime
