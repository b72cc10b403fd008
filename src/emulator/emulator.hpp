// A local Lambda: serves the Runtime API to a bootstrap it starts with
// Lambda's environment, and an invoke endpoint compatible with the AWS
// runtime interface emulator.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "emulator/runtimes.hpp"
#include "emulator/sandbox.hpp"
#include "util/error.hpp"

namespace tmpdump::emulator {

struct Options {
  std::filesystem::path function_dir;  ///< mounted at /var/task, LAMBDA_TASK_ROOT
  /// Layers, each a directory or a zip, merged in order (later ones win) at
  /// /opt; /opt/bootstrap starts the runtime when the function has none.
  std::vector<std::filesystem::path> layers;
  std::string handler;  ///< _HANDLER
  /// provided.*: the function's or the layers' bootstrap; a managed runtime:
  /// its interpreter started as Lambda's bootstrap for it starts it.
  Runtime runtime;
  std::filesystem::path runtime_dir;  ///< a managed runtime's /var/runtime (its interface client)
  std::filesystem::path lang_dir;     ///< a managed runtime's /var/lang (empty: the host's interpreter)
  std::string function_name = "function";
  std::string region;  ///< default: $AWS_REGION, else $AWS_DEFAULT_REGION, else us-east-1
  std::chrono::milliseconds timeout{3000};
  /// Lambda's init limit: a runtime that has not asked for its first
  /// invocation by then is restarted, and init runs again inside the first
  /// invoke under `timeout`.
  std::chrono::milliseconds init_timeout{10000};
  unsigned memory_mb = 128;     ///< enforced with a memory cgroup when sandboxed
  unsigned ephemeral_mb = 512;  ///< the size of the sandbox's /tmp
  double cpus = 0;              ///< CPU share; 0: memory_mb / 1,769, as Lambda
  SandboxMode sandbox = SandboxMode::Auto;
  std::vector<std::pair<std::string, std::string>> env;  ///< the function's variables (--env)
  bool snap_start = false;  ///< init as AWS_LAMBDA_INITIALIZATION_TYPE=snap-start, then restore
  int log_fd = 1;           ///< where START/END/REPORT and the runtime's output go
};

/// Lambda's limit on a synchronous invoke's request payload, in bytes.
inline constexpr std::size_t kMaxInvokePayload = 6291456;

/// Lambda's message for a payload over kMaxInvokePayload (413, RequestEntityTooLargeException).
[[nodiscard]] std::string request_too_large_message();

/// An invocation as the invoke endpoint received it.
struct InvokeRequest {
  std::string payload;
  std::string client_context;         ///< JSON (decoded from X-Amz-Client-Context)
  std::string cognito_identity = {};  ///< JSON (from X-Amz-Cognito-Identity, plain or base64)
  /// The caller's X-Amzn-Trace-Id, passed on as Lambda-Runtime-Trace-Id;
  /// empty: a new one is made. Must fit one header line.
  std::string trace_id = {};
  /// The version or alias invoked (`?Qualifier=`), appended to the function ARN.
  std::string qualifier = {};
};

struct InvokeResult {
  bool function_error = false;  ///< X-Amz-Function-Error: Unhandled
  bool streamed = false;        ///< the body went to the chunk sink
  std::string body;             ///< response, or the error document
  std::string content_type = "application/json";
  /// Spawn to first /next of the runtime this invocation started (cold start only).
  std::optional<double> init_ms;
  /// The runtime's peak memory so far, in KiB: the cgroup's peak when
  /// sandboxed, else the runtime process's VmHWM.
  unsigned long max_rss_kib = 0;
};

/// Receives a streamed response's chunks as they arrive from the runtime.
using ChunkSink = std::function<void(std::string_view content_type, std::string_view chunk)>;

class Emulator {
 public:
  explicit Emulator(Options options);
  ~Emulator();
  Emulator(const Emulator&) = delete;
  Emulator& operator=(const Emulator&) = delete;

  /// Merges the layers, sets up the sandbox (a line on stderr says what it
  /// cannot confine), listens on 127.0.0.1:port (0 = any): the Runtime API
  /// and POST /2015-03-31/functions/function/invocations. Returns the port.
  [[nodiscard]] Result<int> start(int port);
  /// Runs one invocation (one at a time; others wait), starting the runtime
  /// when none is running. Init errors, timeouts (the runtime is killed and
  /// restarted on the next invoke) and runtime exits become error results.
  InvokeResult invoke(const InvokeRequest& request, const ChunkSink& sink = {});
  /// Kills the runtime, stops serving, removes the sandbox's cgroups and the
  /// merged layers.
  void stop();

  struct State;

 private:
  std::unique_ptr<State> state_;
};

}  // namespace tmpdump::emulator
