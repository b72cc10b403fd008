#include "pull/source.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>

#include "http/transport.hpp"
#include "s3/s3.hpp"
#include "util/file_source.hpp"
#include "util/sha256.hpp"

namespace tmpdump::pull {

namespace {

constexpr std::string_view kShaSuffix = "#sha256=";

std::string lower(std::string_view s) {
  std::string out(s);
  std::ranges::transform(out, out.begin(),
                         [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

/// Reads an integer setting from the environment, refusing anything outside [lo, hi].
Result<long> env_number(const Env& env, std::string_view name, long fallback, long lo, long hi) {
  auto text = env(name);
  if (!text || text->empty()) return fallback;
  long value = 0;
  const char* end = text->data() + text->size();
  auto [ptr, ec] = std::from_chars(text->data(), end, value);
  if (ec != std::errc() || ptr != end || value < lo || value > hi) {
    return fail(Errc::InvalidArgument, "{} must be a whole number from {} to {}", name, lo, hi);
  }
  return value;
}

struct NetworkSettings {
  http::TransportOptions transport;
  s3::RetryPolicy retry;
};

/// TMPDUMP_STALL_SECONDS and TMPDUMP_MAX_ATTEMPTS: Lambda's init phase has
/// 10 s, so a function may want to give up on a stalled S3 sooner.
Result<NetworkSettings> network_settings(const Env& env) {
  NetworkSettings n;
  auto stall = env_number(env, "TMPDUMP_STALL_SECONDS", 10, 1, 600);
  if (!stall) return std::unexpected(stall.error());
  auto attempts = env_number(env, "TMPDUMP_MAX_ATTEMPTS", 6, 1, 20);
  if (!attempts) return std::unexpected(attempts.error());
  n.transport.low_speed_time = std::chrono::seconds(*stall);
  n.retry.max_attempts = static_cast<int>(*attempts);
  return n;
}

}  // namespace

Result<SourceSpec> parse_source(std::string_view text) {
  SourceSpec spec;
  if (auto pos = text.rfind(kShaSuffix); pos != std::string_view::npos) {
    std::string_view digest = text.substr(pos + kShaSuffix.size());
    if (!is_sha256_hex(digest)) {
      return fail(Errc::InvalidArgument,
                  "'{}': the #sha256= suffix must be 64 hex digits", text.substr(0, pos));
    }
    spec.sha256 = lower(digest);
    text = text.substr(0, pos);
  }
  if (text.empty()) return fail(Errc::InvalidArgument, "empty source");
  if (text.find('\0') != std::string_view::npos) {
    return fail(Errc::InvalidArgument, "source contains a NUL byte");
  }
  const std::string scheme = lower(text.substr(0, std::min<std::size_t>(text.size(), 8)));
  if (scheme.starts_with("s3://")) {
    auto loc = s3::parse_s3_uri(text);
    if (!loc) return std::unexpected(loc.error());
    spec.kind = SourceKind::S3;
  } else if (scheme.starts_with("https://") || scheme.starts_with("http://")) {
    spec.kind = SourceKind::Url;
  } else if (text.find("://") != std::string_view::npos) {
    return fail(Errc::InvalidArgument,
                "'{}': unsupported scheme (use s3://bucket/key, https://..., or a file path)",
                text.substr(0, text.find("://") + 3));
  } else {
    spec.kind = SourceKind::File;
  }
  spec.location = std::string(text);
  return spec;
}

std::string display_name(const SourceSpec& spec) {
  if (spec.kind != SourceKind::Url) return spec.location;
  // A presigned URL's query string is a credential.
  auto q = spec.location.find_first_of("?#");
  return q == std::string::npos ? spec.location : spec.location.substr(0, q) + "?…";
}

Result<std::unique_ptr<ByteSource>> open_source(const SourceSpec& spec, const Env& env) {
  switch (spec.kind) {
    case SourceKind::File:
      return open_file_source(spec.location);
    case SourceKind::Url: {
      auto net = network_settings(env);
      if (!net) return std::unexpected(net.error());
      return s3::make_url_source(spec.location, http::make_curl_transport(net->transport), net->retry);
    }
    case SourceKind::S3: {
      auto location = s3::parse_s3_uri(spec.location);
      if (!location) return std::unexpected(location.error());
      auto net = network_settings(env);
      if (!net) return std::unexpected(net.error());
      auto transport = http::make_curl_transport(net->transport);
      auto config = s3::config_from_env(env, *transport);
      if (!config) return std::unexpected(config.error());
      return s3::make_s3_source(std::move(*location), std::move(*config), std::move(transport), net->retry);
    }
  }
  return fail(Errc::InvalidArgument, "unknown source kind");
}

}  // namespace tmpdump::pull
