#include "trace/runtime.hpp"

#include <algorithm>
#include <deque>
#include <map>
#include <set>

#include "elf/elf.hpp"

namespace tmpdump::trace {

namespace fs = std::filesystem;

namespace {

std::string base_of(std::string_view path) {
  const auto slash = path.rfind('/');
  return std::string(slash == std::string_view::npos ? path : path.substr(slash + 1));
}

bool is_extension_module(std::string_view name) {
  return name.ends_with(".so") && (name.find(".cpython-") != std::string_view::npos || name.ends_with(".abi3.so"));
}

bool under(const std::string& path, const fs::path& dir) {
  const std::string d = dir.string() + "/";
  return path.starts_with(d);
}

bool in_packages_dir(std::string_view path) {
  return path.find("/site-packages/") != std::string_view::npos ||
         path.find("/dist-packages/") != std::string_view::npos;
}

// ".../lib/python3.11" for ".../lib/python3.11/lib-dynload/_json.cpython-311-x86_64-linux-gnu.so".
std::optional<fs::path> python_stdlib_of(std::string_view path) {
  const auto at = path.rfind("/lib-dynload/");
  if (at == std::string_view::npos) return std::nullopt;
  return fs::path(std::string(path.substr(0, at)));
}

// The runtime a program name is: "java", "python", "node" or "".
std::string runtime_of_program(std::string_view program) {
  const std::string name = base_of(program);
  if (name == "java") return "java";
  if (name == "node" || name == "nodejs") return "node";
  if (name.starts_with("python") &&
      std::all_of(name.begin() + 6, name.end(), [](char c) { return (c >= '0' && c <= '9') || c == '.'; })) {
    return "python";
  }
  return "";
}

std::optional<fs::path> find_in_path(const std::string& program, std::string_view path_env) {
  std::error_code ec;
  if (program.find('/') != std::string::npos) {
    if (fs::is_regular_file(program, ec)) return fs::canonical(program, ec);
    return std::nullopt;
  }
  std::string_view rest = path_env;
  while (!rest.empty()) {
    const auto colon = rest.find(':');
    const fs::path dir(std::string(rest.substr(0, colon)));
    if (!dir.empty() && fs::is_regular_file(dir / program, ec)) return fs::canonical(dir / program, ec);
    if (colon == std::string_view::npos) break;
    rest.remove_prefix(colon + 1);
  }
  return std::nullopt;
}

std::vector<std::string> needed_of(const fs::path& file) {
  auto info = elf::read_file(file);
  if (!info) return {};
  return info->needed;
}

/// Where the runtimes' own files are, as the loaded libraries show it.
struct RuntimeDirs {
  std::vector<fs::path> java_homes;
  std::vector<fs::path> python_stdlibs;
};

/// Libraries by every name they were loaded by and their file name, for
/// following DT_NEEDED inside the trace.
using ByName = std::map<std::string, std::size_t, std::less<>>;

ByName index_by_name(const std::vector<Library>& libs) {
  ByName by_name;
  for (std::size_t i = 0; i < libs.size(); ++i) {
    by_name.emplace(base_of(libs[i].path), i);
    for (const auto& n : libs[i].names) by_name.emplace(base_of(n), i);
  }
  return by_name;
}

/// For each library, the others in the trace it needs.
std::vector<std::vector<std::size_t>> dependencies(const std::vector<Library>& libs, const ByName& by_name) {
  std::vector<std::vector<std::size_t>> deps(libs.size());
  for (std::size_t i = 0; i < libs.size(); ++i) {
    for (const auto& n : needed_of(libs[i].path)) {
      if (auto it = by_name.find(base_of(n)); it != by_name.end() && it->second != i) deps[i].push_back(it->second);
    }
  }
  return deps;
}

/// The interpreters that run the command: its program when that is one (java,
/// pythonX.Y, node), and the pythonX.Y beside a standard library the trace loaded.
std::vector<std::pair<fs::path, std::string>> interpreters(const std::vector<std::string>& command,
                                                           std::string_view path_env,
                                                           const std::vector<fs::path>& python_stdlibs) {
  std::vector<std::pair<fs::path, std::string>> out;
  if (!command.empty()) {
    const std::string kind = runtime_of_program(command.front());
    if (!kind.empty()) {
      if (auto exe = find_in_path(command.front(), path_env)) out.emplace_back(*exe, kind);
    }
  }
  // A python3 started by a script: <prefix>/bin/pythonX.Y beside <prefix>/lib/pythonX.Y.
  for (const auto& d : python_stdlibs) {
    std::error_code ec;
    const fs::path exe = d.parent_path().parent_path() / "bin" / d.filename();
    if (fs::is_regular_file(exe, ec)) out.emplace_back(exe, "python");
  }
  return out;
}

RuntimeDirs runtime_dirs(const std::vector<Library>& libs) {
  RuntimeDirs dirs;
  for (const auto& l : libs) {
    if (auto home = java_home_of(l.path)) dirs.java_homes.push_back(*home);
    if (auto lib = python_stdlib_of(l.path); lib && !in_packages_dir(l.path)) dirs.python_stdlibs.push_back(*lib);
    const std::string name = base_of(l.path);
    if (name.starts_with("libpython") && name.find(".so") != std::string::npos) {
      // A shared interpreter: its standard library is <prefix>/lib/pythonX.Y.
      const auto stem = name.substr(3, name.find(".so") - 3);  // "python3.11"
      dirs.python_stdlibs.push_back(fs::path(l.path).parent_path() / stem);
    }
  }
  return dirs;
}

/// The runtime each library is part of by where it lies ("java", "python",
/// "node"), or "" for none.
std::vector<std::string> runtime_roots(const std::vector<Library>& libs, const RuntimeDirs& dirs) {
  std::vector<std::string> root(libs.size());
  for (std::size_t i = 0; i < libs.size(); ++i) {
    const auto& p = libs[i].path;
    const std::string name = base_of(p);
    if (std::any_of(dirs.java_homes.begin(), dirs.java_homes.end(), [&](const fs::path& h) { return under(p, h); })) {
      root[i] = "java";
    } else if (name.starts_with("libpython") ||
               (!in_packages_dir(p) && std::any_of(dirs.python_stdlibs.begin(), dirs.python_stdlibs.end(),
                                                   [&](const fs::path& d) { return under(p, d); }))) {
      root[i] = "python";
    } else if (name.starts_with("libnode.so")) {
      root[i] = "node";
    }
  }
  return root;
}

/// What the runtime loads: its roots, the interpreters' own needs, and
/// theirs; for each library the runtime that reaches it, or "".
std::vector<std::string> runtime_reach(const std::vector<std::string>& root,
                                       const std::vector<std::vector<std::size_t>>& deps, const ByName& by_name,
                                       const std::vector<std::pair<fs::path, std::string>>& interpreters) {
  std::vector<std::string> reach(root.size());
  std::deque<std::size_t> work;
  for (std::size_t i = 0; i < root.size(); ++i) {
    if (!root[i].empty()) reach[i] = root[i], work.push_back(i);
  }
  for (const auto& [exe, kind] : interpreters) {
    for (const auto& n : needed_of(exe)) {
      if (auto it = by_name.find(base_of(n)); it != by_name.end() && reach[it->second].empty()) {
        reach[it->second] = kind;
        work.push_back(it->second);
      }
    }
  }
  while (!work.empty()) {
    const auto i = work.front();
    work.pop_front();
    for (auto d : deps[i]) {
      if (reach[d].empty()) reach[d] = reach[i], work.push_back(d);
    }
  }
  return reach;
}

/// What the function loads: everything the runtime does not reach, and what
/// that needs outside the runtime's roots.
std::vector<bool> user_reach(const std::vector<std::string>& root, const std::vector<std::string>& by_runtime,
                             const std::vector<std::vector<std::size_t>>& deps) {
  std::vector<bool> reach(root.size(), false);
  std::deque<std::size_t> work;
  for (std::size_t i = 0; i < root.size(); ++i) {
    if (by_runtime[i].empty()) reach[i] = true, work.push_back(i);
  }
  while (!work.empty()) {
    const auto i = work.front();
    work.pop_front();
    for (auto d : deps[i]) {
      if (!reach[d] && root[d].empty()) reach[d] = true, work.push_back(d);
    }
  }
  return reach;
}

}  // namespace

std::optional<fs::path> java_home_of(std::string_view path) {
  const std::string name = base_of(path);
  if (name != "libjvm.so" && name != "libjava.so") return std::nullopt;
  const auto at = path.rfind("/lib/");
  if (at == std::string_view::npos || at == 0) return std::nullopt;
  return fs::path(std::string(path.substr(0, at)));
}

std::optional<std::string> python_module_path(const fs::path& library_path) {
  const std::string path = library_path.string();
  if (!is_extension_module(base_of(path))) return std::nullopt;
  for (std::string_view marker : {"/site-packages/", "/dist-packages/", "/lib-dynload/"}) {
    if (auto at = path.rfind(marker); at != std::string::npos) {
      std::string rel = path.substr(at + marker.size());
      if (!rel.empty()) return rel;
    }
  }
  // Outside site-packages: relative to the directory that holds the top package.
  std::error_code ec;
  fs::path top = library_path.parent_path();
  if (!fs::exists(top / "__init__.py", ec)) return std::nullopt;
  while (top.has_parent_path() && top != top.root_path() && fs::exists(top.parent_path() / "__init__.py", ec)) {
    top = top.parent_path();
  }
  return library_path.lexically_relative(top.parent_path()).generic_string();
}

void mark_runtime_libraries(std::vector<Library>& libs, const std::vector<std::string>& command,
                            std::string_view path_env) {
  const auto dirs = runtime_dirs(libs);
  const auto root = runtime_roots(libs, dirs);
  const auto by_name = index_by_name(libs);
  const auto deps = dependencies(libs, by_name);
  const auto by_runtime = runtime_reach(root, deps, by_name, interpreters(command, path_env, dirs.python_stdlibs));
  const auto by_function = user_reach(root, by_runtime, deps);
  for (std::size_t i = 0; i < libs.size(); ++i) {
    if (!root[i].empty()) {
      libs[i].provided_by = root[i];
    } else if (!by_runtime[i].empty() && !by_function[i]) {
      libs[i].provided_by = by_runtime[i];
    }
    // The runtime's own modules too: --include-runtime packs them, and then not flat in lib/ either.
    if (auto rel = python_module_path(libs[i].path)) libs[i].python_module = *rel;
  }
}

}  // namespace tmpdump::trace
