#include "wrapper/rewrite.hpp"

#include <algorithm>
#include <array>

#include <fmt/format.h>

#include "layer/library_path.hpp"
#include "util/strings.hpp"

namespace tmpdump::wrapper {

namespace fs = std::filesystem;

namespace {

// Launcher options whose value is the next argument (java --help, JDK 11-21).
constexpr std::array<std::string_view, 16> kJavaOptionsWithValue = {"-cp",
                                                                    "-classpath",
                                                                    "--class-path",
                                                                    "-p",
                                                                    "--module-path",
                                                                    "--upgrade-module-path",
                                                                    "--add-modules",
                                                                    "--limit-modules",
                                                                    "--add-reads",
                                                                    "--add-exports",
                                                                    "--add-opens",
                                                                    "--patch-module",
                                                                    "--enable-native-access",
                                                                    "-d",
                                                                    "--describe-module",
                                                                    "--source"};

bool takes_value(std::string_view a) {
  return std::ranges::find(kJavaOptionsWithValue, a) != kJavaOptionsWithValue.end();
}

bool is_classpath_flag(std::string_view a) {
  return a == "-cp" || a == "-classpath" || a == "--class-path";
}

// `list` (':'-separated) with `extra` appended, skipping entries already in it.
std::string append_path_entries(std::string list, const std::vector<std::string>& extra) {
  auto present = split_list(list, ":");
  for (const auto& e : extra) {
    if (std::ranges::find(present, e) != present.end()) continue;
    if (!list.empty()) list += ':';
    list += e;
    present.push_back(e);
  }
  return list;
}

std::string basename_of(std::string_view path) {
  auto slash = path.rfind('/');
  return std::string(slash == std::string_view::npos ? path : path.substr(slash + 1));
}

constexpr std::string_view kLibraryPathFlag = "-Djava.library.path=";

/// The JVM options matching TMPDUMP_JAVA_REMOVE_FLAGS go, each with its value.
void remove_java_flags(std::vector<std::string>& argv, const Env& env, std::vector<std::string>& changes) {
  const auto remove = split_list(env("TMPDUMP_JAVA_REMOVE_FLAGS").value_or(""), " \t\n,");
  if (remove.empty()) return;
  std::vector<std::string> kept{argv.front()};
  const std::size_t main = java_main_index(argv);
  std::size_t removed = 0;
  for (std::size_t i = 1; i < main; ++i) {
    const bool pair = takes_value(argv[i]) && i + 1 < main;
    const bool drop = std::ranges::any_of(remove, [&](const std::string& item) { return flag_matches(argv[i], item); });
    if (drop) {
      ++removed;
    } else {
      kept.push_back(argv[i]);
      if (pair) kept.push_back(argv[i + 1]);
    }
    if (pair) ++i;
  }
  kept.insert(kept.end(), argv.begin() + static_cast<std::ptrdiff_t>(main), argv.end());
  argv = std::move(kept);
  changes.push_back(fmt::format("{} option(s) removed", removed));
}

/// The task on the system class path, so the runtime's per-function class
/// loader finds the handler in its parent and JNI libraries have one owner.
/// Returns the main class's index after any insertion.
std::size_t add_task_to_classpath(std::vector<std::string>& argv, std::size_t main, const Layout& layout,
                                  const Env& env, std::vector<std::string>& changes) {
  const bool jar = main < argv.size() && argv[main] == "-jar";
  const std::vector<std::string> task_entries{layout.task_root.string(), (layout.task_root / "lib/*").string()};
  std::string* classpath = nullptr;
  std::string joined_form;  // "--class-path=" when the value is in the same argument
  for (std::size_t i = 1; i < main; ++i) {
    if (is_classpath_flag(argv[i]) && i + 1 < main) {
      classpath = &argv[i + 1];
      joined_form.clear();
      ++i;
    } else if (argv[i].starts_with("--class-path=")) {
      classpath = &argv[i];
      joined_form = "--class-path=";
    } else if (takes_value(argv[i])) {
      ++i;
    }
  }
  if (classpath != nullptr) {
    std::string value = classpath->substr(joined_form.size());
    *classpath = joined_form + append_path_entries(std::move(value), task_entries);
    changes.push_back("classpath +" + layout.task_root.string());
  } else if (!jar) {
    std::string base = env("CLASSPATH").value_or("");
    if (base.empty()) base = ".";
    const std::array<std::string, 2> added{"-classpath", append_path_entries(base, task_entries)};
    argv.insert(argv.begin() + static_cast<std::ptrdiff_t>(main), added.begin(), added.end());
    main += 2;
    changes.push_back("classpath added");
  }
  return main;
}

/// The tmpdump's native directories ahead of java.library.path. Returns the
/// main class's index after any insertion.
std::size_t prefix_java_library_path(std::vector<std::string>& argv, std::size_t main, const Layout& layout,
                                     const std::string& native_path, std::vector<std::string>& changes) {
  std::string* library = nullptr;
  for (std::size_t i = 1; i < main; ++i) {
    if (argv[i].starts_with(kLibraryPathFlag)) library = &argv[i];
    if (takes_value(argv[i])) ++i;
  }
  if (library != nullptr) {
    const std::string existing = library->substr(kLibraryPathFlag.size());
    *library = std::string(kLibraryPathFlag) +
               layer::library_path(layout.root, layout.installed, layout.task_root, existing, layout.cpu_has_v3);
    changes.push_back("java.library.path prefixed");
    return main;
  }
  std::string value = native_path;
  value = append_path_entries(std::move(value), split_list(kJdkDefaultLibraryPath, ":"));
  argv.insert(argv.begin() + static_cast<std::ptrdiff_t>(main), std::string(kLibraryPathFlag) + value);
  changes.push_back("java.library.path added");
  return main + 1;
}

/// TMPDUMP_JAVA_ADD_FLAGS last among the options: for the JVM the last of two
/// contradicting options wins.
Result<void> add_java_flags(std::vector<std::string>& argv, std::size_t main, const Env& env,
                            std::vector<std::string>& changes) {
  const auto add = split_list(env("TMPDUMP_JAVA_ADD_FLAGS").value_or(""), " \t\n");
  for (const auto& a : add) {
    if (!a.starts_with('-')) {
      return fail(Errc::InvalidArgument,
                  "TMPDUMP_JAVA_ADD_FLAGS: '{}' is not a JVM option (each item must start with '-')", a);
    }
  }
  if (!add.empty()) {
    argv.insert(argv.begin() + static_cast<std::ptrdiff_t>(main), add.begin(), add.end());
    changes.push_back(fmt::format("{} option(s) added", add.size()));
  }
  return {};
}

/// Edits a java command line in place; returns what changed ("java: ...").
Result<std::string> rewrite_java(std::vector<std::string>& argv, const Layout& layout, const Env& env,
                                 const std::string& native_path) {
  std::vector<std::string> changes;
  remove_java_flags(argv, env, changes);
  std::size_t main = java_main_index(argv);
  main = add_task_to_classpath(argv, main, layout, env, changes);
  main = prefix_java_library_path(argv, main, layout, native_path, changes);
  if (auto added = add_java_flags(argv, main, env, changes); !added) return std::unexpected(added.error());

  std::string what = "java: ";
  for (std::size_t i = 0; i < changes.size(); ++i) what += (i == 0 ? "" : ", ") + changes[i];
  return what;
}

/// The LD_LIBRARY_PATH every runtime gets (see rewrite() in rewrite.hpp).
std::string runtime_library_path(const Layout& layout, bool libc_in_lib, const Env& env) {
  const std::string inherited = env("LD_LIBRARY_PATH").value_or("");
  if (!libc_in_lib) {
    return layer::library_path(layout.root, layout.installed, layout.task_root, inherited, layout.cpu_has_v3);
  }
  // An older pack --with-libc put glibc in lib/ itself: lib/ goes last, so
  // the image's glibc (on Lambda's LD_LIBRARY_PATH as /lib64) is found first.
  std::error_code ec;
  const fs::path v3 = layout.root / "lib/glibc-hwcaps/x86-64-v3";
  std::string front = layout.cpu_has_v3 && fs::is_directory(v3, ec) ? v3.string() : "";
  std::string path = layer::library_path(layout.root, false, layout.task_root, inherited, false);
  return append_path_entries(front.empty() ? path : front + ":" + path, {(layout.root / "lib").string()});
}

/// PYTHONPATH gets the tmpdump's python/ first.
void rewrite_python(Launch& out, const Layout& layout, const Env& env) {
  out.what = "python: environment only";
  std::error_code ec;
  const fs::path python = layout.root / "python";
  if (!layout.installed || !fs::is_directory(python, ec)) return;
  std::string value = python.string();
  // The inherited value stays byte for byte: an empty entry means the
  // working directory to Python.
  if (auto inherited = env("PYTHONPATH"); inherited && !inherited->empty()) value += ':' + *inherited;
  out.env.emplace_back("PYTHONPATH", value);
  out.what = "python: PYTHONPATH +" + python.string();
}

/// NODE_PATH gets the tmpdump's module directories first, as Lambda does for layers.
void rewrite_node(Launch& out, const Layout& layout, const Env& env) {
  out.what = "node: environment only";
  std::error_code ec;
  std::vector<std::string> dirs;
  for (const char* d : {"nodejs/node_modules", "node_modules"}) {
    const fs::path p = layout.root / d;
    if (layout.installed && fs::is_directory(p, ec)) dirs.push_back(p.string());
  }
  if (dirs.empty()) return;
  std::string value;
  for (const auto& d : dirs) value += (value.empty() ? "" : ":") + d;
  if (auto inherited = env("NODE_PATH"); inherited && !inherited->empty()) value += ':' + *inherited;
  out.env.emplace_back("NODE_PATH", value);
  out.what = "node: NODE_PATH +" + dirs.front() + (dirs.size() > 1 ? " +" + dirs.back() : "");
}

}  // namespace

Runtime classify(std::string_view program) noexcept {
  const auto slash = program.rfind('/');
  const std::string_view name = slash == std::string_view::npos ? program : program.substr(slash + 1);
  if (name == "java") return Runtime::Java;
  if (name == "node" || name == "nodejs") return Runtime::Node;
  if (name.starts_with("python") &&
      std::ranges::all_of(name.substr(6), [](char c) { return (c >= '0' && c <= '9') || c == '.'; })) {
    return Runtime::Python;
  }
  return Runtime::Other;
}

std::size_t java_main_index(std::span<const std::string> argv) {
  std::size_t i = 1;
  while (i < argv.size()) {
    const std::string_view a = argv[i];
    if (a == "-jar" || a == "-m" || a == "--module" || a.starts_with("--module=")) return i;
    if (takes_value(a)) {
      i += 2;
    } else if (a.starts_with('-') || a.starts_with('@')) {  // @argfiles hold options too
      ++i;
    } else {
      return i;
    }
  }
  return argv.size();
}

bool flag_matches(std::string_view option, std::string_view item) noexcept {
  if (item.empty()) return false;
  if (option == item) return true;
  if (item.ends_with('*')) return option.starts_with(item.substr(0, item.size() - 1));
  if (item.find('=') == std::string_view::npos && option.size() > item.size() && option.starts_with(item)) {
    const char next = option[item.size()];
    return next == '=' || next == ':';
  }
  return false;
}

Result<Launch> rewrite(std::span<const std::string> command, const Layout& layout, const Env& env) {
  if (command.empty() || command.front().empty()) {
    return fail(Errc::InvalidArgument, "no command to run: the runtime passes its command line as the arguments");
  }
  Launch out;
  out.argv.assign(command.begin(), command.end());
  out.runtime = classify(command.front());

  std::error_code ec;
  const bool libc_in_lib = layout.installed && fs::exists(layout.root / "lib/libc.so.6", ec);
  const std::string library_path = runtime_library_path(layout, libc_in_lib, env);
  out.env.emplace_back("LD_LIBRARY_PATH", library_path);

  switch (out.runtime) {
    case Runtime::Java: {
      auto what = rewrite_java(out.argv, layout, env, library_path);
      if (!what) return std::unexpected(what.error());
      out.what = std::move(*what);
      break;
    }
    case Runtime::Python:
      rewrite_python(out, layout, env);
      break;
    case Runtime::Node:
      rewrite_node(out, layout, env);
      break;
    case Runtime::Other:
      out.what = basename_of(command.front()) + ": environment only";
      break;
  }
  if (libc_in_lib) {
    out.what += "; " + (layout.root / "lib").string() +
                " holds glibc (an older pack --with-libc), so it goes after LD_LIBRARY_PATH: repack with this "
                "tmpdump, which keeps glibc in lib/libc/";
  }
  return out;
}

}  // namespace tmpdump::wrapper
