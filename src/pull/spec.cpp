#include "pull/spec.hpp"

#include <algorithm>
#include <cctype>

#include "s3/s3.hpp"
#include "util/display.hpp"
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

}  // namespace

Result<SourceSpec> parse_source(std::string_view text) {
  SourceSpec spec;
  if (auto pos = text.rfind(kShaSuffix); pos != std::string_view::npos) {
    std::string_view digest = text.substr(pos + kShaSuffix.size());
    if (!is_sha256_hex(digest)) {
      return fail(Errc::InvalidArgument, "'{}': the #sha256= suffix must be 64 hex digits",
                  display_source(text.substr(0, pos)));
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
  return display_source(spec.location);
}

}  // namespace tmpdump::pull
