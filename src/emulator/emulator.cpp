#include "emulator/emulator.hpp"

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
#include "runtime/client.hpp"
#include "runtime/http.hpp"
#include "util/io.hpp"
#include "util/unique_fd.hpp"

extern char** environ;

namespace tmpdump::emulator {

namespace fs = std::filesystem;
namespace http = runtime::http;
using Clock = std::chrono::steady_clock;

namespace {

constexpr std::string_view kRuntimePrefix = "/2018-06-01/runtime";
// POST /2015-03-31/functions/NAME/invocations[?Qualifier=Q], Lambda's Invoke.
constexpr std::string_view kFunctionsPrefix = "/2015-03-31/functions/";
constexpr std::string_view kInvocationsSuffix = "/invocations";
constexpr std::size_t kMaxResponse = runtime::kMaxBufferedResponse;
constexpr std::size_t kMaxStream = 200u << 20;  // Lambda's streamed-response limit

std::mt19937_64& random_source(std::unique_lock<std::mutex>& lock) {
  static std::mutex m;
  static std::mt19937_64 rng{std::random_device{}()};
  lock = std::unique_lock(m);
  return rng;
}

std::string new_request_id() {
  std::unique_lock<std::mutex> lock;
  auto& rng = random_source(lock);
  const auto a = rng(), b = rng();
  return fmt::format("{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}", a >> 32, (a >> 16) & 0xffff, a & 0xfff,
                     0x8000 | ((b >> 48) & 0x3fff), b & 0xffffffffffffULL);
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

// The Runtime API's error body, as the runtime interface emulator renders it
// (internal/lambda/rapi/model/errorresponse.go: no stackTrace).
std::string rapi_error(std::string_view type, std::string_view message) {
  return "{\"errorMessage\":" + http::json_quote(message) + ",\"errorType\":" + http::json_quote(type) + "}";
}

// RIE's 403 for a call the runtime's state does not allow
// (rapi/handler/constants.go StateTransitionFailedForRuntimeMessageFormat, core.ErrNotAllowed).
std::string invalid_transition(std::string_view from, std::string_view to) {
  return rapi_error("InvalidStateTransition", fmt::format("State transition from {} to {} failed for runtime. "
                                                          "Error: State transition is not allowed",
                                                          from, to));
}

// %XX-decoding of a path segment or query value; nullopt when malformed.
std::optional<std::string> percent_decode(std::string_view in) {
  std::string out;
  for (std::size_t i = 0; i < in.size(); ++i) {
    if (in[i] != '%') {
      out += in[i];
      continue;
    }
    if (i + 2 >= in.size()) return std::nullopt;
    unsigned v = 0;
    auto [p, ec] = std::from_chars(in.data() + i + 1, in.data() + i + 3, v, 16);
    if (ec != std::errc() || p != in.data() + i + 3) return std::nullopt;
    out += static_cast<char>(v);
    i += 2;
  }
  return out;
}

// Lambda's Qualifier: a version, $LATEST or an alias, 1-128 of [a-zA-Z0-9$_-].
bool valid_qualifier(std::string_view q) {
  return !q.empty() && q.size() <= 128 && std::ranges::all_of(q, [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '$' || c == '_' || c == '-';
  });
}

double ms_between(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
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

// A decoded JSON document goes into a /next header: a CR or LF would end the
// header early, so such a value is not passed on.
bool fits_one_header(std::string_view value) {
  return value.find_first_of("\r\n") == std::string_view::npos;
}

struct Invocation {
  std::string id, payload, client_context, cognito_identity, trace_id, arn;
  std::int64_t deadline_ms = 0;
  bool delivered = false;
  enum class Phase { Pending, Streaming, Done } phase = Phase::Pending;
  bool error = false;
  std::string body, content_type = "application/json";
  std::deque<std::string> chunks;
};

struct InitError {
  std::string type, body;
  std::string_view phase = "init";
};

}  // namespace

struct Emulator::State {
  Options options;
  std::unique_ptr<Server> server;
  int port = 0;
  std::string region;                // --region, else $AWS_REGION, else $AWS_DEFAULT_REGION, else us-east-1
  fs::path bootstrap;                // as the runtime sees it
  std::vector<std::string> command;  // what starts the runtime: the bootstrap, or a managed runtime's command line
  std::vector<std::pair<std::string, std::string>> launch_env;  // a managed runtime's bootstrap's variables
  fs::path runtime_path, lang_path;  // a managed runtime's /var/runtime and /var/lang as it sees them
  // The runtime's /var/task and /opt as it sees them, and /opt on the host.
  fs::path task_path, opt_path, opt_host;
  fs::path layer_staging;  // merged layers, removed by stop()
  std::unique_ptr<Sandbox> sandbox;

  std::mutex invoke_mutex;  // one invocation at a time, like one sandbox
  std::mutex log_mutex;
  std::mutex mutex;
  std::condition_variable cv;
  bool stopping = false;

  // The runtime process.
  pid_t pid = -1;
  std::uint64_t generation = 0;
  std::thread reaper;
  bool exited = false;
  int exit_status = 0;
  bool ready = false;  // reached /next since it started
  Clock::time_point init_started;
  std::optional<double> init_ms, restore_ms;
  std::optional<Clock::time_point> restore_started;
  bool report_init = false;  // the next REPORT carries Init Duration
  std::optional<InitError> init_error;
  unsigned long peak_kib = 0;

  std::shared_ptr<Invocation> current;
  // The invocation the runtime answered last, until its next /next: another
  // answer to it is a state error, as in RIE.
  std::string answered_id;

  // The runtime's state as RIE names it (core/runtime_state_names.go), for
  // its InvalidStateTransition messages; called with `mutex` held.
  std::string_view runtime_state_locked() const {
    if (!ready) return "Started";
    if (current && current->delivered && current->phase == Invocation::Phase::Streaming) return "InvocationResponse";
    if (current && current->delivered && current->phase == Invocation::Phase::Pending) return "Running";
    if (!answered_id.empty()) return "RuntimeResponseSentState";
    return "Ready";
  }

  std::string function_arn(std::string_view qualifier) const {
    std::string arn = "arn:aws:lambda:" + region + ":000000000000:function:" + options.function_name;
    if (!qualifier.empty()) arn.append(":").append(qualifier);
    return arn;
  }

  void log(std::string_view line) {
    std::lock_guard lock(log_mutex);
    std::string text(line);
    text += '\n';
    [[maybe_unused]] auto written = write_all(options.log_fd, text);
  }

  std::vector<std::string> runtime_env() const {
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
    for (const auto& [k, v] : vars) out.push_back(k + "=" + v);
    return out;
  }

  // Starts the runtime; called with `mutex` held.
  bool spawn_locked(std::string* why) {
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
      *why = std::string("fork failed: ") + std::strerror(errno);
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

  // What the child runs, all prepared before fork().
  struct ExecPlan {
    std::string path, cwd;
    std::vector<char*> argv, envp;
    std::string failed, enoent_hint;
    int log_fd;
    const Sandbox* confine;
  };

  // argv/envp for execve: pointers into `strings`, null-terminated.
  static std::vector<char*> c_strings(std::vector<std::string>& strings) {
    std::vector<char*> out;
    for (auto& s : strings) out.push_back(s.data());
    out.push_back(nullptr);
    return out;
  }

  // Why execve's ENOENT can name a file that is there: its ELF or #!
  // interpreter is not, as for a layer whose programs start their loader at
  // /opt outside the sandbox.
  std::string exec_enoent_hint() const {
    if (options.runtime.language != Language::Provided) return {};
    if (sandbox) return " (its interpreter is missing)";
    return " (its ELF or #! interpreter is missing: a layer built for /opt, as layer.zip is, runs only at /opt, "
           "in the sandbox: run as root without --sandbox=off)";
  }

  // In the forked child: its own process group, stdin from /dev/null, output
  // to the log, into the sandbox, then the runtime. Never returns.
  [[noreturn]] static void exec_runtime(const ExecPlan& plan, int devnull) {
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

  // A fresh runtime's state; called with `mutex` held.
  void started_locked(pid_t child, Clock::time_point spawned) {
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

  // The reaper thread: waits for `child` and records its exit, unless a newer runtime replaced it.
  void reap(pid_t child) {
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

  // Kills the runtime's process group and waits for it; `lock` is released meanwhile.
  void kill_runtime(std::unique_lock<std::mutex>& lock) {
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

  // The peak so far: the cgroup's (page cache and /tmp included, as the
  // limit counts them) when sandboxed, else the runtime process's VmHWM.
  // (v2 kernels before 5.19 have no memory.peak: VmHWM then too.)
  void update_peak() {
    if (auto kib = sandbox ? sandbox->peak_kib() : std::nullopt) {
      peak_kib = std::max(peak_kib, *kib);
    } else if (pid > 0) {
      peak_kib = std::max(peak_kib, max_memory_kib(pid));
    }
  }

  std::string exit_text() const {
    if (WIFEXITED(exit_status)) return fmt::format("exit status {}", WEXITSTATUS(exit_status));
    if (WIFSIGNALED(exit_status)) {
      // Lambda words it as Go does: "signal: killed", "signal: segmentation fault".
      std::string name = ::strsignal(WTERMSIG(exit_status));
      if (!name.empty()) name[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(name[0])));
      return "signal: " + name;
    }
    return "unknown status";
  }

  // One invocation: wait for init (run it again under the function's
  // timeout when it timed out), hand the event over, wait for the answer.
  // Its START, END and REPORT lines are written here and nowhere else.
  InvokeResult invoke(const InvokeRequest& request, const ChunkSink& sink);

  // How an invocation ended, and the Status part of its REPORT line.
  enum class End { Done, Timeout, Exited, Stopped, InitFailed };
  struct Ending {
    End end = End::Done;
    std::string status;
  };
  enum class InitOutcome { Ready, Retry, Failed };

  static InvokeResult failed_invoke(std::string_view type, std::string_view message);
  std::shared_ptr<Invocation> new_invocation(const InvokeRequest& request) const;
  // Why init ended without a /next; called with `mutex` held.
  InitError init_failure(const std::string& id) const;
  // Waits up to the init timeout for the runtime's first /next. A runtime that
  // failed or timed out is killed and its INIT_REPORT written; `failure` says
  // why it failed.
  InitOutcome await_init(std::unique_lock<std::mutex>& lock, const Invocation& inv, InitError* failure);
  // Starts the runtime again and waits for its /next until the invocation's deadline.
  Ending rerun_init(std::unique_lock<std::mutex>& lock, Clock::time_point deadline, const Invocation& inv,
                    InvokeResult& result);
  // Hands `inv` to the runtime and waits until it is answered, the runtime
  // exits, the emulator stops or the deadline passes; streamed chunks go to `sink` meanwhile.
  End await_answer(std::unique_lock<std::mutex>& lock, const std::shared_ptr<Invocation>& inv,
                   Clock::time_point deadline, const ChunkSink& sink, InvokeResult& result);
  // Passes the chunks streamed so far to `sink` (to result.body without one), `lock` released meanwhile.
  void forward_chunks(std::unique_lock<std::mutex>& lock, Invocation& inv, const ChunkSink& sink, InvokeResult& result);
  // The result of an invocation that ended as `ending` says; a timed-out runtime is killed.
  void settle(std::unique_lock<std::mutex>& lock, const Invocation& inv, Ending& ending, InvokeResult& result);
  // The REPORT's Init and Restore Duration, once per runtime start.
  std::string init_durations(InvokeResult& result);

  void handle(Exchange& ex);
  void handle_next(Exchange& ex);
  void handle_invocation_post(Exchange& ex, std::string_view id, std::string_view what);
  // The invocation `id` when the runtime may answer it now; otherwise RIE's refusal is sent and nullptr returned.
  std::shared_ptr<Invocation> claim_answer(Exchange& ex, std::string_view id, std::string_view what);
  // Records the runtime's answer and wakes invoke().
  void finish(Invocation& inv, bool error, std::string body, std::string content_type);
  // The body of a buffered answer; nullopt (answered 413, inv finished as an error) when too large.
  std::optional<std::string> read_buffered_answer(Exchange& ex, Invocation& inv);
  // Passes a streamed answer's chunks to invoke() as they come, then its end or error trailer.
  void receive_stream(Exchange& ex, Invocation& inv, const std::string& content_type);
  void handle_invoke_endpoint(Exchange& ex, std::string_view name, std::string_view query);
  // The function and qualifier an Invoke call names, into req; false (answered as Lambda does) when they are not this
  // one.
  bool resolve_function(Exchange& ex, std::string_view name, std::string_view query, InvokeRequest& req);
  // POST /init/error and /restore/error.
  void handle_init_error(Exchange& ex, bool during_init);
  // Steps of Emulator::start().
  Result<void> stage_layers();
  Result<void> create_sandbox();
  Result<void> choose_command();
  void handle_restore_next(Exchange& ex);
};

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

void Emulator::State::handle_next(Exchange& ex) {
  std::unique_lock lock(mutex);
  const auto gen = generation;
  answered_id.clear();
  if (!ready) {
    ready = true;
    if (restore_started) {
      restore_ms = ms_between(*restore_started, Clock::now());
    } else if (!init_ms) {
      init_ms = ms_between(init_started, Clock::now());
    }
    cv.notify_all();
  }
  cv.wait(lock, [&] { return stopping || gen != generation || (current && !current->delivered); });
  if (stopping || gen != generation) {
    ex.close_after();
    lock.unlock();
    ex.respond(500, "", runtime::error_json("Emulator.Stopped", "the runtime was stopped"));
    return;
  }
  auto inv = current;
  inv->delivered = true;
  lock.unlock();
  std::string headers = "Content-Type: application/json\r\nLambda-Runtime-Aws-Request-Id: " + inv->id +
                        "\r\nLambda-Runtime-Deadline-Ms: " + std::to_string(inv->deadline_ms) +
                        "\r\nLambda-Runtime-Invoked-Function-Arn: " + inv->arn +
                        "\r\nLambda-Runtime-Trace-Id: " + inv->trace_id + "\r\n";
  if (!inv->client_context.empty() && fits_one_header(inv->client_context)) {
    headers += "Lambda-Runtime-Client-Context: " + inv->client_context + "\r\n";
  }
  if (!inv->cognito_identity.empty() && fits_one_header(inv->cognito_identity)) {
    headers += "Lambda-Runtime-Cognito-Identity: " + inv->cognito_identity + "\r\n";
  }
  ex.respond(200, headers, inv->payload);
}

void Emulator::State::handle_invocation_post(Exchange& ex, std::string_view id, std::string_view what) {
  auto inv = claim_answer(ex, id, what);
  if (!inv) return;
  const auto& h = ex.head().headers;
  if (what == "error") {
    auto body = read_buffered_answer(ex, *inv);
    if (!body) return;
    std::string type(h.get("Lambda-Runtime-Function-Error-Type").value_or("Unhandled"));
    finish(*inv, true, !body->empty() ? *body : runtime::error_json(type, ""), "application/json");
  } else if (h.get("Lambda-Runtime-Function-Response-Mode").value_or("") == "streaming") {
    receive_stream(ex, *inv, std::string(h.get("Content-Type").value_or("application/json")));
  } else {
    const std::string content_type(h.get("Content-Type").value_or("application/json"));
    auto body = read_buffered_answer(ex, *inv);
    if (!body) return;
    finish(*inv, false, std::move(*body), content_type);
  }
  ex.respond(202, "Content-Type: application/json\r\n", "{\"status\":\"OK\"}");
}

std::shared_ptr<Invocation> Emulator::State::claim_answer(Exchange& ex, std::string_view id, std::string_view what) {
  std::shared_ptr<Invocation> inv;
  std::string refusal;
  {
    std::lock_guard lock(mutex);
    const bool is_current = current && current->id == id && current->delivered;
    if (is_current && current->phase == Invocation::Phase::Pending) {
      inv = current;
    } else if (is_current || (!answered_id.empty() && answered_id == id)) {
      // Answered already (or being streamed): RIE's 403 (rapi/router_test.go TestInvokeResponseTwice).
      refusal = invalid_transition(runtime_state_locked(),
                                   what == "error" ? "InvocationErrorResponse" : "InvocationResponse");
    }
  }
  if (!refusal.empty()) {
    ex.respond(403, "Content-Type: application/json\r\n", refusal);
    return nullptr;
  }
  if (!inv) {
    // RIE's answer to an id that is not the current invocation's (rendering.RenderInvalidRequestID).
    ex.respond(400, "Content-Type: application/json\r\n", rapi_error("InvalidRequestID", "Invalid request ID"));
  }
  return inv;
}

void Emulator::State::finish(Invocation& inv, bool error, std::string body, std::string content_type) {
  std::lock_guard lock(mutex);
  inv.error = error;
  inv.body = std::move(body);
  inv.content_type = std::move(content_type);
  inv.phase = Invocation::Phase::Done;
  answered_id = inv.id;
  cv.notify_all();
}

// A buffered response or error body over the limit is answered alike, as
// Lambda does: Function.ResponseSizeTooLarge instead of the payload.
std::optional<std::string> Emulator::State::read_buffered_answer(Exchange& ex, Invocation& inv) {
  auto framing = http::body_framing(ex.head().headers, std::numeric_limits<std::size_t>::max());
  if (framing && !framing->chunked && framing->length > kMaxResponse) {
    const std::string msg = runtime::response_too_large_message(framing->length);
    finish(inv, true, runtime::error_json("Function.ResponseSizeTooLarge", msg), "application/json");
    ex.close_after();  // the body is not read
    ex.respond(413, "Content-Type: application/json\r\n", runtime::error_json("RequestEntityTooLarge", msg));
    return std::nullopt;
  }
  auto body = ex.read_all(kMaxResponse);
  if (!body) {
    finish(inv, true,
           runtime::error_json("Function.ResponseSizeTooLarge",
                               fmt::format("the response is malformed or larger than {} bytes", kMaxResponse)),
           "application/json");
    ex.respond(413, "Content-Type: application/json\r\n", runtime::error_json("RequestEntityTooLarge", "too large"));
  }
  return body;
}

void Emulator::State::receive_stream(Exchange& ex, Invocation& inv, const std::string& content_type) {
  {
    std::lock_guard lock(mutex);
    inv.phase = Invocation::Phase::Streaming;
    inv.content_type = content_type;
  }
  http::Headers trailers;
  const bool ok = ex.read_body(
      kMaxStream,
      [&](std::string_view piece) {
        std::lock_guard lock(mutex);
        inv.chunks.emplace_back(piece);
        cv.notify_all();
        return true;
      },
      &trailers);
  if (auto type = trailers.get("Lambda-Runtime-Function-Error-Type")) {
    std::string body = runtime::error_json(*type, "");
    if (auto b64 = trailers.get("Lambda-Runtime-Function-Error-Body")) {
      if (auto decoded = http::base64_decode(*b64)) body = *decoded;
    }
    finish(inv, true, std::move(body), content_type);
  } else if (!ok) {
    finish(inv, true, runtime::error_json("Runtime.TruncatedResponse", "the streamed response broke off"),
           content_type);
  } else {
    finish(inv, false, {}, content_type);
  }
}

namespace {

// Lambda's errors for the Invoke API: a JSON body with Type, a message, and
// the error's name in X-Amzn-ErrorType.
void refuse_invoke(Exchange& ex, int status, std::string_view type, std::string_view body) {
  ex.respond(status, "Content-Type: application/json\r\nX-Amzn-ErrorType: " + std::string(type) + "\r\n", body);
}

// The trace id, client context and (our own) Cognito identity of an Invoke call.
void take_context_headers(const http::Headers& headers, InvokeRequest& req) {
  if (auto trace = headers.get("X-Amzn-Trace-Id"); trace && fits_one_header(*trace)) req.trace_id = *trace;
  if (auto cc = headers.get("X-Amz-Client-Context")) {
    if (auto decoded = http::base64_decode(*cc)) req.client_context = *decoded;
  }
  // Lambda's Invoke API carries no identity header; this one is ours, so a
  // local test can give a handler the identity a mobile SDK call would.
  if (auto ci = headers.get("X-Amz-Cognito-Identity")) {
    if (ci->starts_with('{')) {
      req.cognito_identity = *ci;
    } else if (auto decoded = http::base64_decode(*ci)) {
      req.cognito_identity = *decoded;
    }
  }
}

// Reads the payload into req; refuses (413) one over Lambda's limit, judged
// by its Content-Length before it is read: a client that sent
// Expect: 100-continue gets this instead of 100 Continue.
bool read_invoke_payload(Exchange& ex, InvokeRequest& req) {
  const std::string too_large = "{\"Type\":\"User\",\"message\":" + http::json_quote(request_too_large_message()) + "}";
  auto framing = http::body_framing(ex.head().headers, std::numeric_limits<std::size_t>::max());
  if (framing && !framing->chunked && framing->length > kMaxInvokePayload) {
    ex.close_after();
    refuse_invoke(ex, 413, "RequestEntityTooLargeException", too_large);
    return false;
  }
  auto body = ex.read_all(kMaxInvokePayload);
  if (!body) {
    ex.close_after();
    refuse_invoke(ex, 413, "RequestEntityTooLargeException", too_large);
    return false;
  }
  req.payload = std::move(*body);
  return true;
}

}  // namespace

void Emulator::State::handle_invoke_endpoint(Exchange& ex, std::string_view name, std::string_view query) {
  InvokeRequest req;
  if (!resolve_function(ex, name, query, req)) return;
  if (!read_invoke_payload(ex, req)) return;
  take_context_headers(ex.head().headers, req);
  bool started = false, ok = true;
  auto result = invoke(req, [&](std::string_view content_type, std::string_view chunk) {
    if (!ok) return;
    if (!started) {
      started = true;
      ok = ex.begin_chunked(200, "Content-Type: " + std::string(content_type) + "\r\n");
    }
    if (ok) ok = ex.write_chunk(chunk);
  });
  if (started) {
    if (result.function_error && ok) ex.write_chunk(result.body);
    if (ok) ex.end_chunked();
    if (!ok) ex.close_after();
    return;
  }
  std::string headers = "Content-Type: " + result.content_type + "\r\n";
  if (result.function_error) headers += "X-Amz-Function-Error: Unhandled\r\n";
  ex.respond(200, headers, result.body);
}

bool Emulator::State::resolve_function(Exchange& ex, std::string_view name, std::string_view query,
                                       InvokeRequest& req) {
  // NAME is the RIE's `function` or --name, either with `:QUALIFIER`, as
  // Lambda's FunctionName may be; ?Qualifier= names the version or alias too.
  auto decoded_name = percent_decode(name);
  std::string function = decoded_name.value_or(std::string(name));
  if (auto colon = function.find(':'); colon != std::string::npos) {
    req.qualifier = function.substr(colon + 1);
    function.resize(colon);
  }
  for (std::string_view rest = query; !rest.empty();) {
    const auto amp = rest.find('&');
    const std::string_view param = rest.substr(0, amp);
    rest = amp == std::string_view::npos ? std::string_view() : rest.substr(amp + 1);
    if (!param.starts_with("Qualifier=")) continue;
    const std::string value = percent_decode(param.substr(10)).value_or(std::string(param.substr(10)));
    if (!req.qualifier.empty() && req.qualifier != value) {
      refuse_invoke(
          ex, 400, "InvalidParameterValueException",
          R"({"Type":"User","message":"The derived qualifier from the function name does not match the specified qualifier."})");
      return false;
    }
    req.qualifier = value;
  }
  if (!req.qualifier.empty() && !valid_qualifier(req.qualifier)) {
    const std::string message = "1 validation error detected: Value '" + req.qualifier +
                                "' at 'qualifier' failed to satisfy constraint: Member must satisfy regular "
                                "expression pattern: (|[a-zA-Z0-9$_-]+)";
    refuse_invoke(ex, 400, "ValidationException", "{\"message\":" + http::json_quote(message) + "}");
    return false;
  }
  if (!decoded_name || (function != "function" && function != options.function_name)) {
    std::string arn = "arn:aws:lambda:" + region + ":000000000000:function:" + function;
    if (!req.qualifier.empty()) arn += ":" + req.qualifier;
    refuse_invoke(ex, 404, "ResourceNotFoundException",
                  "{\"Message\":" + http::json_quote("Function not found: " + arn) + ",\"Type\":\"User\"}");
    return false;
  }
  return true;
}

void Emulator::State::handle(Exchange& ex) {
  const auto& method = ex.head().method;
  std::string_view target = ex.head().target;
  if (method == "POST" && target.starts_with(kFunctionsPrefix)) {
    const auto question = target.find('?');
    std::string_view path = target.substr(0, question);
    const std::string_view query = question == std::string_view::npos ? "" : target.substr(question + 1);
    if (path.ends_with(kInvocationsSuffix)) {
      path.remove_prefix(kFunctionsPrefix.size());
      path.remove_suffix(kInvocationsSuffix.size());
      if (!path.empty() && path.find('/') == std::string_view::npos) return handle_invoke_endpoint(ex, path, query);
    }
  }
  if (!target.starts_with(kRuntimePrefix)) {
    ex.respond(404, "Content-Type: application/json\r\n", runtime::error_json("NotFound", std::string(target)));
    return;
  }
  target.remove_prefix(kRuntimePrefix.size());
  if (method == "GET" && target == "/invocation/next") return handle_next(ex);
  if (method == "POST" && target.starts_with("/invocation/")) {
    std::string_view rest = target.substr(12);
    auto slash = rest.find('/');
    if (slash != std::string_view::npos) {
      std::string_view what = rest.substr(slash + 1);
      if (what == "response" || what == "error") return handle_invocation_post(ex, rest.substr(0, slash), what);
    }
  }
  if (method == "POST" && (target == "/init/error" || target == "/restore/error")) {
    return handle_init_error(ex, target == "/init/error");
  }
  if (method == "GET" && target == "/restore/next") return handle_restore_next(ex);
  ex.respond(404, "Content-Type: application/json\r\n",
             runtime::error_json("NotFound", method + " " + std::string(ex.head().target)));
}

void Emulator::State::handle_init_error(Exchange& ex, bool during_init) {
  {
    // Once the runtime has reached /next its init is over: RIE refuses
    // (rapi/handler/initerror.go).
    std::lock_guard lock(mutex);
    if (ready) {
      ex.respond(403, "Content-Type: application/json\r\n",
                 invalid_transition(runtime_state_locked(), during_init ? "InitError" : "RuntimeRestoreErrorState"));
      return;
    }
  }
  auto body = ex.read_all(kMaxResponse);
  std::lock_guard lock(mutex);
  InitError err;
  err.type = ex.head().headers.get("Lambda-Runtime-Function-Error-Type").value_or("Unknown");
  err.body = body.value_or("");
  err.phase = during_init ? "init" : "restore";
  init_error = std::move(err);
  cv.notify_all();
  ex.respond(202, "Content-Type: application/json\r\n", "{\"status\":\"OK\"}");
}

void Emulator::State::handle_restore_next(Exchange& ex) {
  if (!options.snap_start) {
    ex.respond(403, "Content-Type: application/json\r\n",
               runtime::error_json("InvalidStateTransition", "/restore/next outside a snap-start init"));
    return;
  }
  {
    std::lock_guard lock(mutex);
    init_ms = ms_between(init_started, Clock::now());
    restore_started = Clock::now();
  }
  log(
      fmt::format("INIT_REPORT Init Duration: {:.2f} ms\tPhase: init\tStatus: success (snapshot emulated; "
                  "restoring at once)",
                  *init_ms));
  ex.respond(200, "Content-Type: application/json\r\n", "");
}

std::string request_too_large_message() {
  // Lambda's words for it (RequestEntityTooLargeException, 413).
  return fmt::format("Request must be smaller than {} bytes for the InvokeFunction operation", kMaxInvokePayload);
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
    if (::mkdtemp(tmpl.data()) == nullptr) return fail(Errc::Io, "creating {}: {}", tmpl, std::strerror(errno));
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
