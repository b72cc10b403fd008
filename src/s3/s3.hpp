// S3 (and plain HTTPS) objects as ByteSources: credentials chain, endpoint
// resolution, retries with backoff and resume.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "http/transport.hpp"
#include "util/byte_source.hpp"
#include "util/env.hpp"
#include "util/error.hpp"

namespace tmpdump::s3 {

/// "s3://bucket/key" split. The key is kept as written (not URL-encoded).
struct Location {
  std::string bucket;
  std::string key;
};

/// Parses "s3://bucket/key"; InvalidArgument with the reason otherwise.
[[nodiscard]] Result<Location> parse_s3_uri(std::string_view uri);

struct Credentials {
  std::string access_key_id;
  std::string secret_access_key;
  std::string session_token;
  /// Where they came from, for messages: "environment", "container credentials",
  /// "profile 'dev' in /root/.aws/credentials". Never the secret.
  std::string origin;
};

/// The credentials chain, in the AWS SDKs' order: AWS_ACCESS_KEY_ID /
/// AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN; container credentials
/// (AWS_CONTAINER_CREDENTIALS_FULL_URI or _RELATIVE_URI, with
/// AWS_CONTAINER_AUTHORIZATION_TOKEN or _TOKEN_FILE — what Lambda SnapStart
/// gets); shared credentials/config files (AWS_SHARED_CREDENTIALS_FILE,
/// AWS_CONFIG_FILE, AWS_PROFILE, default ~/.aws). nullopt when none is
/// configured (requests then go unsigned). Errors only for a configured source
/// that fails (container endpoint down, profile named but missing).
[[nodiscard]] Result<std::optional<Credentials>> resolve_credentials(const Env& env, http::Transport& transport);

/// Where and how requests go.
struct ClientConfig {
  std::string region = "us-east-1";  ///< AWS_REGION, AWS_DEFAULT_REGION, profile region
  /// AWS_ENDPOINT_URL_S3 or AWS_ENDPOINT_URL: custom endpoint, path-style URLs.
  std::optional<std::string> endpoint_url;
  std::optional<Credentials> credentials;
};

/// Builds the ClientConfig from the environment (and shared config file).
[[nodiscard]] Result<ClientConfig> config_from_env(const Env& env, http::Transport& transport);

/// The object URL: path-style "<endpoint>/<bucket>/<key>" for a custom
/// endpoint or a bucket name with dots, virtual-hosted
/// "https://<bucket>.s3.<region>.amazonaws.com/<key>" otherwise. Key bytes are
/// percent-encoded as SigV4 requires ('/' kept).
[[nodiscard]] std::string object_url(const ClientConfig& config, const Location& location);

/// Retries (tries after a request's first) made by every S3 and URL source of
/// this process so far: the init's Retries metric.
[[nodiscard]] std::uint64_t source_retries() noexcept;

/// Tries per request, the first included (TMPDUMP_MAX_ATTEMPTS). 10 from
/// bench/burst: 100 cold starts at once against a prefix throttled to ~4 s of
/// its capacity failed 13 % of their pulls with 6 tries, none with 10
/// (docs/benchmarks.md, "bench/burst").
inline constexpr int kDefaultMaxAttempts = 10;

struct RetryPolicy {
  int max_attempts = kDefaultMaxAttempts;     ///< per request, first try included
  std::chrono::milliseconds base_delay{100};  ///< full-jitter exponential backoff
  std::chrono::milliseconds max_delay{3000};
  /// Waits between attempts; injectable so tests do not sleep.
  std::function<void(std::chrono::milliseconds)> sleep;
};

/// An S3 object. stat() is one HEAD; read() is ranged GETs with If-Match on the
/// ETag seen first, retried on 5xx, 429, SlowDown and connection errors, and a
/// body broken mid-way resumes from the next byte. Errors: NotFound naming
/// bucket and key; Forbidden naming the credential origin and S3's error code
/// (SignatureDoesNotMatch, InvalidAccessKeyId, AccessDenied); Network after the
/// retry budget, with the last reason.
[[nodiscard]] std::unique_ptr<ByteSource> make_s3_source(Location location, ClientConfig config,
                                                         std::unique_ptr<http::Transport> transport,
                                                         RetryPolicy retry = {});

/// A plain http(s) URL, e.g. a presigned S3 URL: same retries and resume, no
/// signing. describe() drops the query string (it holds the signature).
[[nodiscard]] std::unique_ptr<ByteSource> make_url_source(std::string url, std::unique_ptr<http::Transport> transport,
                                                          RetryPolicy retry = {});

}  // namespace tmpdump::s3
