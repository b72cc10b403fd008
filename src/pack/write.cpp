// Writing a packed archive: files compressed by a pool of threads, written in
// sorted order by one writer, with at most a small window of entries done
// ahead; entries larger than kInMemoryBytes are compressed into unlinked
// temporary files beside the output, so memory stays bounded whatever the
// libraries weigh.
#include "pack/write.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <mutex>
#include <thread>

#include <nlohmann/json.hpp>

#include "archive/zip_writer.hpp"
#include "archive/zstd_frames.hpp"
#include "elf/elf.hpp"
#include "util/fs_at.hpp"
#include "util/io.hpp"
#include "util/sha256.hpp"
#include "util/unique_fd.hpp"

namespace tmpdump::pack {

namespace fs = std::filesystem;

namespace {

constexpr std::size_t kChunk = 1 << 20;
constexpr std::uint64_t kInMemoryBytes = 4 << 20;
// zstd files larger than this are stored as independent frames of
// kZstdSliceBytes input each, compressed in parallel here and decoded in
// parallel by `tmpdump pull` (docs/formats.md, "Multi-frame zstd entries").
// Size cost over one frame on libLLVM-15 (117 MB): level 19, 16 MiB slices
// +1.4%, 8 MiB +3.0%; level 9, 8 MiB +1.0%, 4 MiB +2.3%, 2 MiB +4.3%. pull
// groups frames into parts of ~8 MiB compressed anyway, so that library gets
// as many parts (4 at level 19) from 16 MiB slices as from 8 MiB ones.
constexpr std::uint64_t kZstdSliceBytes = 16 << 20;
constexpr std::uint64_t kFramedZstdBytes = kZstdSliceBytes;

/// One entry ready to be written.
struct Ready {
  archive::RawEntry header;  ///< data filled for in-memory entries
  UniqueFd fd;               ///< otherwise: the stored bytes are in this file...
  std::uint64_t fd_offset = 0;
  std::string fd_name;
  bool from_fd = false;
  std::string sha256;  ///< files: of the uncompressed bytes
  std::optional<elf::Info> elf;
};

/// The output's directory, opened once: the archive's temporaries are made
/// in it relative to `fd`, never through a name someone else put there.
struct OutDir {
  int fd = -1;
  fs::path path;  ///< for messages
};

/// Where compressed bytes go: memory, or an unlinked temporary file.
class Sink {
 public:
  Sink(bool to_file, const OutDir& dir) : to_file_(to_file), dir_fd_(dir.fd), dir_(dir.path) {}

  Result<void> append(const char* data, std::size_t size) {
    if (!to_file_) {
      memory_.append(data, size);
      return {};
    }
    if (!fd_) {
      if (auto r = open_temporary(); !r) return r;
    }
    buffer_.append(data, size);
    if (buffer_.size() >= kChunk) return flush();
    return {};
  }

  Result<void> flush() {
    if (!to_file_ || buffer_.empty()) return {};
    auto r = write_all(fd_.get(), buffer_);
    buffer_.clear();
    if (!r) return std::unexpected(sys_error(r.error(), "writing a temporary file in " + dir_.string()));
    return {};
  }

  [[nodiscard]] bool to_file() const { return to_file_; }
  std::string& memory() { return memory_; }
  UniqueFd& fd() { return fd_; }

 private:
  /// An unlinked file in the output's directory: O_TMPFILE, or a fresh name
  /// unlinked at once where the file system has no O_TMPFILE.
  Result<void> open_temporary() {
    fd_.reset(::openat(dir_fd_, ".", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600));
    if (fd_) return {};
    auto made = create_unique_file(dir_fd_, ".tmpdump-pack-", 0600, dir_.string());
    if (!made) return std::unexpected(made.error());
    ::unlinkat(dir_fd_, made->name.c_str(), 0);
    fd_ = std::move(made->fd);
    return {};
  }

  bool to_file_;
  int dir_fd_;
  fs::path dir_;
  std::string memory_;
  std::string buffer_;
  UniqueFd fd_;
};

/// A streaming compressor for one entry.
class Compressor {
 public:
  virtual ~Compressor() = default;
  virtual Result<void> feed(std::span<const char> in, bool last, Sink& out) = 0;
};

class DeflateCompressor final : public Compressor {
 public:
  explicit DeflateCompressor(int level) {
    ok_ = deflateInit2(&z_, level, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY) == Z_OK;
  }
  ~DeflateCompressor() override { deflateEnd(&z_); }
  DeflateCompressor(const DeflateCompressor&) = delete;
  DeflateCompressor& operator=(const DeflateCompressor&) = delete;

  Result<void> feed(std::span<const char> in, bool last, Sink& out) override {
    if (!ok_) return fail(Errc::InvalidArgument, "deflate rejected the compression level");
    z_.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
    z_.avail_in = static_cast<uInt>(in.size());
    char buf[1 << 16];
    for (;;) {
      z_.next_out = reinterpret_cast<Bytef*>(buf);
      z_.avail_out = sizeof buf;
      const int rc = deflate(&z_, last ? Z_FINISH : Z_NO_FLUSH);
      if (rc == Z_STREAM_ERROR) return fail(Errc::Io, "deflate failed");
      if (auto r = out.append(buf, sizeof buf - z_.avail_out); !r) return r;
      if (last ? rc == Z_STREAM_END : (z_.avail_in == 0 && z_.avail_out != 0)) return {};
    }
  }

 private:
  z_stream z_{};
  bool ok_ = false;
};

class ZstdCompressor final : public Compressor {
 public:
  ZstdCompressor(int level, std::uint64_t size) : cctx_(ZSTD_createCCtx()) {
    ZSTD_CCtx_setParameter(cctx_, ZSTD_c_compressionLevel, level);
    ZSTD_CCtx_setParameter(cctx_, ZSTD_c_contentSizeFlag, 1);
    ZSTD_CCtx_setParameter(cctx_, ZSTD_c_checksumFlag, 0);
    // Readers (tmpdump pull) refuse windows above 16 MiB; levels 1-19 stay below.
    ZSTD_CCtx_setParameter(cctx_, ZSTD_c_enableLongDistanceMatching, 0);
    ZSTD_CCtx_setPledgedSrcSize(cctx_, size);
  }
  ~ZstdCompressor() override { ZSTD_freeCCtx(cctx_); }
  ZstdCompressor(const ZstdCompressor&) = delete;
  ZstdCompressor& operator=(const ZstdCompressor&) = delete;

  Result<void> feed(std::span<const char> in, bool last, Sink& out) override {
    ZSTD_inBuffer input{in.data(), in.size(), 0};
    std::string buf(ZSTD_CStreamOutSize(), '\0');
    for (;;) {
      ZSTD_outBuffer output{buf.data(), buf.size(), 0};
      const std::size_t rc = ZSTD_compressStream2(cctx_, &output, &input, last ? ZSTD_e_end : ZSTD_e_continue);
      if (ZSTD_isError(rc)) return fail(Errc::Io, "zstd compression failed: {}", ZSTD_getErrorName(rc));
      if (auto r = out.append(buf.data(), output.pos); !r) return r;
      if (last ? rc == 0 : input.pos == input.size) return {};
    }
  }

 private:
  ZSTD_CCtx* cctx_;
};

/// Fills `data` from `fd`; fewer bytes only at the end of the file.
Result<std::size_t> read_up_to(int fd, char* data, std::size_t size, const std::string& shown) {
  auto got = tmpdump::read_full(fd, std::as_writable_bytes(std::span(data, size)));
  if (!got) return std::unexpected(sys_error(got.error(), "reading " + shown));
  return *got;
}

/// Reads `size` bytes of `in` as slices of `slice` bytes, compresses `jobs`
/// slices at a time into independent frames while hashing them, and appends
/// the frames in order. Returns the frames' compressed sizes.
Result<std::vector<std::uint32_t>> compress_frames(int in, std::uint64_t size, std::uint64_t slice, int level,
                                                   unsigned jobs, const std::string& shown, Sink& sink, Sha256& sha,
                                                   uLong& crc) {
  std::vector<std::uint32_t> sizes;
  // Bounds memory (two slices per thread) whatever the core count.
  std::vector<std::string> inputs(std::clamp(jobs, 1u, 8u));
  std::vector<std::optional<Result<std::string>>> outputs(inputs.size());
  std::vector<std::unique_ptr<archive::ZstdFrameCompressor>> compressors(inputs.size());
  std::uint64_t done = 0;
  while (done < size) {
    std::size_t batch = 0;
    for (; batch < inputs.size() && done < size; ++batch) {
      const auto want = static_cast<std::size_t>(std::min(slice, size - done));
      inputs[batch].resize(want);
      auto got = read_up_to(in, inputs[batch].data(), want, shown);
      if (!got) return std::unexpected(got.error());
      if (*got != want) return fail(Errc::Io, "{} changed size while it was being packed", shown);
      done += want;
    }
    {
      std::vector<std::jthread> pool;
      for (std::size_t i = 0; i < batch; ++i) {
        pool.emplace_back([&, i] {
          if (!compressors[i]) compressors[i] = std::make_unique<archive::ZstdFrameCompressor>(level);
          outputs[i] = compressors[i]->compress(std::span(inputs[i].data(), inputs[i].size()));
        });
      }
      // Hashing overlaps with compressing.
      for (std::size_t i = 0; i < batch; ++i) {
        sha.update(std::as_bytes(std::span(inputs[i].data(), inputs[i].size())));
        crc = ::crc32_z(crc, reinterpret_cast<const Bytef*>(inputs[i].data()), inputs[i].size());
      }
    }
    for (std::size_t i = 0; i < batch; ++i) {
      auto& out = *outputs[i];
      if (!out) return std::unexpected(with_context(out.error(), shown));
      sizes.push_back(static_cast<std::uint32_t>(out->size()));
      if (auto r = sink.append(out->data(), out->size()); !r) return std::unexpected(r.error());
      outputs[i].reset();
    }
  }
  char probe = 0;
  auto extra = read_up_to(in, &probe, 1, shown);
  if (!extra) return std::unexpected(extra.error());
  if (*extra != 0) return fail(Errc::Io, "{} changed size while it was being packed", shown);
  return sizes;
}

/// A file to pack, open, and its size when opened.
struct OpenedSource {
  UniqueFd fd;
  std::uint64_t size = 0;
};

Result<OpenedSource> open_source(const fs::path& source, const std::string& shown) {
  OpenedSource opened{UniqueFd(::open(source.c_str(), O_RDONLY | O_CLOEXEC)), 0};
  if (!opened.fd) return std::unexpected(sys_error(errno, "opening " + shown));
  struct stat st {};
  if (::fstat(opened.fd.get(), &st) != 0) return std::unexpected(sys_error(errno, "reading " + shown));
  opened.size = static_cast<std::uint64_t>(st.st_size);
  return opened;
}

/// The streaming compressor for a file of `size` bytes; none for an empty
/// file, for Stored, and for zstd files compressed as frames.
std::unique_ptr<Compressor> make_compressor(const PackOptions& o, std::uint64_t size, bool framed) {
  if (size > 0 && o.method == archive::Method::Deflate) return std::make_unique<DeflateCompressor>(o.level);
  if (size > 0 && o.method == archive::Method::Zstd && !framed) return std::make_unique<ZstdCompressor>(o.level, size);
  return nullptr;
}

/// Running digests of a file's uncompressed bytes.
struct Digests {
  Sha256 sha;
  uLong crc = ::crc32(0, nullptr, 0);
};

/// Reads `in` to its end in chunks, hashing each and feeding it to
/// `compressor` (when there is one). Io when the file is not `size` bytes long.
Result<void> compress_stream(int in, std::uint64_t size, Compressor* compressor, const std::string& shown, Sink& sink,
                             Digests& digests) {
  std::string buffer(kChunk, '\0');
  std::uint64_t total = 0;
  for (;;) {
    const auto n = read_some(in, std::as_writable_bytes(std::span(buffer)));
    if (!n) return std::unexpected(sys_error(n.error(), "reading " + shown));
    const std::size_t got = *n;
    total += got;
    if (total > size) break;
    digests.sha.update(std::as_bytes(std::span(buffer.data(), got)));
    digests.crc = ::crc32(digests.crc, reinterpret_cast<const Bytef*>(buffer.data()), static_cast<uInt>(got));
    const bool last = got == 0;
    if (compressor) {
      if (auto r = compressor->feed(std::span<const char>(buffer.data(), got), last, sink); !r) {
        return std::unexpected(with_context(r.error(), shown));
      }
    }
    if (last) break;
  }
  if (total != size) return fail(Errc::Io, "{} changed size while it was being packed", shown);
  return {};
}

/// Points `ready` at the bytes to store: the source itself when compression
/// did not shrink it (or there was none), else what `sink` holds.
void take_stored_bytes(Ready& ready, OpenedSource& in, Sink& sink, bool compressed, archive::Method method,
                       std::optional<archive::ZstdFrames> frames, const std::string& shown, const OutDir& tmpdir) {
  auto& h = ready.header;
  const std::uint64_t packed =
      sink.to_file() ? static_cast<std::uint64_t>(::lseek(sink.fd().get(), 0, SEEK_END)) : sink.memory().size();
  if (!compressed || packed >= in.size) {
    // Compression that does not shrink is not worth a decoder's time.
    h.method = static_cast<std::uint16_t>(archive::Method::Stored);
    h.compressed_size = in.size;
    ready.fd = std::move(in.fd);
    ready.fd_name = shown;
    ready.from_fd = true;
    return;
  }
  h.method = static_cast<std::uint16_t>(method);
  h.compressed_size = packed;
  if (frames) h.frames = std::move(*frames);
  if (sink.to_file()) {
    ready.fd = std::move(sink.fd());
    ready.fd_name = "a temporary file in " + tmpdir.path.string();
    ready.from_fd = true;
  } else {
    h.data = std::move(sink.memory());
  }
}

/// Reads, hashes and compresses one file.
Result<Ready> compress_file(const PlannedEntry& e, const PackOptions& o, unsigned jobs, std::int64_t mtime,
                            const OutDir& tmpdir) {
  const std::string shown = e.source.string();
  auto in = open_source(e.source, shown);
  if (!in) return std::unexpected(in.error());
  const std::uint64_t size = in->size;

  Ready ready;
  auto& h = ready.header;
  h.name = e.path;
  h.mtime = mtime;
  h.external_attributes = (S_IFREG | (e.mode & 0777u)) << 16;
  h.uncompressed_size = size;

  const bool framed = o.method == archive::Method::Zstd && size > kFramedZstdBytes;
  const auto compressor = make_compressor(o, size, framed);
  Sink sink(size > kInMemoryBytes, tmpdir);
  Digests digests;
  std::optional<archive::ZstdFrames> frames;
  if (framed) {
    // Slices grow for huge files so that the frame table fits its extra field.
    const std::uint64_t slice =
        std::max<std::uint64_t>(kZstdSliceBytes, (size + archive::kMaxZstdFrames - 1) / archive::kMaxZstdFrames);
    auto sizes = compress_frames(in->fd.get(), size, slice, o.level, jobs, shown, sink, digests.sha, digests.crc);
    if (!sizes) return std::unexpected(sizes.error());
    frames = archive::ZstdFrames{0, static_cast<std::uint32_t>(slice), std::move(*sizes)};
  } else if (auto r = compress_stream(in->fd.get(), size, compressor.get(), shown, sink, digests); !r) {
    return std::unexpected(r.error());
  }
  if (auto r = sink.flush(); !r) return std::unexpected(r.error());
  ready.sha256 = digests.sha.hex_digest();
  h.crc32 = static_cast<std::uint32_t>(digests.crc);

  take_stored_bytes(ready, *in, sink, compressor || framed, o.method, std::move(frames), shown, tmpdir);
  if (auto info = elf::read_file(e.source); info) ready.elf = std::move(*info);
  return ready;
}

std::string version_text(const std::vector<int>& v) {
  std::string out;
  for (std::size_t i = 0; i < v.size(); ++i) {
    // "2.34", not "2.34.0": the form GLIBC_ version names use.
    if (i >= 2 && v[i] == 0 && i + 1 == v.size()) break;
    out += (i ? "." : "") + std::to_string(v[i]);
  }
  return out;
}

/// Compresses the plan's files on `jobs` threads, at most `window` entries
/// ahead of the one the writer takes, so memory stays bounded.
class CompressionPool {
 public:
  CompressionPool(const std::vector<PlannedEntry>& entries, const PackOptions& o, unsigned jobs, const OutDir& dir)
      : entries_(entries),
        options_(o),
        jobs_(jobs),
        dir_(dir),
        window_(2 * static_cast<std::size_t>(jobs) + 2),
        slots_(entries.size()) {
    for (unsigned i = 0; i < jobs; ++i) threads_.emplace_back([this] { work(); });
  }
  CompressionPool(const CompressionPool&) = delete;
  CompressionPool& operator=(const CompressionPool&) = delete;
  ~CompressionPool() { stop(); }

  /// Waits for entry `k` (taken in order) and lets the workers move on past it.
  Result<Ready> take(std::size_t k) {
    Result<Ready> r = Ready{};
    {
      std::unique_lock lk(mu_);
      cv_.wait(lk, [&] { return slots_[k].has_value(); });
      r = std::move(*slots_[k]);
      slots_[k].reset();
      written_ = k + 1;
    }
    cv_.notify_all();
    return r;
  }

  /// Stops the workers after the entry each is on, and joins them.
  void stop() {
    {
      std::lock_guard lk(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    threads_.clear();
  }

 private:
  void work() {
    for (;;) {
      std::size_t k = 0;
      {
        std::unique_lock lk(mu_);
        cv_.wait(lk, [&] { return stop_ || next_ >= entries_.size() || next_ < written_ + window_; });
        if (stop_ || next_ >= entries_.size()) return;
        k = next_++;
      }
      Result<Ready> r = Ready{};
      if (entries_[k].type == archive::EntryType::File) {
        r = compress_file(entries_[k], options_, jobs_, options_.mtime, dir_);
      }
      std::lock_guard lk(mu_);
      slots_[k] = std::move(r);
      cv_.notify_all();
    }
  }

  const std::vector<PlannedEntry>& entries_;
  const PackOptions& options_;
  const unsigned jobs_;
  const OutDir& dir_;
  const std::size_t window_;
  std::vector<std::optional<Result<Ready>>> slots_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::size_t next_ = 0, written_ = 0;
  bool stop_ = false;
  std::vector<std::jthread> threads_;  // last: joined before the state they use goes
};

/// What the manifest says about the entries, gathered as they are written.
struct ManifestEntries {
  nlohmann::ordered_json files = nlohmann::ordered_json::array();
  nlohmann::ordered_json symlinks = nlohmann::ordered_json::array();
  std::optional<std::vector<int>> glibc;  ///< highest GLIBC_ version any non-variant file needs
};

/// A file's manifest record; raises the archive's glibc and x86-64 levels
/// with what a non-variant ELF file needs.
nlohmann::ordered_json file_record(const PlannedEntry& e, const Ready& ready, ManifestEntries& m, PackReport& report) {
  nlohmann::ordered_json f = {{"path", e.path}, {"size", ready.header.uncompressed_size}, {"sha256", ready.sha256}};
  if (!ready.elf) return f;
  const bool variant = e.path.starts_with("lib/glibc-hwcaps/");
  if (ready.elf->soname) f["soname"] = *ready.elf->soname;
  if (auto v = elf::max_glibc_version(ready.elf->version_needs)) {
    f["needs_glibc"] = version_text(*v);
    if (!variant && (!m.glibc || *v > *m.glibc)) m.glibc = *v;
  }
  if (ready.elf->x86_isa_level > 0) {
    f["x86_isa_level"] = ready.elf->x86_isa_level;
    if (!variant) report.x86_isa_level = std::max(report.x86_isa_level, ready.elf->x86_isa_level);
  }
  return f;
}

/// Writes one entry and counts it in `report` and `m`.
Result<void> write_entry(archive::ZipWriter& writer, const PlannedEntry& e, const Ready& ready, std::int64_t mtime,
                         ManifestEntries& m, PackReport& report) {
  switch (e.type) {
    case archive::EntryType::Directory:
      ++report.directories;
      return writer.add_directory(e.path, 0755, mtime);
    case archive::EntryType::Symlink:
      m.symlinks.push_back({{"path", e.path}, {"target", e.target}});
      ++report.symlinks;
      return writer.add_symlink(e.path, e.target, mtime);
    case archive::EntryType::File: {
      auto ok = ready.from_fd ? writer.add_raw_from_fd(ready.header, ready.fd.get(), ready.fd_offset, ready.fd_name)
                              : writer.add_raw(ready.header);
      m.files.push_back(file_record(e, ready, m, report));
      report.unpacked_bytes += ready.header.uncompressed_size;
      ++report.files;
      return ok;
    }
  }
  return {};
}

/// .tmpdump/manifest.json (docs/formats.md); sets report.glibc.
std::string manifest_text(const PackOptions& o, const Plan& plan, ManifestEntries m, PackReport& report) {
  nlohmann::ordered_json manifest;
  manifest["format"] = 1;
  manifest["created_by"] = o.created_by;
  manifest["compression"] = o.method == archive::Method::Zstd      ? "zstd"
                            : o.method == archive::Method::Deflate ? "deflate"
                                                                   : "stored";
  manifest["level"] = o.level;
  manifest["files"] = std::move(m.files);
  manifest["symlinks"] = std::move(m.symlinks);
  nlohmann::ordered_json variants = nlohmann::ordered_json::object();
  for (const auto& [name, d] : o.variants) variants[name] = "lib/glibc-hwcaps/" + name;
  manifest["variants"] = std::move(variants);
  nlohmann::ordered_json requirements = nlohmann::ordered_json::object();
  if (m.glibc) {
    report.glibc = version_text(*m.glibc);
    requirements["glibc"] = *report.glibc;
  }
  if (report.x86_isa_level > 0) requirements["x86_isa_level"] = report.x86_isa_level;
  manifest["requirements"] = std::move(requirements);
  manifest["unpacked_bytes"] = report.unpacked_bytes;
  // Only when something was: archives without it stay byte for byte as before.
  if (!plan.left_out.empty()) {
    nlohmann::ordered_json left = nlohmann::ordered_json::array();
    for (const auto& l : plan.left_out) {
      left.push_back({{"path", l.path}, {"provided_by", l.provided_by}, {"names", l.names}});
    }
    manifest["left_out"] = std::move(left);
  }
  return manifest.dump(2) + "\n";
}

/// Writes everything into `tmp_fd`; the caller owns the temporary file.
Result<PackReport> write_archive(const PackOptions& o, const Plan& plan, int tmp_fd, const std::string& tmp,
                                 const OutDir& dir) {
  PackReport report;
  auto writer = archive::ZipWriter::to_fd(tmp_fd, tmp);
  if (!writer) return std::unexpected(writer.error());
  const auto& entries = plan.entries;
  const unsigned jobs = o.jobs > 0 ? o.jobs : std::max(1u, std::thread::hardware_concurrency());
  ManifestEntries m;
  {
    CompressionPool pool(entries, o, jobs, dir);
    for (std::size_t k = 0; k < entries.size(); ++k) {
      auto ready = pool.take(k);
      if (!ready) return std::unexpected(ready.error());
      if (auto ok = write_entry(*writer, entries[k], *ready, o.mtime, m, report); !ok) {
        return std::unexpected(ok.error());
      }
    }
  }
  const std::string text = manifest_text(o, plan, std::move(m), report);
  if (auto r = writer->add_file(".tmpdump/manifest.json", text, 0644, {o.method, o.level}, o.mtime); !r) {
    return std::unexpected(r.error());
  }
  if (auto r = writer->finish(); !r) return std::unexpected(r.error());
  return report;
}

}  // namespace

Result<PackReport> pack(const PackOptions& options, const fs::path& output) {
  const auto start = std::chrono::steady_clock::now();
  if (options.method == archive::Method::Zstd && (options.level < 1 || options.level > 19)) {
    return fail(Errc::InvalidArgument, "zstd level {} is outside 1-19 (higher levels need windows readers refuse)",
                options.level);
  }
  if (options.method == archive::Method::Deflate && (options.level < 1 || options.level > 9)) {
    return fail(Errc::InvalidArgument, "deflate level {} is outside 1-9", options.level);
  }
  auto planned = plan(options);
  if (!planned) return std::unexpected(planned.error());

  const fs::path absolute = fs::absolute(output);
  auto parent = open_parent_directory(absolute);
  if (!parent) return std::unexpected(parent.error());
  const OutDir dir{parent->fd.get(), absolute.parent_path()};
  // O_EXCL|O_NOFOLLOW under a fresh random name, renamed into place relative
  // to the same directory fd: a link planted beside the output is never
  // written through, and one planted at the output's name is replaced.
  auto tmp = create_unique_file(dir.fd, "." + parent->name + ".tmp-", 0600, dir.path.string());
  if (!tmp) return std::unexpected(tmp.error());
  const std::string shown_tmp = (dir.path / tmp->name).string();
  auto report = write_archive(options, *planned, tmp->fd.get(), shown_tmp, dir);
  auto cleanup_fail = [&](Error e) -> Result<PackReport> {
    ::unlinkat(dir.fd, tmp->name.c_str(), 0);
    return std::unexpected(std::move(e));
  };
  if (!report) return cleanup_fail(report.error());
  if (::fsync(tmp->fd.get()) != 0) return cleanup_fail(sys_error(errno, "syncing " + shown_tmp));
  ::fchmod(tmp->fd.get(), 0644);
  if (::renameat(dir.fd, tmp->name.c_str(), dir.fd, parent->name.c_str()) != 0) {
    return cleanup_fail(sys_error(errno, "renaming to " + absolute.string()));
  }
  if (::fsync(dir.fd) != 0) return std::unexpected(sys_error(errno, "syncing " + dir.path.string()));
  std::error_code ec;
  report->archive_bytes = fs::file_size(absolute, ec);
  auto digest = sha256_file(absolute);
  if (!digest) return std::unexpected(digest.error());
  report->sha256 = std::move(*digest);
  report->added_by_closure = planned->added_by_closure;
  report->left_out = planned->left_out;
  report->elapsed = std::chrono::steady_clock::now() - start;
  return report;
}

}  // namespace tmpdump::pack
