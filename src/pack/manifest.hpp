// Reading the archive manifest (.tmpdump/manifest.json, docs/formats.md) that
// `tmpdump pack` writes as an archive's last entry. The archive may come from
// anyone who can write the S3 object, so the reader is a pure function over the
// text that never throws, whatever the JSON holds (fuzz/manifest_fuzz.cpp).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "util/error.hpp"

namespace tmpdump::pack {

/// Where the manifest sits inside a packed archive.
inline constexpr std::string_view kManifestPath = ".tmpdump/manifest.json";

/// What readers use of a manifest. Fields of the wrong type are ignored, as if absent.
struct Manifest {
  std::string created_by;                       ///< "" when absent
  std::string compression;                      ///< "zstd", "deflate", "stored"; "" when absent
  std::optional<int> level;                     ///< the compression level pack used, when an integer 1-22
  std::map<std::string, std::string> symlinks;  ///< path -> target, well-formed entries only
  /// CPU variant name -> archive directory; nullopt when "variants" is not an object.
  std::optional<std::map<std::string, std::string>> variants;
  std::optional<std::string> glibc;           ///< requirements.glibc
  std::optional<std::int64_t> x86_isa_level;  ///< requirements.x86_isa_level when an integer
  nlohmann::json requirements;                ///< "requirements" as written (null when absent)
  /// "left_out": traced libraries not packed because the runtime brings them;
  /// entries with a string path and provided_by only (names: its strings).
  struct LeftOut {
    std::string path, provided_by;
    std::vector<std::string> names;
  };
  std::vector<LeftOut> left_out;
};

/// Parses a manifest's text. Errors: Corrupt when it is not a JSON object,
/// Unsupported when "format" is not 1; messages start with `name`.
[[nodiscard]] Result<Manifest> parse_manifest(std::string_view text, std::string_view name);

}  // namespace tmpdump::pack
