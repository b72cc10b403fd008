#include "archive/zip_writer.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#include <algorithm>
#include <cerrno>
#include <ctime>
#include <functional>

#include "archive/bytes.hpp"
#include "archive/decoders.hpp"
#include "archive/zstd_frames.hpp"
#include "util/io.hpp"
#include "util/unique_fd.hpp"

namespace tmpdump::archive {
namespace {

constexpr std::uint32_t kMax32 = 0xFFFFFFFF;

void put16(std::string& out, std::uint64_t v) {
  out += static_cast<char>(v & 0xff);
  out += static_cast<char>((v >> 8) & 0xff);
}
void put32(std::string& out, std::uint64_t v) {
  put16(out, v & 0xffff);
  put16(out, (v >> 16) & 0xffff);
}
void put64(std::string& out, std::uint64_t v) {
  put32(out, v & 0xffffffff);
  put32(out, v >> 32);
}

// MS-DOS date and time of a UTC timestamp (clamped to the format's 1980-2107 range).
std::pair<std::uint16_t, std::uint16_t> dos_time(std::int64_t t) {
  const auto secs = static_cast<time_t>(std::max<std::int64_t>(t, 315532800));
  std::tm tm{};
  gmtime_r(&secs, &tm);
  const auto time = static_cast<std::uint16_t>((tm.tm_hour << 11) | (tm.tm_min << 5) | (tm.tm_sec / 2));
  const auto date =
      static_cast<std::uint16_t>((std::min(tm.tm_year - 80, 127) << 9) | ((tm.tm_mon + 1) << 5) | tm.tm_mday);
  return {time, date};
}

std::uint16_t version_needed(std::uint16_t method, bool zip64) {
  if (method == 93) return 63;
  if (zip64) return 45;
  return method == 8 ? 20 : 10;
}

struct CdRecord {
  RawEntry entry;
  std::uint64_t offset = 0;
};

// docs/formats.md, "Multi-frame zstd entries"; parsed by parse_frame_table() in zip.cpp.
void put_frame_table(std::string& extra, const ZstdFrames& f) {
  put16(extra, kZstdFramesExtraId);
  put16(extra, 14 + 4 * f.compressed_sizes.size());
  extra += '\x01';
  extra += '\x00';
  put32(extra, f.data_offset);
  put32(extra, f.slice_size);
  put32(extra, f.compressed_sizes.size());
  for (auto size : f.compressed_sizes) put32(extra, size);
}

}  // namespace

struct ZipWriter::Impl {
  UniqueFd fd;
  std::string path;
  std::string memory;
  std::uint64_t written = 0;
  bool zip64_forced = false;
  bool finished = false;
  std::vector<CdRecord> records;

  Result<void> put(const std::string& bytes) {
    if (!fd.valid()) {
      memory += bytes;
    } else if (auto w = write_all(fd.get(), bytes); !w) {
      return std::unexpected(sys_error(w.error(), "writing " + path));
    }
    written += bytes.size();
    return {};
  }
};

ZipWriter::ZipWriter() : impl_(std::make_unique<Impl>()) {}
ZipWriter::~ZipWriter() = default;
ZipWriter::ZipWriter(ZipWriter&&) noexcept = default;
ZipWriter& ZipWriter::operator=(ZipWriter&&) noexcept = default;

Result<ZipWriter> ZipWriter::to_file(const std::filesystem::path& path) {
  ZipWriter w;
  w.impl_->fd.reset(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
  if (!w.impl_->fd.valid()) return std::unexpected(sys_error(errno, "creating " + path.string()));
  w.impl_->path = path.string();
  return w;
}

Result<ZipWriter> ZipWriter::to_fd(int fd, std::string shown) {
  ZipWriter w;
  w.impl_->fd.reset(::fcntl(fd, F_DUPFD_CLOEXEC, 0));
  if (!w.impl_->fd.valid()) return std::unexpected(sys_error(errno, "writing " + shown));
  w.impl_->path = std::move(shown);
  return w;
}

void ZipWriter::force_zip64(bool on) {
  impl_->zip64_forced = on;
}
const std::string& ZipWriter::bytes() const {
  return impl_->memory;
}
std::uint64_t ZipWriter::offset() const {
  return impl_->written;
}

std::uint32_t ZipWriter::crc32(std::string_view bytes) {
  return detail::crc32(0, std::as_bytes(std::span(bytes.data(), bytes.size())));
}

Result<std::string> ZipWriter::compress(std::string_view bytes, Compression c) {
  switch (c.method) {
    case Method::Stored:
      return std::string(bytes);
    case Method::Deflate: {
      z_stream z{};
      if (deflateInit2(&z, c.level, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        return fail(Errc::InvalidArgument, "deflate level {} rejected", c.level);
      std::string out(deflateBound(&z, static_cast<uLong>(bytes.size())), '\0');
      z.next_in = const_cast<Bytef*>(reinterpret_cast<const Bytef*>(bytes.data()));
      z.avail_in = static_cast<uInt>(bytes.size());
      z.next_out = reinterpret_cast<Bytef*>(out.data());
      z.avail_out = static_cast<uInt>(out.size());
      const int rc = deflate(&z, Z_FINISH);
      out.resize(z.total_out);
      deflateEnd(&z);
      if (rc != Z_STREAM_END) return fail(Errc::Io, "deflate failed ({})", rc);
      return out;
    }
    case Method::Zstd: {
      if (c.zstd_slice > 0) {
        auto framed = compress_zstd_frames(bytes, c.level, c.zstd_slice, c.threads);
        if (!framed) return std::unexpected(framed.error());
        return std::move(framed->data);
      }
      std::string out(ZSTD_compressBound(bytes.size()), '\0');
      const std::size_t n = ZSTD_compress(out.data(), out.size(), bytes.data(), bytes.size(), c.level);
      if (ZSTD_isError(n)) return fail(Errc::Io, "zstd compression failed: {}", ZSTD_getErrorName(n));
      out.resize(n);
      return out;
    }
  }
  return fail(Errc::InvalidArgument, "unknown method");
}

Result<RawEntry> ZipWriter::make_raw(std::string_view name, std::string_view bytes, std::uint32_t mode,
                                     Compression compression) {
  RawEntry e;
  Result<std::string> data;
  if (compression.method == Method::Zstd && compression.zstd_slice > 0 && !bytes.empty()) {
    auto framed = compress_zstd_frames(bytes, compression.level, compression.zstd_slice, compression.threads);
    if (!framed) return std::unexpected(framed.error());
    e.frames = ZstdFrames{0, compression.zstd_slice, std::move(framed->sizes)};
    data = std::move(framed->data);
  } else {
    data = compress(bytes, compression);
  }
  if (!data) return std::unexpected(data.error());
  e.name = std::string(name);
  e.method = static_cast<std::uint16_t>(compression.method);
  e.crc32 = crc32(bytes);
  e.compressed_size = data->size();
  e.uncompressed_size = bytes.size();
  e.external_attributes = (S_IFREG | (mode & 07777u)) << 16;
  e.data = std::move(*data);
  return e;
}

Result<void> ZipWriter::add_file(std::string_view name, std::string_view bytes, std::uint32_t mode,
                                 Compression compression, std::int64_t mtime) {
  auto e = make_raw(name, bytes, mode, compression);
  if (!e) return std::unexpected(e.error());
  e->mtime = mtime;
  return add_raw(*e);
}

Result<void> ZipWriter::add_symlink(std::string_view name, std::string_view target, std::int64_t mtime) {
  auto e = make_raw(name, target, 0777, Compression{Method::Stored, 0});
  if (!e) return std::unexpected(e.error());
  e->external_attributes = (S_IFLNK | 0777u) << 16;
  e->mtime = mtime;
  return add_raw(*e);
}

Result<void> ZipWriter::add_directory(std::string_view name, std::uint32_t mode, std::int64_t mtime) {
  std::string n(name);
  if (!n.ends_with('/')) n += '/';
  auto e = make_raw(n, "", mode, Compression{Method::Stored, 0});
  if (!e) return std::unexpected(e.error());
  // Bit 4 is the MS-DOS directory attribute, which non-Unix readers look at.
  e->external_attributes = ((S_IFDIR | (mode & 07777u)) << 16) | 0x10u;
  e->mtime = mtime;
  return add_raw(*e);
}

Result<void> ZipWriter::add_raw(const RawEntry& entry) {
  return add_entry(entry, [&]() { return impl_->put(entry.data); });
}

Result<void> ZipWriter::add_raw_from_fd(const RawEntry& entry, int fd, std::uint64_t offset, std::string_view fd_name) {
  return add_entry(entry, [&]() -> Result<void> {
    std::string buffer;
    std::uint64_t left = entry.compressed_size;
    while (left > 0) {
      buffer.resize(static_cast<std::size_t>(std::min<std::uint64_t>(left, 1u << 20)));
      const auto n = pread_full(fd, std::as_writable_bytes(std::span(buffer)), offset);
      if (!n) return std::unexpected(sys_error(n.error(), fmt::format("reading {}", fd_name)));
      if (*n == 0) return fail(Errc::Corrupt, "{}: ends {} bytes early", fd_name, left);
      buffer.resize(*n);
      if (auto r = impl_->put(buffer); !r) return r;
      offset += *n;
      left -= *n;
    }
    return {};
  });
}

Result<void> ZipWriter::add_entry(const RawEntry& entry, const std::function<Result<void>()>& write_data) {
  if (impl_->finished) return fail(Errc::InvalidArgument, "zip writer already finished");
  const std::uint64_t offset = impl_->written;
  std::uint64_t data_offset = 0;
  if (entry.write_local) {
    const bool zip64 =
        entry.zip64 || impl_->zip64_forced || entry.compressed_size >= kMax32 || entry.uncompressed_size >= kMax32;
    const std::string& name = entry.local_name ? *entry.local_name : entry.name;
    const auto [time, date] = dos_time(entry.mtime);
    std::string extra;
    if (zip64) {
      // In a local header the zip64 extra holds both sizes, always.
      put16(extra, 0x0001);
      put16(extra, 16);
      put64(extra, entry.data_descriptor ? 0 : entry.uncompressed_size);
      put64(extra, entry.data_descriptor ? 0 : entry.compressed_size);
    }
    put16(extra, 0x5455);
    put16(extra, 5);
    extra += '\x01';
    put32(extra, static_cast<std::uint32_t>(entry.mtime));

    std::string h;
    put32(h, detail::kLocalHeaderSig);
    put16(h, version_needed(entry.method, zip64));
    put16(h, entry.flags | (entry.data_descriptor ? 0x0008u : 0u));
    put16(h, entry.method);
    put16(h, time);
    put16(h, date);
    put32(h, entry.data_descriptor ? 0 : entry.crc32);
    put32(h, zip64 ? kMax32 : (entry.data_descriptor ? 0 : entry.compressed_size));
    put32(h, zip64 ? kMax32 : (entry.data_descriptor ? 0 : entry.uncompressed_size));
    put16(h, name.size());
    put16(h, extra.size());
    h += name;
    h += extra;
    data_offset = h.size();
    if (auto r = impl_->put(h); !r) return r;
    if (auto r = write_data(); !r) return r;
    if (entry.data_descriptor) {
      std::string d;
      put32(d, detail::kDataDescriptorSig);
      put32(d, entry.crc32);
      if (zip64) {
        put64(d, entry.compressed_size);
        put64(d, entry.uncompressed_size);
      } else {
        put32(d, entry.compressed_size);
        put32(d, entry.uncompressed_size);
      }
      if (auto r = impl_->put(d); !r) return r;
    }
  }
  impl_->records.push_back(CdRecord{entry, entry.cd_local_header_offset.value_or(offset)});
  // The central directory needs only the headers; keeping the data would hold the whole archive.
  impl_->records.back().entry.data = std::string();
  if (auto& f = impl_->records.back().entry.frames; f && f->data_offset == 0)
    f->data_offset = static_cast<std::uint32_t>(data_offset);
  return {};
}

namespace {

// One central directory header; zip64 values go to the extra field for every
// size or offset that does not fit (or for all of them when zip64 is forced).
Result<void> put_central_header(std::string& cd, const RawEntry& e, std::uint64_t offset, bool forced) {
  const bool big_u = forced || e.zip64 || e.uncompressed_size >= kMax32;
  const bool big_c = forced || e.zip64 || e.compressed_size >= kMax32;
  const bool big_o = forced || e.zip64 || offset >= kMax32;
  std::string extra;
  if (big_u || big_c || big_o) {
    put16(extra, 0x0001);
    put16(extra, std::uint64_t{8} * ((big_u ? 1u : 0u) + (big_c ? 1u : 0u) + (big_o ? 1u : 0u)));
    if (big_u) put64(extra, e.uncompressed_size);
    if (big_c) put64(extra, e.compressed_size);
    if (big_o) put64(extra, offset);
  }
  put16(extra, 0x5455);
  put16(extra, 5);
  extra += '\x01';
  put32(extra, static_cast<std::uint32_t>(e.mtime));
  if (e.frames) put_frame_table(extra, *e.frames);
  if (extra.size() > 0xFFFF)
    return fail(Errc::InvalidArgument, "entry \"{}\": extra fields of {} bytes do not fit a zip header", e.name,
                extra.size());
  const auto [time, date] = dos_time(e.mtime);
  put32(cd, detail::kCentralHeaderSig);
  put16(cd, e.made_by);
  put16(cd, version_needed(e.method, big_u || big_c || big_o));
  put16(cd, e.flags | (e.data_descriptor ? 0x0008u : 0u));
  put16(cd, e.method);
  put16(cd, time);
  put16(cd, date);
  put32(cd, e.crc32);
  put32(cd, big_c ? kMax32 : e.compressed_size);
  put32(cd, big_u ? kMax32 : e.uncompressed_size);
  put16(cd, e.name.size());
  put16(cd, extra.size());
  put16(cd, 0);  // comment
  put16(cd, 0);  // disk
  put16(cd, 0);  // internal attributes
  put32(cd, e.external_attributes);
  put32(cd, big_o ? kMax32 : offset);
  cd += e.name;
  cd += extra;
  return {};
}

// The end records after a central directory of `count` entries and `cd_size`
// bytes at `cd_offset`: with `zip64`, the zip64 end record (written at
// `record`) and its locator, then the classic record with saturated values.
std::string end_records(std::uint64_t count, std::uint64_t cd_size, std::uint64_t cd_offset, bool zip64,
                        std::uint64_t record) {
  std::string end;
  if (zip64) {
    put32(end, detail::kZip64EndSig);
    put64(end, detail::kZip64EndSize - 12);
    put16(end, (3 << 8) | 63);
    put16(end, 45);
    put32(end, 0);
    put32(end, 0);
    put64(end, count);
    put64(end, count);
    put64(end, cd_size);
    put64(end, cd_offset);
    put32(end, detail::kZip64LocatorSig);
    put32(end, 0);
    put64(end, record);
    put32(end, 1);
  }
  put32(end, detail::kEndSig);
  put16(end, 0);
  put16(end, 0);
  put16(end, zip64 ? 0xFFFF : count);
  put16(end, zip64 ? 0xFFFF : count);
  put32(end, zip64 ? kMax32 : cd_size);
  put32(end, zip64 ? kMax32 : cd_offset);
  put16(end, 0);
  return end;
}

}  // namespace

Result<void> ZipWriter::finish() {
  if (impl_->finished) return fail(Errc::InvalidArgument, "zip writer already finished");
  impl_->finished = true;
  const std::uint64_t cd_offset = impl_->written;
  const bool forced = impl_->zip64_forced;
  std::string cd;
  for (const auto& [e, offset] : impl_->records) {
    if (auto r = put_central_header(cd, e, offset, forced); !r) return r;
  }
  if (auto r = impl_->put(cd); !r) return r;
  const std::uint64_t count = impl_->records.size();
  const bool zip64 = forced || count >= 0xFFFF || cd_offset >= kMax32 || cd.size() >= kMax32;
  if (auto r = impl_->put(end_records(count, cd.size(), cd_offset, zip64, impl_->written)); !r) return r;
  if (impl_->fd.valid() && ::close(impl_->fd.release()) != 0)
    return std::unexpected(sys_error(errno, "closing " + impl_->path));
  return {};
}

}  // namespace tmpdump::archive
