// parse_s3_uri on its own: the bootstrap's configuration parses sources
// without linking the S3 client (and with it libcurl, see src/bootstrap).
#include <algorithm>
#include <cctype>

#include "s3/s3.hpp"

namespace tmpdump::s3 {

Result<Location> parse_s3_uri(std::string_view uri) {
  if (!uri.starts_with("s3://")) {
    return fail(Errc::InvalidArgument, "'{}' is not an s3:// URI (expected s3://bucket/key)", uri);
  }
  auto rest = uri.substr(5);
  auto slash = rest.find('/');
  if (slash == std::string_view::npos || slash + 1 == rest.size()) {
    return fail(Errc::InvalidArgument, "'{}' names no object key (expected s3://bucket/key)", uri);
  }
  auto bucket = rest.substr(0, slash);
  const bool bucket_ok =
      bucket.size() >= 3 && bucket.size() <= 255 && std::all_of(bucket.begin(), bucket.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '-' || c == '.' || c == '_';
      });
  if (!bucket_ok) {
    return fail(Errc::InvalidArgument, "'{}': '{}' is not a valid bucket name", uri, bucket);
  }
  auto key = rest.substr(slash + 1);
  for (char c : key) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) {
      return fail(Errc::InvalidArgument, "'{}': the key contains control characters", uri);
    }
  }
  if (key.size() > 1024) return fail(Errc::InvalidArgument, "the key of '{}' is longer than 1024 bytes", uri);
  return Location{std::string(bucket), std::string(key)};
}

}  // namespace tmpdump::s3
