// Internal to the emulator: the state its three parts share. emulator.cpp
// runs the runtime process and invoke(); runtime_api.cpp answers the Runtime
// API the runtime calls; invoke_api.cpp is Lambda's Invoke endpoint.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <condition_variable>
#include <deque>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "emulator/emulator.hpp"
#include "emulator/sandbox.hpp"
#include "emulator/server.hpp"

namespace tmpdump::emulator {

using Clock = std::chrono::steady_clock;

// One invocation: what /next hands the runtime, and its answer as it arrives.
struct Invocation {
  std::string id, payload, client_context, cognito_identity, trace_id, arn;
  std::int64_t deadline_ms = 0;
  bool delivered = false;
  enum class Phase { Pending, Streaming, Done } phase = Phase::Pending;
  bool error = false;
  std::string body, content_type = "application/json";
  std::deque<std::string> chunks;
};

// Why an init failed: the runtime's /init/error or /restore/error, or its exit.
struct InitError {
  std::string type, body;
  std::string_view phase = "init";
};

std::string new_request_id();
double ms_between(Clock::time_point a, Clock::time_point b);
// A decoded JSON document goes into a /next header: a CR or LF would end the
// header early, so such a value is not passed on.
bool fits_one_header(std::string_view value);

// One emulator: the runtime process, the invocation in flight, and the
// server whose handler (handle) answers both APIs.
struct Emulator::State {
  Options options;
  std::unique_ptr<Server> server;
  int port = 0;
  std::string region;                // --region, else $AWS_REGION, else $AWS_DEFAULT_REGION, else us-east-1
  std::filesystem::path bootstrap;   // as the runtime sees it
  std::vector<std::string> command;  // what starts the runtime: the bootstrap, or a managed runtime's command line
  std::vector<std::pair<std::string, std::string>> launch_env;  // a managed runtime's bootstrap's variables
  std::filesystem::path runtime_path, lang_path;  // a managed runtime's /var/runtime and /var/lang as it sees them
  // The runtime's /var/task and /opt as it sees them, and /opt on the host.
  std::filesystem::path task_path, opt_path, opt_host;
  std::filesystem::path layer_staging;  // merged layers, removed by stop()
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
  std::string_view runtime_state_locked() const;

  std::string function_arn(std::string_view qualifier) const;

  void log(std::string_view line);

  std::vector<std::string> runtime_env() const;

  // Starts the runtime; called with `mutex` held.
  bool spawn_locked(std::string* why);

  // What the child runs, all prepared before fork().
  struct ExecPlan {
    std::string path, cwd;
    std::vector<char*> argv, envp;
    std::string failed, enoent_hint;
    int log_fd;
    const Sandbox* confine;
  };

  // argv/envp for execve: pointers into `strings`, null-terminated.
  static std::vector<char*> c_strings(std::vector<std::string>& strings);

  // Why execve's ENOENT can name a file that is there: its ELF or #!
  // interpreter is not, as for a layer whose programs start their loader at
  // /opt outside the sandbox.
  std::string exec_enoent_hint() const;

  // In the forked child: its own process group, stdin from /dev/null, output
  // to the log, into the sandbox, then the runtime. Never returns.
  [[noreturn]] static void exec_runtime(const ExecPlan& plan, int devnull);

  // A fresh runtime's state; called with `mutex` held.
  void started_locked(pid_t child, Clock::time_point spawned);

  // The reaper thread: waits for `child` and records its exit, unless a newer runtime replaced it.
  void reap(pid_t child);

  // Kills the runtime's process group and waits for it; `lock` is released meanwhile.
  void kill_runtime(std::unique_lock<std::mutex>& lock);

  // The peak so far: the cgroup's (page cache and /tmp included, as the
  // limit counts them) when sandboxed, else the runtime process's VmHWM.
  // (v2 kernels before 5.19 have no memory.peak: VmHWM then too.)
  void update_peak();

  std::string exit_text() const;

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
  void handle_restore_next(Exchange& ex);
  // Steps of Emulator::start().
  Result<void> stage_layers();
  Result<void> create_sandbox();
  Result<void> choose_command();
};

}  // namespace tmpdump::emulator
