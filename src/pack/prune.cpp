#include "pack/prune.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <map>

#include "archive/extract.hpp"
#include "archive/read_entry.hpp"
#include "archive/zip.hpp"
#include "archive/zip_writer.hpp"
#include "pack/glob.hpp"
#include "util/file_source.hpp"
#include "util/fs_at.hpp"
#include "util/io.hpp"

namespace tmpdump::pack {

namespace fs = std::filesystem;

std::vector<std::string> default_prune_patterns() {
  return {"org/bytedeco/**/*.so",  "org/bytedeco/**/*.so.*", "org/bytedeco/**/*.a",
          "org/bytedeco/**/*.xml", "org/bytedeco/**/*.h",    "org/bytedeco/**/*.hpp"};
}

namespace {

std::uint64_t le(const std::string& b, std::size_t at, int bytes) {
  std::uint64_t v = 0;
  for (int i = bytes - 1; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(b[at + static_cast<std::size_t>(i)]);
  return v;
}

/// The central directory fields the reader does not keep.
struct CdFields {
  std::uint16_t made_by = 0;
  std::uint16_t flags = 0;
  std::uint32_t external_attributes = 0;
};

/// Central directory records by local header offset (read_central_directory
/// has already checked every length and offset of `cd`).
std::map<std::uint64_t, CdFields> cd_fields(const std::string& cd) {
  std::map<std::uint64_t, CdFields> out;
  std::size_t at = 0;
  while (at + 46 <= cd.size() && le(cd, at, 4) == 0x02014b50) {
    CdFields f;
    f.made_by = static_cast<std::uint16_t>(le(cd, at + 4, 2));
    f.flags = static_cast<std::uint16_t>(le(cd, at + 8, 2));
    const bool big_c = le(cd, at + 20, 4) == 0xFFFFFFFF, big_u = le(cd, at + 24, 4) == 0xFFFFFFFF;
    const std::size_t n = le(cd, at + 28, 2), m = le(cd, at + 30, 2), k = le(cd, at + 32, 2);
    f.external_attributes = static_cast<std::uint32_t>(le(cd, at + 38, 4));
    std::uint64_t offset = le(cd, at + 42, 4);
    if (offset == 0xFFFFFFFF) {
      // The zip64 extra holds the 64-bit values that are 0xFFFFFFFF above, in order u, c, offset.
      std::size_t e = at + 46 + n;
      const std::size_t end = std::min(cd.size(), e + m);
      while (e + 4 <= end) {
        const auto id = le(cd, e, 2), len = le(cd, e + 2, 2);
        if (id == 1 && e + 4 + len <= end) {
          const std::size_t skip = std::size_t{8} * ((big_u ? 1u : 0u) + (big_c ? 1u : 0u));
          if (skip + 8 <= len) offset = le(cd, e + 4 + skip, 8);
          break;
        }
        e += 4 + len;
      }
    }
    out[offset] = f;
    at += 46 + n + m + k;
  }
  return out;
}

Result<std::string> pread_exact(int fd, std::uint64_t offset, std::size_t size, const std::string& what) {
  std::string out(size, '\0');
  auto got = pread_full(fd, std::as_writable_bytes(std::span(out)), offset);
  if (!got) return std::unexpected(sys_error(got.error(), "reading " + what));
  if (*got != size) return fail(Errc::Corrupt, "{}: ends early", what);
  return out;
}

/// The checks pull makes before it writes anything, beyond the central
/// directory's own: one path twice, a path through a symlink or a file, and
/// symlink targets that leave the root. Entry data is not decoded: prune
/// copies it as it is stored.
Result<void> refuse_what_pull_refuses(ByteSource& source, const archive::CentralDirectory& cd) {
  const archive::ArchiveInput input{&source, &cd, std::nullopt};
  if (auto r = archive::check_union(std::span(&input, 1)); !r) return r;
  std::vector<archive::SymlinkTarget> links;
  for (const auto& e : cd.entries) {
    if (e.type != archive::EntryType::Symlink) continue;
    auto target = archive::read_entry(source, cd, e, archive::Limits{}.max_symlink_target_bytes);
    if (!target) return std::unexpected(target.error());
    links.push_back({e.name, std::move(*target), fmt::format("{}: entry \"{}\"", source.describe(), e.name)});
  }
  return archive::check_symlinks(links);
}

/// The entries no pattern matches, in archive order; the others are counted
/// in `report` as removed.
std::vector<const archive::Entry*> select_kept(const archive::CentralDirectory& cd,
                                               const std::vector<std::string>& patterns, PruneReport& report) {
  std::vector<const archive::Entry*> kept;
  for (const auto& e : cd.entries) {
    const bool remove = std::any_of(patterns.begin(), patterns.end(),
                                    [&](const std::string& g) { return glob_match_anywhere(g, e.name); });
    if (remove) {
      report.removed.push_back(e.name);
      report.unpacked_removed += e.uncompressed_size;
    } else {
      kept.push_back(&e);
    }
  }
  return kept;
}

/// `e` as the writer copies it: its stored bytes as they are, with the
/// central directory fields the reader does not keep.
archive::RawEntry raw_entry(const archive::Entry& e, const std::map<std::uint64_t, CdFields>& fields) {
  archive::RawEntry r;
  r.name = e.raw_name;
  r.method = static_cast<std::uint16_t>(e.method);
  r.crc32 = e.crc32;
  r.compressed_size = e.compressed_size;
  r.uncompressed_size = e.uncompressed_size;
  r.mtime = e.mtime;
  if (auto f = fields.find(e.local_header_offset); f != fields.end()) {
    r.made_by = f->second.made_by;
    // Sizes and CRC go into the local header, so no data descriptor is needed.
    r.flags = static_cast<std::uint16_t>(f->second.flags & ~0x0008u);
    r.external_attributes = f->second.external_attributes;
  }
  return r;
}

/// Writes a zip of the `kept` entries of the archive open as `in` into `out_fd`.
Result<void> write_kept(int in, const std::string& shown, const archive::CentralDirectory& cd,
                        const std::vector<const archive::Entry*>& kept, int out_fd, const std::string& tmp) {
  auto cd_bytes = pread_exact(in, cd.cd_offset, static_cast<std::size_t>(cd.cd_size), shown);
  if (!cd_bytes) return std::unexpected(cd_bytes.error());
  const auto fields = cd_fields(*cd_bytes);
  auto writer = archive::ZipWriter::to_fd(out_fd, tmp);
  if (!writer) return std::unexpected(writer.error());
  for (const auto* e : kept) {
    auto local = pread_exact(in, e->local_header_offset, 30, shown + ": " + e->name);
    if (!local) return std::unexpected(local.error());
    const std::uint64_t data_offset = e->local_header_offset + 30 + le(*local, 26, 2) + le(*local, 28, 2);
    if (auto w = writer->add_raw_from_fd(raw_entry(*e, fields), in, data_offset, shown + ": " + e->name); !w) {
      return w;
    }
  }
  return writer->finish();
}

/// Replaces the archive with one of its `kept` entries, keeping its
/// permission bits.
Result<void> replace_with_kept(const fs::path& archive_path, const archive::CentralDirectory& cd,
                               const std::vector<const archive::Entry*>& kept) {
  const std::string shown = archive_path.string();
  auto opened = open_input_file(archive_path);
  if (!opened) return std::unexpected(opened.error());
  const int in = opened->get();
  struct stat st {};
  if (::fstat(in, &st) != 0) return std::unexpected(sys_error(errno, "reading " + shown));

  const fs::path absolute = fs::absolute(archive_path);
  auto parent = open_parent_directory(absolute);
  if (!parent) return std::unexpected(parent.error());
  const int dir_fd = parent->fd.get();
  // O_EXCL|O_NOFOLLOW under a fresh random name beside the archive, renamed
  // over it relative to the same directory fd: nothing planted beside it is
  // ever written through.
  auto made = create_unique_file(dir_fd, "." + parent->name + ".prune-", 0600, absolute.parent_path().string());
  if (!made) return std::unexpected(made.error());
  const std::string tmp = (absolute.parent_path() / made->name).string();
  auto fail_cleanup = [&](Error e) -> Result<void> {
    ::unlinkat(dir_fd, made->name.c_str(), 0);
    return std::unexpected(std::move(e));
  };
  const int tfd = made->fd.get();
  if (auto w = write_kept(in, shown, cd, kept, tfd, tmp); !w) return fail_cleanup(w.error());
  if (::fchmod(tfd, st.st_mode & 07777) != 0 || ::fsync(tfd) != 0) {
    return fail_cleanup(sys_error(errno, "syncing " + tmp));
  }
  if (::renameat(dir_fd, made->name.c_str(), dir_fd, parent->name.c_str()) != 0) {
    return fail_cleanup(sys_error(errno, "replacing " + shown));
  }
  ::fsync(dir_fd);
  return {};
}

}  // namespace

Result<PruneReport> prune(const fs::path& archive_path, const PruneOptions& o) {
  const std::string shown = archive_path.string();
  auto source = open_file_source(archive_path);
  if (!source) return std::unexpected(source.error());
  auto info = (*source)->stat();
  if (!info) return std::unexpected(info.error());
  auto cd = archive::read_central_directory(**source, *info);
  if (!cd) return std::unexpected(with_context(cd.error(), shown));
  if (auto r = refuse_what_pull_refuses(**source, *cd); !r) return std::unexpected(with_context(r.error(), shown));

  PruneReport report;
  report.bytes_before = info->size;
  const auto kept = select_kept(*cd, o.patterns, report);
  report.kept = kept.size();
  if (report.removed.empty() || o.dry_run) {
    report.bytes_after = report.bytes_before;
    return report;
  }
  if (auto r = replace_with_kept(archive_path, *cd, kept); !r) return std::unexpected(r.error());
  std::error_code ec;
  report.bytes_after = fs::file_size(fs::absolute(archive_path), ec);
  return report;
}

}  // namespace tmpdump::pack
