#include "pull/install.hpp"

#include <dirent.h>
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
#include <optional>
#include <set>
#include <sstream>
#include <thread>

#include "archive/zip.hpp"
#include "pull/stamp.hpp"
#include "util/fs_at.hpp"
#include "util/units.hpp"

namespace tmpdump::pull {

namespace fs = std::filesystem;

namespace {

/// Swaps two names atomically. The raw syscall keeps this working on glibc
/// older than 2.28 (Amazon Linux 2), which has no renameat2 wrapper.
bool exchange(int from_dir, const std::string& from, int to_dir, const std::string& to) {
  return ::syscall(SYS_renameat2, from_dir, from.c_str(), to_dir, to.c_str(), RENAME_EXCHANGE) == 0;
}

/// Removes what a killed pull left behind, staging directories and stamp
/// temporaries (the lock is held). A name someone else planted there, a
/// symlink to their victim's directory say, is unlinked, never descended.
void remove_debris(int root_fd) {
  std::vector<std::string> names;
  const int listing = ::fcntl(root_fd, F_DUPFD_CLOEXEC, 0);
  DIR* d = listing >= 0 ? ::fdopendir(listing) : nullptr;
  if (d == nullptr) {
    if (listing >= 0) ::close(listing);
    return;
  }
  ::rewinddir(d);
  while (const dirent* e = ::readdir(d)) {
    const std::string_view n = e->d_name;
    if (n.starts_with(kStagingPrefix) || n.starts_with(kStampTempPrefix)) names.emplace_back(n);
  }
  ::closedir(d);
  // Best effort: what cannot be removed (another user's, in a sticky root) is in nobody's way.
  for (const auto& n : names) (void)remove_tree_at(root_fd, n);
}

Result<std::uint64_t> free_bytes(int root_fd, const fs::path& root) {
  struct statvfs vfs {};
  if (::fstatvfs(root_fd, &vfs) != 0) {
    return std::unexpected(sys_error(errno, fmt::format("statvfs {}", root.string())));
  }
  return static_cast<std::uint64_t>(vfs.f_bavail) * vfs.f_frsize;
}

/// A directory install() made on the way to the root: its parent and its name.
struct MadeDir {
  UniqueFd parent;
  std::string name;
};

/// The root, opened once (its last component O_NOFOLLOW), and the
/// directories made to get there, outermost first.
struct OpenedRoot {
  UniqueFd fd;
  std::vector<MadeDir> made;
};

/// Removes the directories made, innermost first, as long as they are empty.
void remove_made(const std::vector<MadeDir>& made) {
  for (auto it = made.rbegin(); it != made.rend(); ++it) {
    if (::unlinkat(it->parent.get(), it->name.c_str(), AT_REMOVEDIR) != 0) break;  // not empty: keep the rest
  }
}

/// Why `part` (the path `walked`, the root itself when `last`) in `dir_fd`
/// could not be opened as a directory, given the open's errno `err`.
Error why_not_a_root_directory(int dir_fd, const std::string& part, const fs::path& walked, bool last, int err) {
  struct stat st {};
  if (::fstatat(dir_fd, part.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0) {
    if (S_ISLNK(st.st_mode) && !last) {
      return Error{Errc::Io, fmt::format("the root's parent {} is a symbolic link to nothing", walked.string())};
    }
    if (S_ISLNK(st.st_mode)) {
      return Error{Errc::Io, fmt::format("root {} is a symbolic link, which tmpdump does not follow (anyone who can "
                                         "write to its directory could have made it); name the directory itself",
                                         walked.string())};
    }
    if (!S_ISDIR(st.st_mode)) {
      return Error{Errc::Io,
                   fmt::format("{} {} is not a directory", last ? "root" : "the root's parent", walked.string())};
    }
  }
  return sys_error(err, fmt::format("opening root {}", walked.string()));
}

/// Walks `root` component by component, making what is missing (0755), so
/// every directory is opened relative to its parent: a name made here is
/// reopened O_NOFOLLOW, never through a link someone put there meanwhile. A
/// directory on the way that anyone may rename entries in (world-writable,
/// no sticky bit) is refused: its users could swap the root for their own.
Result<OpenedRoot> open_or_make_root(const fs::path& root) {
  OpenedRoot out;
  struct Unmake {
    OpenedRoot* out;
    ~Unmake() {
      if (out != nullptr) remove_made(out->made);
    }
  } unmake{&out};
  const int start = ::open(root.is_absolute() ? "/" : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (start < 0) return std::unexpected(sys_error(errno, fmt::format("opening root {}", root.string())));
  UniqueFd cur(start);
  std::vector<std::string> parts;
  for (const auto& p : root.relative_path()) {
    if (!p.empty()) parts.push_back(p.string());
  }
  if (parts.empty()) parts.emplace_back(".");
  fs::path walked = root.is_absolute() ? fs::path("/") : fs::path();
  for (std::size_t i = 0; i < parts.size(); ++i) {
    const std::string& part = parts[i];
    walked /= part;
    const bool last = i + 1 == parts.size();
    const int flags = O_RDONLY | O_DIRECTORY | O_CLOEXEC | (last ? O_NOFOLLOW : 0);
    int fd = ::openat(cur.get(), part.c_str(), flags);
    if (fd < 0 && errno == ENOENT) {
      if (::mkdirat(cur.get(), part.c_str(), 0755) == 0) {
        out.made.push_back({UniqueFd(::fcntl(cur.get(), F_DUPFD_CLOEXEC, 0)), part});
      } else if (errno != EEXIST) {
        return std::unexpected(sys_error(errno, fmt::format("creating root {}", walked.string())));
      }
      fd = ::openat(cur.get(), part.c_str(), flags | O_NOFOLLOW);
    }
    if (fd < 0) return std::unexpected(why_not_a_root_directory(cur.get(), part, walked, last, errno));
    cur = UniqueFd(fd);
    struct stat st {};
    if (::fstat(fd, &st) != 0) return std::unexpected(sys_error(errno, fmt::format("stat {}", walked.string())));
    if (!last && (st.st_mode & S_IWOTH) != 0 && (st.st_mode & S_ISVTX) == 0) {
      return fail(Errc::Io,
                  "{} (on the way to root {}) is writable by every user and has no sticky bit: anyone "
                  "could swap the root for their own; chmod +t or o-w it, or pick another root",
                  walked.string(), root.string());
    }
  }
  out.fd = std::move(cur);
  unmake.out = nullptr;
  return out;
}

/// Undoes what install() did to the file system when it fails before the
/// root changes: the lock file it made (removed while still held) and the
/// directories it made, innermost first.
struct Undo {
  OpenedRoot* root = nullptr;
  std::optional<RootLock>* lock = nullptr;
  bool committed = false;
  ~Undo() {
    if (committed) return;
    if (lock != nullptr && lock->has_value() && (*lock)->created()) (*lock)->remove_and_release();
    if (root != nullptr) remove_made(root->made);
  }
};

/// Removes the staging directory however install() ends.
struct StagingGuard {
  int root_fd = -1;
  std::string name;
  ~StagingGuard() {
    if (!name.empty()) (void)remove_tree_at(root_fd, name);
  }
};

/// A source opened at the place that answered.
struct OpenedSource {
  SourceSpec place;
  std::unique_ptr<ByteSource> source;
  ObjectInfo info;
};

/// Errors after which the next alternate is worth trying: that place does not
/// have the archive, does not let us read it, or cannot be reached.
bool try_next_place(Errc code) {
  return code == Errc::NotFound || code == Errc::Forbidden || code == Errc::Network;
}

// Not describe(Errc): in the list of places tried, a failure reads "network:",
// where the top line of a command reads "network error:" (docs/security.md
// records both). Only the kinds try_next_place() accepts get here.
std::string_view errc_word(Errc code) {
  switch (code) {
    case Errc::NotFound:
      return "not found";
    case Errc::Forbidden:
      return "forbidden";
    case Errc::Network:
      return "network";
    default:
      return "error";
  }
}

/// "NAME: kind: message", without the name twice when the message starts with it.
std::string describe(const SourceSpec& place, const Error& e) {
  const std::string name = display_name(place);
  std::string_view rest = e.message;
  if (rest.starts_with(name + ": ")) rest.remove_prefix(name.size() + 2);
  return fmt::format("{}: {}: {}", name, errc_word(e.code), rest);
}

Result<OpenedSource> open_first_answering(const SourceSpec& spec, const Env& env,
                                          std::vector<std::string>& passed_over) {
  const std::vector<SourceSpec> places = candidates(spec);
  std::vector<Error> failures;
  for (const auto& place : places) {
    auto src = open_source(place, env);
    Result<ObjectInfo> info = src ? (*src)->stat() : Result<ObjectInfo>(std::unexpected(src.error()));
    if (info) {
      for (std::size_t i = 0; i < failures.size(); ++i) {
        passed_over.push_back(describe(places[i], failures[i]));
      }
      return OpenedSource{place, std::move(*src), *info};
    }
    if (places.size() == 1 || !try_next_place(info.error().code)) return std::unexpected(info.error());
    failures.push_back(info.error());
  }
  // Sources name themselves in their messages; the first error decides the kind.
  Error first = failures.front();
  if (first.message.find(display_name(places[0])) == std::string::npos) {
    first.message = fmt::format("{}: {}", display_name(places[0]), first.message);
  }
  std::string others;
  for (std::size_t i = 1; i < failures.size(); ++i) {
    others += fmt::format("{}{}", i == 1 ? "" : "; ", describe(places[i], failures[i]));
  }
  first.message = fmt::format("{} (all {} alternates failed; also tried: {})", first.message, places.size(), others);
  return std::unexpected(std::move(first));
}

/// Every source opened at the place that answered, and what the stamp will
/// say of each.
struct OpenedSources {
  std::vector<std::unique_ptr<ByteSource>> sources;
  std::vector<StampedArchive> wanted;
};

/// Opens and stats every source; fills the report's archive_bytes, served and passed_over.
Result<OpenedSources> open_sources(std::span<const SourceSpec> specs, const Env& env, InstallReport& report) {
  OpenedSources out;
  for (const auto& spec : specs) {
    auto opened = open_first_answering(spec, env, report.passed_over);
    if (!opened) return std::unexpected(opened.error());
    // The stamp names the primary, so a cache check does not depend on which place served.
    out.wanted.push_back(
        {display_name(spec), opened->info.size, opened->info.etag, spec.sha256, query_digest(opened->place)});
    report.archive_bytes += opened->info.size;
    report.served.push_back(display_name(opened->place));
    out.sources.push_back(std::move(opened->source));
  }
  return out;
}

/// The archives' central directories and the tree they unpack to together.
struct TreePlan {
  std::vector<archive::CentralDirectory> directories;
  std::uint64_t tree_bytes = 0;
  std::uint64_t entries = 0;
  std::set<std::string> top_level;  ///< names the tree puts directly under the root
};

Result<TreePlan> read_directories(const OpenedSources& opened, const std::vector<std::string>& served) {
  TreePlan plan;
  plan.directories.reserve(opened.sources.size());
  for (std::size_t i = 0; i < opened.sources.size(); ++i) {
    const StampedArchive& wanted = opened.wanted[i];
    ObjectInfo info{wanted.size, wanted.etag};
    auto cd = archive::read_central_directory(*opened.sources[i], info);
    if (!cd) return std::unexpected(with_context(cd.error(), served[i]));
    plan.tree_bytes += cd->total_uncompressed;
    plan.entries += cd->entries.size();
    for (const auto& e : cd->entries) {
      std::string top = e.name.substr(0, e.name.find('/'));
      // ".tmpdump/" (the packed manifest) is the archive's; ".tmpdump.*" and
      // ".tmpdump-*" are the stamp, the lock and staging directories.
      if (top.starts_with(".tmpdump.") || top.starts_with(".tmpdump-")) {
        return fail(Errc::Unsafe,
                    "{}: entry '{}': names starting with '.tmpdump.' or '.tmpdump-' are reserved for "
                    "tmpdump's own files",
                    wanted.source, e.name);
      }
      plan.top_level.insert(std::move(top));
    }
    plan.directories.push_back(std::move(*cd));
  }
  return plan;
}

/// Nothing is replaced that tmpdump did not put there itself (`owned`).
Result<void> check_no_conflict(const TreePlan& plan, const std::set<std::string>& owned, int root_fd,
                               const fs::path& root) {
  for (const auto& name : plan.top_level) {
    if (exists_nofollow(root_fd, name) && !owned.contains(name)) {
      return fail(Errc::Conflict,
                  "{} exists and was not installed by tmpdump; move it away or pull into another --root",
                  (root / name).string());
    }
  }
  return {};
}

/// The tree is within options.max_tree_bytes and fits in the root's free
/// space next to the old one: both live side by side until the swap.
Result<void> check_room(const TreePlan& plan, const InstallOptions& options, int root_fd, const fs::path& root) {
  if (options.max_tree_bytes != 0 && plan.tree_bytes > options.max_tree_bytes) {
    return fail(Errc::NoSpace, "the archives unpack to {}, over the {} {}", mib(plan.tree_bytes, 1),
                mib(options.max_tree_bytes, 0), options.max_tree_reason.empty() ? "allowed" : options.max_tree_reason);
  }
  auto avail = free_bytes(root_fd, root);
  if (!avail) return std::unexpected(avail.error());
  const std::uint64_t needed = plan.tree_bytes + plan.entries * 4096;  // a block per entry covers rounding and inodes
  if (needed > *avail) {
    return fail(Errc::NoSpace,
                "the archives unpack to {} in {} entries but {} has only {} free; "
                "raise the function's ephemeral storage (/tmp is 512 MB by default) or pick a larger --root",
                binary_size(plan.tree_bytes), plan.entries, root.string(), binary_size(*avail));
  }
  return {};
}

/// The staging directory in the root: tree/ is extracted into, retired/ takes
/// the names the swap replaces. The guard removes it however install() ends.
struct Staging {
  StagingGuard guard;
  UniqueFd tree;
  UniqueFd retired;
  fs::path tree_path;  ///< a name for tree/ that extract() can open
};

Result<void> make_staging(int root_fd, const fs::path& root, Staging& out) {
  // Made with mkdirat and opened O_NOFOLLOW; everything inside goes through
  // its fd, and it is 0700, so nobody else can plant a name in it.
  auto made = create_unique_directory(root_fd, kStagingPrefix, 0700, root.string());
  if (!made) return std::unexpected(made.error());
  out.guard.root_fd = root_fd;
  out.guard.name = made->name;
  const int staging_fd = made->fd.get();
  if (::mkdirat(staging_fd, "tree", 0755) != 0 || ::mkdirat(staging_fd, "retired", 0700) != 0) {
    return std::unexpected(sys_error(errno, fmt::format("creating {}", (root / made->name).string())));
  }
  out.tree = UniqueFd(::openat(staging_fd, "tree", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  out.retired = UniqueFd(::openat(staging_fd, "retired", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!out.tree.valid() || !out.retired.valid()) {
    return std::unexpected(sys_error(errno, fmt::format("opening {}", (root / made->name).string())));
  }
  // extract() opens its destination by name: /proc/self/fd names this very
  // directory however the path to it changes.
  out.tree_path = ::access("/proc/self/fd", X_OK) == 0 ? fs::path(fmt::format("/proc/self/fd/{}", out.tree.get()))
                                                       : root / made->name / "tree";
  return {};
}

/// Extracts every archive into `tree_path`; an error names the alternate that
/// served an archive when it was not the first place named.
Result<archive::ExtractStats> extract_tree(std::span<const SourceSpec> specs, const OpenedSources& opened,
                                           const TreePlan& plan, const InstallReport& report,
                                           const InstallOptions& options, std::uint64_t chunk_bytes,
                                           const fs::path& tree_path) {
  std::vector<archive::ArchiveInput> inputs;
  for (std::size_t i = 0; i < opened.sources.size(); ++i) {
    inputs.push_back({opened.sources[i].get(), &plan.directories[i], specs[i].sha256});
  }
  if (auto u = archive::check_union(inputs); !u) return std::unexpected(u.error());

  archive::Progress local_progress;
  archive::ExtractOptions xo;
  xo.jobs = options.jobs;
  xo.chunk_bytes = chunk_bytes;
  xo.inflater = options.inflater;
  xo.progress = options.progress != nullptr ? options.progress : &local_progress;
  if (options.on_start) options.on_start(report.archive_bytes, plan.tree_bytes);
  auto stats = archive::extract(inputs, tree_path, xo);
  if (stats) return stats;
  Error e = stats.error();
  // Which place served matters when it was an alternate: a mirror with other bytes is refused by the pin.
  for (std::size_t i = 0; i < specs.size(); ++i) {
    if (!specs[i].alternates.empty() && report.served[i] != opened.wanted[i].source) {
      e.message = fmt::format(
          "{} (served by {}, an alternate of {}{})", e.message, report.served[i], opened.wanted[i].source,
          e.code == Errc::ChecksumMismatch ? "; the #sha256= pin applies to every place, and no other is tried" : "");
    }
  }
  return std::unexpected(std::move(e));
}

/// Moves the extracted names into the root, replacing (or retiring) the ones
/// tmpdump installed before, and stamps the root. Returns the final stamp.
/// `undo` is committed once the root starts to change.
Result<Stamp> swap_into_root(int root_fd, const fs::path& root, const TreePlan& plan,
                             const std::set<std::string>& owned, const Staging& staging,
                             const std::vector<StampedArchive>& wanted, Undo& undo) {
  // A pending stamp (no archives, every name owned) makes an interrupted swap
  // cost a re-extraction, never a Conflict.
  Stamp pending;
  std::set<std::string> all_names = owned;
  all_names.insert(plan.top_level.begin(), plan.top_level.end());
  pending.top_level.assign(all_names.begin(), all_names.end());
  if (auto w = write_stamp(root_fd, root, pending); !w) return std::unexpected(w.error());
  undo.committed = true;

  const int tree = staging.tree.get();
  const int retired = staging.retired.get();
  for (const auto& name : plan.top_level) {
    const std::string shown = (root / name).string();
    if (exists_nofollow(root_fd, name)) {
      if (!exchange(tree, name, root_fd, name)) {
        // RENAME_EXCHANGE is missing on some file systems: move the old one aside first.
        if (::renameat(root_fd, name.c_str(), retired, name.c_str()) != 0 ||
            ::renameat(tree, name.c_str(), root_fd, name.c_str()) != 0) {
          return std::unexpected(sys_error(errno, fmt::format("installing {}", shown)));
        }
      }
    } else if (::renameat(tree, name.c_str(), root_fd, name.c_str()) != 0) {
      return std::unexpected(sys_error(errno, fmt::format("installing {}", shown)));
    }
  }
  for (const auto& name : owned) {
    if (!plan.top_level.contains(name) && exists_nofollow(root_fd, name)) {
      if (::renameat(root_fd, name.c_str(), retired, name.c_str()) != 0) {
        return std::unexpected(sys_error(errno, fmt::format("removing old {}", (root / name).string())));
      }
    }
  }

  Stamp done;
  done.archives = wanted;
  done.top_level.assign(plan.top_level.begin(), plan.top_level.end());
  if (auto w = write_stamp(root_fd, root, done); !w) return std::unexpected(w.error());
  return done;
}

/// The root's stamp, read under the lock, names exactly `wanted` and its names are all there.
bool stamp_says_installed(const std::optional<Stamp>& old, const std::vector<StampedArchive>& wanted, int root_fd) {
  return old && old->archives.size() == wanted.size() && std::ranges::equal(old->archives, wanted, same_archive) &&
         top_level_present(*old, root_fd);
}

/// The names tmpdump installed under the root before (none without a stamp).
std::set<std::string> owned_names(const std::optional<Stamp>& old) {
  return old ? std::set<std::string>(old->top_level.begin(), old->top_level.end()) : std::set<std::string>{};
}

void add_extract_stats(InstallReport& report, const archive::ExtractStats& stats) {
  report.bytes_read = stats.bytes_read;
  report.bytes_written = stats.bytes_written;
  report.files = stats.files;
  report.directories = stats.directories;
  report.symlinks = stats.symlinks;
}

InstallReport finished(InstallReport report, std::vector<std::string> top_level,
                       std::chrono::steady_clock::time_point started) {
  report.top_level = std::move(top_level);
  report.elapsed = std::chrono::steady_clock::now() - started;
  return report;
}

}  // namespace

Result<InstallReport> install(std::span<const SourceSpec> specs, const InstallOptions& options, const Env& env) {
  const auto started = std::chrono::steady_clock::now();
  if (specs.empty()) return fail(Errc::InvalidArgument, "no source given");
  const fs::path root = options.root;
  if (root.empty()) return fail(Errc::InvalidArgument, "empty root directory");
  // The size of one ranged read (docs/scaling.md: requests per cold start).
  auto chunk_mb = env_number(env, "TMPDUMP_CHUNK_MB", 8, 1, 64);
  if (!chunk_mb) return std::unexpected(chunk_mb.error());

  InstallReport report;
  if (auto hit = installed_locally(specs, root)) {
    report.cached = true;
    report.archive_bytes = hit->archive_bytes;
    return finished(std::move(report), std::move(hit->top_level), started);
  }

  // Open and stat every source before taking the lock: HEADs are the slow part
  // of a cache check and need no exclusion. Nothing is made in the file system
  // before they all answer, so a source that is not there leaves no trace.
  auto sources = open_sources(specs, env, report);
  if (!sources) return std::unexpected(sources.error());

  auto opened = open_or_make_root(root);
  if (!opened) return std::unexpected(opened.error());
  std::optional<RootLock> lock;
  Undo undo{&*opened, &lock};
  const int root_fd = opened->fd.get();
  if (auto safe = check_root(root_fd, root); !safe) return std::unexpected(safe.error());
  auto acquired = RootLock::acquire(root_fd, root, options.notice);
  if (!acquired) return std::unexpected(acquired.error());
  lock.emplace(std::move(*acquired));

  const std::optional<Stamp> old = read_stamp(root_fd);
  if (stamp_says_installed(old, sources->wanted, root_fd)) {
    undo.committed = true;
    report.cached = true;
    return finished(std::move(report), old->top_level, started);
  }
  remove_debris(root_fd);

  auto plan = read_directories(*sources, report.served);
  if (!plan) return std::unexpected(plan.error());
  if (auto free = check_no_conflict(*plan, owned_names(old), root_fd, root); !free)
    return std::unexpected(free.error());
  if (auto room = check_room(*plan, options, root_fd, root); !room) return std::unexpected(room.error());

  Staging staging;
  if (auto made = make_staging(root_fd, root, staging); !made) return std::unexpected(made.error());
  const std::uint64_t chunk_bytes = static_cast<std::uint64_t>(*chunk_mb) << 20;
  auto stats = extract_tree(specs, *sources, *plan, report, options, chunk_bytes, staging.tree_path);
  if (!stats) return std::unexpected(stats.error());

  auto done = swap_into_root(root_fd, root, *plan, owned_names(old), staging, sources->wanted, undo);
  if (!done) return std::unexpected(done.error());
  add_extract_stats(report, *stats);
  return finished(std::move(report), std::move(done->top_level), started);
}

}  // namespace tmpdump::pull
