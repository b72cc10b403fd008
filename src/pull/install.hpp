// Installing tmpdumps into a root directory: atomically, once, under a lock.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "archive/extract.hpp"
#include "pull/source.hpp"
#include "pull/stamp.hpp"
#include "util/env.hpp"
#include "util/error.hpp"

namespace tmpdump::pull {

struct InstallOptions {
  std::filesystem::path root = "/tmp";
  unsigned jobs = 0;  ///< 0 = hardware threads, at least 2
  archive::Inflater inflater = archive::Inflater::Isal;
  /// Filled while extracting; with `on_start` the caller can show progress.
  archive::Progress* progress = nullptr;
  /// Called once the archives' total size is known and extraction begins.
  std::function<void(std::uint64_t archive_bytes, std::uint64_t tree_bytes)> on_start;
  /// When non-zero, archives whose files add up to more than this many bytes
  /// fail with NoSpace before anything is extracted (SnapStart: 512 MiB).
  std::uint64_t max_tree_bytes = 0;
  std::string max_tree_reason;  ///< ends that message: "that SnapStart allows in /tmp"
  /// Called with a line for a person ("waiting for another pull into /tmp").
  std::function<void(std::string_view)> notice;
};

struct InstallReport {
  bool cached = false;              ///< the root already held exactly these archives
  std::uint64_t archive_bytes = 0;  ///< sum of the archives' sizes
  std::uint64_t bytes_read = 0;     ///< archive bytes transferred (0 when cached)
  std::uint64_t bytes_written = 0;
  std::uint64_t files = 0, directories = 0, symlinks = 0;
  std::vector<std::string> top_level;  ///< names installed directly under the root
  /// For each source opened (none when cached without opening any): the
  /// display name of the place that served it, the primary or an alternate.
  std::vector<std::string> served;
  /// "NAME: kind: message" for each alternate that failed before one served.
  std::vector<std::string> passed_over;
  std::chrono::duration<double> elapsed{};
};

/// Makes `options.root` hold exactly the union of `sources`.
///
/// Under an exclusive lock on <root>/.tmpdump.lock (other pulls into the same
/// root wait): if the stamp <root>/.tmpdump.stamp says these very archives
/// (same source, size, ETag, and sha256 when one is expected) are installed
/// and their top-level entries exist, returns `cached`: without opening any
/// source when installed_locally() can prove it (every source pinned with
/// #sha256=, or a local file), else after one stat() (HEAD) per source.
/// Otherwise reads the central directories, refuses up front when the tree
/// would not fit in the root's free space, extracts into a staging
/// directory inside the root, then swaps each top-level entry into place
/// (renameat2 RENAME_EXCHANGE, so a directory is never missing) and writes
/// the stamp. Any failure leaves the previous install and stamp as they were
/// and removes the staging directory. A top-level path that exists but was
/// not installed by tmpdump is a Conflict, never overwritten.
///
/// A source with alternates is opened at each place in turn until one answers
/// stat(): a place that fails with NotFound, Forbidden or Network (after its
/// own retries, throttling included) is passed over; any other error stops.
/// When every place fails, the error is the first one's (its kind and exit
/// code), with the others listed after it on the same line. The place that
/// served is the one read; a #sha256= mismatch from it fails the pull
/// (ChecksumMismatch naming that place), never falls back silently.
///
/// Nothing is created before every source has answered. The root (made with
/// its missing parents) is opened once, its last component O_NOFOLLOW, and
/// every name in it is reached through that fd: nothing another user planted
/// there is ever written through (docs/pull.md, "The root's own files"). A
/// root that is not a directory, a symlink, another user's, or in reach of
/// anyone's renames (world-writable without the sticky bit, it or a directory
/// above it) is an Io error. A failure before the swap also removes the lock
/// file and the directories this call made.
[[nodiscard]] Result<InstallReport> install(std::span<const SourceSpec> sources, const InstallOptions& options,
                                            const Env& env);

}  // namespace tmpdump::pull
