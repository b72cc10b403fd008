// Writing into directories other users may also write into (a shared /tmp, a
// 1777 root, the directory beside an output): every name is opened relative to
// a directory fd held open, with O_NOFOLLOW, and new files with O_EXCL, so a
// symlink or file someone else planted under a name tmpdump uses is never
// written through. docs/security.md, "What a hostile /tmp can and cannot do".
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <string>
#include <string_view>

#include "util/error.hpp"
#include "util/unique_fd.hpp"

namespace tmpdump {

/// Opens directory `path` for *at() calls. Symlinks in leading components are
/// followed; the last component must be the directory itself, not a symlink
/// to one (Io error naming it either way, also when it is not a directory).
[[nodiscard]] Result<UniqueFd> open_directory_nofollow(const std::filesystem::path& path);

/// The directory that holds `path` (its parent, "." for a bare name), opened
/// as open_directory_nofollow() does, and the last component's name.
struct ParentDir {
  UniqueFd fd;
  std::string name;
};
[[nodiscard]] Result<ParentDir> open_parent_directory(const std::filesystem::path& path);

/// A file this process just created.
struct NewFile {
  UniqueFd fd;
  std::string name;  ///< relative to the directory it was created in
};

/// Creates `prefix` + six random characters in `dir_fd` with O_CREAT|O_EXCL|
/// O_NOFOLLOW (a name that exists, link or not, is skipped, never opened),
/// read-write, with `mode`. `shown_dir` names the directory in errors.
[[nodiscard]] Result<NewFile> create_unique_file(int dir_fd, std::string_view prefix, mode_t mode,
                                                 std::string_view shown_dir);

/// Creates directory `prefix` + six random characters in `dir_fd` (mkdirat:
/// never through a link) with `mode` and opens it O_NOFOLLOW, checking it is
/// the one just made (owned by this process's user).
[[nodiscard]] Result<NewFile> create_unique_directory(int dir_fd, std::string_view prefix, mode_t mode,
                                                      std::string_view shown_dir);

/// Replaces `name` in `dir_fd` with a file holding `bytes`: written to a fresh
/// create_unique_file() beside it, fsynced, then renameat() over `name`. A
/// symlink planted at `name` is replaced as a name, never written through.
[[nodiscard]] Result<void> replace_file_at(int dir_fd, std::string_view name, std::string_view bytes, mode_t mode,
                                           std::string_view shown);

/// replace_file_at() for a path: opens its directory with open_parent_directory().
[[nodiscard]] Result<void> write_file_atomically(const std::filesystem::path& path, std::string_view bytes,
                                                 mode_t mode = 0644);

/// Removes `name` in `dir_fd` and, when it is a directory, everything in it,
/// through directory fds opened O_NOFOLLOW: a symlink anywhere in the tree is
/// unlinked, never descended. Missing is success; other errors are returned
/// after removing what could be removed.
[[nodiscard]] Result<void> remove_tree_at(int dir_fd, const std::string& name);

}  // namespace tmpdump
