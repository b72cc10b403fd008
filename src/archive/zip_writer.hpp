// Writing zip archives the way tmpdump reads them: Unix "version made by",
// modes in the external attributes, symlinks as entries holding their target,
// zip64 when needed (or forced), stored/deflate/zstd. Also writes deliberately
// broken archives for tests (see RawEntry).
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "archive/zip.hpp"
#include "util/error.hpp"

namespace tmpdump::archive {

/// How an entry's bytes are compressed.
struct Compression {
  Method method = Method::Deflate;
  int level = 6;  ///< zlib 0-9 for deflate, 1-22 for zstd; ignored for stored
  /// zstd only, > 0: independent frames of this many input bytes each, with a
  /// frame table in the central directory (docs/formats.md).
  std::uint32_t zstd_slice = 0;
  unsigned threads = 1;  ///< compressing zstd frames
};

/// Everything the writer puts into one entry's headers, written as given with
/// no checks: the escape hatch for hostile test archives. make_raw() fills in
/// honest values to start from.
struct RawEntry {
  std::string name;                       ///< raw name bytes (central directory)
  std::optional<std::string> local_name;  ///< local header name when it must differ
  std::string data;                       ///< the bytes after the local header, as stored
  std::uint16_t method = 0;
  std::uint16_t flags = 0;  ///< bit 0: encrypted, bit 3: data descriptor (set by data_descriptor)
  std::uint32_t crc32 = 0;
  std::uint64_t compressed_size = 0;      ///< declared, whatever data holds
  std::uint64_t uncompressed_size = 0;    ///< declared
  std::uint16_t made_by = (3 << 8) | 63;  ///< host 3 = Unix
  std::uint32_t external_attributes = 0;  ///< Unix mode (with file type bits) << 16
  std::int64_t mtime = 1'700'000'000;
  /// The central directory claims this local header offset instead of the real one.
  std::optional<std::uint64_t> cd_local_header_offset;
  /// Sizes and CRC go in a data descriptor after the data (flag bit 3).
  bool data_descriptor = false;
  bool zip64 = false;       ///< zip64 extra fields even when not needed
  bool write_local = true;  ///< false: only a central directory record
  /// Written as a zstd frame table extra field in the central directory; a
  /// data_offset of 0 is replaced by where the data really starts.
  std::optional<ZstdFrames> frames;
};

/// Builds a zip archive entry by entry, into a file or a string. Entries are
/// compressed in memory (tests, `tmpdump pack` of library-sized files).
class ZipWriter {
 public:
  /// Writes into memory; take the archive with bytes() after finish().
  ZipWriter();
  /// Writes to `path` (created or truncated). Errors name the path.
  [[nodiscard]] static Result<ZipWriter> to_file(const std::filesystem::path& path);
  /// Writes to the open file `fd` (duplicated; the caller keeps its own) from
  /// its current offset; errors name `shown`. For a file the caller created
  /// itself, O_EXCL beside its destination.
  [[nodiscard]] static Result<ZipWriter> to_fd(int fd, std::string shown);
  ~ZipWriter();
  ZipWriter(ZipWriter&&) noexcept;
  ZipWriter& operator=(ZipWriter&&) noexcept;

  /// Writes zip64 records and extra fields for every entry, needed or not.
  void force_zip64(bool on = true);

  /// A regular file with permission bits `mode` (file type bits are added).
  [[nodiscard]] Result<void> add_file(std::string_view name, std::string_view bytes, std::uint32_t mode = 0644,
                                      Compression compression = {}, std::int64_t mtime = 1'700'000'000);
  /// A symlink entry (Unix mode 0120777) whose data is `target`, stored.
  [[nodiscard]] Result<void> add_symlink(std::string_view name, std::string_view target,
                                         std::int64_t mtime = 1'700'000'000);
  /// A directory entry; a trailing '/' is added to the name when missing.
  [[nodiscard]] Result<void> add_directory(std::string_view name, std::uint32_t mode = 0755,
                                           std::int64_t mtime = 1'700'000'000);
  /// Writes `entry` exactly as described.
  [[nodiscard]] Result<void> add_raw(const RawEntry& entry);
  /// Like add_raw(), but the entry's stored bytes are the `entry.compressed_size`
  /// bytes of file descriptor `fd` from `offset` on (entry.data is ignored), so
  /// large entries are copied without being held in memory. Errors: Io naming
  /// `fd_name`, Corrupt when the file ends early.
  [[nodiscard]] Result<void> add_raw_from_fd(const RawEntry& entry, int fd, std::uint64_t offset,
                                             std::string_view fd_name);
  /// Writes the central directory and end records; nothing may be added after.
  [[nodiscard]] Result<void> finish();

  /// The archive written so far (memory writers only).
  [[nodiscard]] const std::string& bytes() const;
  /// Offset at which the next entry's local header will be written.
  [[nodiscard]] std::uint64_t offset() const;

  /// Honest headers for `bytes` stored as a file of `mode` (type bits added).
  [[nodiscard]] static Result<RawEntry> make_raw(std::string_view name, std::string_view bytes,
                                                 std::uint32_t mode = 0644, Compression compression = {});
  /// `bytes` compressed with `compression` as zip stores it (raw deflate, one zstd frame).
  [[nodiscard]] static Result<std::string> compress(std::string_view bytes, Compression compression);
  /// CRC-32 as zip computes it.
  [[nodiscard]] static std::uint32_t crc32(std::string_view bytes);

 private:
  Result<void> add_entry(const RawEntry& entry, const std::function<Result<void>()>& write_data);
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace tmpdump::archive
