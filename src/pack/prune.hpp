// `tmpdump prune`: removes entries (by default JavaCPP's native libraries and
// build leftovers) from a jar or zip, copying the kept entries' stored bytes
// as they are, and replaces the file atomically.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "util/error.hpp"

namespace tmpdump::pack {

/// The patterns used when none are given: JavaCPP's native libraries, static
/// libraries, headers and build XML under org/bytedeco/.
[[nodiscard]] std::vector<std::string> default_prune_patterns();

struct PruneOptions {
  /// Globs (glob_match_anywhere) of entry names to remove; a directory entry's
  /// name has no trailing '/'.
  std::vector<std::string> patterns = default_prune_patterns();
  bool dry_run = false;  ///< report what would go, change nothing
};

struct PruneReport {
  std::vector<std::string> removed;                 ///< entry names, in archive order
  std::uint64_t kept = 0;                           ///< entries kept
  std::uint64_t bytes_before = 0, bytes_after = 0;  ///< archive sizes
  std::uint64_t unpacked_removed = 0;               ///< uncompressed bytes of the removed entries
};

/// Removes the matching entries from `archive`. Kept entries keep their order,
/// compressed bytes, method, CRC, sizes, times, "version made by" and external
/// attributes. The new archive is written beside the old one, synced and
/// renamed over it (the old file's permission bits kept); when nothing
/// matches the file is not touched. Errors: those of reading a zip (Corrupt,
/// Unsafe, Unsupported naming the entry), NotFound, Io naming the file.
[[nodiscard]] Result<PruneReport> prune(const std::filesystem::path& archive, const PruneOptions& options);

}  // namespace tmpdump::pack
