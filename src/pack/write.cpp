// Writing a packed archive: files compressed by a pool of threads, written in
// sorted order by one writer, with at most a small window of entries done
// ahead; entries larger than kInMemoryBytes are compressed into unlinked
// temporary files beside the output, so memory stays bounded whatever the
// libraries weigh.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <mutex>
#include <thread>

#include <nlohmann/json.hpp>
#include <zlib.h>
#include <zstd.h>

#include "archive/zip_writer.hpp"
#include "archive/zstd_frames.hpp"
#include "elf/elf.hpp"
#include "pack/pack.hpp"
#include "util/fs_at.hpp"
#include "util/sha256.hpp"

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

/// An open file descriptor, closed on destruction.
class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(Fd&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
  Fd& operator=(Fd&& o) noexcept {
    if (this != &o) {
      if (fd_ >= 0) ::close(fd_);
      fd_ = std::exchange(o.fd_, -1);
    }
    return *this;
  }
  [[nodiscard]] int get() const { return fd_; }

 private:
  int fd_ = -1;
};

/// One entry ready to be written.
struct Ready {
  archive::RawEntry header;  ///< data filled for in-memory entries
  Fd fd;                     ///< otherwise: the stored bytes are in this file...
  std::uint64_t fd_offset = 0;
  std::string fd_name;
  bool from_fd = false;
  std::string sha256;  ///< files: of the uncompressed bytes
  std::optional<elf::Info> elf;
};

Result<void> write_all(int fd, const char* data, std::size_t size, const std::string& what) {
  while (size > 0) {
    const ssize_t w = ::write(fd, data, size);
    if (w < 0) {
      if (errno == EINTR) continue;
      return std::unexpected(sys_error(errno, what));
    }
    data += w;
    size -= static_cast<std::size_t>(w);
  }
  return {};
}

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
    if (fd_.get() < 0) {
      int fd = ::openat(dir_fd_, ".", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
      if (fd < 0) {
        auto made = create_unique_file(dir_fd_, ".tmpdump-pack-", 0600, dir_.string());
        if (!made) return std::unexpected(made.error());
        ::unlinkat(dir_fd_, made->name.c_str(), 0);
        fd = ::fcntl(made->fd.get(), F_DUPFD_CLOEXEC, 0);
        if (fd < 0) return std::unexpected(sys_error(errno, "creating a temporary file in " + dir_.string()));
      }
      fd_ = Fd(fd);
    }
    buffer_.append(data, size);
    if (buffer_.size() >= kChunk) return flush();
    return {};
  }

  Result<void> flush() {
    if (!to_file_ || buffer_.empty()) return {};
    auto r = write_all(fd_.get(), buffer_.data(), buffer_.size(), "writing a temporary file in " + dir_.string());
    buffer_.clear();
    return r;
  }

  [[nodiscard]] bool to_file() const { return to_file_; }
  std::string& memory() { return memory_; }
  Fd& fd() { return fd_; }

 private:
  bool to_file_;
  int dir_fd_;
  fs::path dir_;
  std::string memory_;
  std::string buffer_;
  Fd fd_;
};

/// A streaming compressor for one entry.
class Compressor {
 public:
  virtual ~Compressor() = default;
  virtual Result<void> feed(std::span<const char> in, bool last, Sink& out) = 0;
};

class DeflateCompressor final : public Compressor {
 public:
  explicit DeflateCompressor(int level) { ok_ = deflateInit2(&z_, level, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY) == Z_OK; }
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

Result<std::size_t> read_full(int fd, char* data, std::size_t size, const std::string& shown) {
  std::size_t got = 0;
  while (got < size) {
    const ssize_t n = ::read(fd, data + got, size - got);
    if (n < 0) {
      if (errno == EINTR) continue;
      return std::unexpected(sys_error(errno, "reading " + shown));
    }
    if (n == 0) break;
    got += static_cast<std::size_t>(n);
  }
  return got;
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
      auto got = read_full(in, inputs[batch].data(), want, shown);
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
  auto extra = read_full(in, &probe, 1, shown);
  if (!extra) return std::unexpected(extra.error());
  if (*extra != 0) return fail(Errc::Io, "{} changed size while it was being packed", shown);
  return sizes;
}

/// Reads, hashes and compresses one file.
Result<Ready> compress_file(const PlannedEntry& e, const PackOptions& o, unsigned jobs, std::int64_t mtime,
                            const OutDir& tmpdir) {
  const std::string shown = e.source.string();
  Fd in(::open(e.source.c_str(), O_RDONLY | O_CLOEXEC));
  if (in.get() < 0) return std::unexpected(sys_error(errno, "opening " + shown));
  struct stat st{};
  if (::fstat(in.get(), &st) != 0) return std::unexpected(sys_error(errno, "reading " + shown));
  const auto size = static_cast<std::uint64_t>(st.st_size);

  Ready ready;
  auto& h = ready.header;
  h.name = e.path;
  h.mtime = mtime;
  h.external_attributes = (S_IFREG | (e.mode & 0777u)) << 16;
  h.uncompressed_size = size;

  std::unique_ptr<Compressor> compressor;
  const bool framed = o.method == archive::Method::Zstd && size > kFramedZstdBytes;
  if (size > 0 && o.method == archive::Method::Deflate) {
    compressor = std::make_unique<DeflateCompressor>(o.level);
  } else if (size > 0 && o.method == archive::Method::Zstd && !framed) {
    compressor = std::make_unique<ZstdCompressor>(o.level, size);
  }
  Sink sink(size > kInMemoryBytes, tmpdir);
  Sha256 sha;
  uLong crc = ::crc32(0, nullptr, 0);
  std::string buffer(framed ? 0 : kChunk, '\0');
  std::uint64_t total = 0;
  std::vector<std::uint32_t> frame_sizes;
  // Slices grow for huge files so that the frame table fits its extra field.
  const std::uint64_t slice =
      std::max<std::uint64_t>(kZstdSliceBytes, (size + archive::kMaxZstdFrames - 1) / archive::kMaxZstdFrames);
  if (framed) {
    auto sizes = compress_frames(in.get(), size, slice, o.level, jobs, shown, sink, sha, crc);
    if (!sizes) return std::unexpected(sizes.error());
    frame_sizes = std::move(*sizes);
    total = size;
  }
  while (!framed) {
    const ssize_t n = ::read(in.get(), buffer.data(), buffer.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return std::unexpected(sys_error(errno, "reading " + shown));
    }
    const auto got = static_cast<std::size_t>(n);
    total += got;
    if (total > size) break;
    sha.update(std::as_bytes(std::span(buffer.data(), got)));
    crc = ::crc32(crc, reinterpret_cast<const Bytef*>(buffer.data()), static_cast<uInt>(got));
    const bool last = got == 0;
    if (compressor) {
      if (auto r = compressor->feed(std::span<const char>(buffer.data(), got), last, sink); !r) {
        return std::unexpected(with_context(r.error(), shown));
      }
    }
    if (last) break;
  }
  if (total != size) return fail(Errc::Io, "{} changed size while it was being packed", shown);
  if (auto r = sink.flush(); !r) return std::unexpected(r.error());
  ready.sha256 = sha.hex_digest();
  h.crc32 = static_cast<std::uint32_t>(crc);

  const std::uint64_t packed = sink.to_file() ? static_cast<std::uint64_t>(::lseek(sink.fd().get(), 0, SEEK_END))
                                              : sink.memory().size();
  if ((!compressor && !framed) || packed >= size) {
    // Compression that does not shrink is not worth a decoder's time.
    h.method = static_cast<std::uint16_t>(archive::Method::Stored);
    h.compressed_size = size;
    ready.fd = std::move(in);
    ready.fd_name = shown;
    ready.from_fd = true;
  } else {
    h.method = static_cast<std::uint16_t>(o.method);
    h.compressed_size = packed;
    if (framed) h.frames = archive::ZstdFrames{0, static_cast<std::uint32_t>(slice), std::move(frame_sizes)};
    if (sink.to_file()) {
      ready.fd = std::move(sink.fd());
      ready.fd_name = "a temporary file in " + tmpdir.path.string();
      ready.from_fd = true;
    } else {
      h.data = std::move(sink.memory());
    }
  }
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

/// Writes everything into `tmp_fd`; the caller owns the temporary file.
Result<PackReport> write_archive(const PackOptions& o, const Plan& plan, int tmp_fd, const std::string& tmp,
                                 const OutDir& dir) {
  PackReport report;
  auto writer = archive::ZipWriter::to_fd(tmp_fd, tmp);
  if (!writer) return std::unexpected(writer.error());
  const auto& entries = plan.entries;
  const unsigned jobs = o.jobs > 0 ? o.jobs : std::max(1u, std::thread::hardware_concurrency());
  const std::size_t window = 2 * static_cast<std::size_t>(jobs) + 2;

  std::vector<std::optional<Result<Ready>>> slots(entries.size());
  std::mutex mu;
  std::condition_variable cv;
  std::size_t next = 0, written = 0;
  bool stop = false;
  auto worker = [&] {
    for (;;) {
      std::size_t k = 0;
      {
        std::unique_lock lk(mu);
        cv.wait(lk, [&] { return stop || next >= entries.size() || next < written + window; });
        if (stop || next >= entries.size()) return;
        k = next++;
      }
      Result<Ready> r = Ready{};
      if (entries[k].type == archive::EntryType::File) r = compress_file(entries[k], o, jobs, o.mtime, dir);
      std::lock_guard lk(mu);
      slots[k] = std::move(r);
      cv.notify_all();
    }
  };
  std::vector<std::jthread> pool;
  for (unsigned i = 0; i < jobs; ++i) pool.emplace_back(worker);
  auto stop_pool = [&] {
    {
      std::lock_guard lk(mu);
      stop = true;
    }
    cv.notify_all();
    pool.clear();
  };

  nlohmann::ordered_json files = nlohmann::ordered_json::array();
  nlohmann::ordered_json symlinks = nlohmann::ordered_json::array();
  std::optional<std::vector<int>> glibc;
  for (std::size_t k = 0; k < entries.size(); ++k) {
    Result<Ready> r = Ready{};
    {
      std::unique_lock lk(mu);
      cv.wait(lk, [&] { return slots[k].has_value(); });
      r = std::move(*slots[k]);
      slots[k].reset();
      written = k + 1;
    }
    cv.notify_all();
    if (!r) {
      stop_pool();
      return std::unexpected(r.error());
    }
    const auto& e = entries[k];
    Result<void> ok;
    switch (e.type) {
      case archive::EntryType::Directory:
        ok = writer->add_directory(e.path, 0755, o.mtime);
        ++report.directories;
        break;
      case archive::EntryType::Symlink:
        ok = writer->add_symlink(e.path, e.target, o.mtime);
        symlinks.push_back({{"path", e.path}, {"target", e.target}});
        ++report.symlinks;
        break;
      case archive::EntryType::File: {
        auto& ready = *r;
        ok = ready.from_fd ? writer->add_raw_from_fd(ready.header, ready.fd.get(), ready.fd_offset, ready.fd_name)
                           : writer->add_raw(ready.header);
        nlohmann::ordered_json f = {{"path", e.path}, {"size", ready.header.uncompressed_size},
                                    {"sha256", ready.sha256}};
        const bool variant = e.path.starts_with("lib/glibc-hwcaps/");
        if (ready.elf) {
          if (ready.elf->soname) f["soname"] = *ready.elf->soname;
          if (auto v = elf::max_glibc_version(ready.elf->version_needs)) {
            f["needs_glibc"] = version_text(*v);
            if (!variant && (!glibc || *v > *glibc)) glibc = *v;
          }
          if (ready.elf->x86_isa_level > 0) {
            f["x86_isa_level"] = ready.elf->x86_isa_level;
            if (!variant) report.x86_isa_level = std::max(report.x86_isa_level, ready.elf->x86_isa_level);
          }
        }
        files.push_back(std::move(f));
        report.unpacked_bytes += ready.header.uncompressed_size;
        ++report.files;
        break;
      }
    }
    if (!ok) {
      stop_pool();
      return std::unexpected(ok.error());
    }
  }
  stop_pool();

  nlohmann::ordered_json manifest;
  manifest["format"] = 1;
  manifest["created_by"] = o.created_by;
  manifest["compression"] = o.method == archive::Method::Zstd ? "zstd" : o.method == archive::Method::Deflate
                                                                             ? "deflate"
                                                                             : "stored";
  manifest["level"] = o.level;
  manifest["files"] = std::move(files);
  manifest["symlinks"] = std::move(symlinks);
  nlohmann::ordered_json variants = nlohmann::ordered_json::object();
  for (const auto& [name, d] : o.variants) variants[name] = "lib/glibc-hwcaps/" + name;
  manifest["variants"] = std::move(variants);
  nlohmann::ordered_json requirements = nlohmann::ordered_json::object();
  if (glibc) {
    report.glibc = version_text(*glibc);
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
  const std::string text = manifest.dump(2) + "\n";
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
