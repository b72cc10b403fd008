#include "trace/trace.hpp"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <fstream>
#include <map>
#include <optional>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "elf/elf.hpp"
#include "pack/image.hpp"
#include "trace/runtime.hpp"
#include "util/io.hpp"
#include "util/unique_fd.hpp"

extern char** environ;

namespace tmpdump::trace {

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

std::optional<fs::path> self_dir() {
  std::error_code ec;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (ec) return std::nullopt;
  return exe.parent_path();
}

std::string real(const fs::path& p) {
  std::error_code ec;
  auto r = fs::canonical(p, ec);
  return ec ? p.string() : r.string();
}

// One audited process's pending search: the name asked for and the files the
// loader tried that exist.
struct Search {
  std::string name;
  std::vector<std::string> candidates;
};

/// The libraries loaded, in load order, each with the names it was loaded by.
class LoadedLibraries {
 public:
  void add_name(const std::string& path, const std::string& name) {
    auto it = by_path_.find(path);
    std::size_t i = 0;
    if (it == by_path_.end()) {
      i = libs_.size();
      by_path_.emplace(path, i);
      libs_.push_back({path, {}, {}, {}});
      seen_names_.emplace_back();
    } else {
      i = it->second;
    }
    if (!name.empty() && seen_names_[i].insert(name).second) libs_[i].names.push_back(name);
  }
  [[nodiscard]] bool contains(std::string_view path) const { return by_path_.contains(path); }
  std::vector<Library> take() { return std::move(libs_); }

 private:
  std::vector<Library> libs_;
  std::map<std::string, std::size_t, std::less<>> by_path_;
  std::vector<std::set<std::string, std::less<>>> seen_names_;
};

/// The event stream's NUL-terminated fields; a record cut short (a process
/// killed mid-write) ends the stream.
class Fields {
 public:
  explicit Fields(std::string_view events) : events_(events) {}
  [[nodiscard]] bool done() const { return at_ >= events_.size(); }
  std::optional<std::string> next() {
    const auto nul = events_.find('\0', at_);
    if (nul == std::string_view::npos) return std::nullopt;
    std::string f(events_.substr(at_, nul - at_));
    at_ = nul + 1;
    return f;
  }

 private:
  std::string_view events_;
  std::size_t at_ = 0;
};

/// Reads the audit library's records into `loaded`: B(egin), S(earch) name
/// path, C(andidate) path, O(pened) name path, each headed by its kind and
/// pid. Returns the searches that opened nothing.
std::vector<Search> read_events(std::string_view events, LoadedLibraries& loaded) {
  Fields fields(events);
  std::map<std::string, std::optional<Search>> pending;  // by pid
  std::vector<Search> unresolved;
  while (!fields.done()) {
    auto head = fields.next();
    if (!head || head->empty()) break;
    const char kind = head->front();
    auto& slot = pending[head->substr(1)];
    const auto retire = [&] {
      if (slot) unresolved.push_back(std::move(*slot));
      slot.reset();
    };
    if (kind == 'B') {
      retire();
    } else if (kind == 'S') {
      auto name = fields.next(), path = fields.next();
      if (!path) break;
      retire();
      slot = Search{*name, {}};
      if (!path->empty()) slot->candidates.push_back(*path);
    } else if (kind == 'C') {
      auto path = fields.next();
      if (!path) break;
      if (slot) slot->candidates.push_back(*path);
    } else if (kind == 'O') {
      auto name = fields.next(), path = fields.next();
      if (!path) break;
      if (path->empty()) continue;  // the vDSO, or an object deleted since
      if (slot) loaded.add_name(*path, slot->name);
      loaded.add_name(*path, *name);
      slot.reset();
    } else {
      break;
    }
  }
  for (auto& [pid, slot] : pending) {
    if (slot) unresolved.push_back(std::move(*slot));
  }
  return unresolved;
}

/// `libs` without the audit library and the dynamic loader, each with its
/// soname among its names.
std::vector<Library> packable(std::vector<Library> libs, const fs::path& audit_library) {
  const std::string audit_real = real(audit_library);
  std::vector<Library> out;
  for (auto& lib : libs) {
    if (lib.path == audit_real) continue;
    auto info = elf::read_file(lib.path);
    if (info) {
      if (info->soname && pack::is_dynamic_loader(*info->soname)) continue;
      if (info->soname && std::find(lib.names.begin(), lib.names.end(), *info->soname) == lib.names.end()) {
        lib.names.push_back(*info->soname);
      }
    }
    out.push_back(std::move(lib));
  }
  return out;
}

/// An empty file for the audit library's events; its path.
Result<std::string> create_events_file() {
  std::string path = (fs::temp_directory_path() / "tmpdump-trace-XXXXXX").string();
  UniqueFd fd(::mkstemp(path.data()));
  if (!fd) {
    return std::unexpected(sys_error(errno, "creating the trace event file in " + fs::temp_directory_path().string()));
  }
  return path;
}

/// The child's environment: ours with LD_AUDIT naming the audit library first.
std::vector<std::string> child_environment(const fs::path& audit_library, const std::string& events_path) {
  std::vector<std::string> env_strings;
  std::string audit = audit_library.string();
  for (char** e = environ; *e != nullptr; ++e) {
    std::string_view kv(*e);
    if (kv.starts_with("LD_AUDIT=")) {
      if (kv.size() > 9) audit += ":" + std::string(kv.substr(9));
    } else if (!kv.starts_with("TMPDUMP_TRACE_EVENTS=")) {
      env_strings.emplace_back(kv);
    }
  }
  env_strings.push_back("LD_AUDIT=" + audit);
  env_strings.push_back("TMPDUMP_TRACE_EVENTS=" + events_path);
  return env_strings;
}

/// A null-terminated array of pointers into `strings`, for exec.
std::vector<char*> c_strings(std::vector<std::string>& strings) {
  std::vector<char*> out;
  out.reserve(strings.size() + 1);
  for (auto& s : strings) out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}

/// Like time(1): while it lives, Ctrl-C goes to the command, and we live on
/// to write its trace.
class IgnoreInterrupts {
 public:
  IgnoreInterrupts() {
    struct sigaction ignore {};
    ignore.sa_handler = SIG_IGN;
    ::sigemptyset(&ignore.sa_mask);
    ::sigaction(SIGINT, &ignore, &old_int_);
    ::sigaction(SIGQUIT, &ignore, &old_quit_);
  }
  ~IgnoreInterrupts() {
    ::sigaction(SIGINT, &old_int_, nullptr);
    ::sigaction(SIGQUIT, &old_quit_, nullptr);
  }
  IgnoreInterrupts(const IgnoreInterrupts&) = delete;
  IgnoreInterrupts& operator=(const IgnoreInterrupts&) = delete;

 private:
  struct sigaction old_int_ {
  }, old_quit_{};
};

/// Runs `command` with the environment `envp` (SIGINT and SIGQUIT at their
/// defaults in the child) and waits for it; its wait status.
Result<int> spawn_and_wait(const std::vector<std::string>& command, char* const* envp) {
  std::vector<std::string> args = command;
  const auto argv = c_strings(args);
  posix_spawnattr_t attr;
  ::posix_spawnattr_init(&attr);
  sigset_t defaults;
  ::sigemptyset(&defaults);
  ::sigaddset(&defaults, SIGINT);
  ::sigaddset(&defaults, SIGQUIT);
  ::posix_spawnattr_setsigdefault(&attr, &defaults);
  ::posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGDEF);
  pid_t pid = -1;
  const int rc = ::posix_spawnp(&pid, argv[0], nullptr, &attr, argv.data(), envp);
  ::posix_spawnattr_destroy(&attr);
  if (rc != 0) {
    Error e = sys_error(rc, "starting " + command[0]);
    if (rc == ENOENT) e.code = Errc::NotFound;
    return std::unexpected(e);
  }
  int status = 0;
  if (retry_eintr([&] { return ::waitpid(pid, &status, 0); }) < 0) {
    return std::unexpected(sys_error(errno, "waiting for " + command[0]));
  }
  return status;
}

}  // namespace

Result<fs::path> find_audit_library(const Env& env) {
  std::vector<fs::path> tried;
  if (auto v = env("TMPDUMP_AUDIT_LIB"); v && !v->empty()) {
    if (fs::is_regular_file(*v)) return fs::path(*v);
    return fail(Errc::NotFound, "TMPDUMP_AUDIT_LIB={} does not exist", *v);
  }
  if (auto dir = self_dir()) {
    tried.push_back(*dir / kAuditLibraryName);
    tried.push_back(*dir / ".." / "lib" / "tmpdump" / kAuditLibraryName);
  }
#ifdef TMPDUMP_AUDIT_BUILD_PATH
  tried.emplace_back(TMPDUMP_AUDIT_BUILD_PATH);
#endif
  std::string list;
  for (const auto& p : tried) {
    if (fs::is_regular_file(p)) return fs::path(real(p));
    list += (list.empty() ? "" : ", ") + p.string();
  }
  return fail(Errc::NotFound, "the audit library {} is not installed (looked at {}); set TMPDUMP_AUDIT_LIB",
              kAuditLibraryName, list);
}

std::vector<Library> libraries_from_events(std::string_view events, const fs::path& audit_library) {
  LoadedLibraries loaded;
  const auto unresolved = read_events(events, loaded);
  // A search that mapped nothing found an object already loaded under another
  // name (same file): the first candidate that is a loaded object gets the name.
  for (const auto& s : unresolved) {
    for (const auto& c : s.candidates) {
      if (loaded.contains(c)) {
        loaded.add_name(c, s.name);
        break;
      }
    }
  }
  return packable(loaded.take(), audit_library);
}

Result<RunOutcome> run(const RunOptions& options) {
  if (options.command.empty()) return fail(Errc::InvalidArgument, "no command to trace");
  auto events_path = create_events_file();
  if (!events_path) return std::unexpected(events_path.error());
  struct Cleanup {
    std::string path;
    ~Cleanup() { ::unlink(path.c_str()); }
  } cleanup{*events_path};

  auto env_strings = child_environment(options.audit_library, *events_path);
  const auto envp = c_strings(env_strings);
  const IgnoreInterrupts ignore_interrupts;
  const auto status = spawn_and_wait(options.command, envp.data());
  if (!status) return std::unexpected(status.error());

  RunOutcome outcome;
  outcome.exit_status = WIFEXITED(*status) ? WEXITSTATUS(*status) : 128 + WTERMSIG(*status);
  std::ifstream in(*events_path, std::ios::binary);
  if (!in) return fail(Errc::Io, "cannot read the trace events in {}", *events_path);
  std::ostringstream ss;
  ss << in.rdbuf();
  outcome.trace.command = options.command;
  outcome.trace.libraries = libraries_from_events(ss.str(), options.audit_library);
  const char* path = std::getenv("PATH");
  mark_runtime_libraries(outcome.trace.libraries, options.command, path != nullptr ? path : "");
  return outcome;
}

std::string to_json(const Trace& trace) {
  json libs = json::array();
  for (const auto& l : trace.libraries) {
    json j = {{"path", l.path}, {"names", l.names}};
    if (!l.provided_by.empty()) j["provided_by"] = l.provided_by;
    if (!l.python_module.empty()) j["python_module"] = l.python_module;
    libs.push_back(std::move(j));
  }
  const json doc = {{"format", 1}, {"command", trace.command}, {"libraries", libs}};
  // One library per line keeps diffs of trace files readable.
  std::string out = "{\n  \"format\": 1,\n  \"command\": " + doc["command"].dump() + ",\n  \"libraries\": [";
  for (std::size_t i = 0; i < libs.size(); ++i) out += (i == 0 ? "\n    " : ",\n    ") + libs[i].dump();
  out += libs.empty() ? "]\n}\n" : "\n  ]\n}\n";
  return out;
}

Result<Trace> parse_json(std::string_view text, std::string_view name) {
  const json doc = json::parse(text, nullptr, false);
  if (doc.is_discarded() || !doc.is_object()) return fail(Errc::Corrupt, "{}: not a JSON object", name);
  const auto format = doc.find("format");
  if (format == doc.end() || !format->is_number_integer()) {
    return fail(Errc::Corrupt, "{}: no \"format\" number; not a tmpdump trace file", name);
  }
  if (*format != 1)
    return fail(Errc::Unsupported, "{}: trace format {} is not known (this tmpdump reads 1)", name, format->dump());
  Trace t;
  try {
    if (auto c = doc.find("command"); c != doc.end()) t.command = c->get<std::vector<std::string>>();
    const auto libs = doc.find("libraries");
    if (libs == doc.end() || !libs->is_array()) return fail(Errc::Corrupt, "{}: no \"libraries\" array", name);
    for (const auto& l : *libs) {
      Library lib;
      lib.path = l.at("path").get<std::string>();
      if (auto n = l.find("names"); n != l.end()) lib.names = n->get<std::vector<std::string>>();
      if (auto n = l.find("provided_by"); n != l.end()) lib.provided_by = n->get<std::string>();
      if (auto n = l.find("python_module"); n != l.end()) lib.python_module = n->get<std::string>();
      t.libraries.push_back(std::move(lib));
    }
  } catch (const json::exception& e) {
    return fail(Errc::Corrupt, "{}: {}", name, e.what());
  }
  return t;
}

}  // namespace tmpdump::trace
