// Worker's states for framed zstd entries: each part decodes its run of
// frames into the entry's file with pwrite(); the last part to finish checks
// the whole entry's CRC-32 and closes the file.
#include <zlib.h>

#include <algorithm>

#include "archive/extract_files.hpp"
#include "archive/extract_worker.hpp"

namespace tmpdump::archive::detail {

std::uint64_t Worker::slice_length(const Entry& e, std::uint32_t frame) const {
  const std::uint64_t slice = e.frames->slice_size;
  return std::min<std::uint64_t>(slice, e.uncompressed_size - std::uint64_t{frame} * slice);
}

// Begins this chunk's frames of a framed entry (pos_ is at the first of them).
Result<void> Worker::start_part(const Entry& e) {
  auto& file = *shared_.framed[*chunk_->framed];
  int fd = -1;
  {
    std::lock_guard lock(file.mutex);
    if (!file.fd.valid()) {
      auto created = create_file(shared_.dest_fd, e, entry_label(*source_, e));
      if (!created) return std::unexpected(std::move(created.error()));
      file.fd = std::move(*created);
    }
    // Only the last part closes it, after every part has written.
    fd = file.fd.get();
  }
  if (!zstd_) zstd_ = make_zstd_decoder();
  frame_ = chunk_->frame_begin;
  part_output_.start(fd, std::uint64_t{frame_} * e.frames->slice_size);
  state_ = State::Frames;
  start_frame();
  return {};
}

void Worker::start_frame() {
  const Entry& e = dir_->entries[chunk_->first];
  remaining_ = e.frames->compressed_sizes[frame_];
  zstd_->reset();
  part_output_.start_frame(slice_length(e, frame_));
}

Result<void> Worker::end_frame() {
  const Entry& e = dir_->entries[chunk_->first];
  const auto label = entry_label(*source_, e);
  auto ended = zstd_->finish(part_output_);
  if (!ended) return std::unexpected(labelled(ended.error()));
  if (!*ended) return fail(Errc::Corrupt, "{}: zstd frame {} ends before its frame table size", label, frame_);
  if (part_output_.produced() != slice_length(e, frame_))
    return fail(Errc::Corrupt, "{}: zstd frame {} decodes to {} bytes, its slice has {}", label, frame_,
                part_output_.produced(), slice_length(e, frame_));
  ++frame_;
  return {};
}

// Hands this part's CRC-32 to the entry; the last part checks and closes the file.
Result<void> Worker::end_part() {
  const Entry& e = dir_->entries[chunk_->first];
  const auto label = entry_label(*source_, e);
  if (auto r = part_output_.flush(); !r) return std::unexpected(with_context(r.error(), label));
  auto& file = *shared_.framed[*chunk_->framed];
  std::lock_guard lock(file.mutex);
  file.crcs[chunk_->part] = {part_output_.crc(), part_output_.length()};
  if (--file.parts_left > 0) return {};
  // An error of the whole entry belongs at its start, the first part.
  error_order_ = chunk_->order - chunk_->part;
  return finish_framed_file(file, e, label);
}

// The last part's work, under file.mutex: the entry's CRC-32 combined from its
// parts' in order, then mode, time and close.
Result<void> Worker::finish_framed_file(FramedFile& file, const Entry& e, const std::string& label) {
  uLong crc = file.crcs[0].first;
  for (std::size_t p = 1; p < file.crcs.size(); ++p)
    crc = ::crc32_combine(crc, file.crcs[p].first, static_cast<z_off_t>(file.crcs[p].second));
  if (static_cast<std::uint32_t>(crc) != e.crc32)
    return fail(Errc::Corrupt, "{}: CRC-32 mismatch (stored {:08x}, computed {:08x})", label, e.crc32,
                static_cast<std::uint32_t>(crc));
  if (auto r = set_mode_and_time(file.fd.get(), e, label); !r) return r;
  file.fd.reset();
  shared_.files.fetch_add(1, std::memory_order_relaxed);
  shared_.count_entry_done();
  return {};
}

}  // namespace tmpdump::archive::detail
