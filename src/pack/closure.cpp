#include "pack/closure.hpp"

#include <glob.h>
#include <unistd.h>

#include <algorithm>
#include <deque>
#include <fstream>
#include <set>

#include "pack/image.hpp"
#include "util/file_source.hpp"

namespace tmpdump::pack {

namespace fs = std::filesystem;

namespace {

void read_ld_so_conf(const fs::path& file, std::vector<fs::path>& out, int depth) {
  if (depth > 8) return;
  std::ifstream in(file);
  for (std::string line; std::getline(in, line);) {
    if (auto hash = line.find('#'); hash != std::string::npos) line.erase(hash);
    const auto first = line.find_first_not_of(" \t\r");
    if (first == std::string::npos) continue;
    line = line.substr(first, line.find_last_not_of(" \t\r") + 1 - first);
    if (line.starts_with("include") && line.size() > 7 && (line[7] == ' ' || line[7] == '\t')) {
      std::string pattern = line.substr(line.find_first_not_of(" \t", 7));
      if (!pattern.starts_with('/')) pattern = (file.parent_path() / pattern).string();
      glob_t g{};
      // NOLINTNEXTLINE(concurrency-mt-unsafe): the plan is made on one thread, before the writers start
      if (::glob(pattern.c_str(), 0, nullptr, &g) == 0) {
        std::vector<std::string> files(g.gl_pathv, g.gl_pathv + g.gl_pathc);
        std::sort(files.begin(), files.end());
        for (const auto& f : files) read_ld_so_conf(f, out, depth + 1);
      }
      ::globfree(&g);
      continue;
    }
    if (line.starts_with("hwcap")) continue;
    out.emplace_back(line);
  }
}

std::string expand(std::string_view dir, const fs::path& origin, const elf::Info& info) {
  const std::string lib = info.is_64 ? "lib64" : "lib";
  const std::string platform = info.machine == 62 ? "x86_64" : info.machine == 183 ? "aarch64" : "";
  std::string out;
  for (std::size_t i = 0; i < dir.size();) {
    auto token = [&](std::string_view name) {
      if (dir.substr(i).starts_with(fmt::format("${}", name))) return fmt::format("${}", name).size();
      if (dir.substr(i).starts_with(fmt::format("${{{}}}", name))) return fmt::format("${{{}}}", name).size();
      return std::size_t{0};
    };
    if (auto n = token("ORIGIN")) {
      out += origin.string();
      i += n;
    } else if (auto m = token("LIB")) {
      out += lib;
      i += m;
    } else if (auto k = token("PLATFORM")) {
      out += platform;
      i += k;
    } else {
      out += dir[i++];
    }
  }
  return out;
}

bool usable(const fs::path& candidate, const elf::Info& requester) {
  std::error_code ec;
  if (!fs::is_regular_file(candidate, ec)) return false;
  auto info = elf::read_file(candidate);
  return info && info->is_64 == requester.is_64 && info->machine == requester.machine;
}

}  // namespace

std::vector<std::pair<std::string, std::string>> links_to(const std::string& name, const fs::path& real) {
  const auto dir = real.parent_path();
  const auto base = real.filename().string();
  if (name == base) return {};
  std::vector<std::pair<std::string, std::string>> chain;
  std::string current = name;
  for (int hop = 0; hop < 16; ++hop) {
    std::error_code ec;
    const auto p = dir / current;
    if (!fs::is_symlink(p, ec)) break;
    const std::string target = fs::read_symlink(p, ec).string();
    if (ec || target.find('/') != std::string::npos || target.empty()) break;
    chain.emplace_back(current, target);
    current = target;
    if (current == base) return chain;
  }
  return {{name, base}};
}

std::vector<fs::path> system_search_path(const fs::path& ld_so_conf) {
  std::vector<fs::path> dirs;
  read_ld_so_conf(ld_so_conf, dirs, 0);
  for (const char* d : {"/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu", "/lib/aarch64-linux-gnu",
                        "/usr/lib/aarch64-linux-gnu", "/lib64", "/usr/lib64", "/lib", "/usr/lib"}) {
    dirs.emplace_back(d);
  }
  std::vector<fs::path> out;
  std::set<std::string> seen;
  for (const auto& d : dirs) {
    std::error_code ec;
    if (fs::is_directory(d, ec) && seen.insert(d.string()).second) out.push_back(d);
  }
  return out;
}

std::optional<fs::path> resolve_needed(std::string_view needed, const fs::path& requester, const elf::Info& info,
                                       const std::vector<fs::path>& library_path,
                                       const std::vector<fs::path>& system_path) {
  if (needed.find('/') != std::string_view::npos) {
    const fs::path p(needed);
    if (usable(p, info)) return p;
    return std::nullopt;
  }
  const fs::path origin = requester.parent_path();
  auto search = [&](const std::vector<std::string>& dirs) -> std::optional<fs::path> {
    for (const auto& d : dirs) {
      // An empty entry means the current directory to ld.so; never what a Lambda wants.
      if (d.empty()) continue;
      const fs::path candidate = fs::path(expand(d, origin, info)) / needed;
      if (usable(candidate, info)) return candidate;
    }
    return std::nullopt;
  };
  if (info.runpath.empty()) {
    if (auto p = search(info.rpath)) return p;
  }
  for (const auto& d : library_path) {
    if (usable(d / needed, info)) return d / needed;
  }
  if (auto p = search(info.runpath)) return p;
  for (const auto& d : system_path) {
    if (usable(d / needed, info)) return d / needed;
  }
  return std::nullopt;
}

namespace {

/// An ELF object whose dependencies are still to be followed.
struct Work {
  fs::path file;      ///< where the ELF object is read from
  std::string shown;  ///< how messages name it
};

std::uint32_t file_mode(const fs::path& real) {
  std::error_code ec;
  const auto perms = fs::status(real, ec).permissions();
  const bool exec =
      (perms & (fs::perms::owner_exec | fs::perms::group_exec | fs::perms::others_exec)) != fs::perms::none;
  return exec ? 0755u : 0644u;
}

/// The breadth-first walk over DT_NEEDED that add_closure() makes.
class ClosureWalk {
 public:
  ClosureWalk(std::map<std::string, PlannedEntry>& entries, const PackOptions& o,
              const std::set<std::string>& runtime_names)
      : entries_(entries),
        options_(o),
        runtime_names_(runtime_names),
        system_(o.system_library_path.empty() ? system_search_path() : o.system_library_path) {}

  /// Starts from the archive's files and the --closure roots; the names in
  /// lib/ (or a variant directory beside it) are what the loader finds.
  Result<void> seed() {
    for (const auto& [path, e] : entries_) {
      const auto parent = fs::path(path).parent_path().generic_string();
      const bool in_lib = parent == "lib" || parent == kBundledLibcDir || parent.starts_with("lib/glibc-hwcaps/");
      if (in_lib) provided_.insert(fs::path(path).filename().string());
      if (e.type == archive::EntryType::File) work_.push_back({e.source, path});
    }
    for (const auto& root : options_.closure_roots) {
      auto fd = open_input_file(root);
      if (!fd) return std::unexpected(with_context(fd.error(), "--closure"));
      work_.push_back({root, root.string()});
    }
    return {};
  }

  /// Follows every dependency until none is missing; the archive paths added, sorted.
  Result<std::vector<std::string>> run() {
    while (!work_.empty()) {
      auto item = std::move(work_.front());
      work_.pop_front();
      if (!visited_.insert(item.file.string()).second) continue;
      if (auto r = visit(item); !r) return std::unexpected(r.error());
    }
    std::sort(added_.begin(), added_.end());
    return std::move(added_);
  }

 private:
  Result<void> visit(const Work& item) {
    auto info = elf::read_file(item.file);
    if (!info) {
      // Data files, scripts and the like have no dependencies.
      if (info.error().code == Errc::Unsupported) return {};
      // A root the user named must be an ELF object; an archive file may be anything.
      const auto& roots = options_.closure_roots;
      if (std::find(roots.begin(), roots.end(), item.file) != roots.end()) {
        return std::unexpected(with_context(info.error(), item.file.string()));
      }
      return {};
    }
    link_soname(item, *info);
    for (const auto& needed : info->needed) {
      if (auto r = add_dependency(item, *info, needed); !r) return r;
    }
    return {};
  }

  /// A library whose soname is not a file name in lib/ gets a link by that name.
  void link_soname(const Work& item, const elf::Info& info) {
    if (!info.soname || provided_.contains(*info.soname) || !item.shown.starts_with("lib/") ||
        fs::path(item.shown).parent_path() != "lib" || info.soname->find('/') != std::string::npos) {
      return;
    }
    const std::string link = "lib/" + *info.soname;
    entries_[link] =
        PlannedEntry{link, archive::EntryType::Symlink, {}, fs::path(item.shown).filename().string(), 0777};
    provided_.insert(*info.soname);
    added_.push_back(link);
  }

  /// Adds what `item` needs as `needed`, unless the archive, the image or the
  /// runtime already gives it.
  Result<void> add_dependency(const Work& item, const elf::Info& info, const std::string& needed) {
    const std::string name = fs::path(needed).filename().string();
    if (provided_.contains(name) || runtime_names_.contains(name)) return {};
    if (!options_.with_libc && image_provides(name)) return {};
    auto found = resolve_needed(needed, item.file, info, options_.library_path, system_);
    if (!found) {
      return fail(Errc::NotFound,
                  "{} needs {}, which is neither in the archive nor found in its RPATH/RUNPATH, the library "
                  "path or the system's directories",
                  item.shown, needed);
    }
    std::error_code ec;
    const auto real = fs::canonical(*found, ec);
    if (ec) return fail(Errc::Io, "{}: {}", found->string(), ec.message());
    const std::string base = real.filename().string();
    const std::string dir = image_provides(name) ? std::string(kBundledLibcDir) : "lib";
    const std::string path = dir + "/" + base;
    if (auto it = entries_.find(path); it != entries_.end()) {
      if (it->second.type != archive::EntryType::File || it->second.source != real) {
        return fail(Errc::InvalidArgument, "{} (needed by {}) would be {}, which the archive already holds",
                    real.string(), item.shown, path);
      }
    } else {
      entries_[path] = PlannedEntry{path, archive::EntryType::File, real, {}, file_mode(real)};
      if (options_.notice) {
        options_.notice(fmt::format("closure: adding {} for {} (needed by {})", real.string(), needed, item.shown));
      }
      added_.push_back(path);
    }
    provided_.insert(base);
    add_links(dir, name, real);
    provided_.insert(name);
    work_.push_back({real, path});
    return {};
  }

  void add_links(const std::string& dir, const std::string& name, const fs::path& real) {
    for (const auto& [link, target] : links_to(name, real)) {
      const std::string lpath = fmt::format("{}/{}", dir, link);
      if (!entries_.contains(lpath)) {
        entries_[lpath] = PlannedEntry{lpath, archive::EntryType::Symlink, {}, target, 0777};
        added_.push_back(lpath);
      }
      provided_.insert(link);
    }
  }

  std::map<std::string, PlannedEntry>& entries_;
  const PackOptions& options_;
  const std::set<std::string>& runtime_names_;
  const std::vector<fs::path> system_;
  std::set<std::string> provided_;
  std::deque<Work> work_;
  std::set<std::string> visited_;
  std::vector<std::string> added_;
};

}  // namespace

Result<std::vector<std::string>> add_closure(std::map<std::string, PlannedEntry>& entries, const PackOptions& o,
                                             const std::set<std::string>& runtime_names) {
  ClosureWalk walk(entries, o, runtime_names);
  if (auto r = walk.seed(); !r) return std::unexpected(r.error());
  return walk.run();
}

}  // namespace tmpdump::pack
