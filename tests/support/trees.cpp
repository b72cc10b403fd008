#include "support/trees.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <regex>
#include <stdexcept>
#include <vector>

#include <fmt/format.h>

#include "support/process.hpp"
#include "util/sha256.hpp"

namespace tmpdump::testing {

namespace fs = std::filesystem;

std::string describe_tree(const fs::path& root, bool include_hidden) {
  std::vector<std::string> lines;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(root, ec); !ec && it != fs::recursive_directory_iterator();
       it.increment(ec)) {
    std::string rel = it->path().lexically_relative(root).string();
    if (!include_hidden && rel.starts_with(".tmpdump")) {
      if (it->is_directory() && !it->is_symlink()) it.disable_recursion_pending();
      continue;
    }
    struct stat st {};
    ::lstat(it->path().c_str(), &st);
    const unsigned mode = st.st_mode & 07777;
    if (S_ISLNK(st.st_mode)) {
      lines.push_back(fmt::format("{} link -> {}", rel, fs::read_symlink(it->path()).string()));
    } else if (S_ISDIR(st.st_mode)) {
      lines.push_back(fmt::format("{} dir {:o}", rel, mode));
    } else if (S_ISREG(st.st_mode)) {
      lines.push_back(fmt::format("{} file {:o} {}", rel, mode, sha256_hex(read_file(it->path()))));
    } else {
      lines.push_back(fmt::format("{} other {:o}", rel, st.st_mode));
    }
  }
  std::sort(lines.begin(), lines.end());
  std::string out;
  for (const auto& l : lines) out += l + "\n";
  return out;
}

void make_real_library_tree(const fs::path& dir) {
  const fs::path system_lib = "/usr/lib/x86_64-linux-gnu";
  const fs::path lib = dir / "lib";
  fs::create_directories(lib / "glibc-hwcaps/x86-64-v3");
  // Libraries scripts/install-deps guarantees, each with its symlink chain.
  const std::regex wanted(R"(lib(zstd|isal|deflate|curl)\.so(\.[0-9.]+)?)");
  int copied = 0;
  for (const auto& e : fs::directory_iterator(system_lib)) {
    const std::string name = e.path().filename().string();
    if (!std::regex_match(name, wanted)) continue;
    if (e.is_symlink()) {
      fs::create_symlink(fs::read_symlink(e.path()), lib / name);
    } else if (e.is_regular_file()) {
      fs::copy_file(e.path(), lib / name);
      fs::permissions(lib / name, fs::perms(0644));
      ++copied;
    }
  }
  if (copied < 3) throw std::runtime_error("too few real libraries found; run scripts/install-deps");
  fs::copy_file(system_lib / fmt::format("libzstd.so.1"), lib / "glibc-hwcaps/x86-64-v3/libzstd.so.1",
                fs::copy_options::none);
  write_file(lib / "tool.sh", "#!/bin/sh\necho tool\n");
  fs::permissions(lib / "tool.sh", fs::perms(0755));
  write_file(lib / "readonly.txt", "read only\n");
  fs::permissions(lib / "readonly.txt", fs::perms(0444));
  write_file(lib / "empty", "");
  write_file(lib / "unneeded.txt", "removed with zip -d\n");
  fs::create_symlink("../lib/libzstd.so", lib / "glibc-hwcaps/zstd-link");
}

bool has_staging_debris(const fs::path& root) {
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(root, ec)) {
    if (e.path().filename().string().starts_with(".tmpdump-staging-")) return true;
  }
  return false;
}

}  // namespace tmpdump::testing
