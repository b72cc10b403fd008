// Reading one small entry of an archive into memory (the manifest, a
// symlink's target), without extracting anything.
#pragma once

#include <cstdint>
#include <string>

#include "archive/zip.hpp"
#include "util/byte_source.hpp"
#include "util/error.hpp"

namespace tmpdump::archive {

/// Reads, decodes and CRC-checks `entry` of the archive `source`, whose central
/// directory is `directory`. Errors: Corrupt (bad local header, short or
/// failing data, CRC mismatch), Unsafe (data overlapping the next entry),
/// InvalidArgument when the entry is larger than `max_bytes` or a directory.
/// A symlink entry's data is its target.
[[nodiscard]] Result<std::string> read_entry(ByteSource& source, const CentralDirectory& directory, const Entry& entry,
                                             std::uint64_t max_bytes = 16 << 20);

}  // namespace tmpdump::archive
