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
  // Runtime roots, and where each runtime's files are.
  std::vector<fs::path> java_homes, python_stdlibs;
  for (const auto& l : libs) {
    if (auto home = java_home_of(l.path)) java_homes.push_back(*home);
    if (auto lib = python_stdlib_of(l.path); lib && !in_packages_dir(l.path)) python_stdlibs.push_back(*lib);
    const std::string name = base_of(l.path);
    if (name.starts_with("libpython") && name.find(".so") != std::string::npos) {
      // A shared interpreter: its standard library is <prefix>/lib/pythonX.Y.
      const auto stem = name.substr(3, name.find(".so") - 3);  // "python3.11"
      python_stdlibs.push_back(fs::path(l.path).parent_path() / stem);
    }
  }
  std::vector<std::string> root(libs.size());
  for (std::size_t i = 0; i < libs.size(); ++i) {
    const auto& p = libs[i].path;
    const std::string name = base_of(p);
    if (std::any_of(java_homes.begin(), java_homes.end(), [&](const fs::path& h) { return under(p, h); })) {
      root[i] = "java";
    } else if (name.starts_with("libpython") ||
               (!in_packages_dir(p) && std::any_of(python_stdlibs.begin(), python_stdlibs.end(),
                                                   [&](const fs::path& d) { return under(p, d); }))) {
      root[i] = "python";
    } else if (name.starts_with("libnode.so")) {
      root[i] = "node";
    }
  }

  // Names -> library, for following DT_NEEDED inside the trace.
  std::map<std::string, std::size_t, std::less<>> by_name;
  for (std::size_t i = 0; i < libs.size(); ++i) {
    by_name.emplace(base_of(libs[i].path), i);
    for (const auto& n : libs[i].names) by_name.emplace(base_of(n), i);
  }
  std::vector<std::vector<std::size_t>> deps(libs.size());
  for (std::size_t i = 0; i < libs.size(); ++i) {
    for (const auto& n : needed_of(libs[i].path)) {
      if (auto it = by_name.find(base_of(n)); it != by_name.end() && it->second != i) deps[i].push_back(it->second);
    }
  }

  // What the runtime loads: its roots, the interpreters' own needs, and theirs.
  std::vector<std::string> runtime_reach(libs.size());
  std::deque<std::size_t> work;
  for (std::size_t i = 0; i < libs.size(); ++i) {
    if (!root[i].empty()) runtime_reach[i] = root[i], work.push_back(i);
  }
  std::vector<std::pair<fs::path, std::string>> interpreters;
  if (!command.empty()) {
    const std::string kind = runtime_of_program(command.front());
    if (!kind.empty()) {
      if (auto exe = find_in_path(command.front(), path_env)) interpreters.emplace_back(*exe, kind);
    }
  }
  // A python3 started by a script: <prefix>/bin/pythonX.Y beside <prefix>/lib/pythonX.Y.
  for (const auto& d : python_stdlibs) {
    std::error_code ec;
    const fs::path exe = d.parent_path().parent_path() / "bin" / d.filename();
    if (fs::is_regular_file(exe, ec)) interpreters.emplace_back(exe, "python");
  }
  for (const auto& [exe, kind] : interpreters) {
    for (const auto& n : needed_of(exe)) {
      if (auto it = by_name.find(base_of(n)); it != by_name.end() && runtime_reach[it->second].empty()) {
        runtime_reach[it->second] = kind;
        work.push_back(it->second);
      }
    }
  }
  while (!work.empty()) {
    const auto i = work.front();
    work.pop_front();
    for (auto d : deps[i]) {
      if (runtime_reach[d].empty()) runtime_reach[d] = runtime_reach[i], work.push_back(d);
    }
  }

  // What the function loads: everything else, and what that needs.
  std::vector<bool> user_reach(libs.size(), false);
  for (std::size_t i = 0; i < libs.size(); ++i) {
    if (runtime_reach[i].empty()) user_reach[i] = true, work.push_back(i);
  }
  while (!work.empty()) {
    const auto i = work.front();
    work.pop_front();
    for (auto d : deps[i]) {
      if (!user_reach[d] && root[d].empty()) user_reach[d] = true, work.push_back(d);
    }
  }

  for (std::size_t i = 0; i < libs.size(); ++i) {
    if (!root[i].empty()) {
      libs[i].provided_by = root[i];
    } else if (!runtime_reach[i].empty() && !user_reach[i]) {
      libs[i].provided_by = runtime_reach[i];
    }
    // The runtime's own modules too: --include-runtime packs them, and then not flat in lib/ either.
    if (auto rel = python_module_path(libs[i].path)) libs[i].python_module = *rel;
  }
}

}  // namespace tmpdump::trace
