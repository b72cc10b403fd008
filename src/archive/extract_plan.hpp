// Internal to extract(): which byte ranges of which archive each worker reads.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include "archive/extract.hpp"
#include "archive/extract_framed.hpp"

namespace tmpdump::archive::detail {

/// One contiguous byte range of one archive, split only at local header
/// offsets, or a part of one framed zstd entry split at frame boundaries.
struct Chunk {
  std::size_t archive = 0;
  std::size_t index = 0;  ///< position among this archive's chunks
  std::uint64_t begin = 0, end = 0;
  std::size_t first = 0, last = 0;  ///< entries [first, last) start inside
  // Parts only: entries[first] is framed; this chunk decodes frames
  // [frame_begin, frame_end), is part `part` of its entry and, unless
  // frame_begin is 0, starts exactly at the first of them.
  std::optional<std::size_t> framed;  ///< index into Shared::framed
  std::uint32_t frame_begin = 0, frame_end = 0;
  std::size_t part = 0;
  std::size_t order = 0;  ///< position among all chunks: archive first, then offset
};

/// Splits every archive into chunks of about `chunk_bytes` (at least one
/// entry each; a framed entry is split into parts of its own, each with a
/// FramedFile appended to `framed`). Chunks come archive by archive, in
/// offset order, and `order` is their position in the result.
[[nodiscard]] std::vector<Chunk> plan_chunks(std::span<const ArchiveInput> archives, std::uint64_t chunk_bytes,
                                             std::vector<std::unique_ptr<FramedFile>>& framed);

}  // namespace tmpdump::archive::detail
