// What `tmpdump pull SOURCE` accepts. Parsing needs no network code, so the
// bootstrap's configuration links this without the S3 client and libcurl.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "util/error.hpp"

namespace tmpdump::pull {

enum class SourceKind { S3, Url, File };

/// What separates the alternates of one source: "s3://a/k.zip|https://m/k.zip#sha256=...".
/// RFC 3986 does not allow '|' unencoded in a URL (a presigned URL's query is
/// percent-encoded), and it is not one of TMPDUMP_SOURCES' list separators.
inline constexpr char kAlternateSeparator = '|';

/// Another place that holds the same archive (docs/pull.md, "Alternates").
struct Alternate {
  SourceKind kind = SourceKind::File;
  std::string location;
};

/// One archive to pull, as written by the user or in TMPDUMP_SOURCES.
struct SourceSpec {
  SourceKind kind = SourceKind::File;
  std::string location;               ///< "s3://b/k", the URL, or the file path (no "#sha256=" suffix)
  std::optional<std::string> sha256;  ///< expected digest, lower-case hex; pins every alternate too
  std::vector<Alternate> alternates;  ///< tried in order when `location` fails (not found, forbidden, network)
};

/// Parses "s3://bucket/key", "https://..." / "http://..." (e.g. presigned), or a
/// local path, each with an optional "#sha256=<64 hex>" suffix. Alternates
/// holding the same archive follow the first, separated by '|'; the one
/// "#sha256=" suffix at the very end pins them all. InvalidArgument for an
/// empty alternate, a pin anywhere but at the end, or a bad location.
[[nodiscard]] Result<SourceSpec> parse_source(std::string_view text);

/// Every place `spec` may be pulled from, first the primary, each as a spec of
/// its own without alternates and with the shared pin.
[[nodiscard]] std::vector<SourceSpec> candidates(const SourceSpec& spec);

/// The spec as any output may show it: display_source() of its location
/// (util/display.hpp), so never a URL's query string or userinfo.
[[nodiscard]] std::string display_name(const SourceSpec& spec);

}  // namespace tmpdump::pull
