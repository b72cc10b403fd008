#include "archive/extract_output.hpp"

#include <algorithm>
#include <utility>

#include "archive/bytes.hpp"
#include "archive/extract_files.hpp"
#include "util/io.hpp"

namespace tmpdump::archive::detail {
namespace {

// How far past its declared size an entry is decoded (not written) to tell a
// lying size from corrupted data.
constexpr std::uint64_t kOvershootProbe = 1 << 20;

}  // namespace

void EntryOutput::start(const Entry& e, UniqueFd fd, std::string* link_target, std::string label) {
  entry_ = &e;
  fd_ = std::move(fd);
  link_ = link_target;
  label_ = std::move(label);
  produced_ = 0;
  fill_ = 0;
  crc_ = 0;
}

std::span<std::byte> EntryOutput::space() {
  const std::size_t room = buffer_.size() - fill_;
  if (produced_ > entry_->uncompressed_size) return std::span(buffer_).subspan(fill_, room);  // dropped in commit
  // One byte past the declared size is enough to catch a lying entry before it is written.
  const std::uint64_t allowed = entry_->uncompressed_size - std::min(produced_, entry_->uncompressed_size) + 1;
  return std::span(buffer_).subspan(fill_, static_cast<std::size_t>(std::min<std::uint64_t>(room, allowed)));
}

Result<void> EntryOutput::commit(std::size_t n) {
  produced_ += n;
  crc_ = crc32(crc_, std::span<const std::byte>(buffer_).subspan(fill_, n));
  if (produced_ > entry_->uncompressed_size) {
    // A lying size, or corrupted data: nothing past the declared size is
    // written, but decoding goes on a little so finish_entry can tell them
    // apart (docs/pull.md: an intact stream longer than declared is Unsafe).
    if (produced_ - entry_->uncompressed_size > kOvershootProbe)
      return fail(Errc::Unsafe, "{}: decodes to more data than the declared size of {} bytes", label_,
                  entry_->uncompressed_size);
    return {};
  }
  fill_ += n;
  if (fill_ == buffer_.size()) return flush();
  return {};
}

Result<void> EntryOutput::flush() {
  const auto pending = std::span<const std::byte>(buffer_).first(fill_);
  if (link_) {
    link_->append(reinterpret_cast<const char*>(pending.data()), pending.size());
  } else if (!pending.empty()) {
    if (auto w = write_all(fd_.get(), pending); !w)
      return std::unexpected(sys_error(w.error(), fmt::format("{}: writing", label_)));
    shared_.count_written(pending.size());
  }
  fill_ = 0;
  return {};
}

Result<void> EntryOutput::close_file() {
  if (auto r = flush(); !r) return r;
  if (fd_.valid()) {
    if (auto r = set_mode_and_time(fd_.get(), *entry_, label_); !r) return r;
    fd_.reset();
  }
  return {};
}

void PartOutput::start(int fd, std::uint64_t offset) {
  fd_ = fd;
  offset_ = offset;
  fill_ = 0;
  crc_ = 0;
  length_ = 0;
}

void PartOutput::start_frame(std::uint64_t slice) {
  slice_ = slice;
  produced_ = 0;
}

std::span<std::byte> PartOutput::space() {
  // One byte past the slice is enough to catch a lying frame before it is written.
  const std::uint64_t allowed = slice_ - std::min(produced_, slice_) + 1;
  const std::size_t room = buffer_.size() - fill_;
  return std::span(buffer_).subspan(fill_, static_cast<std::size_t>(std::min<std::uint64_t>(room, allowed)));
}

Result<void> PartOutput::commit(std::size_t n) {
  produced_ += n;
  if (produced_ > slice_) return fail(Errc::Unsafe, "zstd frame decodes to more than its slice of {} bytes", slice_);
  crc_ = crc32(crc_, std::span<const std::byte>(buffer_).subspan(fill_, n));
  fill_ += n;
  length_ += n;
  if (fill_ == buffer_.size()) return flush();
  return {};
}

Result<void> PartOutput::flush() {
  const auto pending = std::span<const std::byte>(buffer_).first(fill_);
  if (!pending.empty()) {
    if (auto w = pwrite_all(fd_, pending, offset_); !w) return std::unexpected(sys_error(w.error(), "writing"));
    offset_ += pending.size();
    shared_.count_written(pending.size());
  }
  fill_ = 0;
  return {};
}

}  // namespace tmpdump::archive::detail
