#include "archive/extract_worker.hpp"

#include <algorithm>
#include <exception>
#include <utility>

#include "archive/bytes.hpp"
#include "archive/extract_files.hpp"

namespace tmpdump::archive::detail {
namespace {

constexpr std::size_t kWriteBuffer = 1 << 20;

}  // namespace

Worker::Worker(Shared& shared)
    : shared_(shared),
      buffer_(kWriteBuffer),
      output_(shared, buffer_),
      part_output_(shared, buffer_),
      sources_(shared.archives.size()) {}

void Worker::run() {
  while (true) {
    // Chunks are claimed in order, so every chunk not yet claimed comes after a failed one.
    const std::size_t i = shared_.next_chunk.fetch_add(1);
    if (i >= shared_.chunks.size() || shared_.cancelled(i)) return;
    error_order_ = i;
    Result<void> r;
    try {
      r = run_chunk(shared_.chunks[i]);
    } catch (const std::exception& ex) {
      r = fail(Errc::Io, "extracting: {}", ex.what());
    }
    if (!r) {
      shared_.record(std::move(r.error()), error_order_);
      return;
    }
  }
}

Result<void> Worker::run_chunk(const Chunk& c) {
  chunk_ = &c;
  const auto& input = shared_.archives[c.archive];
  dir_ = input.directory;
  if (!sources_[c.archive]) sources_[c.archive] = input.source->clone();
  source_ = sources_[c.archive].get();
  pos_ = c.begin;
  k_ = c.first;
  hashing_ = shared_.hasher.enabled(c.archive);
  if (c.framed && c.frame_begin > 0) {
    if (auto r = start_part(dir_->entries[k_]); !r) return r;
  } else {
    set_skip();
  }
  auto r = source_->read(c.begin, c.end - c.begin, [this](std::span<const std::byte> b) { return consume(b); });
  if (!r) return r;
  if (state_ != State::Done || pos_ != c.end)
    return fail(Errc::Corrupt, "{}: archive ended early at offset {}", source_->describe(), pos_);
  if (hashing_) shared_.hasher.finish(c);
  return {};
}

void Worker::set_skip() {
  state_ = State::Skip;
  target_ = k_ < chunk_->last ? dir_->entries[k_].local_header_offset : chunk_->end;
  if (pos_ == target_) state_ = k_ < chunk_->last ? State::Header : State::Done;
  header_.clear();
  header_need_ = kLocalHeaderSize;
}

Result<void> Worker::consume(std::span<const std::byte> in) {
  if (shared_.cancelled(chunk_->order)) return fail(Errc::Io, "cancelled");
  shared_.count_read(in.size());
  if (hashing_) {
    if (auto r = shared_.hasher.add(*chunk_, in, shared_.cancel_after); !r) return r;
  }
  while (true) {
    Result<bool> step;
    switch (state_) {
      case State::Skip:
        step = skip_bytes(in);
        break;
      case State::Header:
        step = read_header(in);
        break;
      case State::Data:
        step = decode_data(in);
        break;
      case State::Frames:
        step = decode_frames(in);
        break;
      case State::Done:
        if (!in.empty()) return fail(Errc::Corrupt, "{}: more bytes than requested", source_->describe());
        return {};
    }
    if (!step) return std::unexpected(std::move(step.error()));
    if (!*step) return {};
  }
}

Result<bool> Worker::skip_bytes(std::span<const std::byte>& in) {
  const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(in.size(), target_ - pos_));
  in = in.subspan(n);
  pos_ += n;
  if (pos_ < target_) return false;
  set_skip();
  return true;
}

Result<bool> Worker::read_header(std::span<const std::byte>& in) {
  const std::size_t n = std::min(in.size(), header_need_ - header_.size());
  header_.insert(header_.end(), in.begin(), in.begin() + static_cast<std::ptrdiff_t>(n));
  in = in.subspan(n);
  pos_ += n;
  if (header_.size() < header_need_) return false;
  if (auto r = on_header(); !r) return std::unexpected(std::move(r.error()));
  return true;
}

Result<bool> Worker::decode_data(std::span<const std::byte>& in) {
  const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(in.size(), remaining_));
  if (n > 0 && decoder_) {
    if (auto r = decoder_->feed(in.first(n), output_); !r) return std::unexpected(labelled(r.error()));
  }
  in = in.subspan(n);
  pos_ += n;
  remaining_ -= n;
  if (remaining_ > 0) return false;
  if (auto r = finish_entry(); !r) return std::unexpected(std::move(r.error()));
  ++k_;
  set_skip();
  return true;
}

Result<bool> Worker::decode_frames(std::span<const std::byte>& in) {
  const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(in.size(), remaining_));
  if (n > 0) {
    if (auto r = zstd_->feed(in.first(n), part_output_); !r) return std::unexpected(labelled(r.error()));
  }
  in = in.subspan(n);
  pos_ += n;
  remaining_ -= n;
  if (remaining_ > 0) return false;
  if (auto r = end_frame(); !r) return std::unexpected(std::move(r.error()));
  if (frame_ < chunk_->frame_end) {
    start_frame();
    return true;
  }
  if (auto r = end_part(); !r) return std::unexpected(std::move(r.error()));
  // Past the last frame of the entry, the rest of the chunk is skipped; other parts end here.
  k_ = chunk_->last;
  set_skip();
  return true;
}

Error Worker::labelled(Error e) const {
  if (e.message.starts_with(source_->describe())) return e;
  return with_context(std::move(e), entry_label(*source_, dir_->entries[k_]));
}

// The fixed part of the local header, checked against the central directory;
// then header_need_ covers the name and extra field too.
Result<void> Worker::check_local_header(const Entry& e, const std::string& label) {
  const std::span<const std::byte> h(header_);
  if (le32(h, 0) != kLocalHeaderSig)
    return fail(Errc::Corrupt, "{}: no local header at offset {}", label, e.local_header_offset);
  const std::size_t name_len = le16(h, 26), extra_len = le16(h, 28);
  if (name_len != e.raw_name.size())
    return fail(Errc::Corrupt, "{}: local header name differs from the central directory", label);
  const std::uint64_t data_start = e.local_header_offset + kLocalHeaderSize + name_len + extra_len;
  const std::uint64_t limit =
      k_ + 1 < dir_->entries.size() ? dir_->entries[k_ + 1].local_header_offset : dir_->cd_offset;
  if (data_start + e.compressed_size > limit)
    return fail(Errc::Unsafe, "{}: local header and data overlap the next entry or the central directory", label);
  if ((le16(h, 6) & 1u) != 0) return fail(Errc::Unsupported, "{}: encrypted entries are not supported", label);
  if (le16(h, 8) != static_cast<std::uint16_t>(e.method))
    return fail(Errc::Corrupt, "{}: local header method differs from the central directory", label);
  header_need_ += name_len + extra_len;
  return {};
}

Result<void> Worker::on_header() {
  const Entry& e = dir_->entries[k_];
  const auto label = entry_label(*source_, e);
  if (header_need_ == kLocalHeaderSize) {
    if (auto r = check_local_header(e, label); !r) return r;
    if (header_.size() < header_need_) return {};
  }
  if (!std::equal(e.raw_name.begin(), e.raw_name.end(), header_.begin() + kLocalHeaderSize, [](char a, std::byte b) {
        return static_cast<unsigned char>(a) == std::to_integer<unsigned char>(b);
      }))
    return fail(Errc::Corrupt, "{}: local header name differs from the central directory", label);
  if (e.frames) {
    if (pos_ - e.local_header_offset != e.frames->data_offset)
      return fail(Errc::Corrupt, "{}: data starts {} bytes after the local header, the frame table says {}", label,
                  pos_ - e.local_header_offset, e.frames->data_offset);
    return start_part(e);
  }
  state_ = State::Data;
  remaining_ = e.compressed_size;
  return start_entry(e, label);
}

Result<void> Worker::start_entry(const Entry& e, std::string label) {
  decoder_ = nullptr;
  link_target_.clear();
  if (e.type == EntryType::Directory) {
    if (auto r = make_parents(shared_.dest_fd, e.name + "/", label); !r) return r;
    shared_.directories.fetch_add(1, std::memory_order_relaxed);
    return {};
  }
  decoder_ = decoder_for(e.method);
  decoder_->reset();
  if (e.type == EntryType::Symlink) {
    output_.start(e, UniqueFd(), &link_target_, std::move(label));
    return {};
  }
  auto fd = create_file(shared_.dest_fd, e, label);
  if (!fd) return std::unexpected(std::move(fd.error()));
  output_.start(e, std::move(*fd), nullptr, std::move(label));
  return {};
}

Result<void> Worker::finish_entry() {
  const Entry& e = dir_->entries[k_];
  if (decoder_) {
    const auto label = entry_label(*source_, e);
    auto ended = decoder_->finish(output_);
    if (!ended) return std::unexpected(labelled(ended.error()));
    if (!*ended) return fail(Errc::Corrupt, "{}: compressed data ends before the end of its stream", label);
    if (output_.produced() != e.uncompressed_size) {
      const bool lying = output_.produced() > e.uncompressed_size && output_.crc() == e.crc32;
      return fail(lying ? Errc::Unsafe : Errc::Corrupt, "{}: decodes to {} bytes, declared {}{}", label,
                  output_.produced(), e.uncompressed_size, lying ? " (with a matching CRC-32: a lying size)" : "");
    }
    if (output_.crc() != e.crc32)
      return fail(Errc::Corrupt, "{}: CRC-32 mismatch (stored {:08x}, computed {:08x})", label, e.crc32, output_.crc());
    if (auto r = output_.close_file(); !r) return r;
    if (e.type == EntryType::Symlink) {
      std::lock_guard lock(shared_.mutex);
      shared_.links.push_back(PendingLink{e.name, std::move(link_target_), e.mtime, label, chunk_->archive, k_});
      link_target_.clear();
    } else {
      shared_.files.fetch_add(1, std::memory_order_relaxed);
    }
  }
  shared_.count_entry_done();
  return {};
}

Decoder* Worker::decoder_for(Method m) {
  switch (m) {
    case Method::Stored:
      if (!stored_) stored_ = make_stored_decoder();
      return stored_.get();
    case Method::Deflate:
      if (!inflater_) inflater_ = make_inflater(shared_.options->inflater);
      return inflater_.get();
    case Method::Zstd:
      if (!zstd_) zstd_ = make_zstd_decoder();
      return zstd_.get();
  }
  return nullptr;
}

}  // namespace tmpdump::archive::detail
