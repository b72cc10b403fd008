// What `tmpdump pull SOURCE` accepts. Parsing needs no network code, so the
// bootstrap's configuration links this without the S3 client and libcurl.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "util/error.hpp"

namespace tmpdump::pull {

enum class SourceKind { S3, Url, File };

/// One archive to pull, as written by the user or in TMPDUMP_SOURCES.
struct SourceSpec {
  SourceKind kind = SourceKind::File;
  std::string location;  ///< "s3://b/k", the URL, or the file path (no "#sha256=" suffix)
  std::optional<std::string> sha256;  ///< expected digest, lower-case hex
};

/// Parses "s3://bucket/key", "https://..." / "http://..." (e.g. presigned), or a
/// local path, each with an optional "#sha256=<64 hex>" suffix.
[[nodiscard]] Result<SourceSpec> parse_source(std::string_view text);

/// The spec as any output may show it: display_source() of its location
/// (util/display.hpp), so never a URL's query string or userinfo.
[[nodiscard]] std::string display_name(const SourceSpec& spec);

}  // namespace tmpdump::pull
