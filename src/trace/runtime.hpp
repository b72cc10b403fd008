// Which traced libraries the runtime brings: a JVM's java.home, a Python
// interpreter's libpython, standard library modules and their dependencies,
// Node's own libraries. On Lambda a managed runtime has its own copies, so
// packing these only adds bytes and overrides the runtime's.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "trace/trace.hpp"

namespace tmpdump::trace {

/// The JDK directory a libjvm.so / libjava.so path belongs to: the part before
/// its last "/lib/" (".../java-17-openjdk-amd64" for
/// ".../java-17-openjdk-amd64/lib/server/libjvm.so"). nullopt for other files.
[[nodiscard]] std::optional<std::filesystem::path> java_home_of(std::string_view library_path);

/// Where a Python extension module goes under python/: its path relative to
/// the last site-packages, dist-packages or lib-dynload directory above it, else to the
/// first directory above its package (the highest run of __init__.py
/// directories). nullopt for a file that is not an extension module
/// (*.cpython-*.so, *.abi3.so, *.pyd-like names excluded) or has no package
/// directory to be relative to.
[[nodiscard]] std::optional<std::string> python_module_path(const std::filesystem::path& library_path);

/// Sets provided_by ("java", "python", "node") on the libraries the runtime
/// brings, and python_module on every extension module.
/// Runtime roots: everything under a java.home; libpython*, and objects under
/// the interpreter's standard library directory outside site-packages /
/// dist-packages; libnode*. What those need (DT_NEEDED, transitively, as far
/// as the trace has it) and the interpreter's own DT_NEEDED (`command[0]` when
/// it is java, python* or node, found in PATH) are the runtime's too, unless
/// one of the function's own libraries needs them as well: then they are packed.
void mark_runtime_libraries(std::vector<Library>& libraries, const std::vector<std::string>& command,
                            std::string_view path_env);

}  // namespace tmpdump::trace
