// `tmpdump trace`: runs a command with the audit library (audit.c) in LD_AUDIT
// and turns the loader's events into the trace file of docs/formats.md.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "util/env.hpp"
#include "util/error.hpp"

namespace tmpdump::trace {

/// One shared object the traced command loaded.
struct Library {
  std::string path;                ///< real path, symlinks resolved
  std::vector<std::string> names;  ///< every name it was requested or opened by, first seen first; plus its DT_SONAME
  std::string
      provided_by;  ///< "java", "python", "node": the runtime brings it (runtime.hpp); "" when the function does
  std::string python_module;  ///< an extension module's path under python/ (runtime.hpp); "" for other libraries
};

/// The contents of a trace file (docs/formats.md, "Trace file"), format 1.
struct Trace {
  std::vector<std::string> command;
  std::vector<Library> libraries;  ///< in the order they were first loaded
};

/// File name of the audit library next to the tmpdump binary.
inline constexpr std::string_view kAuditLibraryName = "libtmpdump-audit.so";

/// Finds the audit library: $TMPDUMP_AUDIT_LIB, else next to the running
/// binary, else <binary dir>/../lib/tmpdump/ (the installed layout), else the
/// build tree it was built in. NotFound names every place looked at.
[[nodiscard]] Result<std::filesystem::path> find_audit_library(const Env& env);

struct RunOptions {
  std::vector<std::string> command;     ///< argv; argv[0] is searched in PATH
  std::filesystem::path audit_library;  ///< from find_audit_library()
};

struct RunOutcome {
  Trace trace;
  /// The command's exit status; 128 + signal number when a signal killed it.
  int exit_status = 0;
};

/// Runs the command to completion with stdin/stdout/stderr inherited and
/// LD_AUDIT (plus any LD_AUDIT already set) naming the audit library; children
/// inherit it. Errors: NotFound when the command cannot be started, Io for the
/// event file. A failing command is not an error: see exit_status.
[[nodiscard]] Result<RunOutcome> run(const RunOptions& options);

/// Turns the audit library's event records into libraries: pure over the bytes
/// plus realpath/ELF reads of the loaded files (for their DT_SONAME and to
/// leave out the dynamic loader). `audit_library` is left out too.
[[nodiscard]] std::vector<Library> libraries_from_events(std::string_view events,
                                                         const std::filesystem::path& audit_library);

/// The trace file's JSON text (format 1), with a trailing newline.
/// "provided_by" and "python_module" appear only on libraries that have them.
[[nodiscard]] std::string to_json(const Trace& trace);

/// Reads a trace file's JSON text. Errors: Corrupt (not JSON, wrong shape) or
/// Unsupported (a "format" other than 1), each naming `name`.
[[nodiscard]] Result<Trace> parse_json(std::string_view text, std::string_view name);

}  // namespace tmpdump::trace
