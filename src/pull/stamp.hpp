// The stamp and the lock of a root that tmpdumps are installed into, and the
// cache check that needs neither the network nor the archive code: the
// bootstrap runs it before it loads the pull module (and with it libcurl).
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "pull/spec.hpp"
#include "util/error.hpp"
#include "util/fs_at.hpp"

namespace tmpdump::pull {

/// Names of tmpdump's own files in a root.
inline constexpr std::string_view kStampName = ".tmpdump.stamp";
inline constexpr std::string_view kLockName = ".tmpdump.lock";
inline constexpr std::string_view kStagingPrefix = ".tmpdump-staging-";
/// write_stamp()'s temporaries: kStampName + ".tmp-" + six random characters.
inline constexpr std::string_view kStampTempPrefix = ".tmpdump.stamp.tmp-";

/// Refuses a root others could swap or fill behind tmpdump's back (Io, one
/// line naming it): owned by a user other than this process's or root, or
/// writable by every user without the sticky bit. `root_fd` is the root
/// opened with open_directory_nofollow(); `root` names it in messages.
[[nodiscard]] Result<void> check_root(int root_fd, const std::filesystem::path& root);

/// Holds an exclusive flock on <root>/.tmpdump.lock for its lifetime. The
/// lock file is opened relative to the root's fd with O_NOFOLLOW: a symlink
/// planted under its name is refused (Io), never followed.
class RootLock {
 public:
  /// Waits for the lock, creating the lock file when there is none;
  /// `notice` hears once that another pull holds it.
  static Result<RootLock> acquire(int root_fd, const std::filesystem::path& root,
                                  const std::function<void(std::string_view)>& notice);
  /// acquire() for a root that exists, opened here.
  static Result<RootLock> acquire(const std::filesystem::path& root,
                                  const std::function<void(std::string_view)>& notice);
  /// Does not wait: nullopt when another process holds the lock or the root
  /// has no lock file (nothing was ever installed there).
  static std::optional<RootLock> try_acquire(int root_fd);
  RootLock(RootLock&& o) noexcept;
  RootLock& operator=(RootLock&&) = delete;
  ~RootLock();

  /// This acquire() made the lock file (the root had none).
  [[nodiscard]] bool created() const { return created_; }
  /// Removes the lock file while still holding the lock, then releases it:
  /// for a pull that made the file and leaves the root as it found it.
  void remove_and_release();

 private:
  RootLock(int fd, int root_fd, bool created) : fd_(fd), root_fd_(root_fd), created_(created) {}
  int fd_;
  int root_fd_;  ///< a dup of the root's fd, for remove_and_release()
  bool created_;
};

/// What a stamp says about one installed archive.
struct StampedArchive {
  std::string source;  ///< display_name() of the spec
  std::uint64_t size = 0;
  std::string etag;
  std::optional<std::string> sha256;  ///< the expected digest, verified when it was extracted
  /// sha256 of a URL's query string (pull::query_digest): tells apart URLs that
  /// differ only there without storing the query, which may be a credential.
  std::optional<std::string> query_sha256;
};

struct Stamp {
  std::vector<StampedArchive> archives;  ///< empty while a swap is under way
  std::vector<std::string> top_level;    ///< names under the root that tmpdump owns
};

/// The stamp in the root `root_fd`; nullopt when missing, damaged, not a
/// regular file, or owned by a user other than this process's or root
/// (never trusted then). Opened O_NOFOLLOW.
[[nodiscard]] std::optional<Stamp> read_stamp(int root_fd);
/// Replaces the stamp atomically: a new temporary (O_EXCL|O_NOFOLLOW, a
/// random name starting ".tmpdump.stamp.tmp-"), then renameat() over the
/// stamp, so a link planted under either name is never written through.
[[nodiscard]] Result<void> write_stamp(int root_fd, const std::filesystem::path& root, const Stamp& s);

/// True when `stamped` is provably the archive `now` describes: same source
/// (display name and query digest) and size, a non-empty equal ETag, and the
/// same digest when one is expected.
[[nodiscard]] bool same_archive(const StampedArchive& stamped, const StampedArchive& now);

/// fstatat(AT_SYMLINK_NOFOLLOW) succeeds: `name` exists in `dir_fd`, whatever it is (a dangling link too).
[[nodiscard]] bool exists_nofollow(int dir_fd, const std::string& name);

/// Every top-level name the stamp owns exists in the root, owned by this
/// process's user or root (a name another user made is not tmpdump's).
[[nodiscard]] bool top_level_present(const Stamp& s, int root_fd);

/// What a local cache check found: the archives' total size and the names installed.
struct LocalHit {
  std::uint64_t archive_bytes = 0;
  std::vector<std::string> top_level;
};

/// The cache check that opens no source: `root` already holds exactly
/// `specs` when the stamp lists them in order, every top-level name exists,
/// and each archive is proven locally, either pinned (`#sha256=`, equal to the
/// stamped digest, which extraction verified) or a local file whose size,
/// mtime and inode are unchanged. An unpinned s3:// or https:// source needs
/// its ETag, so the answer is nullopt; so it is when another pull holds the
/// root's lock, there is no stamp, or check_root() refuses the root. Creates
/// nothing. nullopt only means "ask install()".
[[nodiscard]] std::optional<LocalHit> installed_locally(std::span<const SourceSpec> specs,
                                                        const std::filesystem::path& root);

}  // namespace tmpdump::pull
