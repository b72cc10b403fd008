// How tmpdump-exec-wrapper turns the command line a managed runtime hands it
// (AWS_LAMBDA_EXEC_WRAPPER) into the one it execs: pure functions of the
// command, the install layout and the environment, so they test without
// processes.
#pragma once

#include <filesystem>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "util/env.hpp"
#include "util/error.hpp"

namespace tmpdump::wrapper {

/// Which runtime the command starts, by the basename of its program.
enum class Runtime { Java, Python, Node, Other };

/// "java" is Java; "python", "python3", "python3.12" (digits and dots after
/// "python") are Python; "node" and "nodejs" are Node; anything else is Other.
[[nodiscard]] Runtime classify(std::string_view program) noexcept;

/// Where things are after the pull.
struct Layout {
  std::filesystem::path root = "/tmp";            ///< the tmpdump root (TMPDUMP_ROOT)
  bool installed = false;                         ///< a tmpdump is installed under root
  std::filesystem::path task_root = "/var/task";  ///< LAMBDA_TASK_ROOT
  bool cpu_has_v3 = false;                        ///< choose lib/glibc-hwcaps/x86-64-v3 when present
};

/// The command to exec and the variables to set for it.
struct Launch {
  Runtime runtime = Runtime::Other;
  std::vector<std::string> argv;  ///< argv[0] is the program, searched in PATH when it has no '/'
  std::vector<std::pair<std::string, std::string>> env;
  std::string what;  ///< what was changed, for the summary line ("java: -classpath +2, ...")
};

/// The JDK's own java.library.path on Linux after LD_LIBRARY_PATH, kept when
/// the wrapper adds -Djava.library.path itself so no directory is lost.
inline constexpr std::string_view kJdkDefaultLibraryPath = "/usr/java/packages/lib:/usr/lib64:/lib64:/lib:/usr/lib";

/// Index in `argv` of the first argument that is not a JVM option: the main
/// class, or "-jar" / "-m" / "--module" that start the application part.
/// Everything from there on belongs to the application and is never touched.
/// argv.size() when there is none.
[[nodiscard]] std::size_t java_main_index(std::span<const std::string> argv);

/// The rewrite for every runtime:
/// - all: LD_LIBRARY_PATH = layer::library_path(...) (CPU variant dir,
///   <root>/lib, <task>/lib, inherited). The glibc that `pack --with-libc`
///   bundles (lib/libc/) is never on it: the runtime runs on the image's
///   loader, which cannot use a newer libc. An archive from an older pack
///   that has libc.so.6 in lib/ itself gets <root>/lib after the inherited
///   value instead (on Lambda, after /lib64: the image's glibc wins).
/// - Java: appends <task> and <task>/lib/* to the last -classpath/-cp/
///   --class-path (adds one from $CLASSPATH or "." when there is none and the
///   application is not -jar); puts the same directories as LD_LIBRARY_PATH
///   ahead of the last -Djava.library.path (adds one before the main class,
///   ending in kJdkDefaultLibraryPath, when there is none); removes the JVM
///   options matching TMPDUMP_JAVA_REMOVE_FLAGS and inserts
///   TMPDUMP_JAVA_ADD_FLAGS just before the main class.
/// - Python: prepends <root>/python (when it exists) to PYTHONPATH.
/// - Node: prepends <root>/nodejs/node_modules and <root>/node_modules (those
///   that exist) to NODE_PATH, as Lambda does for layers under /opt.
/// Arguments not named above keep their bytes and order. Errors:
/// InvalidArgument for an empty command or a TMPDUMP_JAVA_ADD_FLAGS item that
/// is not an option.
[[nodiscard]] Result<Launch> rewrite(std::span<const std::string> command, const Layout& layout, const Env& env);

/// Whether a JVM option matches a TMPDUMP_JAVA_REMOVE_FLAGS item: equal; or
/// the item has no '=' and the option is "<item>=..." or "<item>:..."; or the
/// item ends in '*' and the option starts with the rest.
[[nodiscard]] bool flag_matches(std::string_view option, std::string_view item) noexcept;

}  // namespace tmpdump::wrapper
