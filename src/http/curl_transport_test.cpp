// The curl transport against real HTTP servers on 127.0.0.1.
#include <arpa/inet.h>
#include <httplib.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <thread>

#include <gtest/gtest.h>

#include "http/transport.hpp"

namespace tmpdump::http {
namespace {

std::string as_string(std::span<const std::byte> bytes) {
  return {reinterpret_cast<const char*>(bytes.data()), bytes.size()};
}

/// An httplib server on an ephemeral loopback port, stopped on destruction.
class LocalServer {
 public:
  explicit LocalServer(const std::function<void(httplib::Server&)>& routes) {
    routes(server_);
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    while (!server_.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ~LocalServer() {
    server_.stop();
    thread_.join();
  }
  LocalServer(const LocalServer&) = delete;
  LocalServer& operator=(const LocalServer&) = delete;
  std::string url(std::string_view path) const { return fmt::format("http://127.0.0.1:{}{}", port_, path); }

 private:
  httplib::Server server_;
  int port_ = 0;
  std::thread thread_;
};

/// Answers one connection with a fixed raw response, then closes it, or with
/// `hold_open` keeps it open and silent until the client hangs up (10 s at most).
class RawServer {
 public:
  explicit RawServer(std::string response, bool hold_open = false) : response_(std::move(response)) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    ::listen(fd_, 1);
    socklen_t len = sizeof addr;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this, hold_open] {
      int client = ::accept(fd_, nullptr, nullptr);
      if (client < 0) return;
      char buf[4096];
      std::string request;
      while (request.find("\r\n\r\n") == std::string::npos) {
        auto n = ::read(client, buf, sizeof buf);
        if (n <= 0) break;
        request.append(buf, static_cast<std::size_t>(n));
      }
      auto ignored = ::write(client, response_.data(), response_.size());
      (void)ignored;
      for (int i = 0; hold_open && i < 100; ++i) {
        pollfd p{client, POLLIN, 0};
        if (::poll(&p, 1, 100) > 0 && ::read(client, buf, sizeof buf) <= 0) break;
      }
      ::close(client);
    });
  }
  ~RawServer() {
    ::shutdown(fd_, SHUT_RDWR);
    thread_.join();
    ::close(fd_);
  }
  RawServer(const RawServer&) = delete;
  RawServer& operator=(const RawServer&) = delete;
  std::string url() const { return fmt::format("http://127.0.0.1:{}/obj", port_); }

 private:
  std::string response_;
  int fd_ = -1;
  int port_ = 0;
  std::thread thread_;
};

Request request_to(std::string url, std::string method = "GET") {
  Request r;
  r.method = std::move(method);
  r.url = std::move(url);
  return r;
}

SigV4 signing(std::string region, std::string key, std::string secret, std::string token = "") {
  SigV4 s;
  s.region = std::move(region);
  s.access_key_id = std::move(key);
  s.secret_access_key = std::move(secret);
  s.session_token = std::move(token);
  return s;
}

TransportOptions fast_options() {
  TransportOptions o;
  o.connect_timeout = std::chrono::milliseconds(2000);
  o.low_speed_time = std::chrono::seconds(5);
  return o;
}

TEST(CurlTransportTest, StreamsBodyAndLowerCasesHeaders) {
  LocalServer server([](httplib::Server& s) {
    s.Get("/obj", [](const httplib::Request&, httplib::Response& res) {
      res.set_header("ETag", "\"abc\"");
      res.set_content(std::string(100000, 'x'), "application/octet-stream");
    });
  });
  auto t = make_curl_transport(fast_options());
  std::string body;
  auto r = t->perform(request_to(server.url("/obj")), [&](std::span<const std::byte> b) -> Result<void> {
    body += as_string(b);
    return {};
  });
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->header("etag"), "\"abc\"");
  EXPECT_EQ(r->header("content-length"), "100000");
  EXPECT_EQ(body, std::string(100000, 'x'));
}

TEST(CurlTransportTest, SendsRangeAndNoAcceptEncoding) {
  std::string range, encoding = "unset";
  LocalServer server([&](httplib::Server& s) {
    s.Get("/obj", [&](const httplib::Request& req, httplib::Response& res) {
      range = req.get_header_value("Range");
      if (req.has_header("Accept-Encoding")) encoding = req.get_header_value("Accept-Encoding");
      res.set_content("0123456789", "application/octet-stream");
    });
  });
  auto t = make_curl_transport(fast_options());
  std::string body;
  Request req = request_to(server.url("/obj"));
  req.range = {{2, 3}};
  auto r = t->perform(req, [&](std::span<const std::byte> b) -> Result<void> {
    body += as_string(b);
    return {};
  });
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(range, "bytes=2-4");
  EXPECT_EQ(encoding, "unset");
  EXPECT_EQ(r->status, 206);
  EXPECT_EQ(r->header("content-range"), "bytes 2-4/10");
  EXPECT_EQ(body, "234");
}

TEST(CurlTransportTest, CollectsErrorBodyInsteadOfStreamingIt) {
  LocalServer server([](httplib::Server& s) {
    s.Get("/obj", [](const httplib::Request&, httplib::Response& res) {
      res.status = 403;
      res.set_content("<Error><Code>AccessDenied</Code></Error>", "application/xml");
    });
  });
  auto t = make_curl_transport(fast_options());
  bool called = false;
  auto r = t->perform(request_to(server.url("/obj")), [&](std::span<const std::byte>) -> Result<void> {
    called = true;
    return {};
  });
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->status, 403);
  EXPECT_EQ(r->error_body, "<Error><Code>AccessDenied</Code></Error>");
  EXPECT_FALSE(called);
}

TEST(CurlTransportTest, CapsErrorBodyAt64KiB) {
  LocalServer server([](httplib::Server& s) {
    s.Get("/obj", [](const httplib::Request&, httplib::Response& res) {
      res.status = 500;
      res.set_content(std::string(200000, 'e'), "text/plain");
    });
  });
  auto t = make_curl_transport(fast_options());
  auto r = t->perform(request_to(server.url("/obj")), {});
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->status, 500);
  EXPECT_EQ(r->error_body.size(), 64u * 1024u);
}

TEST(CurlTransportTest, HeadReturnsHeadersWithoutBody) {
  std::string method;
  LocalServer server([&](httplib::Server& s) {
    s.Get("/obj", [&](const httplib::Request& req, httplib::Response& res) {
      method = req.method;
      res.set_content(std::string(1234, 'x'), "application/octet-stream");
    });
  });
  auto t = make_curl_transport(fast_options());
  auto r =
      t->perform(request_to(server.url("/obj"), "HEAD"), [](std::span<const std::byte>) -> Result<void> { return {}; });
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(method, "HEAD");
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->header("content-length"), "1234");
}

TEST(CurlTransportTest, HandlerErrorAbortsTransferAndIsReturned) {
  LocalServer server([](httplib::Server& s) {
    s.Get("/obj", [](const httplib::Request&, httplib::Response& res) {
      res.set_content(std::string(4 << 20, 'x'), "application/octet-stream");
    });
  });
  auto t = make_curl_transport(fast_options());
  std::size_t seen = 0;
  auto r = t->perform(request_to(server.url("/obj")), [&](std::span<const std::byte> b) -> Result<void> {
    seen += b.size();
    return fail(Errc::NoSpace, "disk full");
  });
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::NoSpace);
  EXPECT_EQ(r.error().message, "disk full");
  EXPECT_LT(seen, std::size_t{4} << 20);
}

TEST(CurlTransportTest, HeadersHandlerRunsBeforeBodyAndCanAbort) {
  LocalServer server([](httplib::Server& s) {
    s.Get("/obj", [](const httplib::Request&, httplib::Response& res) {
      res.set_header("ETag", "\"v2\"");
      res.set_content("body", "application/octet-stream");
    });
  });
  auto t = make_curl_transport(fast_options());
  Request req = request_to(server.url("/obj"));
  std::optional<std::string> etag;
  req.on_headers = [&](const Response& r) -> Result<void> {
    etag = r.header("etag");
    return fail(Errc::Corrupt, "object changed");
  };
  bool body_called = false;
  auto r = t->perform(req, [&](std::span<const std::byte>) -> Result<void> {
    body_called = true;
    return {};
  });
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::Corrupt);
  EXPECT_EQ(etag, "\"v2\"");
  EXPECT_FALSE(body_called);
}

TEST(CurlTransportTest, BodyShorterThanContentLengthIsNetworkError) {
  RawServer server("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly-a-few-bytes");
  auto t = make_curl_transport(fast_options());
  std::string body;
  auto r = t->perform(request_to(server.url()), [&](std::span<const std::byte> b) -> Result<void> {
    body += as_string(b);
    return {};
  });
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::Network);
  EXPECT_EQ(body, "only-a-few-bytes");
}

TEST(CurlTransportTest, StallAfterABurstIsCaughtWithinTheLimit) {
  // curl's low-speed average alone would take ~5 s more to notice after a burst.
  RawServer server("HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\n" + std::string(200000, 'x'),
                   /*hold_open=*/true);
  TransportOptions o = fast_options();
  o.low_speed_time = std::chrono::seconds(1);
  auto t = make_curl_transport(o);
  const auto t0 = std::chrono::steady_clock::now();
  auto r = t->perform(request_to(server.url()), [](std::span<const std::byte>) -> Result<void> { return {}; });
  const auto took = std::chrono::steady_clock::now() - t0;
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::Network);
  EXPECT_NE(r.error().message.find("no data for 1 s"), std::string::npos) << r.error().message;
  EXPECT_LT(took, std::chrono::milliseconds(2800));
}

TEST(CurlTransportTest, AConsumerThatPausesIsNotAStall) {
  const std::string big(4 << 20, 'y');
  LocalServer server([&](httplib::Server& http) {
    http.Get("/obj", [&](const httplib::Request&, httplib::Response& res) { res.set_content(big, "text/plain"); });
  });
  TransportOptions o = fast_options();
  o.low_speed_time = std::chrono::seconds(1);
  auto t = make_curl_transport(o);
  std::size_t got = 0;
  bool paused = false;
  auto r = t->perform(request_to(server.url("/obj")), [&](std::span<const std::byte> b) -> Result<void> {
    if (!paused) {
      paused = true;
      std::this_thread::sleep_for(std::chrono::milliseconds(1600));
    }
    got += b.size();
    return {};
  });
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(got, big.size());
}

TEST(CurlTransportTest, ConnectionRefusedIsNetworkErrorWithoutQueryString) {
  // Bind and close a socket to get a port nobody listens on.
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  auto t = make_curl_transport(fast_options());
  auto url = fmt::format("http://127.0.0.1:{}/obj?X-Amz-Signature=deadbeefsecret", ntohs(addr.sin_port));
  auto r = t->perform(request_to(url), {});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::Network);
  EXPECT_NE(r.error().message.find("/obj"), std::string::npos) << r.error().message;
  EXPECT_EQ(r.error().message.find("deadbeefsecret"), std::string::npos) << r.error().message;
}

TEST(CurlTransportTest, SignsWithSigV4AndSendsSessionToken) {
  httplib::Headers seen;
  LocalServer server([&](httplib::Server& s) {
    s.Get("/obj", [&](const httplib::Request& req, httplib::Response& res) {
      seen = req.headers;
      res.set_content("ok", "text/plain");
    });
  });
  auto t = make_curl_transport(fast_options());
  Request req = request_to(server.url("/obj"));
  req.sigv4 = signing("eu-west-1", "AKIDEXAMPLE", "SECRETSECRETSECRET", "TOKENTOKENTOKEN");
  auto r = t->perform(req, {});
  ASSERT_TRUE(r) << r.error().message;
  auto get = [&](const char* name) {
    auto it = seen.find(name);
    return it == seen.end() ? std::string() : it->second;
  };
  EXPECT_EQ(get("x-amz-content-sha256"), "UNSIGNED-PAYLOAD");
  EXPECT_EQ(get("x-amz-security-token"), "TOKENTOKENTOKEN");
  auto auth = get("Authorization");
  EXPECT_TRUE(auth.starts_with("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/")) << auth;
  EXPECT_NE(auth.find("/eu-west-1/s3/aws4_request"), std::string::npos) << auth;
  for (const auto& [name, value] : seen) {
    EXPECT_EQ(value.find("SECRETSECRETSECRET"), std::string::npos) << name;
  }
}

TEST(CurlTransportTest, PutSendsBodyAndItsHash) {
  std::string body, hash;
  LocalServer server([&](httplib::Server& s) {
    s.Put("/obj", [&](const httplib::Request& req, httplib::Response& res) {
      body = req.body;
      hash = req.get_header_value("x-amz-content-sha256");
      res.status = 200;
    });
  });
  auto t = make_curl_transport(fast_options());
  Request req = request_to(server.url("/obj"), "PUT");
  req.sigv4 = signing("us-east-1", "AKID", "SECRET");
  req.body = "abc";
  auto r = t->perform(req, {});
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(body, "abc");
  EXPECT_EQ(hash, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(CurlTransportTest, ReusesConnectionBetweenRequests) {
  std::vector<int> ports;
  LocalServer server([&](httplib::Server& s) {
    s.Get("/obj", [&](const httplib::Request& req, httplib::Response& res) {
      ports.push_back(req.remote_port);
      res.set_content("x", "text/plain");
    });
  });
  auto t = make_curl_transport(fast_options());
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(t->perform(request_to(server.url("/obj")), {}));
  ASSERT_EQ(ports.size(), 3u);
  EXPECT_EQ(ports[0], ports[1]);
  EXPECT_EQ(ports[1], ports[2]);
}

TEST(CurlTransportTest, RejectsNonHttpSchemes) {
  auto t = make_curl_transport(fast_options());
  auto r = t->perform(request_to("file:///etc/passwd"), {});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::Network);
}

TEST(CurlTransportTest, RejectsHeaderWithLineBreak) {
  auto t = make_curl_transport(fast_options());
  Request req = request_to("http://127.0.0.1:1/obj");
  req.headers.emplace_back("If-Match", "\"a\"\r\nX-Evil: 1");
  auto r = t->perform(req, {});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::InvalidArgument);
}

}  // namespace
}  // namespace tmpdump::http
