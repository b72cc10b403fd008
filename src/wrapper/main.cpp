// tmpdump-exec-wrapper: the layer's exec wrapper for managed runtimes
// (AWS_LAMBDA_EXEC_WRAPPER=/opt/tmpdump-exec-wrapper). Lambda's runtime
// bootstrap runs it with the runtime's own command line as arguments; it
// pulls the tmpdumps like `bootstrap`, rewrites that command line
// (rewrite.hpp) and execs it. Any failure is one line on stderr and a
// non-zero exit before the runtime starts.
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>

#include "bootstrap/config.hpp"
#include "bootstrap/log.hpp"
#include "bootstrap/prepare.hpp"
#include "tmpdump/runtime.hpp"
#include "wrapper/rewrite.hpp"

namespace {

constexpr std::string_view kUsage =
    "usage: tmpdump-exec-wrapper PROGRAM [ARG]...\n"
    "\n"
    "Lambda runs it for managed runtimes (Java, Python, Node) when the function sets\n"
    "AWS_LAMBDA_EXEC_WRAPPER=/opt/tmpdump-exec-wrapper. It installs the tmpdumps named by\n"
    "TMPDUMP_SOURCES, TMPDUMP_BUCKET, HUMANGRAPHICS_BUCKET or $LAMBDA_TASK_ROOT/tmpdump.json\n"
    "into TMPDUMP_ROOT (default /tmp), then runs PROGRAM with the library paths pointed at them:\n"
    "  java:    -classpath += $LAMBDA_TASK_ROOT:$LAMBDA_TASK_ROOT/lib/*, tmpdump lib/ ahead of\n"
    "           -Djava.library.path; TMPDUMP_JAVA_REMOVE_FLAGS, TMPDUMP_JAVA_ADD_FLAGS edit JVM options\n"
    "  python*: tmpdump python/ ahead of PYTHONPATH\n"
    "  node:    tmpdump nodejs/node_modules and node_modules/ ahead of NODE_PATH\n"
    "  all:     tmpdump lib/ (and lib/glibc-hwcaps/x86-64-v3 on AVX2 CPUs) ahead of LD_LIBRARY_PATH\n"
    "\n"
    "Documentation: docs/exec-wrapper.md\n";

using tmpdump::bootstrap::LogLevel;

// Text, or JSON under Lambda's advanced logging controls (bootstrap/log.hpp).
const tmpdump::bootstrap::Logger& logger() {
  static const tmpdump::bootstrap::Logger log("tmpdump-exec-wrapper",
                                              tmpdump::bootstrap::LogSettings::from_env(tmpdump::process_env()));
  return log;
}

// One line on stderr, an init error for Lambda when the Runtime API is there,
// and an exit before the runtime starts.

[[noreturn]] void init_fail(std::string_view error_type, const std::string& message, int code) {
  logger().write(LogLevel::Error, fmt::format("{}: {}", error_type, message), {{"errorType", error_type}});
  const char* api = std::getenv("AWS_LAMBDA_RUNTIME_API");
  if (api != nullptr && *api != '\0') (void)tmpdump::runtime::report_init_error(error_type, message);
  std::_Exit(code);
}

[[noreturn]] void init_fail(const tmpdump::Error& e) {
  const std::string_view type =
      e.code == tmpdump::Errc::InvalidArgument ? "TmpDump.InvalidConfiguration" : tmpdump::error_type(e.code);
  init_fail(type, e.message, tmpdump::exit_code(e.code));
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    fmt::print(stderr, "{}", kUsage);
    return 2;
  }
  if (argc == 2 && std::string_view(argv[1]) == "--help") {
    fmt::print("{}", kUsage);
    return 0;
  }
  if (argc == 2 && std::string_view(argv[1]) == "--version") {
    fmt::print("tmpdump-exec-wrapper {}\n", TMPDUMP_VERSION);
    return 0;
  }

  const auto started = std::chrono::steady_clock::now();
  const auto env = tmpdump::process_env();
  auto config = tmpdump::bootstrap::load_config(env);
  if (!config) init_fail(config.error());

  auto pulled = tmpdump::bootstrap::pull_configured(
      *config, env, [](std::string_view msg) { logger().write(LogLevel::Info, msg); });
  if (!pulled) init_fail(pulled.error());

  const std::vector<std::string> command(argv + 1, argv + argc);
  const tmpdump::wrapper::Layout layout{.root = config->root,
                                        .pulled = pulled->pulled,
                                        .task_root = config->task_root,
                                        .cpu_has_v3 = tmpdump::bootstrap::cpu_has_x86_64_v3()};
  auto launch = tmpdump::wrapper::rewrite(command, layout, env);
  if (!launch) init_fail(launch.error());

  // A path that cannot be run fails here, so the failure stays the only line.
  const std::string& program = launch->argv.front();
  if (program.find('/') != std::string::npos && ::access(program.c_str(), X_OK) != 0) {
    const int err = errno;
    init_fail("Runtime.InvalidEntrypoint", fmt::format("cannot execute {}: {}", program, std::strerror(err)),
              err == ENOENT ? 127 : 126);
  }
  for (const auto& [name, value] : launch->env) ::setenv(name.c_str(), value.c_str(), 1);
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  auto fields = tmpdump::bootstrap::init_fields(*config, *pulled, secs);
  fields["command"] = launch->what;
  logger().write(LogLevel::Info, fmt::format("init in {:.3f} s: {}; {}", secs, pulled->summary, launch->what), fields);
  // EMF is read from stdout, which the runtime owns after the exec.
  if (pulled->pulled) tmpdump::bootstrap::write_emf(tmpdump::bootstrap::init_stats(*config, *pulled, secs), env);

  std::vector<char*> args;
  args.reserve(launch->argv.size() + 1);
  for (auto& a : launch->argv) args.push_back(a.data());
  args.push_back(nullptr);
  ::execvp(args[0], args.data());
  const int err = errno;
  init_fail("Runtime.InvalidEntrypoint", fmt::format("cannot execute {}: {}", launch->argv.front(), std::strerror(err)),
            err == ENOENT ? 127 : 126);
}
