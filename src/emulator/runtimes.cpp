#include "emulator/runtimes.hpp"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <optional>

#include <fmt/format.h>

namespace tmpdump::emulator {

namespace fs = std::filesystem;

Result<Runtime> parse_runtime(std::string_view name) {
  Runtime r;
  r.name = std::string(name);
  if (name == "provided.al2023" || name == "provided.al2") return r;
  if (name == "java17" || name == "java21") {
    r.language = Language::Java;
    r.version = std::string(name.substr(4));
  } else if (name == "python3.12" || name == "python3.13") {
    r.language = Language::Python;
    r.version = std::string(name.substr(6));
  } else if (name == "nodejs20.x" || name == "nodejs22.x") {
    r.language = Language::Node;
    r.version = std::string(name.substr(6, 2));
  } else {
    std::string names;
    for (auto n : kRuntimeNames) names += (names.empty() ? "" : ", ") + std::string(n);
    return fail(Errc::InvalidArgument, "--runtime must be one of {}, not '{}'", names, name);
  }
  return r;
}

unsigned long java_max_heap_kib(unsigned memory_mb) {
  const unsigned long kib = static_cast<unsigned long>(memory_mb) * 1024;
  const auto share = static_cast<unsigned long>(std::ceil(static_cast<double>(kib) * 0.85));
  const unsigned long all_but = memory_mb > 240 ? kib - 240UL * 1024 : 0;
  return std::max(share, all_but);
}

namespace {

// What the sandbox mounts from the host (sandbox.cpp's build_plan): a program
// there runs inside it under the same path.
bool in_system_dirs(const fs::path& p) {
  auto it = p.begin();
  if (it == p.end() || *it != "/" || ++it == p.end()) return false;
  const std::string top = it->string();
  return top == "usr" || top == "etc" || top == "bin" || top == "sbin" || top == "lib" || top == "lib32" ||
         top == "lib64" || top == "libx32";
}

bool is_elf(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  char magic[4] = {};
  return in.read(magic, 4) && magic[0] == 0x7f && magic[1] == 'E' && magic[2] == 'L' && magic[3] == 'F';
}

bool executable_file(const fs::path& p) {
  std::error_code ec;
  return fs::is_regular_file(p, ec) && ::access(p.c_str(), X_OK) == 0;
}

std::string flag_for(const Runtime& r) {
  return fmt::format("--runtime {}", r.name);
}

// The interpreter: DIR/bin/NAME of --lang-dir (Lambda's /var/lang/bin comes
// first on its PATH), else the first NAME on this process's PATH that is a
// program (a version manager's shim script outside the system directories
// is passed over: it needs its manager's environment, which the runtime does
// not get). In the sandbox it must lie where the sandbox sees it.
Result<std::string> interpreter(const Runtime& r, const RuntimePaths& paths, std::initializer_list<std::string> names) {
  const std::string want = *names.begin();
  if (!paths.lang_host.empty()) {
    for (const auto& n : names) {
      if (executable_file(paths.lang_host / "bin" / n)) return (paths.lang_seen / "bin" / n).string();
    }
    return fail(Errc::InvalidArgument, "{}: --lang-dir {} has no bin/{} (give Lambda's /var/lang for {})", flag_for(r),
                paths.lang_host.string(), want, r.name);
  }
  const char* path_env = std::getenv("PATH");
  std::string path = path_env != nullptr ? path_env : "/usr/local/bin:/usr/bin:/bin";
  std::optional<Error> unseen;
  for (const auto& n : names) {
    std::size_t start = 0;
    while (start <= path.size()) {
      const std::size_t colon = std::min(path.find(':', start), path.size());
      const fs::path dir = path.substr(start, colon - start);
      start = colon + 1;
      if (dir.empty() || dir.is_relative()) continue;
      const fs::path candidate = dir / n;
      if (!executable_file(candidate)) continue;
      std::error_code ec;
      const fs::path real = fs::canonical(candidate, ec);
      if (ec) continue;
      const bool system = in_system_dirs(candidate) && in_system_dirs(real);
      if (!system && !is_elf(real)) continue;  // a shim script
      if (paths.sandboxed && !system) {
        if (!unseen) {
          unseen = Error{Errc::InvalidArgument,
                         fmt::format("{}: the sandbox cannot see {} (only the host's /usr, /etc, /bin, /lib...): "
                                     "give --lang-dir {} (mounted at /var/lang), or --sandbox off",
                                     flag_for(r), real.string(), real.parent_path().parent_path().string())};
        }
        continue;
      }
      return candidate.string();
    }
  }
  if (unseen) return std::unexpected(*unseen);
  return fail(Errc::InvalidArgument,
              "{}: no {} on PATH: install it, or give --lang-dir DIR (Lambda's /var/lang, "
              "holding bin/{})",
              flag_for(r), want, want);
}

// The RIC's jars in --runtime-dir/lib, sorted, as the runtime sees them.
std::vector<std::string> runtime_jars(const RuntimePaths& paths) {
  std::vector<std::string> jars;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(paths.runtime_host / "lib", ec)) {
    if (e.path().extension() == ".jar" && e.is_regular_file(ec)) jars.push_back(e.path().filename().string());
  }
  std::ranges::sort(jars);
  for (auto& j : jars) j = (paths.runtime_seen / "lib" / j).string();
  return jars;
}

std::string joined(const std::vector<std::string>& parts) {
  std::string out;
  for (const auto& p : parts) out += (out.empty() ? "" : ":") + p;
  return out;
}

using UserEnv = std::vector<std::pair<std::string, std::string>>;

// The value the user gave `name` last with --env, or nullptr.
const std::string* user_value(const UserEnv& env, std::string_view name) {
  for (auto it = env.rbegin(); it != env.rend(); ++it) {
    if (it->first == name) return &it->second;
  }
  return nullptr;
}

// --runtime-dir is given and a directory; --lang-dir, when given, too.
Result<void> check_runtime_dirs(const Runtime& r, const RuntimePaths& paths) {
  if (paths.runtime_host.empty()) {
    const char* what = r.language == Language::Java     ? "the runtime interface client's jars in DIR/lib"
                       : r.language == Language::Python ? "DIR/awslambdaric (pip install --target DIR awslambdaric)"
                                                        : "DIR/index.mjs or DIR/node_modules/aws-lambda-ric";
    return fail(Errc::InvalidArgument, "{} needs --runtime-dir DIR, what Lambda has at /var/runtime: {}", flag_for(r),
                what);
  }
  std::error_code ec;
  if (!fs::is_directory(paths.runtime_host, ec)) {
    return fail(Errc::InvalidArgument, "{}: --runtime-dir {} is not a directory", flag_for(r),
                paths.runtime_host.string());
  }
  if (!paths.lang_host.empty() && !fs::is_directory(paths.lang_host, ec)) {
    return fail(Errc::InvalidArgument, "{}: --lang-dir {} is not a directory", flag_for(r), paths.lang_host.string());
  }
  return {};
}

// Lambda's java17 bootstrap, its command line as observed on Lambda
// (java:17.v14, October 2023, at 128 to 10,240 MB; data/17/*.txt of
// https://github.com/sigpwned/the-lambda-iceberg-dissecting-the-official-java-runtimes):
//   /var/lang/bin/java -XX:MaxHeapSize=<heap>k
//     -javaagent:/var/runtime/lib/Log4jHotPatch.jar=log4jFixerVerbose=false -XX:+UseSerialGC
//     -Xshare:on -XX:SharedArchiveFile=/var/lang/lib/server/runtime.jsa -XX:+TieredCompilation
//     -XX:TieredStopAtLevel=1 --add-opens=java.base/java.io=ALL-UNNAMED
//     -Dorg.crac.Core.Compat=com.amazonaws.services.lambda.crac -Djava.net.preferIPv4Stack=true
//     -XX:+ErrorFileToStderr
//     -Dcom.amazonaws.services.lambda.runtime.api.client.runtimeapi.NativeClient.JNI=/var/runtime/lib/jni/libaws-lambda-jni.linux-x86_64.so
//     -classpath <the jars in /var/runtime/lib> com.amazonaws.services.lambda.runtime.api.client.AWSLambda
//     $_HANDLER
// java21 is taken to start alike. The options naming files of Lambda's
// image (the agent, the CDS archive, the JNI library) are passed only when
// --runtime-dir / --lang-dir hold those files; -Xshare:auto stands in for
// -Xshare:on without the archive.
std::vector<std::string> java_command_line(const RuntimePaths& paths, const std::string& java,
                                           const std::vector<std::string>& jars, unsigned memory_mb,
                                           const std::string& handler) {
  const fs::path& rt = paths.runtime_seen;
  std::error_code ec;
  std::vector<std::string> a = {java, fmt::format("-XX:MaxHeapSize={}k", java_max_heap_kib(memory_mb))};
  if (fs::is_regular_file(paths.runtime_host / "lib/Log4jHotPatch.jar", ec)) {
    a.push_back("-javaagent:" + (rt / "lib/Log4jHotPatch.jar").string() + "=log4jFixerVerbose=false");
  }
  a.push_back("-XX:+UseSerialGC");
  if (!paths.lang_host.empty() && fs::is_regular_file(paths.lang_host / "lib/server/runtime.jsa", ec)) {
    a.push_back("-Xshare:on");
    a.push_back("-XX:SharedArchiveFile=" + (paths.lang_seen / "lib/server/runtime.jsa").string());
  } else {
    a.push_back("-Xshare:auto");
  }
  for (const char* o :
       {"-XX:+TieredCompilation", "-XX:TieredStopAtLevel=1", "--add-opens=java.base/java.io=ALL-UNNAMED",
        "-Dorg.crac.Core.Compat=com.amazonaws.services.lambda.crac", "-Djava.net.preferIPv4Stack=true",
        "-XX:+ErrorFileToStderr"}) {
    a.emplace_back(o);
  }
  const char* jni = "lib/jni/libaws-lambda-jni.linux-x86_64.so";
  if (fs::is_regular_file(paths.runtime_host / jni, ec)) {
    a.push_back("-Dcom.amazonaws.services.lambda.runtime.api.client.runtimeapi.NativeClient.JNI=" +
                (rt / jni).string());
  }
  a.push_back("-classpath");
  a.push_back(joined(jars));
  a.emplace_back("com.amazonaws.services.lambda.runtime.api.client.AWSLambda");
  a.push_back(handler);
  return a;
}

Result<void> java_launch(const Runtime& r, const RuntimePaths& paths, const std::string& handler, unsigned memory_mb,
                         Launch& launch) {
  const auto jars = runtime_jars(paths);
  if (jars.empty()) {
    return fail(Errc::InvalidArgument,
                "{}: --runtime-dir {} has no jars in lib/ (give the directory whose lib/ holds "
                "aws-lambda-java-runtime-interface-client-*.jar, as Lambda's /var/runtime does)",
                flag_for(r), paths.runtime_host.string());
  }
  auto java = interpreter(r, paths, {"java"});
  if (!java) return std::unexpected(java.error());
  launch.argv = java_command_line(paths, *java, jars, memory_mb, handler);
  return {};
}

// Lambda's python3.12 bootstrap runs /var/lang/bin/python3.12
// /var/runtime/bootstrap.py, which puts LAMBDA_TASK_ROOT,
// /opt/python/lib/python3.12/site-packages and /opt/python first on
// sys.path (when PYTHONPATH is unset) and calls awslambdaric's main with
// $_HANDLER (the python3.11 image's /var/runtime/bootstrap and
// bootstrap.py, public.ecr.aws/lambda/python). bootstrap.py is Lambda's,
// not the client's: this runs the client's documented entry instead
// (aws-lambda-python-runtime-interface-client's README: python -m
// awslambdaric <handler>), with PYTHONPATH giving the same order and
// /var/runtime, where the client lies.
Result<void> python_launch(const Runtime& r, const RuntimePaths& paths, const std::string& handler, const UserEnv& env,
                           Launch& launch) {
  std::error_code ec;
  if (!fs::is_directory(paths.runtime_host / "awslambdaric", ec)) {
    return fail(Errc::InvalidArgument,
                "{}: --runtime-dir {} has no awslambdaric/ (give a directory holding the runtime interface "
                "client: pip install --target DIR awslambdaric)",
                flag_for(r), paths.runtime_host.string());
  }
  auto python = interpreter(r, paths, {"python" + r.version, "python3"});
  if (!python) return std::unexpected(python.error());
  launch.argv = {*python, "-m", "awslambdaric", handler};
  const fs::path& opt = paths.opt_seen;
  std::string pythonpath = paths.task_seen.string() + ":";
  if (const std::string* given = user_value(env, "PYTHONPATH")) {
    pythonpath += *given + ":";
  } else {
    pythonpath +=
        (opt / ("python/lib/python" + r.version) / "site-packages").string() + ":" + (opt / "python").string() + ":";
  }
  launch.env.emplace_back("PYTHONPATH", pythonpath + paths.runtime_seen.string());
  return {};
}

// Lambda's nodejs bootstrap (/var/runtime/bootstrap of the nodejs18.x
// image, public.ecr.aws/lambda/nodejs:18; nodejs20.x and 22.x alike with
// their version in NODE_PATH, as aws-sam-cli's
// samcli/local/docker/lambda_debug_settings.py has it):
//   NODE_PATH (when unset) = /opt/nodejs/node<N>/node_modules:/opt/nodejs/node_modules:
//                            /var/runtime/node_modules:/var/runtime:/var/task
//   new_space = memory / 10, semi_space = new_space / 2, old_space = memory - new_space
//   exec /var/lang/bin/node --expose-gc --max-http-header-size 81920 --max-semi-space-size=<semi>
//        --max-old-space-size=<old> /var/runtime/index.mjs
Result<void> node_launch(const Runtime& r, const RuntimePaths& paths, const std::string& handler, unsigned memory_mb,
                         Launch& launch) {
  const fs::path& rt = paths.runtime_seen;
  std::error_code ec;
  std::vector<std::string> entry;
  if (fs::is_regular_file(paths.runtime_host / "index.mjs", ec)) {
    entry = {(rt / "index.mjs").string()};
  } else if (fs::is_regular_file(paths.runtime_host / "node_modules/aws-lambda-ric/bin/index.mjs", ec)) {
    // The client's own entry (its package.json "bin"): the handler is its argument.
    entry = {(rt / "node_modules/aws-lambda-ric/bin/index.mjs").string(), handler};
  } else {
    return fail(Errc::InvalidArgument,
                "{}: --runtime-dir {} has neither index.mjs nor node_modules/aws-lambda-ric (give Lambda's "
                "/var/runtime, or a directory where npm installed aws-lambda-ric)",
                flag_for(r), paths.runtime_host.string());
  }
  auto node = interpreter(r, paths, {"node"});
  if (!node) return std::unexpected(node.error());
  const unsigned new_space = memory_mb / 10;
  launch.argv = {*node,
                 "--expose-gc",
                 "--max-http-header-size",
                 "81920",
                 fmt::format("--max-semi-space-size={}", new_space / 2),
                 fmt::format("--max-old-space-size={}", memory_mb - new_space)};
  const fs::path& opt = paths.opt_seen;
  launch.env.emplace_back("NODE_PATH", (opt / ("nodejs/node" + r.version) / "node_modules").string() + ":" +
                                           (opt / "nodejs/node_modules").string() + ":" +
                                           (rt / "node_modules").string() + ":" + rt.string() + ":" +
                                           paths.task_seen.string());
  if (fs::is_regular_file(paths.runtime_host / "ca-cert.pem", ec)) {
    launch.env.emplace_back("NODE_EXTRA_CA_CERTS", (rt / "ca-cert.pem").string());
  }
  launch.argv.insert(launch.argv.end(), entry.begin(), entry.end());
  return {};
}

}  // namespace

Result<Launch> managed_launch(const Runtime& r, const RuntimePaths& paths, const std::string& handler,
                              unsigned memory_mb, const std::vector<std::pair<std::string, std::string>>& env) {
  if (r.language == Language::Provided) return fail(Errc::InvalidArgument, "{} runs a bootstrap", r.name);
  if (auto dirs = check_runtime_dirs(r, paths); !dirs) return std::unexpected(dirs.error());
  Launch launch;
  launch.env.emplace_back("AWS_EXECUTION_ENV", "AWS_Lambda_" + r.name);
  auto built = r.language == Language::Java     ? java_launch(r, paths, handler, memory_mb, launch)
               : r.language == Language::Python ? python_launch(r, paths, handler, env, launch)
                                                : node_launch(r, paths, handler, memory_mb, launch);
  if (!built) return std::unexpected(built.error());
  // Every managed runtime's bootstrap ends alike:
  //   exec -- "$AWS_LAMBDA_EXEC_WRAPPER" <command line>   when it is set, else the command line itself.
  if (const std::string* wrapper = user_value(env, "AWS_LAMBDA_EXEC_WRAPPER");
      wrapper != nullptr && !wrapper->empty()) {
    launch.argv.insert(launch.argv.begin(), *wrapper);
  }
  return launch;
}

}  // namespace tmpdump::emulator
