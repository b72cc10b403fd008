// The layer's custom-runtime entry point (/opt/bootstrap): pulls the
// tmpdumps, sets the library path, then starts the handler (exec, or dlopen +
// the runtime loop). Every failure before the first /next is posted to
// /runtime/init/error with a specific errorType.
#include <dlfcn.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "bootstrap/config.hpp"
#include "bootstrap/log.hpp"
#include "bootstrap/prepare.hpp"
#include "runtime/c_handler.hpp"
#include "tmpdump/runtime.hpp"

namespace {

namespace fs = std::filesystem;
using tmpdump::bootstrap::HandlerSpec;

// Set on the re-exec that loads a .so handler once LD_LIBRARY_PATH is in force.
constexpr const char* kStageVar = "TMPDUMP_BOOTSTRAP_STAGE";
constexpr const char* kBundledLoader = "ld-linux-x86-64.so.2";

using tmpdump::bootstrap::LogLevel;

// Text, or JSON under Lambda's advanced logging controls (bootstrap/log.hpp).
const tmpdump::bootstrap::Logger& logger() {
  static const tmpdump::bootstrap::Logger log("tmpdump bootstrap",
                                              tmpdump::bootstrap::LogSettings::from_env(tmpdump::process_env()));
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

template <class Fn>
Fn symbol(void* lib, const char* name) {
  // POSIX guarantees object/function pointer conversion for dlsym results.
  return reinterpret_cast<Fn>(::dlsym(lib, name));
}

// Stage 2 of a .so handler: LD_LIBRARY_PATH is in force for the loader now.
int run_library(const HandlerSpec& h) {
  if (h.path.find('/') != std::string::npos && !fs::exists(h.path)) {
    init_fail("Runtime.HandlerNotFound",
              fmt::format("_HANDLER={}: no library at {} (paths are relative to LAMBDA_TASK_ROOT)", h.text, h.path), 3);
  }
  void* lib = ::dlopen(h.path.c_str(), RTLD_NOW | RTLD_GLOBAL);
  if (lib == nullptr) {
    const char* why = ::dlerror();
    init_fail("Runtime.HandlerNotFound",
              fmt::format("_HANDLER={}: cannot load {}: {} (LD_LIBRARY_PATH={})", h.text, h.path,
                          why != nullptr ? why : "?", std::getenv("LD_LIBRARY_PATH") ? std::getenv("LD_LIBRARY_PATH") : ""),
              3);
  }
  auto handler = symbol<tmpdump_handler_fn>(lib, h.symbol.c_str());
  if (handler == nullptr) {
    init_fail("Runtime.HandlerNotFound",
              fmt::format("_HANDLER={}: {} has no function '{}' (declare it extern \"C\" and exported)", h.text, h.path,
                          h.symbol),
              3);
  }
  if (auto init = symbol<tmpdump_init_fn>(lib, "tmpdump_handler_init")) {
    if (int rc = init(); rc != 0) init_fail("Runtime.InitError", fmt::format("tmpdump_handler_init returned {}", rc), 1);
  }
  return tmpdump::runtime::run_c_handler(handler, symbol<tmpdump_hook_fn>(lib, "tmpdump_before_snapshot"),
                                         symbol<tmpdump_hook_fn>(lib, "tmpdump_after_restore"));
}

}  // namespace

int main(int argc, char** argv) {
  (void)argc;
  const auto started = std::chrono::steady_clock::now();
  const auto env = tmpdump::process_env();

  if (const char* stage = std::getenv(kStageVar); stage != nullptr && std::string_view(stage) == "library") {
    ::unsetenv(kStageVar);
    auto task_root = env("LAMBDA_TASK_ROOT").value_or("/var/task");
    auto h = tmpdump::bootstrap::parse_handler(env("_HANDLER").value_or(""), task_root);
    if (!h) init_fail("Runtime.HandlerNotFound", h.error().message, 3);
    return run_library(*h);
  }

  auto config = tmpdump::bootstrap::load_config(env);
  if (!config) init_fail(config.error());
  auto handler = tmpdump::bootstrap::parse_handler(config->handler_text, config->task_root);
  if (!handler) init_fail("Runtime.HandlerNotFound", handler.error().message, 3);

  auto pull = tmpdump::bootstrap::pull_configured(*config, env, [](std::string_view msg) { logger().write(LogLevel::Info, msg); });
  if (!pull) init_fail(pull.error());
  const bool pulled = pull->pulled;
  const std::string& summary = pull->summary;

  const char* inherited = std::getenv("LD_LIBRARY_PATH");
  const std::string ld_path = tmpdump::bootstrap::library_path(
      config->root, pulled, config->task_root, inherited != nullptr ? inherited : "", tmpdump::bootstrap::cpu_has_x86_64_v3());
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  auto fields = tmpdump::bootstrap::init_fields(*config, *pull, secs);
  fields["handler"] = handler->text;
  logger().write(LogLevel::Info, fmt::format("init in {:.3f} s: {}; handler {}", secs, summary, handler->text), fields);
  // Before the handler owns stdout (exec or the runtime loop).
  if (pulled) tmpdump::bootstrap::write_emf(tmpdump::bootstrap::init_stats(*config, *pull, secs), env);

  if (handler->kind == HandlerSpec::Kind::Library) {
    if (inherited != nullptr && ld_path == inherited) return run_library(*handler);
    ::setenv("LD_LIBRARY_PATH", ld_path.c_str(), 1);
    ::setenv(kStageVar, "library", 1);
    ::execv("/proc/self/exe", argv);
    init_fail("Runtime.InvalidEntrypoint", fmt::format("cannot re-execute the bootstrap: {}", std::strerror(errno)), 1);
  }

  if (::access(handler->path.c_str(), F_OK) != 0) {
    init_fail("Runtime.HandlerNotFound",
              fmt::format("_HANDLER={}: no executable at {} (paths are relative to LAMBDA_TASK_ROOT)", handler->text,
                          handler->path),
              3);
  }
  ::setenv("LD_LIBRARY_PATH", ld_path.c_str(), 1);
  // A tmpdump that carries its own loader and libc runs the handler through
  // them, so a handler built on a newer distro runs on Lambda's older glibc.
  // pack --with-libc puts them in lib/libc/, which only this start names (on
  // --library-path, never in LD_LIBRARY_PATH, so nothing the handler starts
  // with the image's loader picks that libc up); older archives have them in lib/.
  std::error_code ec;
  for (const fs::path& dir : {config->root / "lib/libc", config->root / "lib"}) {
    const fs::path loader = dir / kBundledLoader;
    if (!pulled || !fs::exists(loader, ec) || !fs::exists(dir / "libc.so.6", ec)) continue;
    const std::string search = dir.filename() == "libc" ? dir.string() + ":" + ld_path : ld_path;
    std::vector<std::string> args{loader.string(), "--library-path", search, handler->path};
    std::vector<char*> cargs;
    for (auto& a : args) cargs.push_back(a.data());
    cargs.push_back(nullptr);
    ::execv(cargs[0], cargs.data());
    init_fail("Runtime.InvalidEntrypoint",
              fmt::format("cannot start {} through the tmpdump's loader {}: {}", handler->path, loader.string(),
                          std::strerror(errno)),
              1);
  }
  std::string path = handler->path;
  char* args[] = {path.data(), nullptr};
  ::execv(path.c_str(), args);
  init_fail("Runtime.InvalidEntrypoint",
            fmt::format("_HANDLER={}: cannot execute {}: {}", handler->text, handler->path, std::strerror(errno)), 1);
}
