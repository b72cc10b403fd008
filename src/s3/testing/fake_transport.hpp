// A scripted Transport for unit tests (never built into the product): each perform() plays the next step.
#pragma once

#include <deque>
#include <string>
#include <vector>

#include "http/transport.hpp"

namespace tmpdump::s3::testing {

/// One scripted answer: a status, headers and a body, optionally cut off
/// after `break_after` body bytes (a Network error, like a reset connection),
/// or a transport failure with no answer at all.
struct Step {
  long status = 200;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::optional<std::size_t> break_after;
  std::optional<Error> transport_error;
};

/// Plays Steps in order and records every request it got.
class FakeTransport final : public http::Transport {
 public:
  explicit FakeTransport(std::deque<Step> steps = {}) : steps_(std::move(steps)) {}

  Result<http::Response> perform(const http::Request& request, const http::BodyHandler& on_body) override {
    requests.push_back(request);
    if (steps_.empty()) return fail(Errc::Network, "fake transport: no scripted answer left");
    Step step = std::move(steps_.front());
    steps_.pop_front();
    if (step.transport_error) return std::unexpected(*step.transport_error);
    http::Response response;
    response.status = step.status;
    response.headers = step.headers;
    const bool ok = step.status >= 200 && step.status < 300;
    if (!ok) {
      response.error_body = step.body;
      return response;
    }
    std::string_view body = step.body;
    if (step.break_after) body = body.substr(0, *step.break_after);
    if (!body.empty() && request.method != "HEAD") {
      if (request.on_headers) {
        if (auto r = request.on_headers(response); !r) return std::unexpected(r.error());
      }
      // Two chunks, to exercise chunked delivery.
      const std::size_t half = body.size() / 2;
      for (auto part : {body.substr(0, half), body.substr(half)}) {
        if (part.empty() || !on_body) continue;
        auto r = on_body(std::as_bytes(std::span(part.data(), part.size())));
        if (!r) return std::unexpected(r.error());
      }
    }
    if (step.break_after) return fail(Errc::Network, "fake: connection reset after {} bytes", *step.break_after);
    return response;
  }

  std::unique_ptr<http::Transport> clone() const override { return std::make_unique<FakeTransport>(steps_); }

  std::vector<http::Request> requests;

 private:
  std::deque<Step> steps_;
};

/// The value of header `name` (case-sensitive as the code sends it) in a request.
inline std::optional<std::string> request_header(const http::Request& r, std::string_view name) {
  for (const auto& [key, value] : r.headers) {
    if (key == name) return value;
  }
  return std::nullopt;
}

}  // namespace tmpdump::s3::testing
