// libFuzzer target: the Runtime API client's HTTP/1.1 parsing (src/runtime/http.cpp).
// The input is a whole response as it arrives on the socket: the head is
// parsed as a response and as a request (the emulator's side), its framing
// decided, the body read from a real socket pair (Content-Length and chunked
// with trailers) and the headers turned into an Invocation as /next would.
#include <sys/socket.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "runtime/client.hpp"
#include "runtime/http.hpp"

namespace http = tmpdump::runtime::http;

namespace {

constexpr std::size_t kMaxHead = 64 << 10;
constexpr std::size_t kMaxBody = 1 << 20;

void over_socket(std::string_view bytes) {
  int fds[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) return;
  // Inputs are capped below the socket buffer, so one blocking send suffices.
  const bool sent = ::send(fds[0], bytes.data(), bytes.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(bytes.size());
  ::close(fds[0]);
  http::Socket socket(fds[1]);
  if (!sent) return;
  for (int message = 0; message < 2; ++message) {  // a kept-alive second response in the same bytes
    auto head_text = socket.read_head(kMaxHead);
    if (!head_text) return;
    auto head = http::parse_response_head(*head_text);
    if (!head) return;
    auto framing = http::body_framing(head->headers, kMaxBody);
    if (!framing) return;
    std::string body;
    http::Headers trailers;
    if (!socket.read_body(
            *framing, kMaxBody,
            [&body](std::string_view piece) {
              body.append(piece);
              return true;
            },
            &trailers)) {
      return;
    }
    std::string why;
    (void)tmpdump::runtime::parse_invocation(head->headers, body, &why);
    if (auto error_body = trailers.get("Lambda-Runtime-Function-Error-Body")) (void)http::base64_decode(*error_body);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  if (auto head = http::parse_response_head(text)) {
    (void)http::body_framing(head->headers, kMaxBody);
    (void)tmpdump::runtime::parse_invocation(head->headers, "{}");
  }
  if (auto head = http::parse_request_head(text)) (void)http::body_framing(head->headers, kMaxBody);
  (void)http::base64_decode(text);
  (void)http::json_quote(text);
  if (size <= (96u << 10)) over_socket(text);
  return 0;
}
