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
  auto attempts = env_number(env, "TMPDUMP_MAX_ATTEMPTS", s3::kDefaultMaxAttempts, 1, 20);
  if (!attempts) return std::unexpected(attempts.error());
  n.transport.low_speed_time = std::chrono::seconds(*stall);
  n.retry.max_attempts = static_cast<int>(*attempts);
  return n;
}

}  // namespace

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

std::optional<std::string> query_digest(const SourceSpec& spec) {
  if (spec.kind != SourceKind::Url) return std::nullopt;
  const auto q = spec.location.find('?');
  if (q == std::string::npos) return std::nullopt;
  return sha256_hex(std::string_view(spec.location).substr(q + 1));
}

}  // namespace tmpdump::pull
