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

namespace tmpdump::pull {

/// Names of tmpdump's own files in a root.
inline constexpr std::string_view kStampName = ".tmpdump.stamp";
inline constexpr std::string_view kLockName = ".tmpdump.lock";
inline constexpr std::string_view kStagingPrefix = ".tmpdump-staging-";

/// Holds an exclusive flock on <root>/.tmpdump.lock for its lifetime.
class RootLock {
 public:
  /// Waits for the lock; `notice` hears once that another pull holds it.
  static Result<RootLock> acquire(const std::filesystem::path& root,
                                  const std::function<void(std::string_view)>& notice);
  /// Does not wait: nullopt when another process holds the lock or the root
  /// has no lock file (nothing was ever installed there).
  static std::optional<RootLock> try_acquire(const std::filesystem::path& root);
  RootLock(RootLock&& o) noexcept;
  RootLock& operator=(RootLock&&) = delete;
  ~RootLock();

 private:
  explicit RootLock(int fd) : fd_(fd) {}
  int fd_;
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

/// The stamp of `root`; nullopt when missing or damaged (never trusted then).
[[nodiscard]] std::optional<Stamp> read_stamp(const std::filesystem::path& root);
/// Replaces the stamp atomically (write, then rename).
[[nodiscard]] Result<void> write_stamp(const std::filesystem::path& root, const Stamp& s);

/// True when `stamped` is provably the archive `now` describes: same source
/// (display name and query digest) and size, a non-empty equal ETag, and the
/// same digest when one is expected.
[[nodiscard]] bool same_archive(const StampedArchive& stamped, const StampedArchive& now);

/// lstat() succeeds: the path exists, whatever it is (a dangling link too).
[[nodiscard]] bool exists_nofollow(const std::filesystem::path& p);

/// Every top-level name the stamp owns exists under `root`.
[[nodiscard]] bool top_level_present(const Stamp& s, const std::filesystem::path& root);

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
/// root's lock or there is no stamp. nullopt only means "ask install()".
[[nodiscard]] std::optional<LocalHit> installed_locally(std::span<const SourceSpec> specs,
                                                        const std::filesystem::path& root);

}  // namespace tmpdump::pull
