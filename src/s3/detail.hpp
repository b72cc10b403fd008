// Pieces of the S3 client exposed for unit tests; not part of the module's API.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <string_view>

#include "s3/s3.hpp"

namespace tmpdump::s3::detail {

/// The SigV4 parameters for S3 requests signed with `credentials` in `region`.
[[nodiscard]] http::SigV4 s3_signing(const Credentials& credentials, const std::string& region);

/// Percent-encodes an object key for a URL path as SigV4 requires: A-Za-z0-9
/// and "-._~/" kept, every other byte %XX in upper case.
[[nodiscard]] std::string encode_key(std::string_view key);

/// A checked http(s) endpoint URL without trailing '/'; InvalidArgument naming
/// `origin` (the variable it came from) for any other scheme, a missing host,
/// userinfo, a query or a fragment.
[[nodiscard]] Result<std::string> validate_endpoint(std::string_view url, std::string_view origin);

/// InvalidArgument unless `region` is 1-32 characters of [a-z0-9-].
[[nodiscard]] Result<void> validate_region(std::string_view region, std::string_view origin);

/// The host of an http(s) URL (IPv6 without brackets); nullopt if it has none.
[[nodiscard]] std::optional<std::string> url_host(std::string_view url);

/// Whether the SDKs allow this container credentials URI: https anywhere, or
/// http only to loopback, 169.254.170.2, 169.254.170.23 or fd00:ec2::23.
[[nodiscard]] bool container_uri_allowed(std::string_view url);

/// An INI file as the AWS CLI reads it: section name -> key -> value. Comment
/// lines (# ;), indented sub-properties and lines that are not "key = value"
/// are skipped; keys are lower-cased.
using IniFile = std::map<std::string, std::map<std::string, std::string>, std::less<>>;
[[nodiscard]] IniFile parse_ini(std::string_view text);

/// "bytes FIRST-LAST/TOTAL" (TOTAL may be "*"). nullopt when malformed.
struct ContentRange {
  std::uint64_t first = 0;
  std::uint64_t last = 0;
  std::optional<std::uint64_t> total;
};
[[nodiscard]] std::optional<ContentRange> parse_content_range(std::string_view value);

/// "bytes */TOTAL" of a 416 answer: the object's size.
[[nodiscard]] std::optional<std::uint64_t> parse_unsatisfied_range(std::string_view value);

/// A decimal without sign, spaces or overflow; nullopt otherwise.
[[nodiscard]] std::optional<std::uint64_t> parse_decimal(std::string_view value);

/// The text of the first <tag>...</tag> in an S3 error document (empty if none).
[[nodiscard]] std::string xml_element(std::string_view xml, std::string_view tag);

/// Full-jitter backoff before attempt `attempt` (1 = the first retry):
/// uniform in [0, min(max_delay, base_delay * 2^(attempt-1))].
[[nodiscard]] std::chrono::milliseconds backoff_delay(const RetryPolicy& policy, int attempt, std::mt19937_64& rng);

/// The profile the chain uses: AWS_PROFILE, AWS_DEFAULT_PROFILE, else "default".
/// `named` is true when a variable chose it.
struct ProfileChoice {
  std::string name;
  bool named = false;
};
[[nodiscard]] ProfileChoice chosen_profile(const Env& env);

/// A setting from the shared files for `profile` (credentials file first for
/// credentials keys, config file for the rest); nullopt when absent.
struct SharedFiles {
  std::string credentials_path;
  std::string config_path;
  std::optional<IniFile> credentials;  ///< nullopt when the file cannot be read
  std::optional<IniFile> config;
};
[[nodiscard]] SharedFiles load_shared_files(const Env& env);

/// The keys of `profile` from the config file ("[profile NAME]", or
/// "[default]" for the default profile); nullptr when absent.
[[nodiscard]] const std::map<std::string, std::string>* config_profile(const SharedFiles& files,
                                                                       std::string_view profile);

}  // namespace tmpdump::s3::detail
