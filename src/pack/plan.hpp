// What `tmpdump pack` is asked to do (PackOptions) and what it works out
// from that: the archive's entries, each with where its bytes come from
// (Plan). Planning is separate from writing (pack/write.hpp) so each can be
// tested alone.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "archive/zip.hpp"
#include "util/error.hpp"

namespace tmpdump::pack {

/// pack's zstd level. Chosen by bench/cpu (docs/benchmarks.md, "bench/cpu"):
/// on ~275 MB of real libraries at ~75 MB/s and 0.58 of a core (a 1,024 MB
/// function), level 12 pulls in 1.10 s, 1.09x its own download, against 1.23 s
/// (1.38x) for level 19 and 1.22 s for deflate: level 19's archive is 11 %
/// smaller but takes 45 % more CPU to decode, and below one core the pull is
/// CPU-bound. At a full core level 19 is ~9 % faster (the download bounds it):
/// `tmpdump check --memory` says which bounds a given function.
inline constexpr int kDefaultZstdLevel = 12;

/// A directory tree added as is: its contents go under `prefix` in the archive.
struct AddTree {
  std::filesystem::path dir;
  std::string prefix = "lib";
};

struct PackOptions {
  std::optional<std::filesystem::path> trace;
  /// Compute the DT_NEEDED closure of the archive's ELF files and of these
  /// files, adding what is missing (resolved as ld.so would).
  bool closure = false;
  std::vector<std::filesystem::path> closure_roots;
  /// Directories searched for dependencies before the system's, like
  /// LD_LIBRARY_PATH (and for tests).
  std::vector<std::filesystem::path> library_path;
  /// The system search path; empty means /etc/ld.so.conf's directories plus the
  /// default ones (/lib/x86_64-linux-gnu, /usr/lib/x86_64-linux-gnu, /lib64, ...).
  std::vector<std::filesystem::path> system_library_path;
  std::vector<AddTree> add;
  /// Globs (glob_match_anywhere) of archive paths to leave out.
  std::vector<std::string> exclude;
  /// CPU variants: {"x86-64-v3", DIR} puts DIR's tree under lib/glibc-hwcaps/x86-64-v3/.
  std::vector<std::pair<std::string, std::filesystem::path>> variants;
  archive::Method method = archive::Method::Zstd;
  int level = kDefaultZstdLevel;
  bool with_libc = false;
  /// Pack the libraries the trace marks as provided by the runtime too.
  bool include_runtime = false;
  unsigned jobs = 0;  ///< compression threads; 0 = hardware threads
  /// Every entry's time: SOURCE_DATE_EPOCH when set, else 1980-01-01 00:00:00 UTC.
  std::int64_t mtime = 315532800;
  std::string created_by = "tmpdump";
  /// Told about what was left out or skipped ("dropping dangling symlink ...").
  std::function<void(std::string_view)> notice;
};

/// One entry of the archive-to-be.
struct PlannedEntry {
  std::string path;  ///< archive path, no trailing '/'
  archive::EntryType type = archive::EntryType::File;
  std::filesystem::path source;  ///< files: where the bytes come from
  std::string target;            ///< symlinks: relative target
  std::uint32_t mode = 0644;
};

/// A traced library `pack` left out because the runtime brings it.
struct LeftOut {
  std::string path;                ///< the traced real path
  std::string provided_by;         ///< "java", "python", "node"
  std::vector<std::string> names;  ///< the bare names it was loaded by (e.g. its soname)
};

/// What will be packed.
struct Plan {
  std::vector<LeftOut> left_out;              ///< runtime libraries not packed (without include_runtime)
  std::vector<PlannedEntry> entries;          ///< sorted by path, directories included
  std::vector<std::string> added_by_closure;  ///< archive paths the closure added
};

/// Works out what will be packed. Errors: InvalidArgument for two different
/// files (or a file and a symlink) wanting one archive path, naming both;
/// NotFound for a missing input or an unresolvable dependency (naming who needs it).
[[nodiscard]] Result<Plan> plan(const PackOptions& options);

/// The value of SOURCE_DATE_EPOCH as an mtime, or 1980-01-01 when unset.
/// InvalidArgument when set but not a decimal number of seconds.
[[nodiscard]] Result<std::int64_t> reproducible_mtime(const std::optional<std::string>& source_date_epoch);

}  // namespace tmpdump::pack
