#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <fstream>
#include <limits>
#include <map>
#include <random>

#include <fmt/chrono.h>
#include <fmt/format.h>

#include "emulator/server.hpp"
#include "emulator/state.hpp"
#include "runtime/client.hpp"
#include "runtime/http.hpp"
#include "util/io.hpp"
#include "util/unique_fd.hpp"

extern char** environ;

namespace tmpdump::emulator {

namespace fs = std::filesystem;
namespace http = runtime::http;

namespace {

std::mt19937_64& random_source(std::unique_lock<std::mutex>& lock) {
  static std::mutex m;
  static std::mt19937_64 rng{std::random_device{}()};
  lock = std::unique_lock(m);
  return rng;
}

// An X-Ray trace header as Lambda makes one for an untraced call:
// Root=1-<epoch seconds, 8 hex>-<24 hex>;Parent=<16 hex>;Sampled=0.
std::string new_trace_id() {
  std::unique_lock<std::mutex> lock;
  auto& rng = random_source(lock);
  const auto a = rng(), b = rng(), c = rng();
  const auto now =
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
  return fmt::format("Root=1-{:08x}-{:016x}{:08x};Parent={:016x};Sampled=0", static_cast<std::uint32_t>(now), a,
                     static_cast<std::uint32_t>(b), c);
}

// The runtime's peak resident memory (VmHWM), in KiB.
unsigned long max_memory_kib(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.starts_with("VmHWM:")) return std::strtoul(line.c_str() + 6, nullptr, 10);
  }
  return 0;
}

}  // namespace

std::string new_request_id() {
  std::unique_lock<std::mutex> lock;
  auto& rng = random_source(lock);
  const auto a = rng(), b = rng();
  return fmt::format("{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}", a >> 32, (a >> 16) & 0xffff, a & 0xfff,
                     0x8000 | ((b >> 48) & 0x3fff), b & 0xffffffffffffULL);
}

double ms_between(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}

// A decoded JSON document goes into a /next header: a CR or LF would end the
// header early, so such a value is not passed on.
bool fits_one_header(std::string_view value) {
  return value.find_first_of("\r\n") == std::string_view::npos;
}

std::string Emulator::State::function_arn(std::string_view qualifier) const {
  std::string arn = "arn:aws:lambda:" + region + ":000000000000:function:" + options.function_name;
  if (!qualifier.empty()) arn.append(":").append(qualifier);
  return arn;
}

void Emulator::State::log(std::string_view line) {
  std::lock_guard lock(log_mutex);
  std::string text(line);
  text += '\n';
  [[maybe_unused]] auto written = write_all(options.log_fd, text);
}

std::vector<std::string> Emulator::State::runtime_env() const {
  std::map<std::string, std::string> vars;
  // Credentials, region and endpoints pass through, as Lambda hands the
  // function its role's credentials.
  for (char** e = environ; *e != nullptr; ++e) {
    std::string_view kv = *e;
    auto eq = kv.find('=');
    if (eq == std::string_view::npos) continue;
    std::string_view k = kv.substr(0, eq);
    if (k.starts_with("AWS_") && !k.starts_with("AWS_LAMBDA_")) vars[std::string(k)] = kv.substr(eq + 1);
  }
  // Without --layer the function's own bootstrap runs, and there is no /opt.
  const fs::path& task = task_path;
  const fs::path layer = opt_host.empty() ? fs::path() : opt_path;
  vars["PATH"] = (layer.empty() ? "" : (layer / "bin").string() + ":") + "/usr/local/bin:/usr/bin:/bin";
  vars["LANG"] = "en_US.UTF-8";
  vars["TZ"] = ":UTC";
  vars["LD_LIBRARY_PATH"] = "/lib64:/usr/lib64:" + task.string() + ":" + (task / "lib").string() +
                            (layer.empty() ? "" : ":" + (layer / "lib").string());
  vars["LAMBDA_TASK_ROOT"] = task.string();
  vars["LAMBDA_RUNTIME_DIR"] = layer.empty() ? task.string() : layer.string();
  if (options.runtime.language != Language::Provided) {
    // As Lambda's managed runtimes have them (java17, observed: PATH
    // /var/lang/bin:/usr/local/bin:/usr/bin/:/bin:/opt/bin, LD_LIBRARY_PATH
    // /var/lang/lib:/lib64:/usr/lib64:/var/runtime:/var/runtime/lib:/var/task:/var/task/lib:/opt/lib).
    const fs::path lang = lang_path.empty() ? fs::path("/var/lang") : lang_path;
    const fs::path opt = opt_path.empty() ? fs::path("/opt") : opt_path;
    vars["PATH"] = (lang / "bin").string() + ":/usr/local/bin:/usr/bin/:/bin:" + (opt / "bin").string();
    vars["LD_LIBRARY_PATH"] = (lang / "lib").string() + ":/lib64:/usr/lib64:" + runtime_path.string() + ":" +
                              (runtime_path / "lib").string() + ":" + task.string() + ":" + (task / "lib").string() +
                              ":" + (opt / "lib").string();
    vars["LAMBDA_RUNTIME_DIR"] = runtime_path.string();
    for (const auto& [k, v] : launch_env) vars[k] = v;
  }
  vars["_HANDLER"] = options.handler;
  vars["AWS_LAMBDA_RUNTIME_API"] = "127.0.0.1:" + std::to_string(port);
  vars["AWS_LAMBDA_FUNCTION_NAME"] = options.function_name;
  vars["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] = std::to_string(options.memory_mb);
  vars["AWS_LAMBDA_FUNCTION_VERSION"] = "$LATEST";
  vars["AWS_LAMBDA_LOG_GROUP_NAME"] = "/aws/lambda/" + options.function_name;
  vars["AWS_LAMBDA_LOG_STREAM_NAME"] = "emulate/[$LATEST]" + new_request_id();
  vars["AWS_LAMBDA_INITIALIZATION_TYPE"] = options.snap_start ? "snap-start" : "on-demand";
  vars["AWS_REGION"] = region;
  vars["AWS_DEFAULT_REGION"] = region;
  for (const auto& [k, v] : options.env) vars[k] = v;
  std::vector<std::string> out;
  out.reserve(vars.size());
  for (const auto& [k, v] : vars) out.push_back(fmt::format("{}={}", k, v));
  return out;
}

bool Emulator::State::spawn_locked(std::string* why) {
  auto env = runtime_env();
  std::vector<std::string> args = command;
  const ExecPlan plan{.path = args.front(),
                      .cwd = task_path.string(),
                      .argv = c_strings(args),
                      .envp = c_strings(env),
                      .failed = "tmpdump emulate: cannot execute " + args.front() + ": ",
                      .enoent_hint = exec_enoent_hint(),
                      .log_fd = options.log_fd,
                      .confine = sandbox.get()};
  if (sandbox) {
    if (auto fresh = sandbox->prepare(); !fresh) {
      *why = "sandbox: " + fresh.error().message;
      return false;
    }
  }
  UniqueFd devnull(::open("/dev/null", O_RDONLY | O_CLOEXEC));
  // Init Duration counts from here: the child may reach /next before this
  // thread runs again after fork().
  const auto spawned = Clock::now();
  const pid_t child = ::fork();
  if (child < 0) {
    *why = std::string("fork failed: ") + errno_text(errno);
    return false;
  }
  if (child == 0) exec_runtime(plan, devnull.get());
  ::setpgid(child, child);
  devnull.reset();
  if (reaper.joinable()) reaper.join();
  started_locked(child, spawned);
  reaper = std::thread([this, child] { reap(child); });
  return true;
}

std::vector<char*> Emulator::State::c_strings(std::vector<std::string>& strings) {
  std::vector<char*> out;
  out.reserve(strings.size() + 1);
  for (auto& s : strings) out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}

std::string Emulator::State::exec_enoent_hint() const {
  if (options.runtime.language != Language::Provided) return {};
  if (sandbox) return " (its interpreter is missing)";
  return " (its ELF or #! interpreter is missing: a layer built for /opt, as layer.zip is, runs only at /opt, "
         "in the sandbox: run as root without --sandbox=off)";
}

void Emulator::State::exec_runtime(const ExecPlan& plan, int devnull) {
  ::setpgid(0, 0);
  if (devnull >= 0) ::dup2(devnull, 0);
  ::dup2(plan.log_fd, 1);
  ::dup2(plan.log_fd, 2);
  if (plan.confine != nullptr && !plan.confine->enter()) ::_exit(126);
  if (::chdir(plan.cwd.c_str()) != 0) ::_exit(126);
  ::execve(plan.path.c_str(), plan.argv.data(), plan.envp.data());
  const int err = errno;
  const char* desc = ::strerrordesc_np(err);
  std::string_view line[] = {plan.failed, desc != nullptr ? desc : "", "", "\n"};
  if (err == ENOENT) line[2] = plan.enoent_hint;
  for (const auto part : line) [[maybe_unused]]
    auto n = ::write(2, part.data(), part.size());
  ::_exit(127);
}

void Emulator::State::started_locked(pid_t child, Clock::time_point spawned) {
  pid = child;
  ++generation;
  exited = false;
  ready = false;
  init_error.reset();
  answered_id.clear();
  init_ms.reset();
  restore_ms.reset();
  restore_started.reset();
  report_init = true;
  peak_kib = 0;
  init_started = spawned;
}

void Emulator::State::reap(pid_t child) {
  int status = 0;
  [[maybe_unused]] auto waited = retry_eintr([&] { return ::waitpid(child, &status, 0); });
  std::lock_guard lock(mutex);
  if (pid == child) {
    pid = -1;
    exited = true;
    exit_status = status;
    ready = false;
    cv.notify_all();
  }
}

void Emulator::State::kill_runtime(std::unique_lock<std::mutex>& lock) {
  if (pid > 0) {
    ::kill(-pid, SIGKILL);
    ::kill(pid, SIGKILL);
    if (sandbox) sandbox->kill_all();
  }
  lock.unlock();
  if (reaper.joinable()) reaper.join();
  lock.lock();
  pid = -1;
  ready = false;
}

void Emulator::State::update_peak() {
  if (auto kib = sandbox ? sandbox->peak_kib() : std::nullopt) {
    peak_kib = std::max(peak_kib, *kib);
  } else if (pid > 0) {
    peak_kib = std::max(peak_kib, max_memory_kib(pid));
  }
}

std::string Emulator::State::exit_text() const {
  if (WIFEXITED(exit_status)) return fmt::format("exit status {}", WEXITSTATUS(exit_status));
  if (WIFSIGNALED(exit_status)) {
    // Lambda words it as Go does: "signal: killed", "signal: segmentation fault".
    // sigdescr_np: strsignal()'s table without its static buffer (this runs on several threads).
    const char* desc = ::sigdescr_np(WTERMSIG(exit_status));
    std::string name = desc != nullptr ? desc : fmt::format("unknown signal {}", WTERMSIG(exit_status));
    if (!name.empty()) name[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(name[0])));
    return "signal: " + name;
  }
  return "unknown status";
}
InvokeResult Emulator::State::invoke(const InvokeRequest& request, const ChunkSink& sink) {
  std::lock_guard serial(invoke_mutex);
  std::unique_lock lock(mutex);
  if (stopping) return failed_invoke("Emulator.Stopped", "the emulator is stopping");
  if (pid < 0) {
    std::string why;
    if (!spawn_locked(&why)) return failed_invoke("Runtime.ExitError", why);
  }
  auto inv = new_invocation(request);
  InitError init_failed;
  const InitOutcome init = await_init(lock, *inv, &init_failed);

  InvokeResult result;
  Ending ending;
  double duration = 0;
  std::string init_part;
  const auto started = Clock::now();
  const auto deadline = started + options.timeout;
  inv->deadline_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                         (std::chrono::system_clock::now() + options.timeout).time_since_epoch())
                         .count();
  log(fmt::format("START RequestId: {} Version: $LATEST", inv->id));
  if (init == InitOutcome::Failed) {
    // Lambda's REPORT for an invocation whose init failed: no time, no Init Duration.
    ending = {End::InitFailed, "\tStatus: error\tError Type: " + init_failed.type};
    result.function_error = true;
    result.body = init_failed.body.empty() ? runtime::error_json(init_failed.type, "") : init_failed.body;
  } else {
    if (init == InitOutcome::Retry) ending = rerun_init(lock, deadline, *inv, result);
    if (ending.end == End::Done) ending.end = await_answer(lock, inv, deadline, sink, result);
    duration = ms_between(started, Clock::now());
    update_peak();
    result.max_rss_kib = peak_kib;
    settle(lock, *inv, ending, result);
    current.reset();
    init_part = init_durations(result);
  }
  log(fmt::format("END RequestId: {}", inv->id));
  log(
      fmt::format("REPORT RequestId: {}\tDuration: {:.2f} ms\tBilled Duration: {} ms\tMemory Size: {} MB\tMax Memory "
                  "Used: {} MB{}{}",
                  inv->id, duration, static_cast<long>(std::ceil(duration)), options.memory_mb,
                  (peak_kib + 1023) / 1024, init_part, ending.status));
  return result;
}

InvokeResult Emulator::State::failed_invoke(std::string_view type, std::string_view message) {
  InvokeResult result;
  result.function_error = true;
  result.body = runtime::error_json(type, message);
  return result;
}

std::shared_ptr<Invocation> Emulator::State::new_invocation(const InvokeRequest& request) const {
  auto inv = std::make_shared<Invocation>();
  inv->id = new_request_id();
  inv->payload = request.payload;
  inv->client_context = request.client_context;
  inv->cognito_identity = request.cognito_identity;
  inv->trace_id = !request.trace_id.empty() && fits_one_header(request.trace_id) ? request.trace_id : new_trace_id();
  inv->arn = function_arn(request.qualifier);
  return inv;
}

InitError Emulator::State::init_failure(const std::string& id) const {
  if (init_error) return *init_error;
  return InitError{"Runtime.ExitError",
                   runtime::error_json("Runtime.ExitError",
                                       "RequestId: " + id + " Error: Runtime exited with error: " + exit_text())};
}

// An init that ran out of time is run again inside the invoke, under the
// function's timeout, as Lambda does: "The Init phase is limited to 10
// seconds. If all three tasks do not complete within 10 seconds, Lambda
// retries the Init phase at the time of the first function invocation with
// the configured function timeout."
// (https://docs.aws.amazon.com/lambda/latest/dg/lambda-runtime-environment.html).
// Lambda reports the first as `INIT_REPORT Init Duration: … ms<TAB>Phase: init<TAB>Status: timeout`, and
// the one inside the invoke with `Phase: invoke`: the phase and status of the
// Telemetry API's platform.initReport (phase init|invoke, status
// success|error|timeout; docs.aws.amazon.com/lambda/latest/dg/telemetry-schema-reference.html).
Emulator::State::InitOutcome Emulator::State::await_init(std::unique_lock<std::mutex>& lock, const Invocation& inv,
                                                         InitError* failure) {
  const auto init_deadline = init_started + options.init_timeout;
  const bool init_ok =
      cv.wait_until(lock, init_deadline, [&] { return ready || init_error || exited || stopping; }) && ready;
  if (init_ok) return InitOutcome::Ready;
  if (!init_error && !exited && !stopping) {
    log(fmt::format("INIT_REPORT Init Duration: {:.2f} ms\tPhase: init\tStatus: timeout",
                    ms_between(init_started, Clock::now())));
    update_peak();
    kill_runtime(lock);
    return InitOutcome::Retry;
  }
  const double ms = ms_between(init_started, Clock::now());
  if (stopping) {
    *failure = {"Emulator.Stopped", runtime::error_json("Emulator.Stopped", "the emulator stopped during init")};
  } else {
    *failure = init_failure(inv.id);
  }
  update_peak();
  kill_runtime(lock);
  log(fmt::format("INIT_REPORT Init Duration: {:.2f} ms\tPhase: {}\tStatus: error\tError Type: {}", ms, failure->phase,
                  failure->type));
  return InitOutcome::Failed;
}

Emulator::State::Ending Emulator::State::rerun_init(std::unique_lock<std::mutex>& lock, Clock::time_point deadline,
                                                    const Invocation& inv, InvokeResult& result) {
  // The init's time is the invocation's: no Init Duration in its REPORT.
  std::string why;
  if (!spawn_locked(&why)) {
    result.body = runtime::error_json("Runtime.ExitError", why);
    return {End::InitFailed, "\tStatus: error\tError Type: Runtime.ExitError"};
  }
  report_init = false;
  cv.wait_until(lock, deadline, [&] { return ready || init_error || exited || stopping; });
  if (ready) return {};
  const double ms = ms_between(init_started, Clock::now());
  if (stopping) return {End::Stopped, ""};
  if (init_error || exited) {
    InitError err = init_failure(inv.id);
    log(fmt::format("INIT_REPORT Init Duration: {:.2f} ms\tPhase: invoke\tStatus: error\tError Type: {}", ms,
                    err.type));
    update_peak();
    kill_runtime(lock);
    result.body = err.body.empty() ? runtime::error_json(err.type, "") : err.body;
    return {End::InitFailed, "\tStatus: error\tError Type: " + err.type};
  }
  log(fmt::format("INIT_REPORT Init Duration: {:.2f} ms\tPhase: invoke\tStatus: timeout", ms));
  return {End::Timeout, ""};
}

Emulator::State::End Emulator::State::await_answer(std::unique_lock<std::mutex>& lock,
                                                   const std::shared_ptr<Invocation>& inv, Clock::time_point deadline,
                                                   const ChunkSink& sink, InvokeResult& result) {
  current = inv;
  cv.notify_all();
  for (;;) {
    cv.wait_until(lock, deadline,
                  [&] { return inv->phase == Invocation::Phase::Done || !inv->chunks.empty() || exited || stopping; });
    forward_chunks(lock, *inv, sink, result);
    if (inv->phase == Invocation::Phase::Done) return End::Done;
    if (exited) return End::Exited;
    if (stopping) return End::Stopped;
    if (Clock::now() >= deadline) return End::Timeout;
  }
}

void Emulator::State::forward_chunks(std::unique_lock<std::mutex>& lock, Invocation& inv, const ChunkSink& sink,
                                     InvokeResult& result) {
  while (!inv.chunks.empty()) {
    std::string chunk = std::move(inv.chunks.front());
    inv.chunks.pop_front();
    result.streamed = true;
    result.content_type = inv.content_type;
    if (sink) {
      lock.unlock();
      sink(inv.content_type, chunk);
      lock.lock();
    } else {
      result.body += chunk;
    }
  }
}

void Emulator::State::settle(std::unique_lock<std::mutex>& lock, const Invocation& inv, Ending& ending,
                             InvokeResult& result) {
  switch (ending.end) {
    case End::Done:
      result.function_error = inv.error;
      if (inv.phase == Invocation::Phase::Done && !result.streamed) {
        result.body = inv.body;
        result.content_type = inv.content_type;
      } else if (inv.error) {
        result.body = inv.body;  // a stream's error trailer
      }
      return;
    case End::Timeout: {
      const auto now = std::chrono::floor<std::chrono::milliseconds>(std::chrono::system_clock::now());
      const std::string msg = fmt::format("{:%Y-%m-%dT%H:%M:%S}Z {} Task timed out after {:.2f} seconds", now, inv.id,
                                          static_cast<double>(options.timeout.count()) / 1000.0);
      log(msg);
      kill_runtime(lock);
      result.function_error = true;
      result.body = "{\"errorMessage\":" + http::json_quote(msg) + "}";
      ending.status = "\tStatus: timeout";
      return;
    }
    case End::Exited: {
      const std::string msg = "RequestId: " + inv.id + " Error: Runtime exited with error: " + exit_text();
      log(msg);
      result.function_error = true;
      result.body = runtime::error_json("Runtime.ExitError", msg);
      ending.status = "\tStatus: error\tError Type: Runtime.ExitError";
      return;
    }
    case End::InitFailed:
      result.function_error = true;
      return;
    case End::Stopped:
      result.function_error = true;
      result.body = runtime::error_json("Emulator.Stopped", "the emulator stopped during the invocation");
      return;
  }
}

std::string Emulator::State::init_durations(InvokeResult& result) {
  std::string init_part;
  if (report_init) {
    if (init_ms) init_part = fmt::format("\tInit Duration: {:.2f} ms", *init_ms);
    result.init_ms = init_ms;
    if (restore_ms) init_part += fmt::format("\tRestore Duration: {:.2f} ms", *restore_ms);
    report_init = false;
  }
  return init_part;
}

Emulator::Emulator(Options options) : state_(std::make_unique<State>()) {
  state_->options = std::move(options);
}

Emulator::~Emulator() {
  stop();
}

Result<int> Emulator::start(int port) {
  auto& s = *state_;
  s.region = s.options.region;
  for (const char* var : {"AWS_REGION", "AWS_DEFAULT_REGION"}) {
    const char* value = std::getenv(var);
    if (s.region.empty() && value != nullptr) s.region = value;
  }
  if (s.region.empty()) s.region = "us-east-1";
  std::error_code ec;
  if (!fs::is_directory(s.options.function_dir, ec)) {
    return fail(Errc::NotFound, "the function directory {} does not exist", s.options.function_dir.string());
  }
  if (auto staged = s.stage_layers(); !staged) return std::unexpected(staged.error());
  if (auto confined = s.create_sandbox(); !confined) return std::unexpected(confined.error());
  if (auto chosen = s.choose_command(); !chosen) return std::unexpected(chosen.error());
  s.server = std::make_unique<Server>([&s](Exchange& ex) { s.handle(ex); });
  auto bound = s.server->listen("127.0.0.1", port);
  if (!bound) return bound;
  s.port = *bound;
  return s.port;
}

// One layer directory is used as it is; a zip or several layers are merged
// into a staging directory this emulator owns.
Result<void> Emulator::State::stage_layers() {
  std::error_code ec;
  if (options.layers.size() == 1 && fs::is_directory(options.layers.front(), ec)) {
    opt_host = fs::absolute(options.layers.front());
  } else if (!options.layers.empty()) {
    std::string tmpl =
        (fs::temp_directory_path() / fmt::format("tmpdump-emulate-{}-layers-XXXXXX", ::getpid())).string();
    if (::mkdtemp(tmpl.data()) == nullptr) return fail(Errc::Io, "creating {}: {}", tmpl, errno_text(errno));
    layer_staging = tmpl;
    opt_host = layer_staging / "opt";
    fs::create_directory(opt_host, ec);
    return merge_layers(options.layers, opt_host);
  }
  return {};
}

// The sandbox (or none, as --sandbox says), and /var/task and /opt as the runtime will see them.
Result<void> Emulator::State::create_sandbox() {
  std::string notice;
  const bool managed = options.runtime.language != Language::Provided;
  auto created = Sandbox::create({.function_dir = options.function_dir,
                                  .opt_dir = opt_host,
                                  .runtime_dir = managed ? options.runtime_dir : fs::path(),
                                  .lang_dir = managed ? options.lang_dir : fs::path(),
                                  .memory_mb = options.memory_mb,
                                  .ephemeral_mb = options.ephemeral_mb,
                                  .cpus = options.cpus},
                                 options.sandbox, &notice);
  if (!created) return std::unexpected(created.error());
  sandbox = std::move(*created);
  if (!notice.empty()) {
    notice += '\n';
    [[maybe_unused]] auto n = ::write(2, notice.data(), notice.size());
  }
  task_path = sandbox ? fs::path("/var/task") : fs::absolute(options.function_dir);
  opt_path = sandbox ? fs::path("/opt") : opt_host;
  return {};
}

// What starts the runtime: a managed runtime's own bootstrap, else the
// function's bootstrap, else a layer's.
Result<void> Emulator::State::choose_command() {
  std::error_code ec;
  if (options.runtime.language != Language::Provided) {
    // Lambda's runtime bootstrap runs instead of the function's or a layer's.
    auto seen = [&](const fs::path& host, const char* at) {
      return host.empty() ? fs::path() : sandbox ? fs::path(at) : fs::absolute(host);
    };
    runtime_path = seen(options.runtime_dir, "/var/runtime");
    lang_path = seen(options.lang_dir, "/var/lang");
    auto launch = managed_launch(options.runtime,
                                 {.runtime_host = options.runtime_dir,
                                  .lang_host = options.lang_dir,
                                  .runtime_seen = runtime_path,
                                  .lang_seen = lang_path,
                                  .task_seen = task_path,
                                  .opt_seen = opt_path.empty() ? fs::path("/opt") : opt_path,
                                  .sandboxed = sandbox != nullptr},
                                 options.handler, options.memory_mb, options.env);
    if (!launch) return std::unexpected(launch.error());
    command = std::move(launch->argv);
    launch_env = std::move(launch->env);
    return {};
  }
  if (fs::is_regular_file(options.function_dir / "bootstrap", ec)) {
    bootstrap = task_path / "bootstrap";
  } else if (!opt_host.empty() && fs::is_regular_file(opt_host / "bootstrap", ec)) {
    bootstrap = opt_path / "bootstrap";
  } else {
    return fail(Errc::NotFound,
                "no bootstrap in {} or in the layers (Lambda runs $LAMBDA_TASK_ROOT/bootstrap, else "
                "/opt/bootstrap)",
                (options.function_dir / "bootstrap").string());
  }
  command = {bootstrap.string()};
  return {};
}

InvokeResult Emulator::invoke(const InvokeRequest& request, const ChunkSink& sink) {
  return state_->invoke(request, sink);
}

void Emulator::stop() {
  auto& s = *state_;
  {
    std::unique_lock lock(s.mutex);
    if (s.stopping) return;
    s.stopping = true;
    s.cv.notify_all();
    s.kill_runtime(lock);
  }
  if (s.server) s.server->stop();
  std::lock_guard lock(s.mutex);
  s.sandbox.reset();
  std::error_code ec;
  if (!s.layer_staging.empty()) fs::remove_all(s.layer_staging, ec);
}

}  // namespace tmpdump::emulator
