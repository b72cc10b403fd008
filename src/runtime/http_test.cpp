#include "runtime/http.hpp"

#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

namespace tmpdump::runtime::http {
namespace {

TEST(HttpParse, ResponseHeadGivesStatusAndCaseInsensitiveHeaders) {
  auto head = parse_response_head("HTTP/1.1 202 Accepted\r\nContent-Length: 16\r\nX-Thing:  v a \r\n");
  ASSERT_TRUE(head);
  EXPECT_EQ(head->status, 202);
  EXPECT_EQ(head->headers.get("content-length"), "16");
  EXPECT_EQ(head->headers.get("X-THING"), "v a");
  EXPECT_FALSE(head->headers.get("missing"));
}

TEST(HttpParse, RejectsMalformedHeads) {
  EXPECT_FALSE(parse_response_head("HTTP/1.1 2x2 OK\r\n"));
  EXPECT_FALSE(parse_response_head("HTTP/2 200 OK\r\n"));
  EXPECT_FALSE(parse_response_head("HTTP/1.1 200 OK\r\nno colon here\r\n"));
  EXPECT_FALSE(parse_response_head("HTTP/1.1 200 OK\r\nbad name: v\r\n"));
  EXPECT_FALSE(parse_request_head("GET  HTTP/1.1\r\n"));
  EXPECT_FALSE(parse_request_head("GET x HTTP/1.1\r\n"));
  EXPECT_FALSE(parse_request_head(""));
}

TEST(HttpParse, RequestHeadGivesMethodAndTarget) {
  auto head = parse_request_head("POST /2018-06-01/runtime/init/error HTTP/1.1\r\nHost: x\r\n");
  ASSERT_TRUE(head);
  EXPECT_EQ(head->method, "POST");
  EXPECT_EQ(head->target, "/2018-06-01/runtime/init/error");
}

TEST(HttpParse, FramingRefusesOversizeAndGarbageLengths) {
  Headers h;
  h.add("Content-Length", "10");
  EXPECT_EQ(body_framing(h, 100)->length, 10u);
  EXPECT_FALSE(body_framing(h, 9));
  Headers bad;
  bad.add("Content-Length", "1x");
  EXPECT_FALSE(body_framing(bad, 100));
  Headers chunked;
  chunked.add("Transfer-Encoding", "chunked");
  EXPECT_TRUE(body_framing(chunked, 1)->chunked);
  Headers gzip;
  gzip.add("Transfer-Encoding", "gzip");
  EXPECT_FALSE(body_framing(gzip, 100));
}

TEST(HttpParse, Base64RoundTripsAndRejectsGarbage) {
  for (std::string s : {"", "a", "ab", "abc", "abcd", "{\"errorType\":\"X\"}"}) {
    EXPECT_EQ(base64_decode(base64_encode(s)), s);
  }
  EXPECT_EQ(base64_encode("hello"), "aGVsbG8=");
  EXPECT_FALSE(base64_decode("a"));
  EXPECT_FALSE(base64_decode("a=bc"));
  EXPECT_FALSE(base64_decode("ab!c"));
}

TEST(HttpParse, JsonQuoteEscapesControlCharacters) {
  EXPECT_EQ(json_quote("a\"b\\c\n\x01"), "\"a\\\"b\\\\c\\n\\u0001\"");
}

TEST(HttpSocket, ReadsChunkedBodyWithTrailersInPieces) {
  int sv[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
  Socket reader(sv[0]);
  const std::string wire =
      "POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\na;ext=1\r\n0123456789\r\n0\r\n"
      "Lambda-Runtime-Function-Error-Type: Boom\r\n\r\n";
  ASSERT_EQ(::write(sv[1], wire.data(), wire.size()), static_cast<ssize_t>(wire.size()));
  ::close(sv[1]);
  auto head_text = reader.read_head(4096);
  ASSERT_TRUE(head_text);
  auto head = parse_request_head(*head_text);
  ASSERT_TRUE(head);
  auto framing = body_framing(head->headers, 1 << 20);
  ASSERT_TRUE(framing && framing->chunked);
  std::vector<std::string> pieces;
  Headers trailers;
  ASSERT_TRUE(reader.read_body(
      *framing, 1 << 20,
      [&](std::string_view p) {
        pieces.emplace_back(p);
        return true;
      },
      &trailers));
  ASSERT_EQ(pieces.size(), 2u);
  EXPECT_EQ(pieces[0], "abc");
  EXPECT_EQ(pieces[1], "0123456789");
  EXPECT_EQ(trailers.get("lambda-runtime-function-error-type"), "Boom");
}

TEST(HttpSocket, RefusesChunkedBodyOverLimit) {
  int sv[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
  Socket reader(sv[0]);
  const std::string wire = "5\r\nabcde\r\n0\r\n\r\n";
  ASSERT_EQ(::write(sv[1], wire.data(), wire.size()), static_cast<ssize_t>(wire.size()));
  ::close(sv[1]);
  EXPECT_FALSE(reader.read_body(Framing{.chunked = true}, 4, [](std::string_view) { return true; }));
}

}  // namespace
}  // namespace tmpdump::runtime::http

namespace tmpdump::runtime::http {
namespace {

TEST(HttpSocket, ReadsSuccessiveMessagesOnOneConnection) {
  int sv[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
  Socket reader(sv[0]);
  auto send = [&](const std::string& s) {
    ASSERT_EQ(::write(sv[1], s.data(), s.size()), static_cast<ssize_t>(s.size()));
  };
  for (int i = 0; i < 3; ++i) {
    // Each message arrives only after the previous one was consumed: the
    // buffer is empty between them (a regression: the head search once
    // started past the end of the refilled buffer).
    send("HTTP/1.1 202 Accepted\r\nContent-Length: 2\r\n\r\nok");
    auto head = reader.read_head(4096);
    ASSERT_TRUE(head) << i;
    std::string body;
    ASSERT_TRUE(reader.read_body(Framing{.length = 2}, 10, [&](std::string_view p) {
      body.append(p);
      return true;
    }));
    EXPECT_EQ(body, "ok");
  }
  ::close(sv[1]);
}

}  // namespace
}  // namespace tmpdump::runtime::http
