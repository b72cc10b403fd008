// The one entry point of both layer programs, `bootstrap` (custom runtimes)
// and `tmpdump-exec-wrapper` (managed runtimes): read the configuration, pull
// the tmpdumps it names, and say where the handler's libraries now are.
#pragma once

#include <functional>
#include <optional>
#include <string>

#include "layer/config.hpp"
#include "layer/pull.hpp"
#include "util/env.hpp"
#include "util/error.hpp"

namespace tmpdump::layer {

/// What prepare() calls while it works.
struct PrepareHooks {
  /// Lines for a person during the pull (waiting for another pull's lock).
  Notice notice;
  /// Called with the configuration before anything is pulled, so a program
  /// can refuse it before a download (the bootstrap checks _HANDLER here). It
  /// may end the process; prepare() goes on when it returns.
  std::function<void(const Config&)> before_pull;
};

/// Everything a layer program needs to start what it runs.
struct Prepared {
  Config config;
  PullOutcome pull;
  /// LD_LIBRARY_PATH as the program found it (nullopt: unset).
  std::optional<std::string> inherited_library_path;
  /// The handler's LD_LIBRARY_PATH: library_path(config.root, pull.installed,
  /// config.task_root, inherited, cpu_has_v3).
  std::string library_path;
  bool cpu_has_v3 = false;  ///< cpu_has_x86_64_v3(), asked once
};

/// load_config(env), then pull_configured() (with `hooks.notice`), then the
/// library path. With no sources configured nothing is pulled or loaded and
/// the library path names only <task root>/lib and the inherited value.
/// Errors are those of load_config (InvalidArgument, Io) and pull_configured.
[[nodiscard]] Result<Prepared> prepare(const Env& env, const PrepareHooks& hooks = {});

}  // namespace tmpdump::layer
