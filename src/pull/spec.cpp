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
  std::ranges::transform(out, out.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

/// One location, without pin or alternates.
Result<Alternate> parse_location(std::string_view text) {
  Alternate spec;
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
    return fail(Errc::InvalidArgument, "'{}': unsupported scheme (use s3://bucket/key, https://..., or a file path)",
                text.substr(0, text.find("://") + 3));
  } else {
    spec.kind = SourceKind::File;
  }
  spec.location = std::string(text);
  return spec;
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
  std::vector<std::string_view> parts;
  for (std::size_t start = 0;;) {
    const auto bar = text.find(kAlternateSeparator, start);
    parts.push_back(text.substr(start, bar == std::string_view::npos ? std::string_view::npos : bar - start));
    if (bar == std::string_view::npos) break;
    start = bar + 1;
  }
  for (std::size_t i = 0; i < parts.size(); ++i) {
    const std::string_view part = parts[i];
    if (part.empty() && parts.size() > 1) {
      return fail(Errc::InvalidArgument,
                  "alternate {} of {} is empty ('|' separates places that hold the same "
                  "archive: s3://a/k.zip|https://mirror/k.zip#sha256=HEX)",
                  i + 1, parts.size());
    }
    if (part.find(kShaSuffix) != std::string_view::npos) {
      return fail(Errc::InvalidArgument,
                  "'{}': a #sha256= pin goes once, at the end, and applies to every "
                  "alternate",
                  display_source(part.substr(0, part.find(kShaSuffix))));
    }
    auto loc = parse_location(part);
    if (!loc) return std::unexpected(loc.error());
    if (i == 0) {
      spec.kind = loc->kind;
      spec.location = std::move(loc->location);
    } else {
      spec.alternates.push_back(std::move(*loc));
    }
  }
  return spec;
}

std::vector<SourceSpec> candidates(const SourceSpec& spec) {
  std::vector<SourceSpec> out;
  out.push_back({spec.kind, spec.location, spec.sha256, {}});
  for (const auto& a : spec.alternates) out.push_back({a.kind, a.location, spec.sha256, {}});
  return out;
}

std::string display_name(const SourceSpec& spec) {
  return display_source(spec.location);
}

}  // namespace tmpdump::pull
