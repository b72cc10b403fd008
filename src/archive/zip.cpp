#include "archive/zip.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <limits>
#include <optional>
#include <unordered_map>

#include "archive/bytes.hpp"

namespace tmpdump::archive {
namespace {

using detail::le16;
using detail::le32;
using detail::le64;
using detail::printable;

constexpr std::uint16_t kHostUnix = 3;
constexpr std::uint32_t kMax32 = 0xFFFFFFFF;
constexpr std::uint16_t kMax16 = 0xFFFF;

// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) {
  y -= m <= 2 ? 1 : 0;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

std::int64_t dos_to_unix(std::uint16_t time, std::uint16_t date) {
  const auto year = static_cast<std::int64_t>((date >> 9) & 0x7f) + 1980;
  const unsigned month = std::clamp((date >> 5) & 0xfu, 1u, 12u);
  const unsigned day = std::clamp(date & 0x1fu, 1u, 31u);
  const std::int64_t secs = (time >> 11) * 3600u + ((time >> 5) & 0x3fu) * 60u + (time & 0x1fu) * 2u;
  return days_from_civil(year, month, day) * 86400 + secs;
}

bool add_overflows(std::uint64_t a, std::uint64_t b) {
  return a > std::numeric_limits<std::uint64_t>::max() - b;
}

struct EndRecord {
  std::uint64_t entries = 0;
  std::uint64_t cd_size = 0;
  std::uint64_t cd_offset = 0;
  std::uint64_t cd_end_limit = 0;  // where the central directory must end (zip64 record or EOCD)
};

// The zstd frame table extra field (docs/formats.md, "Multi-frame zstd
// entries"): u8 version 1, u8 flags 0, u32 data offset, u32 slice size,
// u32 frame count, then one u32 compressed size per frame. Everything the
// extractor relies on is checked here, against the entry's own header.
constexpr std::size_t kFrameTableHeader = 14;

Result<ZstdFrames> parse_frame_table(std::span<const std::byte> field, const Entry& e, const std::string& shown) {
  if (field.size() < kFrameTableHeader || std::to_integer<unsigned>(field[0]) != 1 ||
      std::to_integer<unsigned>(field[1]) != 0)
    return fail(Errc::Corrupt, "entry \"{}\": zstd frame table of {} bytes is malformed or of an unknown version",
                shown, field.size());
  ZstdFrames f;
  f.data_offset = le32(field, 2);
  f.slice_size = le32(field, 6);
  const std::uint32_t count = le32(field, 10);
  if (count > kMaxZstdFrames || (field.size() - kFrameTableHeader) / 4 != count ||
      (field.size() - kFrameTableHeader) % 4 != 0)
    return fail(Errc::Corrupt, "entry \"{}\": zstd frame table declares {} frames in {} bytes", shown, count,
                field.size());
  if (e.method != Method::Zstd || e.type != EntryType::File)
    return fail(Errc::Corrupt, "entry \"{}\": zstd frame table on an entry that is not a zstd file", shown);
  if (f.slice_size == 0) return fail(Errc::Corrupt, "entry \"{}\": zstd frame table with slice size 0", shown);
  const std::uint64_t need = e.uncompressed_size / f.slice_size + (e.uncompressed_size % f.slice_size != 0 ? 1 : 0);
  if (count == 0 || count != need)
    return fail(Errc::Corrupt, "entry \"{}\": zstd frame table lists {} frames, but {} bytes in slices of {} need {}",
                shown, count, e.uncompressed_size, f.slice_size, need);
  const std::uint64_t min_offset = detail::kLocalHeaderSize + e.raw_name.size();
  if (f.data_offset < min_offset || f.data_offset > min_offset + kMax16)
    return fail(Errc::Corrupt, "entry \"{}\": zstd frame table puts the data {} bytes after the local header", shown,
                f.data_offset);
  f.compressed_sizes.reserve(count);
  std::uint64_t sum = 0;
  for (std::uint32_t i = 0; i < count; ++i) {
    const std::uint32_t size = le32(field, kFrameTableHeader + 4 * std::size_t{i});
    if (size == 0) return fail(Errc::Corrupt, "entry \"{}\": zstd frame {} has compressed size 0", shown, i);
    sum += size;
    f.compressed_sizes.push_back(size);
  }
  if (sum != e.compressed_size)
    return fail(Errc::Corrupt, "entry \"{}\": zstd frame sizes sum to {} bytes, the compressed size is {}", shown, sum,
                e.compressed_size);
  return f;
}

// The fixed-size fields of a central directory header, before the extra
// fields may replace the saturated ones with their zip64 values.
struct CentralFields {
  std::uint16_t made_by = 0, flags = 0, method = 0, dos_time = 0, dos_date = 0;
  std::uint32_t crc = 0;
  std::uint64_t csize = 0, usize = 0;
  std::uint32_t disk = 0;
  std::uint32_t ext_attr = 0;
  std::uint64_t offset = 0;
  std::string raw_name;
  std::span<const std::byte> extra;
};

// Reads the header at `p` and its variable-length parts; advances p.
Result<CentralFields> read_central_fields(std::span<const std::byte> cd, std::size_t& p, std::uint64_t index) {
  if (cd.size() - p < detail::kCentralHeaderSize || le32(cd, p) != detail::kCentralHeaderSig)
    return fail(Errc::Corrupt, "central directory entry {}: bad signature or truncated", index);
  CentralFields f;
  f.made_by = le16(cd, p + 4);
  f.flags = le16(cd, p + 8);
  f.method = le16(cd, p + 10);
  f.dos_time = le16(cd, p + 12);
  f.dos_date = le16(cd, p + 14);
  f.crc = le32(cd, p + 16);
  f.csize = le32(cd, p + 20);
  f.usize = le32(cd, p + 24);
  const std::size_t name_len = le16(cd, p + 28);
  const std::size_t extra_len = le16(cd, p + 30);
  const std::size_t comment_len = le16(cd, p + 32);
  f.disk = le16(cd, p + 34);
  f.ext_attr = le32(cd, p + 38);
  f.offset = le32(cd, p + 42);
  const std::size_t var_len = name_len + extra_len + comment_len;
  if (cd.size() - p - detail::kCentralHeaderSize < var_len)
    return fail(Errc::Corrupt, "central directory entry {}: runs past the end of the directory", index);
  const auto* base = reinterpret_cast<const char*>(cd.data()) + p + detail::kCentralHeaderSize;
  f.raw_name.assign(base, name_len);
  f.extra = cd.subspan(p + detail::kCentralHeaderSize + name_len, extra_len);
  p += detail::kCentralHeaderSize + var_len;
  return f;
}

// The zip64 extra field: only the fields whose header value is saturated are
// present, in this order.
Result<void> apply_zip64(std::span<const std::byte> field, CentralFields& h, const std::string& shown) {
  std::size_t f = 0;
  auto take = [&](std::uint64_t& v) -> bool {
    if (field.size() - f < 8) return false;
    v = le64(field, f);
    f += 8;
    return true;
  };
  bool ok = true;
  if (h.usize == kMax32) ok = ok && take(h.usize);
  if (h.csize == kMax32) ok = ok && take(h.csize);
  if (h.offset == kMax32) ok = ok && take(h.offset);
  if (ok && h.disk == kMax16) {
    if (field.size() - f < 4)
      ok = false;
    else
      h.disk = le32(field, f);
  }
  if (!ok) return fail(Errc::Corrupt, "entry \"{}\": zip64 extra field too short", shown);
  return {};
}

// What the extra fields add besides zip64 values.
struct ExtraFields {
  std::optional<std::int64_t> mtime;                      // extended timestamp (0x5455)
  std::optional<std::span<const std::byte>> frame_table;  // kZstdFramesExtraId
};

Result<ExtraFields> parse_extra_fields(CentralFields& h, const std::string& shown) {
  ExtraFields out;
  const auto extra = h.extra;
  for (std::size_t e = 0; e + 4 <= extra.size();) {
    const std::uint16_t id = le16(extra, e);
    const std::size_t len = le16(extra, e + 2);
    if (extra.size() - e - 4 < len) return fail(Errc::Corrupt, "entry \"{}\": extra field runs past its end", shown);
    const auto field = extra.subspan(e + 4, len);
    if (id == 0x0001) {
      if (auto r = apply_zip64(field, h, shown); !r) return std::unexpected(std::move(r.error()));
    } else if (id == kZstdFramesExtraId) {
      if (out.frame_table) return fail(Errc::Corrupt, "entry \"{}\": two zstd frame tables", shown);
      out.frame_table = field;
    } else if (id == 0x5455 && len >= 5 && (std::to_integer<unsigned>(field[0]) & 1u) != 0) {
      out.mtime = static_cast<std::int32_t>(le32(field, 1));
    }
    e += 4 + len;
  }
  return out;
}

Result<void> check_supported(const CentralFields& h, const std::string& shown) {
  if ((h.flags & 0x0001u) != 0 || (h.flags & 0x0040u) != 0)
    return fail(Errc::Unsupported, "entry \"{}\": encrypted entries are not supported", shown);
  if (h.method != 0 && h.method != 8 && h.method != 93)
    return fail(Errc::Unsupported, "entry \"{}\": compression method {} is not supported (only stored, deflate, zstd)",
                shown, h.method);
  if (h.disk != 0) return fail(Errc::Unsupported, "entry \"{}\": multi-disk archives are not supported", shown);
  return {};
}

// Type and mode from the Unix mode when a Unix host wrote one, else from the
// name's trailing slash and the DOS directory attribute.
Result<void> set_type_and_mode(Entry& entry, const CentralFields& h, const std::string& shown) {
  const bool slash = entry.raw_name.ends_with('/');
  const auto host = static_cast<std::uint16_t>(h.made_by >> 8);
  const std::uint32_t unix_mode = h.ext_attr >> 16;
  if (host != kHostUnix || unix_mode == 0) {
    entry.type = (slash || (h.ext_attr & 0x10u) != 0) ? EntryType::Directory : EntryType::File;
    entry.mode = entry.type == EntryType::Directory ? 0755u : 0644u;
    return {};
  }
  switch (unix_mode & S_IFMT) {
    case S_IFREG:
    case 0:
      entry.type = slash ? EntryType::Directory : EntryType::File;
      break;
    case S_IFDIR:
      entry.type = EntryType::Directory;
      break;
    case S_IFLNK:
      if (slash) return fail(Errc::Corrupt, "entry \"{}\": a symlink with a directory name", shown);
      entry.type = EntryType::Symlink;
      break;
    default:
      return fail(Errc::Unsafe, "entry \"{}\": device/FIFO entry (mode {:o}) refused", shown, unix_mode);
  }
  entry.mode = unix_mode & 0777u;
  return {};
}

// Parses one central directory header at `p`; advances p.
Result<Entry> parse_central_header(std::span<const std::byte> cd, std::size_t& p, const Limits& limits,
                                   std::uint64_t index) {
  auto h = read_central_fields(cd, p, index);
  if (!h) return std::unexpected(std::move(h.error()));
  const std::string shown = printable(h->raw_name);
  auto extra = parse_extra_fields(*h, shown);
  if (!extra) return std::unexpected(std::move(extra.error()));
  if (auto r = check_supported(*h, shown); !r) return std::unexpected(std::move(r.error()));

  auto name = normalise_name(h->raw_name, limits.max_name_bytes);
  if (!name) return std::unexpected(name.error());

  Entry entry;
  entry.name = std::move(*name);
  entry.raw_name = std::move(h->raw_name);
  entry.method = static_cast<Method>(h->method);
  entry.crc32 = h->crc;
  entry.compressed_size = h->csize;
  entry.uncompressed_size = h->usize;
  entry.local_header_offset = h->offset;
  entry.mtime = extra->mtime ? *extra->mtime : dos_to_unix(h->dos_time, h->dos_date);
  if (auto r = set_type_and_mode(entry, *h, shown); !r) return std::unexpected(std::move(r.error()));

  if (entry.method == Method::Stored && h->csize != h->usize)
    return fail(Errc::Corrupt, "entry \"{}\": stored entry with compressed size {} != size {}", shown, h->csize,
                h->usize);
  if (entry.type == EntryType::Symlink && h->usize > limits.max_symlink_target_bytes)
    return fail(Errc::Unsafe, "entry \"{}\": symlink target of {} bytes exceeds the limit of {}", shown, h->usize,
                limits.max_symlink_target_bytes);
  if (extra->frame_table) {
    auto frames = parse_frame_table(*extra->frame_table, entry, shown);
    if (!frames) return std::unexpected(std::move(frames.error()));
    entry.frames = std::move(*frames);
  }
  return entry;
}

// Type, duplicate, path-through-file/symlink and range rules over one archive.
Result<void> check_entries(CentralDirectory& dir) {
  auto& entries = dir.entries;
  std::unordered_map<std::string_view, const Entry*> by_name;
  by_name.reserve(entries.size());
  for (const auto& e : entries) {
    auto [it, inserted] = by_name.emplace(e.name, &e);
    if (!inserted)
      return fail(Errc::Unsafe, "entry \"{}\": duplicate name (also stored as \"{}\")", printable(e.raw_name),
                  printable(it->second->raw_name));
  }
  for (const auto& e : entries) {
    for (std::size_t slash = e.name.find('/'); slash != std::string::npos; slash = e.name.find('/', slash + 1)) {
      auto it = by_name.find(std::string_view(e.name).substr(0, slash));
      if (it == by_name.end()) continue;
      if (it->second->type == EntryType::File)
        return fail(Errc::Unsafe, "entry \"{}\": its path runs through the file entry \"{}\"", printable(e.raw_name),
                    printable(it->second->raw_name));
      if (it->second->type == EntryType::Symlink)
        return fail(Errc::Unsafe, "entry \"{}\": would write through symlink \"{}\"", printable(e.raw_name),
                    printable(it->second->raw_name));
    }
  }

  std::sort(entries.begin(), entries.end(),
            [](const Entry& a, const Entry& b) { return a.local_header_offset < b.local_header_offset; });
  std::uint64_t total = 0;
  for (std::size_t i = 0; i < entries.size(); ++i) {
    const auto& e = entries[i];
    const std::uint64_t next = i + 1 < entries.size() ? entries[i + 1].local_header_offset : dir.cd_offset;
    // A frame table says exactly where the data starts; otherwise it is at least past the name.
    const std::uint64_t header = e.frames ? e.frames->data_offset : detail::kLocalHeaderSize + e.raw_name.size();
    if (add_overflows(e.local_header_offset, header) ||
        add_overflows(e.local_header_offset + header, e.compressed_size) ||
        e.local_header_offset + header + e.compressed_size > dir.cd_offset)
      return fail(Errc::Corrupt, "entry \"{}\": data at offset {} (+{} bytes) runs past the central directory at {}",
                  printable(e.raw_name), e.local_header_offset, e.compressed_size, dir.cd_offset);
    if (i + 1 < entries.size() && e.local_header_offset + header + e.compressed_size > next)
      return fail(Errc::Unsafe, "entry \"{}\": its data overlaps entry \"{}\" (overlapping entries)",
                  printable(e.raw_name), printable(entries[i + 1].raw_name));
    if (add_overflows(total, e.uncompressed_size))
      return fail(Errc::Unsafe, "entry \"{}\": total declared size overflows", printable(e.raw_name));
    total += e.uncompressed_size;
  }
  dir.total_uncompressed = total;
  return {};
}

}  // namespace

Result<std::string> normalise_name(std::string_view raw, std::size_t max_bytes) {
  const auto shown = printable(raw);
  if (raw.size() > max_bytes)
    return fail(Errc::Unsafe, "entry \"{}\": name of {} bytes exceeds the limit of {}", shown, raw.size(), max_bytes);
  if (raw.empty()) return fail(Errc::Unsafe, "entry \"\": empty name");
  for (char c : raw) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) return fail(Errc::Unsafe, "entry \"{}\": control character or NUL in name", shown);
    if (c == '\\') return fail(Errc::Unsafe, "entry \"{}\": backslash in name", shown);
  }
  if (raw.front() == '/') return fail(Errc::Unsafe, "entry \"{}\": absolute path", shown);
  std::string out;
  out.reserve(raw.size());
  std::size_t start = 0;
  while (start <= raw.size()) {
    std::size_t end = raw.find('/', start);
    if (end == std::string_view::npos) end = raw.size();
    const auto part = raw.substr(start, end - start);
    if (part == "..") return fail(Errc::Unsafe, "entry \"{}\": '..' component in path", shown);
    if (!part.empty() && part != ".") {
      if (!out.empty()) out += '/';
      out += part;
    }
    start = end + 1;
  }
  if (out.empty()) return fail(Errc::Unsafe, "entry \"{}\": name has no path components", shown);
  return out;
}

namespace {

// The end of central directory record: its comment is at most 65535 bytes and
// must end exactly at the end of the archive.
std::optional<std::size_t> find_end_record(std::span<const std::byte> tail) {
  const std::size_t last = tail.size() - detail::kEndSize;
  const std::size_t lowest = last > 0xFFFF ? last - 0xFFFF : 0;
  for (std::size_t p = last + 1; p-- > lowest;) {
    if (le32(tail, p) == detail::kEndSig && p + detail::kEndSize + le16(tail, p + 20) == tail.size()) return p;
  }
  return std::nullopt;
}

Result<EndRecord> read_end_record(std::span<const std::byte> tail, std::size_t e, std::uint64_t tail_start) {
  const std::uint16_t disk = le16(tail, e + 4), cd_disk = le16(tail, e + 6);
  const std::uint16_t disk_entries = le16(tail, e + 8);
  EndRecord end{le16(tail, e + 10), le32(tail, e + 12), le32(tail, e + 16), tail_start + e};
  if (disk != 0 && disk != kMax16) return fail(Errc::Unsupported, "multi-disk archives are not supported");
  if (cd_disk != 0 && cd_disk != kMax16) return fail(Errc::Unsupported, "multi-disk archives are not supported");
  if (disk_entries != end.entries) return fail(Errc::Unsupported, "multi-disk archives are not supported");
  return end;
}

// Where the tail is and how far back a re-read may reach.
struct TailView {
  std::span<const std::byte> bytes;
  std::uint64_t start = 0;  // archive offset of bytes[0]
  std::uint64_t archive_size = 0;
  std::uint64_t reread_limit = 0;
  std::uint64_t* need_offset = nullptr;
};

// Replaces `end` with the zip64 end record when the locator before the end
// record at `e` names one. False when that record lies before the tail and
// *need_offset was set for a re-read.
Result<bool> read_zip64_end(const TailView& t, std::size_t e, EndRecord& end) {
  const auto tail = t.bytes;
  const bool saturated = end.entries == kMax16 || end.cd_size == kMax32 || end.cd_offset == kMax32;
  const bool has_locator =
      e >= detail::kZip64LocatorSize && le32(tail, e - detail::kZip64LocatorSize) == detail::kZip64LocatorSig;
  if (!has_locator) {
    if (saturated) return fail(Errc::Corrupt, "end record needs zip64 values but the zip64 locator is missing");
    return true;
  }
  const std::size_t l = e - detail::kZip64LocatorSize;
  const std::uint64_t record = le64(tail, l + 8);
  if (le32(tail, l + 4) != 0 || le32(tail, l + 16) > 1)
    return fail(Errc::Unsupported, "multi-disk archives are not supported");
  if (add_overflows(record, detail::kZip64EndSize) || record + detail::kZip64EndSize > t.start + l)
    return fail(Errc::Corrupt, "zip64 end record at offset {} is out of range", record);
  if (record < t.start) {
    if (t.archive_size - record > t.reread_limit)
      return fail(Errc::Corrupt, "zip64 end record at offset {} is implausibly far from the end", record);
    if (!t.need_offset) return fail(Errc::Corrupt, "zip64 end record lies before the given tail");
    *t.need_offset = record;
    return false;
  }
  const auto r = static_cast<std::size_t>(record - t.start);
  if (le32(tail, r) != detail::kZip64EndSig) return fail(Errc::Corrupt, "zip64 end record has a bad signature");
  if (le32(tail, r + 16) != 0 || le32(tail, r + 20) != 0 || le64(tail, r + 24) != le64(tail, r + 32))
    return fail(Errc::Unsupported, "multi-disk archives are not supported");
  end = EndRecord{le64(tail, r + 32), le64(tail, r + 40), le64(tail, r + 48), record};
  return true;
}

Result<void> check_end_record(const EndRecord& end, const Limits& limits) {
  if (end.entries > limits.max_entries)
    return fail(Errc::Unsafe, "archive declares {} entries, more than the limit of {}", end.entries,
                limits.max_entries);
  if (end.cd_size > limits.max_central_directory_bytes)
    return fail(Errc::Unsafe, "central directory of {} bytes exceeds the limit of {}", end.cd_size,
                limits.max_central_directory_bytes);
  if (add_overflows(end.cd_offset, end.cd_size) || end.cd_offset + end.cd_size > end.cd_end_limit)
    return fail(Errc::Corrupt, "central directory (offset {}, {} bytes) lies outside the archive", end.cd_offset,
                end.cd_size);
  if (end.entries > end.cd_size / detail::kCentralHeaderSize)
    return fail(Errc::Corrupt, "archive declares {} entries but the central directory has only {} bytes", end.entries,
                end.cd_size);
  return {};
}

// Parses every header of the central directory (which lies inside the tail)
// and checks the entries as a whole.
Result<CentralDirectory> parse_directory(const TailView& t, const EndRecord& end, const Limits& limits) {
  CentralDirectory dir;
  dir.archive_size = t.archive_size;
  dir.cd_offset = end.cd_offset;
  dir.cd_size = end.cd_size;
  const auto cd =
      t.bytes.subspan(static_cast<std::size_t>(end.cd_offset - t.start), static_cast<std::size_t>(end.cd_size));
  dir.entries.reserve(static_cast<std::size_t>(end.entries));
  std::size_t p = 0;
  for (std::uint64_t i = 0; i < end.entries; ++i) {
    auto entry = parse_central_header(cd, p, limits, i);
    if (!entry) return std::unexpected(std::move(entry.error()));
    dir.entries.push_back(std::move(*entry));
  }
  if (p != cd.size())
    return fail(Errc::Corrupt, "central directory holds {} bytes after its {} entries", cd.size() - p, end.entries);
  if (auto r = check_entries(dir); !r) return std::unexpected(std::move(r.error()));
  return dir;
}

}  // namespace

Result<CentralDirectory> parse_tail(std::span<const std::byte> tail, std::uint64_t archive_size, const Limits& limits,
                                    std::uint64_t* need_offset) {
  if (tail.size() > archive_size) return fail(Errc::InvalidArgument, "tail longer than the archive");
  if (archive_size < detail::kEndSize || tail.size() < detail::kEndSize)
    return fail(Errc::Corrupt, "not a zip archive: {} bytes is too small", archive_size);
  // reread_limit bounds what a re-read for need_offset may ask for, whatever the records claim.
  const TailView t{tail, archive_size - tail.size(), archive_size, limits.max_central_directory_bytes + (128u << 10),
                   need_offset};

  const auto eocd = find_end_record(tail);
  if (!eocd) return fail(Errc::Corrupt, "not a zip archive: no end of central directory record");
  auto end = read_end_record(tail, *eocd, t.start);
  if (!end) return std::unexpected(std::move(end.error()));
  auto in_tail = read_zip64_end(t, *eocd, *end);
  if (!in_tail) return std::unexpected(std::move(in_tail.error()));
  if (!*in_tail) return CentralDirectory{};
  if (auto r = check_end_record(*end, limits); !r) return std::unexpected(std::move(r.error()));
  if (end->cd_offset < t.start) {
    if (archive_size - end->cd_offset > t.reread_limit)
      return fail(Errc::Unsafe, "central directory at offset {} lies {} bytes before the end, more than the limit",
                  end->cd_offset, archive_size - end->cd_offset);
    if (!need_offset) return fail(Errc::Corrupt, "central directory lies before the given tail");
    *need_offset = end->cd_offset;
    return CentralDirectory{};
  }
  return parse_directory(t, *end, limits);
}

Result<CentralDirectory> read_central_directory(ByteSource& source, const ObjectInfo& info, const Limits& limits) {
  auto read_from = [&](std::uint64_t offset) -> Result<std::string> {
    std::string buf;
    buf.reserve(static_cast<std::size_t>(info.size - offset));
    auto r = source.read(offset, info.size - offset, [&](std::span<const std::byte> b) -> Result<void> {
      buf.append(reinterpret_cast<const char*>(b.data()), b.size());
      return {};
    });
    if (!r) return std::unexpected(std::move(r.error()));
    return buf;
  };
  auto as_bytes = [](const std::string& s) { return std::as_bytes(std::span(s.data(), s.size())); };
  auto named = [&](Error err) { return std::unexpected(with_context(std::move(err), source.describe())); };

  // The zip64 end record and then the central directory may each lie before
  // the tail read so far; each re-read starts strictly earlier, so this ends.
  std::uint64_t start = info.size - std::min<std::uint64_t>(info.size, (64u << 10) + detail::kEndSize);
  for (int attempt = 0;; ++attempt) {
    auto tail = read_from(start);
    if (!tail) return named(std::move(tail.error()));
    std::uint64_t need = start;
    auto dir = parse_tail(as_bytes(*tail), info.size, limits, attempt < 2 ? &need : nullptr);
    if (!dir) return named(std::move(dir.error()));
    if (dir->archive_size != 0) return dir;
    if (need >= start) return named(Error{Errc::Corrupt, "inconsistent end records"});
    start = need;
  }
}

}  // namespace tmpdump::archive
