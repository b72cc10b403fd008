// Building and comparing directory trees in tests.
#pragma once

#include <filesystem>
#include <string>

namespace tmpdump::testing {

/// One line per path under `root`, sorted: "<rel> <type> <mode> <sha256|link target>".
/// Two trees are the same to a user when their listings are equal. tmpdump's
/// own files (.tmpdump*) are left out unless `include_hidden`.
std::string describe_tree(const std::filesystem::path& root, bool include_hidden = false);

/// Fills `dir`/lib with real shared libraries of this machine and their
/// symlink chains (libzstd.so -> libzstd.so.1 -> libzstd.so.1.5.4, ...), plus
/// an executable, a read-only file, an empty file, a nested variant directory
/// and lib/unneeded.txt.
void make_real_library_tree(const std::filesystem::path& dir);

/// True when `root` holds a staging directory left behind by a pull.
bool has_staging_debris(const std::filesystem::path& root);

}  // namespace tmpdump::testing
