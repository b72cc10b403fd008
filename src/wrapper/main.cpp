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

#include "layer/log.hpp"
#include "layer/prepare.hpp"
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

using tmpdump::layer::LogLevel;

// The shell's codes for a program that cannot be run, as docs/exec-wrapper.md
// lists them: the runtime's program does not exist / cannot be executed.
constexpr int kExitProgramNotFound = 127;
constexpr int kExitProgramNotExecutable = 126;

// Text, or JSON under Lambda's advanced logging controls (layer/log.hpp).
const tmpdump::layer::Logger& logger() {
  static const tmpdump::layer::Logger log("tmpdump-exec-wrapper",
                                          tmpdump::layer::LogSettings::from_env(tmpdump::process_env()));
  return log;
}

// One line on stderr, an init error for Lambda when the Runtime API is there,
// and an exit before the runtime starts.

[[noreturn]] void init_fail(std::string_view error_type, const std::string& message, int code) {
  logger().write(LogLevel::Error, fmt::format("{}: {}", error_type, message), {{"errorType", error_type}});
  if (!tmpdump::process_env()("AWS_LAMBDA_RUNTIME_API").value_or("").empty()) {
    (void)tmpdump::runtime::report_init_error(error_type, message);
  }
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
  auto prepared = tmpdump::layer::prepare(
      env, {.notice = [](std::string_view msg) { logger().write(LogLevel::Info, msg); }, .before_pull = {}});
  if (!prepared) init_fail(prepared.error());
  const tmpdump::layer::Config& config = prepared->config;
  const tmpdump::layer::PullOutcome& pull = prepared->pull;

  const std::vector<std::string> command(argv + 1, argv + argc);
  const tmpdump::wrapper::Layout layout{.root = config.root,
                                        .installed = pull.installed,
                                        .task_root = config.task_root,
                                        .cpu_has_v3 = prepared->cpu_has_v3};
  auto launch = tmpdump::wrapper::rewrite(command, layout, env);
  if (!launch) init_fail(launch.error());

  // A path that cannot be run fails here, so the failure stays the only line.
  const std::string& program = launch->argv.front();
  if (program.find('/') != std::string::npos && ::access(program.c_str(), X_OK) != 0) {
    const int err = errno;
    init_fail("Runtime.InvalidEntrypoint", fmt::format("cannot execute {}: {}", program, tmpdump::errno_text(err)),
              err == ENOENT ? kExitProgramNotFound : kExitProgramNotExecutable);
  }
  // NOLINTNEXTLINE(concurrency-mt-unsafe): the pull's threads have ended; one thread, about to exec
  for (const auto& [name, value] : launch->env) ::setenv(name.c_str(), value.c_str(), 1);
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  auto fields = tmpdump::layer::init_fields(config, pull, secs);
  fields["command"] = launch->what;
  logger().write(LogLevel::Info, fmt::format("init in {:.3f} s: {}; {}", secs, pull.summary, launch->what), fields);
  // EMF is read from stdout, which the runtime owns after the exec.
  if (pull.installed) tmpdump::layer::write_emf(tmpdump::layer::init_stats(config, pull, secs), env);

  std::vector<char*> args;
  args.reserve(launch->argv.size() + 1);
  for (auto& a : launch->argv) args.push_back(a.data());
  args.push_back(nullptr);
  ::execvp(args[0], args.data());
  const int err = errno;
  init_fail("Runtime.InvalidEntrypoint",
            fmt::format("cannot execute {}: {}", launch->argv.front(), tmpdump::errno_text(err)),
            err == ENOENT ? kExitProgramNotFound : kExitProgramNotExecutable);
}
