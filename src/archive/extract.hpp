// Streaming, parallel, secure extraction of one or more zip archives into one
// directory tree.
#pragma once

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "archive/zip.hpp"
#include "util/byte_source.hpp"
#include "util/error.hpp"

namespace tmpdump::archive {

/// Which inflate implementation decodes deflate entries (bench/ compares them).
enum class Inflater { Isal, Zlib };

/// One archive to extract: where its bytes come from and its central directory.
struct ArchiveInput {
  ByteSource* source = nullptr;  ///< read by cloning; not used concurrently itself
  const CentralDirectory* directory = nullptr;
  /// When set, the sha256 (lower-case hex) the whole archive must have.
  std::optional<std::string> expected_sha256;
};

/// Counters updated while extracting; safe to read from another thread.
struct Progress {
  std::atomic<std::uint64_t> bytes_read{0};     ///< archive bytes received
  std::atomic<std::uint64_t> bytes_written{0};  ///< decoded bytes written
  std::atomic<std::uint64_t> entries_done{0};
};

struct ExtractOptions {
  unsigned jobs = 0;  ///< parallel readers+decoders; 0 = hardware threads, at least 2
  Inflater inflater = Inflater::Isal;
  Progress* progress = nullptr;            ///< optional
  std::uint64_t chunk_bytes = 8ull << 20;  ///< target size of one ranged read (split at entry boundaries, and at frame
                                           ///< boundaries inside framed zstd entries)
  Limits limits{};
};

struct ExtractStats {
  std::uint64_t files = 0, directories = 0, symlinks = 0;
  std::uint64_t bytes_read = 0;     ///< archive bytes transferred
  std::uint64_t bytes_written = 0;  ///< file bytes written
};

/// Checks the union of several archives' entries before anything is written:
/// the same path in two archives, a file where another archive has a directory,
/// a path that runs through a symlink entry. Errors are Unsafe and name both
/// archives' entries.
[[nodiscard]] Result<void> check_union(std::span<const ArchiveInput> archives);

/// A symlink entry and its target (the entry's data), for check_symlinks().
struct SymlinkTarget {
  std::string name;    ///< the entry's normalised path
  std::string target;  ///< what it points at
  std::string label;   ///< how messages name the entry
};

/// Resolves every target through the other symlinks, the way extract() does
/// before it creates any: Unsafe, naming the entry, when a target is empty,
/// holds a NUL, is absolute, or leaves the root directly or through another
/// symlink.
[[nodiscard]] Result<void> check_symlinks(std::span<const SymlinkTarget> links);

/// Extracts every entry of every archive into `dest`, which must exist and be
/// empty (a fresh staging directory). Entries are fetched as contiguous byte
/// ranges, several at once, and decoded as they arrive; nothing is held whole
/// in memory and the archive is never written to disk. Every entry's CRC-32
/// and size are checked; expected_sha256 is checked over every byte of the
/// archive. Symlinks are created last, only after every target has been
/// resolved (through the other symlinks of all archives) and found inside
/// `dest`. Files are opened O_NOFOLLOW|O_EXCL; modes are applied without
/// setuid/setgid/sticky; directories keep owner rwx. On error `dest` may hold a
/// partial tree: the caller owns removing it.
[[nodiscard]] Result<ExtractStats> extract(std::span<const ArchiveInput> archives, const std::filesystem::path& dest,
                                           const ExtractOptions& options = {});

}  // namespace tmpdump::archive
