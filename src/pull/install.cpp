#include "pull/install.hpp"

#include <fcntl.h>
#include <linux/fs.h>  // RENAME_EXCHANGE
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <fstream>
#include <optional>
#include <set>
#include <sstream>
#include <thread>

#include "archive/zip.hpp"
#include "pull/stamp.hpp"

namespace tmpdump::pull {

namespace fs = std::filesystem;

namespace {

/// Swaps two paths atomically. The raw syscall keeps this working on glibc
/// older than 2.28 (Amazon Linux 2), which has no renameat2 wrapper.
bool exchange(const fs::path& a, const fs::path& b) {
  return ::syscall(SYS_renameat2, AT_FDCWD, a.c_str(), AT_FDCWD, b.c_str(), RENAME_EXCHANGE) == 0;
}

void remove_tree(const fs::path& p) {
  std::error_code ec;
  fs::remove_all(p, ec);
}

/// Removes staging directories that a killed pull left behind (the lock is held).
void remove_stale_staging(const fs::path& root) {
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(root, ec)) {
    if (e.path().filename().string().starts_with(kStagingPrefix)) remove_tree(e.path());
  }
}

Result<std::uint64_t> free_bytes(const fs::path& root) {
  struct statvfs vfs{};
  if (::statvfs(root.c_str(), &vfs) != 0) return std::unexpected(sys_error(errno, fmt::format("statvfs {}", root.string())));
  return static_cast<std::uint64_t>(vfs.f_bavail) * vfs.f_frsize;
}

std::string human_bytes(std::uint64_t n) {
  if (n >= (1ull << 30)) return fmt::format("{:.2f} GiB", static_cast<double>(n) / (1ull << 30));
  if (n >= (1ull << 20)) return fmt::format("{:.1f} MiB", static_cast<double>(n) / (1ull << 20));
  return fmt::format("{} KiB", (n + 1023) / 1024);
}

/// Removes the staging directory however install() ends.
struct StagingGuard {
  fs::path path;
  ~StagingGuard() {
    if (!path.empty()) remove_tree(path);
  }
};

}  // namespace

Result<InstallReport> install(std::span<const SourceSpec> specs, const InstallOptions& options, const Env& env) {
  const auto started = std::chrono::steady_clock::now();
  if (specs.empty()) return fail(Errc::InvalidArgument, "no source given");
  const fs::path root = options.root;
  if (root.empty()) return fail(Errc::InvalidArgument, "empty root directory");
  std::error_code ec;
  fs::create_directories(root, ec);
  if (ec) return std::unexpected(sys_error(ec.value(), fmt::format("creating root {}", root.string())));

  InstallReport report;

  if (auto hit = installed_locally(specs, root)) {
    report.cached = true;
    report.archive_bytes = hit->archive_bytes;
    report.top_level = std::move(hit->top_level);
    report.elapsed = std::chrono::steady_clock::now() - started;
    return report;
  }

  // Open and stat every source before taking the lock: HEADs are the slow part
  // of a cache check and need no exclusion.
  std::vector<std::unique_ptr<ByteSource>> sources;
  std::vector<StampedArchive> wanted;
  for (const auto& spec : specs) {
    auto src = open_source(spec, env);
    if (!src) return std::unexpected(src.error());  // sources name themselves in messages
    auto info = (*src)->stat();
    if (!info) return std::unexpected(info.error());
    wanted.push_back({display_name(spec), info->size, info->etag, spec.sha256, query_digest(spec)});
    report.archive_bytes += info->size;
    sources.push_back(std::move(*src));
  }

  auto lock = RootLock::acquire(root, options.notice);
  if (!lock) return std::unexpected(lock.error());

  const std::optional<Stamp> old = read_stamp(root);
  if (old && old->archives.size() == wanted.size() &&
      std::ranges::equal(old->archives, wanted, same_archive) && top_level_present(*old, root)) {
    report.cached = true;
    report.top_level = old->top_level;
    report.elapsed = std::chrono::steady_clock::now() - started;
    return report;
  }

  remove_stale_staging(root);

  std::vector<archive::CentralDirectory> directories;
  directories.reserve(sources.size());
  std::uint64_t tree_bytes = 0, entries = 0;
  std::set<std::string> top_level;
  for (std::size_t i = 0; i < sources.size(); ++i) {
    ObjectInfo info{wanted[i].size, wanted[i].etag};
    auto cd = archive::read_central_directory(*sources[i], info);
    if (!cd) return std::unexpected(with_context(cd.error(), wanted[i].source));
    tree_bytes += cd->total_uncompressed;
    entries += cd->entries.size();
    for (const auto& e : cd->entries) {
      std::string top = e.name.substr(0, e.name.find('/'));
      // ".tmpdump/" (the packed manifest) is the archive's; ".tmpdump.*" and
      // ".tmpdump-*" are the stamp, the lock and staging directories.
      if (top.starts_with(".tmpdump.") || top.starts_with(".tmpdump-")) {
        return fail(Errc::Unsafe, "{}: entry '{}': names starting with '.tmpdump.' or '.tmpdump-' are reserved for "
                    "tmpdump's own files", wanted[i].source, e.name);
      }
      top_level.insert(std::move(top));
    }
    directories.push_back(std::move(*cd));
  }

  // Nothing is replaced that tmpdump did not put there itself.
  const std::set<std::string> owned = old ? std::set<std::string>(old->top_level.begin(), old->top_level.end())
                                          : std::set<std::string>{};
  for (const auto& name : top_level) {
    if (exists_nofollow(root / name) && !owned.contains(name)) {
      return fail(Errc::Conflict,
                  "{} exists and was not installed by tmpdump; move it away or pull into another --root",
                  (root / name).string());
    }
  }

  if (options.max_tree_bytes != 0 && tree_bytes > options.max_tree_bytes) {
    return fail(Errc::NoSpace, "the archives unpack to {:.1f} MiB, over the {:.0f} MiB {}",
                static_cast<double>(tree_bytes) / (1 << 20), static_cast<double>(options.max_tree_bytes) / (1 << 20),
                options.max_tree_reason.empty() ? "allowed" : options.max_tree_reason);
  }

  // Both trees live side by side until the swap: the old one only goes after.
  auto avail = free_bytes(root);
  if (!avail) return std::unexpected(avail.error());
  const std::uint64_t needed = tree_bytes + entries * 4096;  // a block per entry covers rounding and inodes
  if (needed > *avail) {
    return fail(Errc::NoSpace,
                "the archives unpack to {} in {} entries but {} has only {} free; "
                "raise the function's ephemeral storage (/tmp is 512 MB by default) or pick a larger --root",
                human_bytes(tree_bytes), entries, root.string(), human_bytes(*avail));
  }

  std::string tmpl = (root / kStagingPrefix).string() + "XXXXXX";
  if (::mkdtemp(tmpl.data()) == nullptr) return std::unexpected(sys_error(errno, fmt::format("creating staging directory in {}", root.string())));
  StagingGuard staging{tmpl};
  const fs::path tree = staging.path / "tree";
  const fs::path retired = staging.path / "retired";
  if (::mkdir(tree.c_str(), 0755) != 0 || ::mkdir(retired.c_str(), 0700) != 0) {
    return std::unexpected(sys_error(errno, fmt::format("creating {}", tree.string())));
  }

  std::vector<archive::ArchiveInput> inputs;
  for (std::size_t i = 0; i < sources.size(); ++i) {
    inputs.push_back({sources[i].get(), &directories[i], specs[i].sha256});
  }
  if (auto u = archive::check_union(inputs); !u) return std::unexpected(u.error());

  archive::Progress local_progress;
  archive::ExtractOptions xo;
  xo.jobs = options.jobs;
  xo.inflater = options.inflater;
  xo.progress = options.progress != nullptr ? options.progress : &local_progress;
  if (options.on_start) options.on_start(report.archive_bytes, tree_bytes);
  auto stats = archive::extract(inputs, tree, xo);
  if (!stats) return std::unexpected(stats.error());

  // From here on the root changes. A pending stamp (no archives, every name
  // owned) makes an interrupted swap cost a re-extraction, never a Conflict.
  Stamp pending;
  std::set<std::string> all_names = owned;
  all_names.insert(top_level.begin(), top_level.end());
  pending.top_level.assign(all_names.begin(), all_names.end());
  if (auto w = write_stamp(root, pending); !w) return std::unexpected(w.error());

  for (const auto& name : top_level) {
    const fs::path from = tree / name, to = root / name;
    if (exists_nofollow(to)) {
      if (!exchange(from, to)) {
        // RENAME_EXCHANGE is missing on some file systems: move the old one aside first.
        if (::rename(to.c_str(), (retired / name).c_str()) != 0 || ::rename(from.c_str(), to.c_str()) != 0) {
          return std::unexpected(sys_error(errno, fmt::format("installing {}", to.string())));
        }
      }
    } else if (::rename(from.c_str(), to.c_str()) != 0) {
      return std::unexpected(sys_error(errno, fmt::format("installing {}", to.string())));
    }
  }
  for (const auto& name : owned) {
    if (!top_level.contains(name) && exists_nofollow(root / name)) {
      if (::rename((root / name).c_str(), (retired / name).c_str()) != 0) {
        return std::unexpected(sys_error(errno, fmt::format("removing old {}", (root / name).string())));
      }
    }
  }

  Stamp done;
  for (std::size_t i = 0; i < wanted.size(); ++i) done.archives.push_back(wanted[i]);
  done.top_level.assign(top_level.begin(), top_level.end());
  if (auto w = write_stamp(root, done); !w) return std::unexpected(w.error());

  report.bytes_read = stats->bytes_read;
  report.bytes_written = stats->bytes_written;
  report.files = stats->files;
  report.directories = stats->directories;
  report.symlinks = stats->symlinks;
  report.top_level = done.top_level;
  report.elapsed = std::chrono::steady_clock::now() - started;
  return report;
}

}  // namespace tmpdump::pull
