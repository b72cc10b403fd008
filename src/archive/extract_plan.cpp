#include "archive/extract_plan.hpp"

#include <algorithm>

namespace tmpdump::archive::detail {
namespace {

// Splits a framed entry into parts of about chunk_bytes of frames each; the
// first part starts at `begin` (its local header or before), the last one
// runs to `end` (the next local header).
void plan_parts(std::vector<Chunk>& chunks, std::vector<std::unique_ptr<FramedFile>>& framed, std::size_t archive,
                std::size_t& index, std::size_t entry_index, const Entry& e, std::uint64_t begin, std::uint64_t end,
                std::uint64_t chunk_bytes) {
  const auto& sizes = e.frames->compressed_sizes;
  const std::size_t file = framed.size();
  framed.push_back(std::make_unique<FramedFile>());
  std::uint64_t data = e.local_header_offset + e.frames->data_offset;
  std::size_t part = 0;
  for (std::uint32_t f = 0; f < sizes.size();) {
    std::uint32_t f1 = f + 1;
    std::uint64_t bytes = sizes[f];
    while (f1 < sizes.size() && bytes + sizes[f1] <= chunk_bytes) bytes += sizes[f1++];
    data += bytes;
    const std::uint64_t part_end = f1 == sizes.size() ? end : data;
    chunks.push_back(Chunk{archive, index++, begin, part_end, entry_index, entry_index + 1, file, f, f1, part++});
    begin = part_end;
    f = f1;
  }
  framed.back()->parts_left = part;
  framed.back()->crcs.resize(part);
}

void plan_archive(std::vector<Chunk>& chunks, std::vector<std::unique_ptr<FramedFile>>& framed, std::size_t a,
                  const ArchiveInput& archive, std::uint64_t chunk_bytes) {
  const auto& dir = *archive.directory;
  const auto& entries = dir.entries;
  // Without a checksum to verify, the central directory need not be read again.
  const std::uint64_t archive_end = archive.expected_sha256 ? dir.archive_size : dir.cd_offset;
  std::size_t index = 0;
  std::size_t first = 0;
  std::uint64_t begin = 0;
  while (first < entries.size() || begin < archive_end) {
    if (first < entries.size() && entries[first].frames) {
      const std::uint64_t end = first + 1 < entries.size() ? entries[first + 1].local_header_offset : archive_end;
      plan_parts(chunks, framed, a, index, first, entries[first], begin, end, chunk_bytes);
      ++first;
      begin = end;
      if (first >= entries.size()) break;
      continue;
    }
    std::size_t last = first + 1;
    // A framed entry always starts a chunk of its own.
    while (last < entries.size() && !entries[last].frames && entries[last].local_header_offset - begin < chunk_bytes)
      ++last;
    last = std::min(last, entries.size());
    const std::uint64_t end = last < entries.size() ? entries[last].local_header_offset : archive_end;
    chunks.push_back(Chunk{a, index++, begin, end, first, last, std::nullopt, 0, 0, 0});
    first = last;
    begin = end;
    if (last >= entries.size()) break;
  }
}

}  // namespace

std::vector<Chunk> plan_chunks(std::span<const ArchiveInput> archives, std::uint64_t chunk_bytes,
                               std::vector<std::unique_ptr<FramedFile>>& framed) {
  std::vector<Chunk> chunks;
  chunk_bytes = std::max<std::uint64_t>(chunk_bytes, 1);
  for (std::size_t a = 0; a < archives.size(); ++a) plan_archive(chunks, framed, a, archives[a], chunk_bytes);
  for (std::size_t i = 0; i < chunks.size(); ++i) chunks[i].order = i;
  return chunks;
}

}  // namespace tmpdump::archive::detail
