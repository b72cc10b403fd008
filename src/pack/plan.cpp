// What goes where in a packed archive: the trace file's libraries and their
// requested names, --add trees, --variant trees, the closure, --exclude.
#include "pack/plan.hpp"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <map>
#include <set>

#include "pack/closure.hpp"
#include "pack/glob.hpp"
#include "pack/image.hpp"
#include "pack/trace_file.hpp"

namespace tmpdump::pack {

namespace fs = std::filesystem;

Result<std::int64_t> reproducible_mtime(const std::optional<std::string>& sde) {
  if (!sde || sde->empty()) return 315532800;
  std::int64_t v = 0;
  for (char c : *sde) {
    if (c < '0' || c > '9' || v > (std::int64_t{1} << 40)) {
      return fail(Errc::InvalidArgument, "SOURCE_DATE_EPOCH='{}' is not a number of seconds", *sde);
    }
    v = v * 10 + (c - '0');
  }
  // The zip DOS time field cannot go below 1980.
  return std::max<std::int64_t>(v, 315532800);
}

namespace {

/// The archive-to-be, keyed by path, with collision checks.
class Layout {
 public:
  Result<void> add_file(const std::string& path, const fs::path& source, std::uint32_t mode) {
    std::error_code ec;
    auto real = fs::canonical(source, ec);
    if (ec) return fail(Errc::NotFound, "{}: {}", source.string(), ec.message());
    auto it = entries_.find(path);
    if (it != entries_.end()) {
      if (it->second.type == archive::EntryType::File && it->second.source == real) return {};
      return fail(Errc::InvalidArgument, "two different inputs want the archive path {}: {} and {}", path,
                  describe(it->second), real.string());
    }
    entries_[path] = PlannedEntry{path, archive::EntryType::File, real, {}, mode};
    return {};
  }

  Result<void> add_symlink(const std::string& path, const std::string& target) {
    auto it = entries_.find(path);
    if (it != entries_.end()) {
      if (it->second.type == archive::EntryType::Symlink && it->second.target == target) return {};
      // A name that is already the real file needs no link to it.
      if (it->second.type == archive::EntryType::File) return {};
      return fail(Errc::InvalidArgument, "two different inputs want the archive path {}: {} and a symlink to {}", path,
                  describe(it->second), target);
    }
    entries_[path] = PlannedEntry{path, archive::EntryType::Symlink, {}, target, 0777};
    return {};
  }

  void add_directory(const std::string& path) {
    if (!entries_.contains(path)) entries_[path] = PlannedEntry{path, archive::EntryType::Directory, {}, {}, 0755};
  }

  std::map<std::string, PlannedEntry>& entries() { return entries_; }

 private:
  static std::string describe(const PlannedEntry& e) {
    switch (e.type) {
      case archive::EntryType::File:
        return e.source.string();
      case archive::EntryType::Symlink:
        return "a symlink to " + e.target;
      case archive::EntryType::Directory:
        return "a directory";
    }
    return {};
  }
  std::map<std::string, PlannedEntry> entries_;
};

std::uint32_t file_mode(const fs::path& p) {
  std::error_code ec;
  auto perms = fs::status(p, ec).permissions();
  if (ec) return 0644;
  const bool exec =
      (perms & (fs::perms::owner_exec | fs::perms::group_exec | fs::perms::others_exec)) != fs::perms::none;
  return exec ? 0755 : 0644;
}

/// Whether a relative symlink target, taken from `link_dir` (relative to the
/// tree's root), stays inside the tree. Returns the resolved path when it does.
std::optional<std::string> inside(const std::string& link_dir, const std::string& target) {
  if (target.empty() || target[0] == '/') return std::nullopt;
  std::vector<std::string> parts;
  auto push_parts = [&](std::string_view s) -> bool {
    std::size_t start = 0;
    while (start <= s.size()) {
      auto end = s.find('/', start);
      if (end == std::string_view::npos) end = s.size();
      auto part = s.substr(start, end - start);
      if (part == "..") {
        if (parts.empty()) return false;
        parts.pop_back();
      } else if (!part.empty() && part != ".") {
        parts.emplace_back(part);
      }
      start = end + 1;
    }
    return true;
  };
  if (!push_parts(link_dir) || !push_parts(target)) return std::nullopt;
  std::string out;
  for (const auto& p : parts) out += (out.empty() ? "" : "/") + p;
  return out;
}

/// Adds `dir`'s tree under `prefix`. Symlinks that stay inside the tree stay
/// symlinks; others are replaced by what they point at.
Result<void> add_tree(Layout& layout, const fs::path& dir, const std::string& prefix) {
  std::error_code ec;
  const auto dir_status = fs::status(dir, ec);
  if (!fs::exists(dir_status)) return fail(Errc::NotFound, "{}: No such file or directory", dir.string());
  if (!fs::is_directory(dir_status)) return fail(Errc::InvalidArgument, "{}: not a directory", dir.string());
  if (!prefix.empty()) layout.add_directory(prefix);
  std::vector<fs::path> found;
  for (auto it = fs::recursive_directory_iterator(dir, ec); !ec && it != fs::recursive_directory_iterator();
       it.increment(ec)) {
    found.push_back(it->path());
  }
  if (ec) return fail(Errc::Io, "reading {}: {}", dir.string(), ec.message());
  std::sort(found.begin(), found.end());
  for (const auto& p : found) {
    const std::string rel = p.lexically_relative(dir).generic_string();
    const std::string path = prefix.empty() ? rel : fmt::format("{}/{}", prefix, rel);
    const auto st = fs::symlink_status(p, ec);
    if (ec) return fail(Errc::Io, "{}: {}", p.string(), ec.message());
    if (fs::is_symlink(st)) {
      const std::string target = fs::read_symlink(p, ec).string();
      if (ec) return fail(Errc::Io, "{}: {}", p.string(), ec.message());
      const auto parent = fs::path(rel).parent_path().generic_string();
      // Inside the tree it stays a link; one that dangles is dropped with the others below.
      if (auto resolved = inside(parent, target); resolved) {
        if (auto r = layout.add_symlink(path, target); !r) return r;
        continue;
      }
      const auto real = fs::canonical(p, ec);
      if (ec) return fail(Errc::NotFound, "{}: dangling symlink to {}", p.string(), target);
      if (fs::is_directory(real)) {
        return fail(Errc::Unsupported, "{} is a symlink to the directory {} outside the tree; add that tree itself",
                    p.string(), real.string());
      }
      if (!fs::is_regular_file(real, ec)) {
        return fail(Errc::Unsupported, "{} is a symlink to {}, which is not a regular file", p.string(), real.string());
      }
      if (auto r = layout.add_file(path, real, file_mode(real)); !r) return r;
    } else if (fs::is_directory(st)) {
      layout.add_directory(path);
    } else if (fs::is_regular_file(st)) {
      if (auto r = layout.add_file(path, p, file_mode(p)); !r) return r;
    } else {
      return fail(Errc::Unsupported, "{} is neither a file, a directory nor a symlink", p.string());
    }
  }
  return {};
}

/// With glibc bundled, its loader goes too (a trace file leaves it out), into
/// the same directory: kBundledLibcDir, which no library path names.
Result<void> add_loader(Layout& layout) {
  const std::string dir(kBundledLibcDir);
  if (!layout.entries().contains(dir + "/libc.so.6")) return {};
  std::error_code ec;
  for (const char* loader : {"/lib64/ld-linux-x86-64.so.2", "/lib/ld-linux-aarch64.so.1"}) {
    if (!fs::exists(loader, ec)) continue;
    const auto real = fs::canonical(loader, ec);
    if (ec) continue;
    if (auto r = layout.add_file(dir + "/" + real.filename().string(), real, 0755); !r) return r;
    const auto name = fs::path(loader).filename().string();
    if (name != real.filename().string()) {
      if (auto r = layout.add_symlink(fmt::format("{}/{}", dir, name), real.filename().string()); !r) return r;
    }
    return {};
  }
  return {};
}

/// Whether the trace's `lib` stays out of the archive: what the image gives
/// (unless --with-libc) and what the traced runtime brings (unless
/// --include-runtime); the latter is recorded in `result.left_out`.
bool leave_out(const TracedLibrary& lib, const std::string& base, const PackOptions& o, Plan& result,
               std::set<std::string>& left_out_names) {
  // What the image gives is left to it, or bundled where only the bundled loader looks.
  if (image_provides(base) && !o.with_libc) {
    if (o.notice) o.notice(fmt::format("leaving out {}: the Lambda image provides it", lib.path));
    return true;
  }
  if (lib.provided_by.empty() || image_provides(base) || o.include_runtime) return false;
  if (o.notice) {
    o.notice(fmt::format("leaving out {}: the {} runtime brings its own (--include-runtime packs it)", lib.path,
                         lib.provided_by));
  }
  std::vector<std::string> bare;
  for (const auto& n : lib.names) {
    if (!n.empty() && n.find('/') == std::string::npos) bare.push_back(n);
  }
  result.left_out.push_back({lib.path, lib.provided_by, std::move(bare)});
  left_out_names.insert(lib.names.begin(), lib.names.end());
  return true;
}

/// Adds one traced library at its real path `real`, with a link for every
/// name it was loaded by.
Result<void> add_traced_library(Layout& layout, const TracedLibrary& lib, const fs::path& real) {
  if (!lib.python_module.empty()) {
    // An extension module is part of its package: same place under python/, never lib/.
    return layout.add_file("python/" + lib.python_module, real, file_mode(real));
  }
  const auto base = real.filename().string();
  const std::string dir = image_provides(base) ? std::string(kBundledLibcDir) : "lib";
  if (auto r = layout.add_file(dir + "/" + base, real, file_mode(real)); !r) return r;
  for (const auto& name : lib.names) {
    if (name.empty() || name.find('/') != std::string::npos || name == "." || name == "..") continue;
    for (const auto& [link, target] : links_to(name, fs::canonical(real))) {
      if (auto r = layout.add_symlink(fmt::format("{}/{}", dir, link), target); !r) return r;
    }
  }
  return {};
}

/// The trace file's libraries, less those left out.
Result<void> add_traced_libraries(Layout& layout, const PackOptions& o, Plan& result,
                                  std::set<std::string>& left_out_names) {
  auto trace = read_trace(*o.trace);
  if (!trace) return std::unexpected(trace.error());
  layout.add_directory("lib");
  for (const auto& lib : trace->libraries) {
    std::error_code ec;
    const fs::path real = fs::exists(lib.path, ec) ? fs::canonical(lib.path, ec) : fs::path(lib.path);
    if (leave_out(lib, real.filename().string(), o, result, left_out_names)) continue;
    if (!fs::is_regular_file(real, ec)) {
      return fail(Errc::NotFound, "{} (from {}) does not exist or is not a file", lib.path, o.trace->string());
    }
    if (auto r = add_traced_library(layout, lib, real); !r) return r;
  }
  return {};
}

/// --variant trees, each under lib/glibc-hwcaps/<level>/.
Result<void> add_variants(Layout& layout, const PackOptions& o) {
  for (const auto& [name, dir] : o.variants) {
    if (name != "x86-64-v2" && name != "x86-64-v3" && name != "x86-64-v4") {
      return fail(Errc::InvalidArgument, "unknown variant '{}' (x86-64-v2, x86-64-v3 or x86-64-v4)", name);
    }
    layout.add_directory("lib");
    layout.add_directory("lib/glibc-hwcaps");
    if (auto r = add_tree(layout, dir, "lib/glibc-hwcaps/" + name); !r) return r;
  }
  return {};
}

/// Drops the entries an --exclude glob matches.
void exclude(std::map<std::string, PlannedEntry>& entries, const PackOptions& o) {
  for (auto it = entries.begin(); it != entries.end();) {
    const bool excluded = std::any_of(o.exclude.begin(), o.exclude.end(),
                                      [&](const std::string& g) { return glob_match_anywhere(g, it->first); });
    if (excluded && o.notice) o.notice(fmt::format("excluding {}", it->first));
    it = excluded ? entries.erase(it) : std::next(it);
  }
}

/// Symlinks whose target is gone (excluded, or never there) would only
/// dangle; dropping one may leave another dangling, so until none does.
void drop_dangling_symlinks(std::map<std::string, PlannedEntry>& entries, const PackOptions& o) {
  for (bool changed = true; changed;) {
    changed = false;
    for (auto it = entries.begin(); it != entries.end();) {
      if (it->second.type == archive::EntryType::Symlink) {
        const auto parent = fs::path(it->first).parent_path().generic_string();
        auto resolved = inside(parent, it->second.target);
        if (!resolved || !entries.contains(*resolved)) {
          if (o.notice)
            o.notice(fmt::format("dropping {}: its target {} is not in the archive", it->first, it->second.target));
          it = entries.erase(it);
          changed = true;
          continue;
        }
      }
      ++it;
    }
  }
}

/// Every parent directory gets its own entry, as zip -r makes them.
Result<void> add_parent_directories(Layout& layout) {
  auto& entries = layout.entries();
  std::vector<std::string> parents;
  for (const auto& [path, e] : entries) {
    for (auto p = fs::path(path).parent_path(); !p.empty(); p = p.parent_path()) parents.push_back(p.generic_string());
  }
  for (const auto& p : parents) {
    auto it = entries.find(p);
    if (it != entries.end() && it->second.type != archive::EntryType::Directory) {
      return fail(Errc::InvalidArgument, "{} is both a directory and a {} in the archive", p,
                  it->second.type == archive::EntryType::File ? "file" : "symlink");
    }
    layout.add_directory(p);
  }
  return {};
}

}  // namespace

Result<Plan> plan(const PackOptions& o) {
  Layout layout;
  Plan result;
  std::set<std::string> left_out_names;
  if (o.trace) {
    if (auto r = add_traced_libraries(layout, o, result, left_out_names); !r) return std::unexpected(r.error());
  }
  for (const auto& tree : o.add) {
    if (auto r = add_tree(layout, tree.dir, tree.prefix); !r) return std::unexpected(r.error());
  }
  if (auto r = add_variants(layout, o); !r) return std::unexpected(r.error());
  if (o.closure) {
    std::set<std::string> runtime_names;
    for (const auto& l : result.left_out) runtime_names.insert(fs::path(l.path).filename().string());
    for (const auto& n : left_out_names) runtime_names.insert(n);
    auto added = add_closure(layout.entries(), o, runtime_names);
    if (!added) return std::unexpected(added.error());
    result.added_by_closure = std::move(*added);
  }

  // After the closure, which may be what brought libc.so.6.
  if (o.with_libc) {
    if (auto r = add_loader(layout); !r) return std::unexpected(r.error());
  }

  auto& entries = layout.entries();
  exclude(entries, o);
  drop_dangling_symlinks(entries, o);
  if (auto r = add_parent_directories(layout); !r) return std::unexpected(r.error());
  result.entries.reserve(entries.size());
  for (auto& [path, e] : entries) result.entries.push_back(std::move(e));
  return result;
}

}  // namespace tmpdump::pack
