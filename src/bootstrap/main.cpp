// The layer's custom-runtime entry point (/opt/bootstrap): pulls the
// tmpdumps, sets the library path, then starts the handler (exec, or dlopen +
// the runtime loop). Every failure before the first /next is posted to
// /runtime/init/error with a specific errorType.
#include <dlfcn.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "layer/log.hpp"
#include "layer/prepare.hpp"
#include "runtime/c_handler.hpp"
#include "tmpdump/runtime.hpp"

namespace {

namespace fs = std::filesystem;
using tmpdump::layer::HandlerSpec;
using tmpdump::layer::LogLevel;

// Set on the re-exec that loads a .so handler once LD_LIBRARY_PATH is in force.
constexpr const char* kStageVar = "TMPDUMP_BOOTSTRAP_STAGE";
constexpr const char* kBundledLoader = "ld-linux-x86-64.so.2";

// Exit codes of a failed init besides the pull's own (docs/cli.md's table).
// Lambda shows the errorType posted to /runtime/init/error
// (docs/configuration.md); the code is what a person running the bootstrap by
// hand, or a test, sees.
// _HANDLER names nothing that can be loaded (Runtime.HandlerNotFound): 3, the
// code of every "not found" in tmpdump.
constexpr int kExitHandlerNotFound = 3;
// The handler was found but did not start: it could not be executed
// (Runtime.InvalidEntrypoint) or its tmpdump_handler_init failed (Runtime.InitError).
constexpr int kExitHandlerDidNotStart = 1;

// Text, or JSON under Lambda's advanced logging controls (layer/log.hpp).
const tmpdump::layer::Logger& logger() {
  static const tmpdump::layer::Logger log("tmpdump bootstrap",
                                          tmpdump::layer::LogSettings::from_env(tmpdump::process_env()));
  return log;
}

[[noreturn]] void init_fail(std::string_view error_type, const std::string& message, int code) {
  logger().write(LogLevel::Error, fmt::format("{}: {}", error_type, message), {{"errorType", error_type}});
  if (!tmpdump::runtime::report_init_error(error_type, message)) {
    logger().write(LogLevel::Warn, "could not post /runtime/init/error (AWS_LAMBDA_RUNTIME_API unset or unreachable)");
  }
  std::_Exit(code);
}

[[noreturn]] void init_fail(const tmpdump::Error& e) {
  const std::string_view type =
      e.code == tmpdump::Errc::InvalidArgument ? "TmpDump.InvalidConfiguration" : tmpdump::error_type(e.code);
  init_fail(type, e.message, tmpdump::exit_code(e.code));
}

HandlerSpec handler_or_fail(std::string_view text, const fs::path& task_root) {
  auto handler = tmpdump::layer::parse_handler(text, task_root);
  if (!handler) init_fail("Runtime.HandlerNotFound", handler.error().message, kExitHandlerNotFound);
  return std::move(*handler);
}

template <class Fn>
Fn symbol(void* lib, const char* name) {
  // POSIX guarantees object/function pointer conversion for dlsym results.
  return reinterpret_cast<Fn>(::dlsym(lib, name));
}

// Stage 2 of a .so handler: LD_LIBRARY_PATH is in force for the loader now.
int run_library(const HandlerSpec& h, const tmpdump::Env& env) {
  if (h.path.find('/') != std::string::npos && !fs::exists(h.path)) {
    init_fail("Runtime.HandlerNotFound",
              fmt::format("_HANDLER={}: no library at {} (paths are relative to LAMBDA_TASK_ROOT)", h.text, h.path),
              kExitHandlerNotFound);
  }
  void* lib = ::dlopen(h.path.c_str(), RTLD_NOW | RTLD_GLOBAL);
  if (lib == nullptr) {
    const char* why = ::dlerror();
    init_fail("Runtime.HandlerNotFound",
              fmt::format("_HANDLER={}: cannot load {}: {} (LD_LIBRARY_PATH={})", h.text, h.path,
                          why != nullptr ? why : "?", env("LD_LIBRARY_PATH").value_or("")),
              kExitHandlerNotFound);
  }
  auto handler = symbol<tmpdump_handler_fn>(lib, h.symbol.c_str());
  if (handler == nullptr) {
    init_fail("Runtime.HandlerNotFound",
              fmt::format("_HANDLER={}: {} has no function '{}' (declare it extern \"C\" and exported)", h.text, h.path,
                          h.symbol),
              kExitHandlerNotFound);
  }
  if (auto init = symbol<tmpdump_init_fn>(lib, "tmpdump_handler_init")) {
    if (int rc = init(); rc != 0) {
      init_fail("Runtime.InitError", fmt::format("tmpdump_handler_init returned {}", rc), kExitHandlerDidNotStart);
    }
  }
  return tmpdump::runtime::run_c_handler(handler, symbol<tmpdump_hook_fn>(lib, "tmpdump_before_snapshot"),
                                         symbol<tmpdump_hook_fn>(lib, "tmpdump_after_restore"));
}

// The re-executed bootstrap of a .so handler (kStageVar set): the pull is done.
int run_library_stage(const tmpdump::Env& env) {
  ::unsetenv(kStageVar);  // NOLINT(concurrency-mt-unsafe): before any thread starts
  const auto task_root = env("LAMBDA_TASK_ROOT").value_or("/var/task");
  return run_library(handler_or_fail(env("_HANDLER").value_or(""), task_root), env);
}

// The dynamic loader reads LD_LIBRARY_PATH only at start: a .so handler needs
// a fresh bootstrap process to find its libraries in the tmpdump.
[[noreturn]] void reexec_for_library(char** argv, const std::string& library_path) {
  // NOLINTBEGIN(concurrency-mt-unsafe): one thread, about to exec
  ::setenv("LD_LIBRARY_PATH", library_path.c_str(), 1);
  ::setenv(kStageVar, "library", 1);
  // NOLINTEND(concurrency-mt-unsafe)
  ::execv("/proc/self/exe", argv);
  init_fail("Runtime.InvalidEntrypoint", fmt::format("cannot re-execute the bootstrap: {}", tmpdump::errno_text(errno)),
            kExitHandlerDidNotStart);
}

// A tmpdump that carries its own loader and libc runs the handler through
// them, so a handler built on a newer distro runs on Lambda's older glibc.
// pack --with-libc puts them in lib/libc/, which only this start names (on
// --library-path, never in LD_LIBRARY_PATH, so nothing the handler starts
// with the image's loader picks that libc up); older archives have them in lib/.
// Returns when the tmpdump has no loader of its own.
void exec_through_bundled_loader(const HandlerSpec& handler, const fs::path& root, const std::string& library_path) {
  std::error_code ec;
  for (const fs::path& dir : {root / "lib/libc", root / "lib"}) {
    const fs::path loader = dir / kBundledLoader;
    if (!fs::exists(loader, ec) || !fs::exists(dir / "libc.so.6", ec)) continue;
    const std::string search = dir.filename() == "libc" ? dir.string() + ":" + library_path : library_path;
    std::vector<std::string> args{loader.string(), "--library-path", search, handler.path};
    std::vector<char*> cargs;
    cargs.reserve(args.size() + 1);
    for (auto& a : args) cargs.push_back(a.data());
    cargs.push_back(nullptr);
    ::execv(cargs[0], cargs.data());
    init_fail("Runtime.InvalidEntrypoint",
              fmt::format("cannot start {} through the tmpdump's loader {}: {}", handler.path, loader.string(),
                          tmpdump::errno_text(errno)),
              kExitHandlerDidNotStart);
  }
}

[[noreturn]] void exec_executable(const HandlerSpec& handler, const tmpdump::layer::Prepared& prepared) {
  if (::access(handler.path.c_str(), F_OK) != 0) {
    init_fail("Runtime.HandlerNotFound",
              fmt::format("_HANDLER={}: no executable at {} (paths are relative to LAMBDA_TASK_ROOT)", handler.text,
                          handler.path),
              kExitHandlerNotFound);
  }
  // NOLINTNEXTLINE(concurrency-mt-unsafe): the pull's threads have ended; one thread, about to exec
  ::setenv("LD_LIBRARY_PATH", prepared.library_path.c_str(), 1);
  if (prepared.pull.installed) exec_through_bundled_loader(handler, prepared.config.root, prepared.library_path);
  std::string path = handler.path;
  char* args[] = {path.data(), nullptr};
  ::execv(path.c_str(), args);
  init_fail("Runtime.InvalidEntrypoint",
            fmt::format("_HANDLER={}: cannot execute {}: {}", handler.text, handler.path, tmpdump::errno_text(errno)),
            kExitHandlerDidNotStart);
}

// The init's summary line, and its metrics before the handler owns stdout
// (exec or the runtime loop).
void report_init(const tmpdump::layer::Prepared& prepared, const HandlerSpec& handler,
                 std::chrono::steady_clock::time_point started, const tmpdump::Env& env) {
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  auto fields = tmpdump::layer::init_fields(prepared.config, prepared.pull, secs);
  fields["handler"] = handler.text;
  logger().write(LogLevel::Info,
                 fmt::format("init in {:.3f} s: {}; handler {}", secs, prepared.pull.summary, handler.text), fields);
  if (prepared.pull.installed) {
    tmpdump::layer::write_emf(tmpdump::layer::init_stats(prepared.config, prepared.pull, secs), env);
  }
}

}  // namespace

int main(int argc, char** argv) {
  (void)argc;
  const auto started = std::chrono::steady_clock::now();
  const auto env = tmpdump::process_env();
  if (env(kStageVar).value_or("") == "library") return run_library_stage(env);

  // _HANDLER is checked before the pull, so a wrong one fails without a download.
  HandlerSpec handler;
  auto prepared =
      tmpdump::layer::prepare(env, {.notice = [](std::string_view msg) { logger().write(LogLevel::Info, msg); },
                                    .before_pull =
                                        [&handler](const tmpdump::layer::Config& config) {
                                          handler = handler_or_fail(config.handler_text, config.task_root);
                                        }});
  if (!prepared) init_fail(prepared.error());
  report_init(*prepared, handler, started, env);

  if (handler.kind == HandlerSpec::Kind::Library) {
    if (prepared->inherited_library_path == prepared->library_path) return run_library(handler, env);
    reexec_for_library(argv, prepared->library_path);
  }
  exec_executable(handler, *prepared);
}
