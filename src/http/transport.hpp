// HTTP behind a small interface (ninja's DiskInterface idea): the S3 client and
// the credential providers talk to a Transport, tests swap in a fake one.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "util/error.hpp"

namespace tmpdump::http {

/// AWS Signature Version 4 parameters; the transport signs with libcurl's
/// CURLOPT_AWS_SIGV4. The secret never leaves the transport.
struct SigV4 {
  /// e.g. "us-east-1"
  std::string region;
  std::string service = "s3";
  std::string access_key_id;
  std::string secret_access_key;
  std::string session_token;  ///< sent as x-amz-security-token when not empty
};

struct Response;

/// Sees the status and headers of the final response before the first body
/// byte of a 2xx response reaches the BodyHandler (not called for an empty
/// body). An error aborts the transfer and perform() returns that error.
using HeadersHandler = std::function<Result<void>(const Response&)>;

/// One HTTP request as the caller wants it sent.
struct Request {
  std::string method = "GET";  ///< GET, HEAD, PUT, POST
  std::string url;             ///< fully encoded URL
  std::vector<std::pair<std::string, std::string>> headers;
  /// Byte range to request: [first, first + length). Sends "Range: bytes=first-last".
  std::optional<std::pair<std::uint64_t, std::uint64_t>> range;
  std::optional<SigV4> sigv4;
  std::string body;  ///< request body for PUT/POST
  /// Optional: validates the response head before its body is streamed
  /// (e.g. that Content-Range matches the requested range).
  HeadersHandler on_headers;
  /// Follow up to 5 redirects (http/https only). Ignored for signed requests,
  /// whose signature would not hold for another host.
  bool follow_redirects = false;
};

/// What came back: status and headers; the 2xx body went to the BodyHandler.
struct Response {
  long status = 0;
  /// Header names lower-cased, in arrival order (last response of redirects only).
  std::vector<std::pair<std::string, std::string>> headers;
  /// The body of a response that was not 2xx (capped at 64 KiB): S3 error XML.
  std::string error_body;

  /// The value of the first header named `name` (lower-case), if any.
  [[nodiscard]] std::optional<std::string> header(std::string_view name) const;
};

/// Gets the body of a 2xx response as it arrives. An error aborts the transfer
/// and perform() returns that error.
using BodyHandler = std::function<Result<void>(std::span<const std::byte>)>;

/// Timeouts and trust for every request of one Transport.
struct TransportOptions {
  std::chrono::milliseconds connect_timeout{5000};
  /// A transfer slower than low_speed_bytes per second for this long is aborted.
  std::chrono::seconds low_speed_time{10};
  long low_speed_bytes = 1024;
  /// CA bundle file; empty means find_ca_bundle().
  std::string ca_bundle;
};

/// One HTTP connection's worth of state (keep-alive). Not thread-safe: one per thread.
class Transport {
 public:
  virtual ~Transport() = default;
  /// Performs one request, no retries. Transport failures (refused, reset,
  /// timed out, short body) are Errc::Network with curl's reason; any HTTP
  /// status is a successful Response for the caller to judge.
  [[nodiscard]] virtual Result<Response> perform(const Request& request, const BodyHandler& on_body) = 0;
  /// A new transport with the same options and no shared connection.
  [[nodiscard]] virtual std::unique_ptr<Transport> clone() const = 0;
};

/// The libcurl transport.
[[nodiscard]] std::unique_ptr<Transport> make_curl_transport(const TransportOptions& options = {});

/// The variables that name a CA bundle, in the order they are honoured.
inline constexpr std::array<const char*, 3> kCaBundleVariables = {"SSL_CERT_FILE", "CURL_CA_BUNDLE", "AWS_CA_BUNDLE"};

/// Where CA bundles live. Amazon Linux first: that is where the bootstrap runs;
/// the rest cover the machines where tmpdump is used as a CLI.
inline constexpr std::array<const char*, 6> kCaBundlePaths = {
    "/etc/pki/tls/certs/ca-bundle.crt",                   // Amazon Linux, Fedora, RHEL
    "/etc/ssl/certs/ca-certificates.crt",                 // Debian, Ubuntu, Alpine
    "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem",  // RHEL 7+
    "/etc/ssl/ca-bundle.pem",                             // openSUSE
    "/etc/ssl/cert.pem",                                  // Alpine, macOS
    "/etc/ssl/certs/ca-bundle.crt",                       // older distributions
};

/// The first CA bundle that exists: $SSL_CERT_FILE, $CURL_CA_BUNDLE, $AWS_CA_BUNDLE,
/// then the Amazon Linux path /etc/pki/tls/certs/ca-bundle.crt, the Debian path
/// /etc/ssl/certs/ca-certificates.crt, and the other usual places. Empty when none.
/// `exists` is injectable for tests.
[[nodiscard]] std::string find_ca_bundle(const std::function<std::optional<std::string>(std::string_view)>& getenv,
                                         const std::function<bool(const std::string&)>& exists);

}  // namespace tmpdump::http
