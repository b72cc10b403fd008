// `tmpdump pack`: from a trace file, extra trees and CPU variants to a
// reproducible zip under lib/ with symlink chains and a manifest
// (docs/formats.md). Planning (what goes where) is separate from writing
// (compressing on all cores, in sorted order) so each can be tested alone.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "archive/zip.hpp"
#include "pack/image.hpp"
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

/// One shared object a traced program loaded (docs/formats.md, trace file).
struct TracedLibrary {
  std::string path;                ///< real path, symlinks resolved
  std::vector<std::string> names;  ///< every name it was requested by
  /// "java", "python" or "node" when the traced runtime brings it itself
  /// ("provided_by"); empty for the function's own libraries.
  std::string provided_by;
  /// A Python extension module's path relative to its sys.path directory
  /// ("python_module", e.g. "numpy/core/_multiarray_umath.cpython-311-x86_64-linux-gnu.so"):
  /// packed under python/ at that path instead of lib/.
  std::string python_module;
};

/// A trace file, format 1.
struct Trace {
  std::vector<std::string> command;
  std::vector<TracedLibrary> libraries;
};

/// Parses a trace file's JSON. Errors: InvalidArgument naming `name` and the
/// problem (not JSON, unknown "format", missing or mistyped fields).
[[nodiscard]] Result<Trace> parse_trace(std::string_view json, std::string_view name);
/// Reads and parses a trace file. Errors: NotFound / Io naming the path, then as parse_trace().
[[nodiscard]] Result<Trace> read_trace(const std::filesystem::path& path);


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

struct PackReport {
  std::uint64_t files = 0, symlinks = 0, directories = 0;
  std::uint64_t unpacked_bytes = 0;
  std::uint64_t archive_bytes = 0;
  std::string sha256;  ///< of the whole archive
  std::optional<std::string> glibc;  ///< highest GLIBC_x.y any non-variant file needs
  int x86_isa_level = 0;             ///< highest x86-64 level any non-variant file needs
  std::vector<std::string> added_by_closure;  ///< archive paths the closure added
  std::vector<LeftOut> left_out;              ///< runtime libraries not packed, also in the manifest
  std::chrono::duration<double> elapsed{};
};

/// Plans and writes the archive to `output`, atomically (a temporary file
/// beside it, fsync, rename). The same inputs give the same bytes.
[[nodiscard]] Result<PackReport> pack(const PackOptions& options, const std::filesystem::path& output);

/// The value of SOURCE_DATE_EPOCH as an mtime, or 1980-01-01 when unset.
/// InvalidArgument when set but not a decimal number of seconds.
[[nodiscard]] Result<std::int64_t> reproducible_mtime(const std::optional<std::string>& source_date_epoch);

}  // namespace tmpdump::pack
