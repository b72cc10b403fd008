// The trace file `tmpdump trace` writes and `tmpdump pack --trace` reads
// (docs/formats.md, trace file), as pack reads it.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "util/error.hpp"

namespace tmpdump::pack {

/// One shared object a traced program loaded (docs/formats.md, trace file).
struct TracedLibrary {
  std::string path;                ///< real path, symlinks resolved
  std::vector<std::string> names;  ///< every name it was requested by
  /// "java", "python" or "node" when the traced runtime brings it itself
  /// ("provided_by"); empty for the function's own libraries.
  std::string provided_by;
  /// A Python extension module's path relative to its sys.path directory
  /// ("python_module", e.g. "numpy/core/_multiarray_umath.cpython-311-x86_64-linux-gnu.so"):
  /// packed under python/ at that path instead of lib/.
  std::string python_module;
};

/// A trace file, format 1.
struct Trace {
  std::vector<std::string> command;
  std::vector<TracedLibrary> libraries;
};

/// Parses a trace file's JSON. Errors: InvalidArgument naming `name` and the
/// problem (not JSON, unknown "format", missing or mistyped fields).
[[nodiscard]] Result<Trace> parse_trace(std::string_view json, std::string_view name);
/// Reads and parses a trace file. Errors: NotFound / Io naming the path, then as parse_trace().
[[nodiscard]] Result<Trace> read_trace(const std::filesystem::path& path);

}  // namespace tmpdump::pack
