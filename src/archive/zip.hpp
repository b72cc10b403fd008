// Reading zip archives: the central directory (zip64 too) and the rules an
// entry must pass before anything is written. Parsers here are pure functions
// over byte spans so they can be fuzzed (fuzz/zip_fuzz.cpp).
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "util/byte_source.hpp"
#include "util/error.hpp"

namespace tmpdump::archive {

enum class EntryType { File, Directory, Symlink };

/// Compression methods tmpdump reads (APPNOTE 4.4.5).
enum class Method : std::uint16_t { Stored = 0, Deflate = 8, Zstd = 93 };

/// Extra field header ID of tmpdump's zstd frame table (docs/formats.md,
/// "Multi-frame zstd entries"). Other readers skip unknown extra fields.
inline constexpr std::uint16_t kZstdFramesExtraId = 0x7464;  // "dt"
/// At most this many frames per entry: the table must fit one extra field.
inline constexpr std::size_t kMaxZstdFrames = 16000;

/// A zstd entry stored as independent frames, each the compression of one
/// `slice_size` slice of the file (the last one holds the rest), so parts of
/// one entry decode in parallel.
struct ZstdFrames {
  std::uint32_t data_offset = 0;                ///< entry data starts this far after its local header
  std::uint32_t slice_size = 0;                 ///< uncompressed bytes per frame
  std::vector<std::uint32_t> compressed_sizes;  ///< one per frame, in order
};

/// One entry of the central directory, already checked against the rules in
/// read_central_directory(): safe name, known type, sane sizes and offsets.
struct Entry {
  std::string name;  ///< normalised relative path: no "", ".", ".." parts, no trailing '/'
  EntryType type = EntryType::File;
  std::uint32_t mode = 0;  ///< permission bits only (& 0777): setuid/setgid/sticky stripped
  Method method = Method::Stored;
  std::uint32_t crc32 = 0;
  std::uint64_t compressed_size = 0;
  std::uint64_t uncompressed_size = 0;
  std::uint64_t local_header_offset = 0;
  std::int64_t mtime = 0;  ///< seconds since the epoch (extended timestamp if present, else DOS time as UTC)
  std::string raw_name;    ///< the name bytes exactly as stored (the local header must repeat them)
  /// Present when the central directory holds a frame table (checked: zstd
  /// file entry, frame count matching size and slice, sizes summing to
  /// compressed_size).
  std::optional<ZstdFrames> frames;
};

/// The parsed central directory of one archive.
struct CentralDirectory {
  std::vector<Entry> entries;  ///< in local-header-offset order
  std::uint64_t archive_size = 0;
  std::uint64_t cd_offset = 0;  ///< where the central directory starts
  std::uint64_t cd_size = 0;
  std::uint64_t total_uncompressed = 0;
};

/// Limits that keep a hostile central directory from exhausting memory.
struct Limits {
  std::uint64_t max_entries = 1'000'000;
  std::uint64_t max_central_directory_bytes = 64ull << 20;
  std::size_t max_name_bytes = 4096;
  std::size_t max_symlink_target_bytes = 4096;
};

/// Reads the end records and central directory of `source` (one or two ranged
/// reads from the end) and validates every entry. Errors: Corrupt (not a zip,
/// truncated, inconsistent records), Unsafe (hostile names, types, overlapping
/// or out-of-range data), Unsupported (encryption, unknown method, multi-disk).
/// Every Unsafe/Corrupt message names the entry and the reason.
[[nodiscard]] Result<CentralDirectory> read_central_directory(ByteSource& source, const ObjectInfo& info,
                                                              const Limits& limits = {});

/// The pure half of read_central_directory(), exposed for tests and fuzzing:
/// `tail` holds the last tail.size() bytes of an archive of `archive_size`
/// bytes. Returns the directory when the tail contains it; when it does not,
/// returns Corrupt... unless `need_offset` is set: then sets *need_offset to the
/// archive offset from which a longer tail must be read and returns an empty
/// directory with archive_size 0.
[[nodiscard]] Result<CentralDirectory> parse_tail(std::span<const std::byte> tail, std::uint64_t archive_size,
                                                  const Limits& limits, std::uint64_t* need_offset);

/// Normalises an entry name as stored in the archive, or says why it is unsafe:
/// absolute paths, ".." parts, backslashes, NUL and control characters are rejected;
/// empty and "." parts are dropped. A trailing '/' marks a directory and is removed.
[[nodiscard]] Result<std::string> normalise_name(std::string_view raw, std::size_t max_bytes);

}  // namespace tmpdump::archive
