#include "archive/extract.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <condition_variable>
#include <limits>
#include <map>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <optional>
#include <utility>

#include "archive/bytes.hpp"
#include "archive/decoders.hpp"
#include "util/sha256.hpp"

namespace tmpdump::archive {
namespace {

using detail::printable;

constexpr std::size_t kWriteBuffer = 1 << 20;
constexpr int kMaxSymlinkHops = 40;
// How far past its declared size an entry is decoded (not written) to tell a
// lying size from corrupted data.
constexpr std::uint64_t kOvershootProbe = 1 << 20;
// Buffered out-of-order bytes waiting to be hashed (only with expected_sha256).
constexpr std::uint64_t kHashWindow = 16ull << 20;

class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  Fd(Fd&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
  Fd& operator=(Fd&& o) noexcept {
    if (this != &o) {
      reset();
      fd_ = std::exchange(o.fd_, -1);
    }
    return *this;
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() { reset(); }
  void reset() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }
  [[nodiscard]] int get() const { return fd_; }

 private:
  int fd_ = -1;
};

std::string entry_label(const ByteSource& source, const Entry& e) {
  return fmt::format("{}: entry \"{}\"", source.describe(), printable(e.raw_name));
}

timespec to_timespec(std::int64_t secs) { return timespec{static_cast<time_t>(secs), 0}; }

// One contiguous byte range of one archive, split only at local header
// offsets, or a part of one framed zstd entry split at frame boundaries.
struct Chunk {
  std::size_t archive = 0;
  std::size_t index = 0;  // position among this archive's chunks
  std::uint64_t begin = 0, end = 0;
  std::size_t first = 0, last = 0;  // entries [first, last) start inside
  // Parts only: entries[first] is framed; this chunk decodes frames
  // [frame_begin, frame_end), is part `part` of its entry and, unless
  // frame_begin is 0, starts exactly at the first of them.
  std::optional<std::size_t> framed;  // index into Shared::framed
  std::uint32_t frame_begin = 0, frame_end = 0;
  std::size_t part = 0;
  std::size_t order = 0;  // position among all chunks: archive first, then offset
};

/// The mode an extracted file or directory gets: the archive's permission
/// bits without group/world write (and without set-id and sticky bits, which
/// the central directory parser already drops); directories stay usable by
/// their owner.
std::uint32_t installed_mode(std::uint32_t archived, bool directory) {
  return (directory ? (archived | 0700u) : archived) & 0755u;
}

// One framed entry decoded by several chunks at once: the first part to
// arrive creates the file, the last to finish checks the CRC-32 (combined
// from the parts' in order) and sets mode and time.
struct FramedFile {
  std::mutex mutex;
  Fd fd;  // closed by the last part
  std::size_t parts_left = 0;
  std::vector<std::pair<std::uint32_t, std::uint64_t>> crcs;  // per part: CRC-32 and length
};

struct PendingLink {
  std::string name;
  std::string target;
  std::int64_t mtime = 0;
  std::string label;
  std::size_t archive = 0, entry = 0;  // the order links are checked in, whatever order they were decoded in
};

// Hashes each archive's chunks in order while they are decoded out of order,
// buffering at most kHashWindow bytes of chunks that are ahead of their turn.
class OrderedHasher {
 public:
  explicit OrderedHasher(std::size_t archives) : states_(archives) {}

  void enable(std::size_t archive) { states_[archive].enabled = true; }
  [[nodiscard]] bool enabled(std::size_t archive) const { return states_[archive].enabled; }

  // `cancel_after`: chunks after it are cancelled (see Shared::record).
  Result<void> add(const Chunk& c, std::span<const std::byte> bytes, const std::atomic<std::size_t>& cancel_after) {
    auto& st = states_[c.archive];
    std::unique_lock lock(mutex_);
    const auto cancelled = [&] { return c.order > cancel_after.load(); };
    while (st.next != c.index && window_ + bytes.size() > kHashWindow && window_ > 0 && !cancelled())
      cv_.wait(lock);
    if (cancelled()) return fail(Errc::Io, "cancelled");
    if (st.next != c.index) {
      auto& p = st.pending[c.index];
      p.pieces.emplace_back(reinterpret_cast<const char*>(bytes.data()), bytes.size());
      window_ += bytes.size();
      return {};
    }
    // The owner of the head chunk is the only one touching the digest until it finishes.
    auto pieces = take(st, c.index);
    lock.unlock();
    for (const auto& piece : pieces) st.sha.update(std::as_bytes(std::span(piece.data(), piece.size())));
    st.sha.update(bytes);
    return {};
  }

  void finish(const Chunk& c) {
    auto& st = states_[c.archive];
    std::unique_lock lock(mutex_);
    if (st.next != c.index) {
      st.pending[c.index].complete = true;
      return;
    }
    for (std::size_t cur = c.index;;) {
      auto pieces = take(st, cur);
      lock.unlock();
      for (const auto& piece : pieces) st.sha.update(std::as_bytes(std::span(piece.data(), piece.size())));
      lock.lock();
      st.next = ++cur;
      cv_.notify_all();
      auto it = st.pending.find(cur);
      if (it == st.pending.end() || !it->second.complete) break;
    }
  }

  // Under the mutex, so a waiter between its check and its wait cannot miss it.
  void wake() {
    { std::lock_guard lock(mutex_); }
    cv_.notify_all();
  }

  std::string digest(std::size_t archive) { return states_[archive].sha.hex_digest(); }
  [[nodiscard]] std::size_t hashed_chunks(std::size_t archive) const { return states_[archive].next; }

 private:
  struct Pending {
    std::vector<std::string> pieces;
    bool complete = false;
  };
  struct State {
    bool enabled = false;
    std::size_t next = 0;
    std::map<std::size_t, Pending> pending;
    Sha256 sha;
  };
  // Caller holds mutex_.
  std::vector<std::string> take(State& st, std::size_t index) {
    std::vector<std::string> pieces;
    if (auto it = st.pending.find(index); it != st.pending.end()) {
      pieces = std::move(it->second.pieces);
      for (const auto& p : pieces) window_ -= p.size();
      st.pending.erase(it);
      cv_.notify_all();
    }
    return pieces;
  }

  std::vector<State> states_;
  std::mutex mutex_;
  std::condition_variable cv_;
  std::uint64_t window_ = 0;
};

struct Shared {
  explicit Shared(std::span<const ArchiveInput> a) : archives(a), hasher(a.size()) {}
  std::span<const ArchiveInput> archives;
  const ExtractOptions* options = nullptr;
  int dest_fd = -1;
  std::vector<Chunk> chunks;
  std::vector<std::unique_ptr<FramedFile>> framed;
  std::atomic<std::size_t> next_chunk{0};
  // Chunks ordered after this one are abandoned; those before it run to their
  // end, so a defect earlier in the archive is still found.
  std::atomic<std::size_t> cancel_after{std::numeric_limits<std::size_t>::max()};
  OrderedHasher hasher;

  std::mutex mutex;
  std::optional<Error> error;
  std::size_t error_order = 0;
  std::vector<PendingLink> links;

  std::atomic<std::uint64_t> files{0}, directories{0}, bytes_read{0}, bytes_written{0};

  [[nodiscard]] bool cancelled(std::size_t order) const { return order > cancel_after.load(); }

  /// Keeps the defect of the lowest chunk, whatever order the workers find
  /// them in: within a chunk bytes are decoded in order, and every chunk
  /// before a failed one still runs, so the error reported is always the one
  /// at the lowest archive offset (docs/pull.md, "Which error is reported").
  void record(Error e, std::size_t order) {
    {
      std::lock_guard lock(mutex);
      if (!error || order < error_order) {
        error = std::move(e);
        error_order = order;
      }
      std::size_t cur = cancel_after.load();
      while (order < cur && !cancel_after.compare_exchange_weak(cur, order)) {
      }
    }
    hasher.wake();
  }
};

// Creates every missing parent directory of `name` (mode 0700 until the end).
Result<void> make_parents(int dest_fd, std::string_view name, const std::string& label) {
  for (std::size_t slash = name.find('/'); slash != std::string_view::npos; slash = name.find('/', slash + 1)) {
    const std::string dir(name.substr(0, slash));
    if (::mkdirat(dest_fd, dir.c_str(), 0700) != 0 && errno != EEXIST)
      return std::unexpected(sys_error(errno, fmt::format("{}: creating directory {}", label, dir)));
  }
  return {};
}

class EntryOutput final : public detail::OutputBuffer {
 public:
  EntryOutput(Shared& shared, std::vector<std::byte>& buffer) : shared_(shared), buffer_(buffer) {}

  void start(const Entry& e, Fd fd, std::string* link_target, std::string label) {
    entry_ = &e;
    fd_ = std::move(fd);
    link_ = link_target;
    label_ = std::move(label);
    produced_ = 0;
    fill_ = 0;
    crc_ = 0;
  }

  std::span<std::byte> space() override {
    const std::size_t room = buffer_.size() - fill_;
    if (produced_ > entry_->uncompressed_size) return std::span(buffer_).subspan(fill_, room);  // dropped in commit
    // One byte past the declared size is enough to catch a lying entry before it is written.
    const std::uint64_t allowed = entry_->uncompressed_size - std::min(produced_, entry_->uncompressed_size) + 1;
    return std::span(buffer_).subspan(fill_, static_cast<std::size_t>(std::min<std::uint64_t>(room, allowed)));
  }

  Result<void> commit(std::size_t n) override {
    produced_ += n;
    crc_ = detail::crc32(crc_, std::span<const std::byte>(buffer_).subspan(fill_, n));
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

  Result<void> flush() {
    std::size_t done = 0;
    if (link_) {
      link_->append(reinterpret_cast<const char*>(buffer_.data()), fill_);
      done = fill_;
    }
    while (done < fill_) {
      const ssize_t w = ::write(fd_.get(), buffer_.data() + done, fill_ - done);
      if (w < 0) {
        if (errno == EINTR) continue;
        return std::unexpected(sys_error(errno, fmt::format("{}: writing", label_)));
      }
      done += static_cast<std::size_t>(w);
      shared_.bytes_written.fetch_add(static_cast<std::uint64_t>(w), std::memory_order_relaxed);
      if (auto* p = shared_.options->progress)
        p->bytes_written.fetch_add(static_cast<std::uint64_t>(w), std::memory_order_relaxed);
    }
    fill_ = 0;
    return {};
  }

  Result<void> close_file() {
    if (auto r = flush(); !r) return r;
    if (fd_.get() >= 0) {
      const timespec times[2] = {to_timespec(entry_->mtime), to_timespec(entry_->mtime)};
      if (::fchmod(fd_.get(), static_cast<mode_t>(installed_mode(entry_->mode, false))) != 0 || ::futimens(fd_.get(), times) != 0)
        return std::unexpected(sys_error(errno, fmt::format("{}: setting mode and time", label_)));
      fd_ = Fd();
    }
    return {};
  }

  [[nodiscard]] std::uint64_t produced() const { return produced_; }
  [[nodiscard]] std::uint32_t crc() const { return crc_; }

 private:
  Shared& shared_;
  std::vector<std::byte>& buffer_;
  const Entry* entry_ = nullptr;
  Fd fd_;
  std::string* link_ = nullptr;
  std::string label_;
  std::uint64_t produced_ = 0;
  std::size_t fill_ = 0;
  std::uint32_t crc_ = 0;
};

// Output of one part of a framed entry: its frames' slices, written in place
// with pwrite(); each frame must decode to exactly its slice.
class PartOutput final : public detail::OutputBuffer {
 public:
  PartOutput(Shared& shared, std::vector<std::byte>& buffer) : shared_(shared), buffer_(buffer) {}

  void start(int fd, std::uint64_t offset) {
    fd_ = fd;
    offset_ = offset;
    fill_ = 0;
    crc_ = 0;
    length_ = 0;
  }
  void start_frame(std::uint64_t slice) {
    slice_ = slice;
    produced_ = 0;
  }

  std::span<std::byte> space() override {
    // One byte past the slice is enough to catch a lying frame before it is written.
    const std::uint64_t allowed = slice_ - std::min(produced_, slice_) + 1;
    const std::size_t room = buffer_.size() - fill_;
    return std::span(buffer_).subspan(fill_, static_cast<std::size_t>(std::min<std::uint64_t>(room, allowed)));
  }

  Result<void> commit(std::size_t n) override {
    produced_ += n;
    if (produced_ > slice_)
      return fail(Errc::Unsafe, "zstd frame decodes to more than its slice of {} bytes", slice_);
    crc_ = detail::crc32(crc_, std::span<const std::byte>(buffer_).subspan(fill_, n));
    fill_ += n;
    length_ += n;
    if (fill_ == buffer_.size()) return flush();
    return {};
  }

  Result<void> flush() {
    std::size_t done = 0;
    while (done < fill_) {
      const ssize_t w = ::pwrite(fd_, buffer_.data() + done, fill_ - done, static_cast<off_t>(offset_));
      if (w < 0) {
        if (errno == EINTR) continue;
        return std::unexpected(sys_error(errno, "writing"));
      }
      done += static_cast<std::size_t>(w);
      offset_ += static_cast<std::uint64_t>(w);
      shared_.bytes_written.fetch_add(static_cast<std::uint64_t>(w), std::memory_order_relaxed);
      if (auto* p = shared_.options->progress)
        p->bytes_written.fetch_add(static_cast<std::uint64_t>(w), std::memory_order_relaxed);
    }
    fill_ = 0;
    return {};
  }

  [[nodiscard]] std::uint64_t produced() const { return produced_; }
  [[nodiscard]] std::uint32_t crc() const { return crc_; }
  [[nodiscard]] std::uint64_t length() const { return length_; }

 private:
  Shared& shared_;
  std::vector<std::byte>& buffer_;
  int fd_ = -1;
  std::uint64_t offset_ = 0, slice_ = 0, produced_ = 0, length_ = 0;
  std::size_t fill_ = 0;
  std::uint32_t crc_ = 0;
};

class Worker {
 public:
  explicit Worker(Shared& shared)
      : shared_(shared),
        buffer_(kWriteBuffer),
        output_(shared, buffer_),
        part_output_(shared, buffer_),
        sources_(shared.archives.size()) {}

  void run() {
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

 private:
  enum class State { Skip, Header, Data, Frames, Done };

  Result<void> run_chunk(const Chunk& c) {
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
    auto r = source_->read(c.begin, c.end - c.begin,
                           [this](std::span<const std::byte> b) { return consume(b); });
    if (!r) return r;
    if (state_ != State::Done || pos_ != c.end)
      return fail(Errc::Corrupt, "{}: archive ended early at offset {}", source_->describe(), pos_);
    if (hashing_) shared_.hasher.finish(c);
    return {};
  }

  void set_skip() {
    state_ = State::Skip;
    target_ = k_ < chunk_->last ? dir_->entries[k_].local_header_offset : chunk_->end;
    if (pos_ == target_) state_ = k_ < chunk_->last ? State::Header : State::Done;
    header_.clear();
    header_need_ = detail::kLocalHeaderSize;
  }

  Result<void> consume(std::span<const std::byte> in) {
    if (shared_.cancelled(chunk_->order)) return fail(Errc::Io, "cancelled");
    shared_.bytes_read.fetch_add(in.size(), std::memory_order_relaxed);
    if (auto* p = shared_.options->progress) p->bytes_read.fetch_add(in.size(), std::memory_order_relaxed);
    if (hashing_) {
      if (auto r = shared_.hasher.add(*chunk_, in, shared_.cancel_after); !r) return r;
    }
    while (true) {
      switch (state_) {
        case State::Skip: {
          const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(in.size(), target_ - pos_));
          in = in.subspan(n);
          pos_ += n;
          if (pos_ < target_) return {};
          set_skip();
          break;
        }
        case State::Header: {
          const std::size_t n = std::min(in.size(), header_need_ - header_.size());
          header_.insert(header_.end(), in.begin(), in.begin() + static_cast<std::ptrdiff_t>(n));
          in = in.subspan(n);
          pos_ += n;
          if (header_.size() < header_need_) return {};
          if (auto r = on_header(); !r) return r;
          break;
        }
        case State::Data: {
          const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(in.size(), remaining_));
          if (n > 0 && decoder_) {
            if (auto r = decoder_->feed(in.first(n), output_); !r) return std::unexpected(labelled(r.error()));
          }
          in = in.subspan(n);
          pos_ += n;
          remaining_ -= n;
          if (remaining_ > 0) return {};
          if (auto r = finish_entry(); !r) return r;
          ++k_;
          set_skip();
          break;
        }
        case State::Frames: {
          const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(in.size(), remaining_));
          if (n > 0) {
            if (auto r = zstd_->feed(in.first(n), part_output_); !r) return std::unexpected(labelled(r.error()));
          }
          in = in.subspan(n);
          pos_ += n;
          remaining_ -= n;
          if (remaining_ > 0) return {};
          if (auto r = end_frame(); !r) return r;
          if (frame_ < chunk_->frame_end) {
            start_frame();
            break;
          }
          if (auto r = end_part(); !r) return r;
          // Past the last frame of the entry, the rest of the chunk is skipped; other parts end here.
          k_ = chunk_->last;
          set_skip();
          break;
        }
        case State::Done:
          if (!in.empty()) return fail(Errc::Corrupt, "{}: more bytes than requested", source_->describe());
          return {};
      }
    }
  }

  Error labelled(Error e) const {
    if (e.message.starts_with(source_->describe())) return e;
    return with_context(std::move(e), entry_label(*source_, dir_->entries[k_]));
  }

  Result<void> on_header() {
    const Entry& e = dir_->entries[k_];
    const auto label = entry_label(*source_, e);
    const std::span<const std::byte> h(header_);
    if (header_need_ == detail::kLocalHeaderSize) {
      if (detail::le32(h, 0) != detail::kLocalHeaderSig)
        return fail(Errc::Corrupt, "{}: no local header at offset {}", label, e.local_header_offset);
      const std::size_t name_len = detail::le16(h, 26), extra_len = detail::le16(h, 28);
      if (name_len != e.raw_name.size())
        return fail(Errc::Corrupt, "{}: local header name differs from the central directory", label);
      const std::uint64_t data_start = e.local_header_offset + detail::kLocalHeaderSize + name_len + extra_len;
      const std::uint64_t limit =
          k_ + 1 < dir_->entries.size() ? dir_->entries[k_ + 1].local_header_offset : dir_->cd_offset;
      if (data_start + e.compressed_size > limit)
        return fail(Errc::Unsafe, "{}: local header and data overlap the next entry or the central directory",
                    label);
      if ((detail::le16(h, 6) & 1u) != 0)
        return fail(Errc::Unsupported, "{}: encrypted entries are not supported", label);
      if (detail::le16(h, 8) != static_cast<std::uint16_t>(e.method))
        return fail(Errc::Corrupt, "{}: local header method differs from the central directory", label);
      header_need_ += name_len + extra_len;
      if (header_.size() < header_need_) return {};
    }
    if (!std::equal(e.raw_name.begin(), e.raw_name.end(), header_.begin() + detail::kLocalHeaderSize,
                    [](char a, std::byte b) { return static_cast<unsigned char>(a) == std::to_integer<unsigned char>(b); }))
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

  std::uint64_t slice_length(const Entry& e, std::uint32_t frame) const {
    const std::uint64_t slice = e.frames->slice_size;
    return std::min<std::uint64_t>(slice, e.uncompressed_size - std::uint64_t{frame} * slice);
  }

  // Begins this chunk's frames of a framed entry (pos_ is at the first of them).
  Result<void> start_part(const Entry& e) {
    auto& file = *shared_.framed[*chunk_->framed];
    int fd = -1;
    {
      std::lock_guard lock(file.mutex);
      if (file.fd.get() < 0) {
        const auto label = entry_label(*source_, e);
        constexpr int kFlags = O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC;
        int opened = ::openat(shared_.dest_fd, e.name.c_str(), kFlags, 0600);
        if (opened < 0 && errno == ENOENT) {
          if (auto r = make_parents(shared_.dest_fd, e.name, label); !r) return r;
          opened = ::openat(shared_.dest_fd, e.name.c_str(), kFlags, 0600);
        }
        if (opened < 0) return std::unexpected(sys_error(errno, fmt::format("{}: creating file", label)));
        file.fd = Fd(opened);
      }
      // Only the last part closes it, after every part has written.
      fd = file.fd.get();
    }
    if (!zstd_) zstd_ = detail::make_zstd_decoder();
    frame_ = chunk_->frame_begin;
    part_output_.start(fd, std::uint64_t{frame_} * e.frames->slice_size);
    state_ = State::Frames;
    start_frame();
    return {};
  }

  void start_frame() {
    const Entry& e = dir_->entries[chunk_->first];
    remaining_ = e.frames->compressed_sizes[frame_];
    zstd_->reset();
    part_output_.start_frame(slice_length(e, frame_));
  }

  Result<void> end_frame() {
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
  Result<void> end_part() {
    const Entry& e = dir_->entries[chunk_->first];
    const auto label = entry_label(*source_, e);
    if (auto r = part_output_.flush(); !r) return std::unexpected(with_context(r.error(), label));
    auto& file = *shared_.framed[*chunk_->framed];
    std::lock_guard lock(file.mutex);
    file.crcs[chunk_->part] = {part_output_.crc(), part_output_.length()};
    if (--file.parts_left > 0) return {};
    // An error of the whole entry belongs at its start, the first part.
    error_order_ = chunk_->order - chunk_->part;
    uLong crc = file.crcs[0].first;
    for (std::size_t p = 1; p < file.crcs.size(); ++p)
      crc = ::crc32_combine(crc, file.crcs[p].first, static_cast<z_off_t>(file.crcs[p].second));
    if (static_cast<std::uint32_t>(crc) != e.crc32)
      return fail(Errc::Corrupt, "{}: CRC-32 mismatch (stored {:08x}, computed {:08x})", label, e.crc32,
                  static_cast<std::uint32_t>(crc));
    const timespec times[2] = {to_timespec(e.mtime), to_timespec(e.mtime)};
    if (::fchmod(file.fd.get(), static_cast<mode_t>(installed_mode(e.mode, false))) != 0 || ::futimens(file.fd.get(), times) != 0)
      return std::unexpected(sys_error(errno, fmt::format("{}: setting mode and time", label)));
    file.fd.reset();
    shared_.files.fetch_add(1, std::memory_order_relaxed);
    if (auto* p = shared_.options->progress) p->entries_done.fetch_add(1, std::memory_order_relaxed);
    return {};
  }

  Result<void> start_entry(const Entry& e, std::string label) {
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
      output_.start(e, Fd(), &link_target_, std::move(label));
      return {};
    }
    constexpr int kFlags = O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC;
    int fd = ::openat(shared_.dest_fd, e.name.c_str(), kFlags, 0600);
    if (fd < 0 && errno == ENOENT) {
      if (auto r = make_parents(shared_.dest_fd, e.name, label); !r) return r;
      fd = ::openat(shared_.dest_fd, e.name.c_str(), kFlags, 0600);
    }
    if (fd < 0) return std::unexpected(sys_error(errno, fmt::format("{}: creating file", label)));
    output_.start(e, Fd(fd), nullptr, std::move(label));
    return {};
  }

  Result<void> finish_entry() {
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
        return fail(Errc::Corrupt, "{}: CRC-32 mismatch (stored {:08x}, computed {:08x})", label, e.crc32,
                    output_.crc());
      if (auto r = output_.close_file(); !r) return r;
      if (e.type == EntryType::Symlink) {
        std::lock_guard lock(shared_.mutex);
        shared_.links.push_back(PendingLink{e.name, std::move(link_target_), e.mtime, label, chunk_->archive, k_});
        link_target_.clear();
      } else {
        shared_.files.fetch_add(1, std::memory_order_relaxed);
      }
    }
    if (auto* p = shared_.options->progress) p->entries_done.fetch_add(1, std::memory_order_relaxed);
    return {};
  }

  detail::Decoder* decoder_for(Method m) {
    switch (m) {
      case Method::Stored:
        if (!stored_) stored_ = detail::make_stored_decoder();
        return stored_.get();
      case Method::Deflate:
        if (!inflater_) inflater_ = detail::make_inflater(shared_.options->inflater);
        return inflater_.get();
      case Method::Zstd:
        if (!zstd_) zstd_ = detail::make_zstd_decoder();
        return zstd_.get();
    }
    return nullptr;
  }

  Shared& shared_;
  std::vector<std::byte> buffer_;
  EntryOutput output_;
  PartOutput part_output_;
  std::uint32_t frame_ = 0;
  std::size_t error_order_ = 0;  // the chunk order an error of this worker is recorded at
  std::vector<std::unique_ptr<ByteSource>> sources_;
  std::unique_ptr<detail::Decoder> stored_, inflater_, zstd_;
  detail::Decoder* decoder_ = nullptr;

  const Chunk* chunk_ = nullptr;
  const CentralDirectory* dir_ = nullptr;
  ByteSource* source_ = nullptr;
  bool hashing_ = false;
  State state_ = State::Skip;
  std::uint64_t pos_ = 0, target_ = 0, remaining_ = 0;
  std::size_t k_ = 0;
  std::vector<std::byte> header_;
  std::size_t header_need_ = 0;
  std::string link_target_;
};

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

std::vector<Chunk> plan_chunks(std::span<const ArchiveInput> archives, std::uint64_t chunk_bytes,
                               std::vector<std::unique_ptr<FramedFile>>& framed) {
  std::vector<Chunk> chunks;
  chunk_bytes = std::max<std::uint64_t>(chunk_bytes, 1);
  for (std::size_t a = 0; a < archives.size(); ++a) {
    const auto& dir = *archives[a].directory;
    const auto& entries = dir.entries;
    // Without a checksum to verify, the central directory need not be read again.
    const std::uint64_t archive_end = archives[a].expected_sha256 ? dir.archive_size : dir.cd_offset;
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
  return chunks;
}

struct TreeNode {
  EntryType type = EntryType::File;
  std::size_t archive = 0;
  const Entry* entry = nullptr;
};

std::vector<std::string_view> split(std::string_view path) {
  std::vector<std::string_view> parts;
  std::size_t start = 0;
  while (start <= path.size()) {
    std::size_t end = path.find('/', start);
    if (end == std::string_view::npos) end = path.size();
    parts.push_back(path.substr(start, end - start));
    start = end + 1;
  }
  return parts;
}

std::string join(const std::vector<std::string_view>& parts) {
  std::string out;
  for (auto p : parts) {
    if (!out.empty()) out += '/';
    out += p;
  }
  return out;
}

// Resolves `link`'s target the way the kernel would, through the other
// symlinks of the tree, and fails if any step leaves the root.
Result<void> check_link(const PendingLink& link, const std::unordered_map<std::string, const PendingLink*>& links) {
  const auto& target = link.target;
  if (target.empty()) return fail(Errc::Unsafe, "{}: empty symlink target", link.label);
  if (target.find('\0') != std::string::npos) return fail(Errc::Unsafe, "{}: NUL in symlink target", link.label);
  if (target.front() == '/')
    return fail(Errc::Unsafe,
                "{}: symlink target \"{}\" is an absolute path; store the file it points to instead "
                "(e.g. Debian's /etc/alternatives links: copy with cp -L before zip -y)",
                link.label, printable(target));
  auto stack = split(link.name);
  stack.pop_back();
  auto pending = split(target);
  std::reverse(pending.begin(), pending.end());
  int hops = 0;
  while (!pending.empty()) {
    const auto part = pending.back();
    pending.pop_back();
    if (part.empty() || part == ".") continue;
    if (part == "..") {
      if (stack.empty())
        return fail(Errc::Unsafe, "{}: symlink target \"{}\" resolves outside the root", link.label,
                    printable(target));
      stack.pop_back();
      continue;
    }
    stack.push_back(part);
    auto it = links.find(join(stack));
    if (it == links.end()) continue;
    if (++hops > kMaxSymlinkHops)
      return fail(Errc::Unsafe, "{}: symlink target \"{}\" runs through more than {} symlinks", link.label,
                  printable(target), kMaxSymlinkHops);
    const auto& via = it->second->target;
    if (via.empty() || via.front() == '/')
      return fail(Errc::Unsafe, "{}: symlink target \"{}\" runs through symlink \"{}\" to an absolute path",
                  link.label, printable(target), it->first);
    stack.pop_back();
    auto more = split(via);
    pending.insert(pending.end(), more.rbegin(), more.rend());
  }
  return {};
}

// Checks every link's target against the whole set, in the order given.
Result<void> check_links(const std::vector<PendingLink>& links) {
  std::unordered_map<std::string, const PendingLink*> by_name;
  for (const auto& l : links) by_name.emplace(l.name, &l);
  for (const auto& l : links) {
    if (auto r = check_link(l, by_name); !r) return r;
  }
  return {};
}

Result<void> create_links(int dest_fd, std::vector<PendingLink>& links) {
  std::ranges::sort(links, {}, [](const PendingLink& l) { return std::pair(l.archive, l.entry); });
  if (auto r = check_links(links); !r) return r;
  for (const auto& l : links) {
    if (auto r = make_parents(dest_fd, l.name, l.label); !r) return r;
    if (::symlinkat(l.target.c_str(), dest_fd, l.name.c_str()) != 0)
      return std::unexpected(sys_error(errno, fmt::format("{}: creating symlink", l.label)));
    const timespec times[2] = {to_timespec(l.mtime), to_timespec(l.mtime)};
    if (::utimensat(dest_fd, l.name.c_str(), times, AT_SYMLINK_NOFOLLOW) != 0)
      return std::unexpected(sys_error(errno, fmt::format("{}: setting symlink time", l.label)));
  }
  return {};
}

// Final directory modes and times, deepest first so setting a child's time
// does not disturb its parent's afterwards.
Result<void> finish_directories(int dest_fd, std::span<const ArchiveInput> archives) {
  struct DirFix {
    std::uint32_t mode = 0755;
    std::optional<std::int64_t> mtime;
  };
  std::map<std::string, DirFix> dirs;
  for (const auto& a : archives) {
    for (const auto& e : a.directory->entries) {
      for (std::size_t s = e.name.find('/'); s != std::string::npos; s = e.name.find('/', s + 1))
        dirs.try_emplace(e.name.substr(0, s));
      if (e.type == EntryType::Directory) dirs[e.name] = DirFix{installed_mode(e.mode, true), e.mtime};
    }
  }
  std::vector<std::pair<const std::string*, const DirFix*>> order;
  for (const auto& [name, fix] : dirs) order.emplace_back(&name, &fix);
  std::stable_sort(order.begin(), order.end(), [](const auto& x, const auto& y) {
    return std::count(x.first->begin(), x.first->end(), '/') > std::count(y.first->begin(), y.first->end(), '/');
  });
  for (const auto& [name, fix] : order) {
    Fd fd(::openat(dest_fd, name->c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (fd.get() < 0) return std::unexpected(sys_error(errno, fmt::format("opening directory {}", *name)));
    if (::fchmod(fd.get(), static_cast<mode_t>(fix->mode)) != 0)
      return std::unexpected(sys_error(errno, fmt::format("setting mode of directory {}", *name)));
    if (fix->mtime) {
      const timespec times[2] = {to_timespec(*fix->mtime), to_timespec(*fix->mtime)};
      if (::futimens(fd.get(), times) != 0)
        return std::unexpected(sys_error(errno, fmt::format("setting time of directory {}", *name)));
    }
  }
  return {};
}

Result<Fd> open_empty_dest(const std::filesystem::path& dest) {
  Fd fd(::open(dest.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (fd.get() < 0) return std::unexpected(sys_error(errno, "opening destination " + dest.string()));
  const int dup = ::fcntl(fd.get(), F_DUPFD_CLOEXEC, 0);
  if (dup < 0) return std::unexpected(sys_error(errno, "opening destination " + dest.string()));
  DIR* d = ::fdopendir(dup);
  if (!d) {
    ::close(dup);
    return std::unexpected(sys_error(errno, "listing destination " + dest.string()));
  }
  bool empty = true;
  while (const dirent* ent = ::readdir(d)) {
    const std::string_view n = ent->d_name;
    if (n != "." && n != "..") {
      empty = false;
      break;
    }
  }
  ::closedir(d);
  if (!empty) return fail(Errc::InvalidArgument, "destination {} is not empty", dest.string());
  return fd;
}

}  // namespace

Result<void> check_union(std::span<const ArchiveInput> archives) {
  std::unordered_map<std::string_view, TreeNode> tree;
  auto where = [&](std::size_t a, const Entry& e) {
    return fmt::format("entry \"{}\" of {}", printable(e.raw_name), archives[a].source->describe());
  };
  for (std::size_t a = 0; a < archives.size(); ++a) {
    for (const auto& e : archives[a].directory->entries) {
      auto [it, inserted] = tree.emplace(e.name, TreeNode{e.type, a, &e});
      if (inserted) continue;
      const auto& other = it->second;
      if (other.type == EntryType::Directory && e.type == EntryType::Directory) continue;
      return fail(Errc::Unsafe, "{} collides with {}: the same path twice", where(a, e),
                  where(other.archive, *other.entry));
    }
  }
  for (std::size_t a = 0; a < archives.size(); ++a) {
    for (const auto& e : archives[a].directory->entries) {
      for (std::size_t s = e.name.find('/'); s != std::string::npos; s = e.name.find('/', s + 1)) {
        auto it = tree.find(std::string_view(e.name).substr(0, s));
        if (it == tree.end() || it->second.type == EntryType::Directory) continue;
        return fail(Errc::Unsafe, "{} runs through {}, which is {}", where(a, e),
                    where(it->second.archive, *it->second.entry),
                    it->second.type == EntryType::Symlink ? "a symlink (would write through symlink)" : "a file");
      }
    }
  }
  return {};
}

Result<void> check_symlinks(std::span<const SymlinkTarget> links) {
  std::vector<PendingLink> pending;
  pending.reserve(links.size());
  for (const auto& l : links) pending.push_back(PendingLink{l.name, l.target, 0, l.label});
  return check_links(pending);
}

Result<ExtractStats> extract(std::span<const ArchiveInput> archives, const std::filesystem::path& dest,
                             const ExtractOptions& options) {
  for (const auto& a : archives) {
    if (!a.source || !a.directory) return fail(Errc::InvalidArgument, "extract: archive without source or directory");
    if (a.expected_sha256 && !is_sha256_hex(*a.expected_sha256))
      return fail(Errc::InvalidArgument, "{}: expected sha256 \"{}\" is not 64 hex digits", a.source->describe(),
                  *a.expected_sha256);
  }
  if (auto r = check_union(archives); !r) return std::unexpected(r.error());
  auto dest_fd = open_empty_dest(dest);
  if (!dest_fd) return std::unexpected(dest_fd.error());

  Shared shared(archives);
  shared.options = &options;
  shared.dest_fd = dest_fd->get();
  shared.chunks = plan_chunks(archives, options.chunk_bytes, shared.framed);
  for (std::size_t i = 0; i < shared.chunks.size(); ++i) shared.chunks[i].order = i;
  for (std::size_t a = 0; a < archives.size(); ++a)
    if (archives[a].expected_sha256) shared.hasher.enable(a);

  unsigned jobs = options.jobs != 0 ? options.jobs : std::max(2u, std::thread::hardware_concurrency());
  jobs = static_cast<unsigned>(std::clamp<std::size_t>(shared.chunks.size(), 1, jobs));
  {
    std::vector<std::unique_ptr<Worker>> workers;
    std::vector<std::jthread> threads;
    for (unsigned j = 0; j < jobs; ++j) workers.push_back(std::make_unique<Worker>(shared));
    for (unsigned j = 0; j < jobs; ++j) threads.emplace_back([w = workers[j].get()] { w->run(); });
  }
  if (shared.error) return std::unexpected(std::move(*shared.error));

  for (std::size_t a = 0; a < archives.size(); ++a) {
    if (!archives[a].expected_sha256) continue;
    std::string expected = *archives[a].expected_sha256;
    std::transform(expected.begin(), expected.end(), expected.begin(),
                   [](char ch) { return static_cast<char>(ch >= 'A' && ch <= 'F' ? ch - 'A' + 'a' : ch); });
    const auto actual = shared.hasher.digest(a);
    if (actual != expected)
      return fail(Errc::ChecksumMismatch, "{}: sha256 is {}, expected {}", archives[a].source->describe(), actual,
                  expected);
  }

  if (auto r = create_links(dest_fd->get(), shared.links); !r) return std::unexpected(r.error());
  if (auto r = finish_directories(dest_fd->get(), archives); !r) return std::unexpected(r.error());

  ExtractStats stats;
  stats.files = shared.files;
  stats.directories = shared.directories;
  stats.symlinks = shared.links.size();
  stats.bytes_read = shared.bytes_read;
  stats.bytes_written = shared.bytes_written;
  return stats;
}

}  // namespace tmpdump::archive
