// tmpdump emulate --function DIR --layer DIR|ZIP... --handler H [--event FILE] [--port N] [--sandbox MODE] ...
#include <signal.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "cli/commands.hpp"
#include "emulator/emulator.hpp"

namespace tmpdump::cli {

namespace {

struct EmulateOptions {
  std::string function_dir = ".";
  std::vector<std::string> layers;
  std::string handler;
  std::string runtime = "provided.al2023";
  std::string runtime_dir;
  std::string lang_dir;
  std::string name = "function";
  std::string region;
  double timeout = 3;
  long memory = 128;
  long ephemeral = 512;
  double cpus = 0;
  bool cpus_given = false;
  std::string sandbox = "auto";
  std::vector<std::string> env;
  std::string event;
  int port = 9000;
  bool snap_start = false;
  std::string log_format;  ///< "text" or "json": AWS_LAMBDA_LOG_FORMAT, as Lambda's LoggingConfig sets it
  std::string log_level;   ///< AWS_LAMBDA_LOG_LEVEL (with --log-format json, as in Lambda)
};

// The runtime to start: --runtime, with --runtime-dir and --lang-dir for a managed one.
Result<void> set_runtime(const EmulateOptions& o, emulator::Options& eo) {
  auto runtime = emulator::parse_runtime(o.runtime);
  if (!runtime) return std::unexpected(runtime.error());
  eo.runtime = *runtime;
  if (runtime->language == emulator::Language::Provided && (!o.runtime_dir.empty() || !o.lang_dir.empty())) {
    return std::unexpected(Error{Errc::InvalidArgument,
                                 "--runtime-dir and --lang-dir are for a managed runtime "
                                 "(--runtime java21, python3.12, nodejs20.x...); " +
                                     o.runtime + " runs a bootstrap"});
  }
  eo.runtime_dir = o.runtime_dir;
  eo.lang_dir = o.lang_dir;
  return {};
}

// Lambda's limits: the timeouts, memory, /tmp and CPU share.
Result<void> set_limits(const EmulateOptions& o, emulator::Options& eo) {
  if (o.timeout <= 0 || o.timeout > 900) return fail(Errc::InvalidArgument, "--timeout must be in (0, 900] seconds");
  eo.timeout = std::chrono::milliseconds(static_cast<long>(o.timeout * 1000));
  // For tests only (docs/cli.md): a shorter init limit than Lambda's 10 s.
  if (const char* ms = std::getenv("TMPDUMP_EMULATE_INIT_TIMEOUT_MS"); ms != nullptr && *ms != '\0') {
    char* end = nullptr;
    const long v = std::strtol(ms, &end, 10);
    if (*end != '\0' || v <= 0)
      return fail(Errc::InvalidArgument, "TMPDUMP_EMULATE_INIT_TIMEOUT_MS must be a positive number");
    eo.init_timeout = std::chrono::milliseconds(v);
  }
  auto memory = emulator::check_memory_mb(o.memory);
  if (!memory) return std::unexpected(memory.error());
  eo.memory_mb = *memory;
  auto ephemeral = emulator::check_ephemeral_mb(o.ephemeral);
  if (!ephemeral) return std::unexpected(ephemeral.error());
  eo.ephemeral_mb = *ephemeral;
  if (o.cpus_given) {
    auto cpus = emulator::check_cpus(o.cpus, std::max(1U, std::thread::hardware_concurrency()));
    if (!cpus) return std::unexpected(cpus.error());
    eo.cpus = *cpus;
  }
  return {};
}

// The function's environment: the logging controls, then --env (which can override them).
Result<void> set_environment(const EmulateOptions& o, emulator::Options& eo) {
  // Lambda's advanced logging controls; --env can still override them.
  if (!o.log_format.empty()) eo.env.emplace_back("AWS_LAMBDA_LOG_FORMAT", o.log_format == "json" ? "JSON" : "Text");
  if (!o.log_level.empty()) {
    if (o.log_format != "json")
      return fail(Errc::InvalidArgument, "--log-level needs --log-format json (as in Lambda)");
    eo.env.emplace_back("AWS_LAMBDA_LOG_LEVEL", o.log_level);
  }
  for (const auto& kv : o.env) {
    auto eq = kv.find('=');
    if (eq == std::string::npos || eq == 0) {
      return std::unexpected(Error{Errc::InvalidArgument, "--env wants NAME=VALUE, not '" + kv + "'"});
    }
    eo.env.emplace_back(kv.substr(0, eq), kv.substr(eq + 1));
  }
  return {};
}

Result<emulator::Options> emulator_options(const EmulateOptions& o) {
  emulator::Options eo;
  eo.function_dir = o.function_dir;
  for (const auto& l : o.layers) eo.layers.emplace_back(l);
  eo.handler = o.handler;
  if (auto r = set_runtime(o, eo); !r) return std::unexpected(r.error());
  eo.function_name = o.name;
  eo.region = o.region;
  if (auto r = set_limits(o, eo); !r) return std::unexpected(r.error());
  auto mode = emulator::parse_sandbox_mode(o.sandbox);
  if (!mode) return std::unexpected(mode.error());
  eo.sandbox = *mode;
  eo.snap_start = o.snap_start;
  if (auto r = set_environment(o, eo); !r) return std::unexpected(r.error());
  // One-shot (--event): logs on stderr, the response alone on stdout.
  eo.log_fd = o.event.empty() ? 1 : 2;
  return eo;
}

Result<std::string> read_event(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::unexpected(Error{Errc::NotFound, "cannot read the event file " + path});
  // Read up to one byte over Lambda's limit: such an event is refused as
  // Lambda refuses the Invoke (413 RequestEntityTooLargeException).
  std::string event(emulator::kMaxInvokePayload + 1, '\0');
  in.read(event.data(), static_cast<std::streamsize>(event.size()));
  event.resize(static_cast<std::size_t>(in.gcount()));
  if (event.size() > emulator::kMaxInvokePayload) {
    return std::unexpected(
        Error{Errc::InvalidArgument, "the event file " + path + ": " + emulator::request_too_large_message()});
  }
  return event;
}

// --event: one invocation, its response on stdout; a stop signal ends it from another thread.
int invoke_once(emulator::Emulator& emu, const std::string& event, const sigset_t& stop_signals) {
  static std::mutex exiting;
  std::thread([&emu, stop_signals] {
    int sig = 0;
    sigwait(&stop_signals, &sig);
    std::lock_guard lock(exiting);  // main() is not tearing emu down meanwhile
    emu.stop();
    std::_Exit(128 + sig);
  }).detach();
  auto result = emu.invoke({.payload = event, .client_context = {}}, [](std::string_view, std::string_view chunk) {
    std::fwrite(chunk.data(), 1, chunk.size(), stdout);
    std::fflush(stdout);
  });
  if (!result.streamed || result.function_error) std::fwrite(result.body.data(), 1, result.body.size(), stdout);
  std::fputc('\n', stdout);
  std::fflush(stdout);
  exiting.lock();  // held until exit: the signal thread leaves emu alone from here
  emu.stop();
  return result.function_error ? kExitFunctionError : 0;
}

// Serves invocations until a stop signal.
int serve(emulator::Emulator& emu, int port, const sigset_t& stop_signals) {
  fmt::print("tmpdump emulate: listening on http://127.0.0.1:{}/2015-03-31/functions/function/invocations\n", port);
  std::fflush(stdout);
  int sig = 0;
  sigwait(&stop_signals, &sig);
  emu.stop();
  return 0;
}

int run_emulate(const EmulateOptions& o) {
  auto eo = emulator_options(o);
  if (!eo) return report_error("emulate", eo.error());
  const bool one_shot = !o.event.empty();
  std::string event;
  if (one_shot) {
    auto read = read_event(o.event);
    if (!read) return report_error("emulate", read.error());
    event = std::move(*read);
  }
  // Block the stop signals before any thread starts, then wait for them: a
  // stop removes the sandbox's cgroups and the merged layers before exiting.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  emulator::Emulator emu(std::move(*eo));
  auto port = emu.start(one_shot ? 0 : o.port);
  if (!port) return report_error("emulate", port.error());
  return one_shot ? invoke_once(emu, event, stop_signals) : serve(emu, *port, stop_signals);
}

}  // namespace

Runner setup_emulate(CLI::App& sub) {
  auto o = std::make_shared<EmulateOptions>();
  sub.footer(
      "Starts the bootstrap (DIR/bootstrap of --function, else of the layers), or with --runtime java21 (...)\n"
      "that runtime as Lambda starts it, with Lambda's environment, and serves it the Runtime API on 127.0.0.1.\n"
      "As root it runs in a Lambda-like sandbox: uid 993, the function read-only at /var/task, the layers read-only\n"
      "at /opt, a fresh tmpfs /tmp, memory and CPU cgroups. Invoke with\n"
      "  curl -d '{}' http://127.0.0.1:9000/2015-03-31/functions/function/invocations\n"
      "or once with --event FILE (the response on stdout, logs on stderr; exit 14 when the function fails).\n"
      "Differences from Lambda: docs/cli.md#tmpdump-emulate.");
  sub.add_option("--function", o->function_dir, "Function directory, mounted read-only at /var/task")
      ->capture_default_str();
  sub.add_option("--layer", o->layers,
                 "A layer, directory or zip (repeatable): merged in order, later ones winning, read-only at /opt");
  sub.add_option("--handler", o->handler, "_HANDLER: bin/myfn or lib/libmyfn.so:my_handler")->required();
  sub.add_option("--runtime", o->runtime,
                 "java17, java21, python3.12, python3.13, nodejs20.x, nodejs22.x (started as Lambda starts them), "
                 "provided.al2023 or provided.al2 (the bootstrap)")
      ->capture_default_str();
  sub.add_option("--runtime-dir", o->runtime_dir,
                 "A managed runtime's /var/runtime, mounted there: the interface client (java: DIR/lib/*.jar; "
                 "python: DIR/awslambdaric; node: DIR/index.mjs or DIR/node_modules/aws-lambda-ric)");
  sub.add_option("--lang-dir", o->lang_dir,
                 "A managed runtime's /var/lang, mounted there: DIR/bin/java|python3.N|node (default: the host's "
                 "on PATH)");
  sub.add_option("--name", o->name, "AWS_LAMBDA_FUNCTION_NAME")->capture_default_str();
  sub.add_option("--region", o->region, "AWS_REGION (default: $AWS_REGION, else us-east-1)");
  sub.add_option("--timeout", o->timeout, "Seconds an invocation may run before the runtime is killed")
      ->capture_default_str();
  sub.add_option("--memory", o->memory, "Memory in MB (128-10240), enforced with a memory cgroup when sandboxed")
      ->capture_default_str();
  sub.add_option("--ephemeral-storage", o->ephemeral, "Size of the sandbox's /tmp in MB (512-10240)")
      ->capture_default_str();
  sub.add_option_function<double>(
      "--cpus", [o](double v) { o->cpus = v, o->cpus_given = true; },
      "CPU share in cores (default: memory / 1769, as Lambda)");
  sub.add_option("--sandbox", o->sandbox, "off, auto (confine what can be, say what cannot) or required")
      ->capture_default_str()
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  sub.add_option("--env", o->env, "A function environment variable NAME=VALUE (repeatable)");
  sub.add_option("--event", o->event, "Invoke once with this event file, print the response, exit");
  sub.add_option("--port", o->port, "Port on 127.0.0.1 for the invoke endpoint and the Runtime API (0: any)")
      ->capture_default_str();
  sub.add_option("--log-format", o->log_format, "Lambda's log format: text or json (sets AWS_LAMBDA_LOG_FORMAT)")
      ->check(CLI::IsMember({"text", "json"}));
  sub.add_option("--log-level", o->log_level,
                 "Application log level with --log-format json (sets AWS_LAMBDA_LOG_LEVEL)")
      ->check(CLI::IsMember({"TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL"}));
  sub.add_flag("--snap-start", o->snap_start, "Initialise as SnapStart does (before-snapshot, restore hooks)");
  return [o] { return run_emulate(*o); };
}

}  // namespace tmpdump::cli
