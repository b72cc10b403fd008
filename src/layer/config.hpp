// What the layer's programs (bootstrap, tmpdump-exec-wrapper) do, decided from
// the environment and $LAMBDA_TASK_ROOT/tmpdump.json before anything is pulled
// or started.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "pull/source.hpp"
#include "util/env.hpp"
#include "util/error.hpp"

namespace tmpdump::layer {

/// What separates the items of a list setting such as TMPDUMP_SOURCES.
inline constexpr std::string_view kListSeparators = ", \t\n\r";

/// The handler named by _HANDLER.
struct HandlerSpec {
  enum class Kind { Executable, Library };
  Kind kind = Kind::Executable;
  /// Executable: the file to exec. Library: the path given to dlopen (a bare
  /// name is searched in LD_LIBRARY_PATH, i.e. also in the tmpdump).
  std::string path;
  std::string symbol;  ///< Library only
  std::string text;    ///< _HANDLER as given, for messages
};

struct Config {
  std::vector<pull::SourceSpec> sources;  ///< empty: nothing to pull
  std::filesystem::path root = "/tmp";
  std::filesystem::path task_root = "/var/task";
  std::string handler_text;  ///< _HANDLER, parsed by parse_handler()
  std::string origin;        ///< which setting chose the sources, for messages
};

/// Reads TMPDUMP_SOURCES, TMPDUMP_BUCKET, HUMANGRAPHICS_BUCKET, TMPDUMP_ROOT,
/// LAMBDA_TASK_ROOT, _HANDLER and $LAMBDA_TASK_ROOT/tmpdump.json (the
/// environment wins). Errors: InvalidArgument naming the setting; Io when
/// tmpdump.json cannot be read.
[[nodiscard]] Result<Config> load_config(const Env& env);

/// "lib/libmyfn.so:my_handler" (Library) or "bin/myfn" (Executable), relative
/// to `task_root` unless absolute; a library name without '/' stays bare.
/// Errors (NotFound) are reported as Runtime.HandlerNotFound.
[[nodiscard]] Result<HandlerSpec> parse_handler(std::string_view text, const std::filesystem::path& task_root);

}  // namespace tmpdump::layer
