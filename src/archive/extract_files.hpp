// Internal to extract(): the destination tree on disk (creating files and
// parents, modes and times, the final pass over directories).
#pragma once

#include <sys/stat.h>

#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <string_view>

#include "archive/extract.hpp"
#include "archive/zip.hpp"
#include "util/byte_source.hpp"
#include "util/error.hpp"
#include "util/unique_fd.hpp"

namespace tmpdump::archive::detail {

/// How messages name an entry: `<archive>: entry "<name>"`.
[[nodiscard]] std::string entry_label(const ByteSource& source, const Entry& e);

[[nodiscard]] inline timespec to_timespec(std::int64_t secs) {
  return timespec{static_cast<time_t>(secs), 0};
}

/// The mode an extracted file or directory gets: the archive's permission
/// bits without group/world write (and without set-id and sticky bits, which
/// the central directory parser already drops); directories stay usable by
/// their owner.
[[nodiscard]] inline std::uint32_t installed_mode(std::uint32_t archived, bool directory) {
  return (directory ? (archived | 0700u) : archived) & 0755u;
}

/// Creates every missing parent directory of `name` (mode 0700 until the end).
[[nodiscard]] Result<void> make_parents(int dest_fd, std::string_view name, const std::string& label);

/// Creates `e`'s file under `dest_fd` (O_EXCL, O_NOFOLLOW, mode 0600 until it
/// is complete), creating missing parents first when needed.
[[nodiscard]] Result<UniqueFd> create_file(int dest_fd, const Entry& e, const std::string& label);

/// Gives a finished file its installed mode and the entry's mtime.
[[nodiscard]] Result<void> set_mode_and_time(int fd, const Entry& e, const std::string& label);

/// Opens `dest`, which must be an existing empty directory.
[[nodiscard]] Result<UniqueFd> open_empty_dest(const std::filesystem::path& dest);

/// Final directory modes and times, deepest first so setting a child's time
/// does not disturb its parent's afterwards.
[[nodiscard]] Result<void> finish_directories(int dest_fd, std::span<const ArchiveInput> archives);

}  // namespace tmpdump::archive::detail
