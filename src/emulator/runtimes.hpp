// The managed runtimes `tmpdump emulate --runtime` starts the way Lambda's own
// bootstrap for each does: the same program, options and arguments, through
// AWS_LAMBDA_EXEC_WRAPPER when that is set.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "util/error.hpp"

namespace tmpdump::emulator {

enum class Language { Provided, Java, Python, Node };

/// A Lambda runtime identifier and what it runs.
struct Runtime {
  std::string name = "provided.al2023";
  Language language = Language::Provided;
  std::string version;  ///< "17", "3.12", "20"; empty for provided.*
};

/// The runtime identifiers --runtime accepts, in the order the help lists them.
inline constexpr std::string_view kRuntimeNames[] = {"java17",     "java21",     "python3.12",      "python3.13",
                                                     "nodejs20.x", "nodejs22.x", "provided.al2023", "provided.al2"};

/// Parses a --runtime value, or InvalidArgument naming the ones there are.
[[nodiscard]] Result<Runtime> parse_runtime(std::string_view name);

/// The JVM's -XX:MaxHeapSize in KiB for a function of `memory_mb`, as Lambda's
/// java17 runtime sets it: 85% of the memory, or all but 240 MB when that is
/// more (observed: 128 MB -> 111412k, 512 -> 445645k, 2045 -> 1848320k,
/// 4093 -> 3945472k, 10238 -> 10237952k).
[[nodiscard]] unsigned long java_max_heap_kib(unsigned memory_mb);

/// Where the pieces of a managed runtime are: on the host, and as the runtime
/// sees them (/var/runtime, /var/lang, /var/task, /opt in the sandbox; the
/// host paths without it).
struct RuntimePaths {
  std::filesystem::path runtime_host;  ///< --runtime-dir: what Lambda has at /var/runtime
  std::filesystem::path lang_host;     ///< --lang-dir: Lambda's /var/lang; empty: the host's interpreter
  std::filesystem::path runtime_seen, lang_seen, task_seen, opt_seen;
  bool sandboxed = false;  ///< the runtime sees only the host's system directories and these
};

/// How to start a managed runtime: its command line and the variables its
/// bootstrap sets (the function's own --env still wins over these).
struct Launch {
  std::vector<std::string> argv;
  std::vector<std::pair<std::string, std::string>> env;
};

/// Lambda's command line for `runtime` (not provided.*) and `handler`
/// ($_HANDLER) with the function's `env` (--env: AWS_LAMBDA_EXEC_WRAPPER,
/// PYTHONPATH), or InvalidArgument naming the missing piece (--runtime-dir
/// contents, an interpreter).
[[nodiscard]] Result<Launch> managed_launch(const Runtime& runtime, const RuntimePaths& paths,
                                            const std::string& handler, unsigned memory_mb,
                                            const std::vector<std::pair<std::string, std::string>>& env);

}  // namespace tmpdump::emulator
