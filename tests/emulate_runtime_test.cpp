// `tmpdump emulate --runtime java17|python3.12|nodejs20.x`: the emulator starts
// the managed runtime with Lambda's command line, through the layer's
// tmpdump-exec-wrapper, and the handler uses a native library that exists only
// in the tmpdump. The runtime interface clients are stand-ins
// (tests/runtimes/) except Node's npm package, aws-lambda-ric 3.3.0: Java's
// real one comes from Maven, which is not reachable here, and Lambda's own
// /var/runtime/index.mjs is not published. Each stand-in loads the handler as
// the real one does and reports the command line it was started with.
#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "functions/lambda.hpp"
#include "support/process.hpp"

namespace tmpdump::testing {
namespace {

namespace fs = std::filesystem;

fs::path fixtures() {
  return source_dir() / "tests/runtimes";
}
fs::path wrapper_fixtures() {
  return source_dir() / "tests/wrapper";
}

bool have(const std::string& program) {
  return run({"sh", "-c", "command -v " + program}).exit_code == 0;
}

void run_ok(const std::vector<std::string>& argv) {
  auto r = run(argv);
  ASSERT_EQ(r.exit_code, 0) << argv.front() << ": " << r.all();
}

/// The function, the layer (the real bootstrap, its pull module and the exec
/// wrapper, as layer.zip ships them) and a --runtime-dir, all under one TempDir.
struct RuntimeDirs : LambdaDirs {
  fs::path runtime = tmp / "runtime", dump = tmp / "dump";

  RuntimeDirs() {
    fs::create_directories(runtime);
    fs::create_directories(dump / "lib");
    fs::copy_file(build_dir() / "src/wrapper/tmpdump-exec-wrapper", layer / "tmpdump-exec-wrapper");
    fs::copy_file(plain_testdep(tmp / "plain"), dump / "lib/libtmpdump_testdep.so");
  }

  /// /var/runtime in the sandbox, else the host directory.
  [[nodiscard]] std::string runtime_seen(const std::string& rel = "") const {
    const fs::path at = sandboxed() ? fs::path("/var/runtime") : runtime;
    return rel.empty() ? at.string() : (at / rel).string();
  }

  /// The dump directory zipped (zip -y -r) into the function package, where
  /// the sandboxed runtime can read it; returns the --env lines that name it
  /// and the exec wrapper as the runtime sees them.
  [[nodiscard]] std::vector<std::string> tmpdump_env() const {
    const fs::path zip = function / "tmpdumps/dump.zip";
    fs::create_directories(zip.parent_path());
    std::vector<std::string> argv{"zip", "-q", "-y", "-r", zip.string()};
    for (const auto& e : fs::directory_iterator(dump)) argv.push_back(e.path().filename().string());
    EXPECT_EQ(run(argv, {.cwd = dump}).exit_code, 0);
    return {"--env", "TMPDUMP_SOURCES=" + seen(zip), "--env",
            "AWS_LAMBDA_EXEC_WRAPPER=" + seen(layer / "tmpdump-exec-wrapper")};
  }

  RunResult emulate(const std::string& runtime_name, const std::string& handler, std::vector<std::string> extra,
                    const fs::path& runtime_dir = {}) const {
    std::vector<std::string> args{"--runtime", runtime_name, "--runtime-dir",
                                  (runtime_dir.empty() ? runtime : runtime_dir).string()};
    args.insert(args.end(), extra.begin(), extra.end());
    return emulate_once(handler, "\"event\"", args);
  }
};

/// The native addon and the library it needs, only in the tmpdump; false when
/// node's headers are missing.
bool add_node_addon(const RuntimeDirs& d) {
  const fs::path napi = "/usr/include/node/node_api.h";
  if (!fs::exists(napi)) return false;
  fs::create_directories(d.dump / "nodejs");
  // N-API symbols come from the node binary at load time.
  compile({"-shared", "-fPIC", "-I" + napi.parent_path().string(), "-I" + (source_dir() / "tests/functions").string(),
           "-I" + (source_dir() / "include").string(), (fixtures() / "node/greet_addon.c").string(), "-o",
           (d.dump / "nodejs/greet.node").string(), "-L" + (d.tmp / "plain").string(), "-ltmpdump_testdep"});
  return true;
}

/// The Java stand-in's jar in d.runtime/lib, the handler in the function;
/// false without javac and jar.
bool build_java(const RuntimeDirs& d) {
  if (!build_java_runtime_client(d.runtime, d.tmp.path())) return false;
  const fs::path greeter = d.tmp / "greeter-classes";
  run_ok({"javac", "-d", greeter.string(), (wrapper_fixtures() / "java/lib/example/Greeter.java").string()});
  run_ok({"jar", "cf", (d.function / "lib/greeter.jar").string(), "-C", greeter.string(), "."});
  run_ok({"javac", "-cp", greeter.string(), "-d", d.function.string(),
          (wrapper_fixtures() / "java/handler/example/Handler.java").string()});
  return true;
}

TEST(EmulateRuntime, Java17StartsTheJvmWithLambdasCommandLineAndTheWrapperLoadsTheJniLibraryFromTheTmpdump) {
  RuntimeDirs d;
  // The client's jar in --runtime-dir/lib, as in Lambda's /var/runtime/lib; the
  // handler in the task root, its helper class in a jar in the task's lib/.
  if (!build_java(d)) GTEST_SKIP() << "no javac/jar: the Java stand-in cannot be built";
  // Its JNI library exists only in the tmpdump.
  const fs::path jdk_include = fs::canonical("/usr/bin/javac").parent_path().parent_path() / "include";
  compile({"-shared", "-fPIC", "-I" + jdk_include.string(), "-I" + (jdk_include / "linux").string(),
           "-I" + (source_dir() / "tests/functions").string(), "-I" + (source_dir() / "include").string(),
           (wrapper_fixtures() / "jni_greeting.c").string(), "-o", (d.dump / "lib/libtmpdumpjni.so").string(),
           "-L" + (d.tmp / "plain").string(), "-ltmpdump_testdep"});
  const auto env = d.tmpdump_env();

  auto r = d.emulate("java17", "example.Handler::handleRequest", env);
  ASSERT_EQ(r.exit_code, 0) << r.all();
  EXPECT_TRUE(contains(r.out, R"("handler":"Hello, hello from the tmpdump")")) << r.out;
  EXPECT_TRUE(contains(r.out, R"("args":["example.Handler::handleRequest"])")) << r.out;
  // Lambda's options, in Lambda's order (1,769 MB: all but 240 MB of heap); the
  // wrapper adds the tmpdump's lib/ as java.library.path after them.
  EXPECT_TRUE(contains(r.out, R"("jvm":["-XX:MaxHeapSize=1565696k","-XX:+UseSerialGC","-Xshare:auto",)"
                              R"("-XX:+TieredCompilation","-XX:TieredStopAtLevel=1",)"
                              R"("--add-opens=java.base/java.io=ALL-UNNAMED",)"
                              R"("-Dorg.crac.Core.Compat=com.amazonaws.services.lambda.crac",)"
                              R"("-Djava.net.preferIPv4Stack=true","-XX:+ErrorFileToStderr",)"
                              R"("-Djava.library.path=)" +
                                  d.root.string() + "/lib:"))
      << r.out;
  EXPECT_TRUE(contains(r.out, R"("maxHeapBytes":)")) << r.out;
  EXPECT_TRUE(contains(r.out, R"("classpath":")" + d.runtime_seen("lib/aws-lambda-java-runtime-interface-client.jar")))
      << r.out;
  EXPECT_TRUE(contains(r.out, R"("execEnv":"AWS_Lambda_java17")")) << r.out;
  EXPECT_TRUE(contains(r.err, "tmpdump-exec-wrapper: init in ")) << r.err;
  EXPECT_TRUE(contains(r.err, "REPORT RequestId: ")) << r.err;

  // Without the wrapper the same command line cannot load the library: an init error.
  auto bare = d.emulate("java17", "example.Handler::handleRequest", {env[0], env[1]});
  EXPECT_EQ(bare.exit_code, 14) << bare.all();
  EXPECT_TRUE(contains(bare.out, "UnsatisfiedLinkError")) << bare.all();
}

TEST(EmulateRuntime, Java21WithLangDirRunsThatJdkMountedAtVarLang) {
  RuntimeDirs d;
  if (!build_java(d)) GTEST_SKIP() << "no javac/jar: the Java stand-in cannot be built";
  const fs::path jdk = fs::canonical("/usr/bin/java").parent_path().parent_path();
  const std::string lang = d.sandboxed() ? "/var/lang" : jdk.string();
  compile({"-shared", "-fPIC", "-I" + (jdk / "include").string(), "-I" + (jdk / "include/linux").string(),
           "-I" + (source_dir() / "tests/functions").string(), "-I" + (source_dir() / "include").string(),
           (wrapper_fixtures() / "jni_greeting.c").string(), "-o", (d.dump / "lib/libtmpdumpjni.so").string(),
           "-L" + (d.tmp / "plain").string(), "-ltmpdump_testdep"});
  auto env = d.tmpdump_env();
  env.insert(env.end(), {"--lang-dir", jdk.string()});
  auto ok = d.emulate("java21", "example.Handler::handleRequest", env);
  ASSERT_EQ(ok.exit_code, 0) << ok.all();
  EXPECT_TRUE(contains(ok.out, R"("jvm":["-XX:MaxHeapSize=1565696k",)")) << ok.out;
  EXPECT_TRUE(contains(ok.out, R"("javaHome":")" + lang + "\"")) << ok.out;
  EXPECT_TRUE(contains(ok.out, R"("execEnv":"AWS_Lambda_java21")")) << ok.out;
}

class EmulatePython : public ::testing::TestWithParam<const char*> {};

TEST_P(EmulatePython, Python312RunsTheClientModuleWithLambdasPathsAndTheTmpdumpsExtension) {
  RuntimeDirs d;
  d.sandbox = GetParam();
  fs::copy(fixtures() / "python/awslambdaric", d.runtime / "awslambdaric");
  fs::copy_file(fixtures() / "python/app.py", d.function / "app.py");
  fs::create_directories(d.layer / "python");
  write_file(d.layer / "python/layermod.py", "def where():\n    return __file__\n");
  // A pure module and a C extension (needing lib/libtmpdump_testdep.so) only in the tmpdump.
  fs::create_directories(d.dump / "python");
  fs::copy_file(wrapper_fixtures() / "python/puremod.py", d.dump / "python/puremod.py");
  auto include = run({"/usr/bin/python3", "-c", "import sysconfig; print(sysconfig.get_paths()['include'], end='')"});
  ASSERT_EQ(include.exit_code, 0) << include.all();
  compile({"-shared", "-fPIC", "-I" + include.out, "-I" + (source_dir() / "tests/functions").string(),
           "-I" + (source_dir() / "include").string(), (wrapper_fixtures() / "tmpdump_cext.c").string(), "-o",
           (d.dump / "python/tmpdump_cext.so").string(), "-L" + (d.tmp / "plain").string(), "-ltmpdump_testdep"});

  auto r = d.emulate("python3.12", "app.handler", d.tmpdump_env());
  ASSERT_EQ(r.exit_code, 0) << r.all();
  EXPECT_TRUE(contains(r.out, R"("cext": "hello from the tmpdump")")) << r.out;
  EXPECT_TRUE(contains(r.out, R"("puremod": "pure module from the tmpdump")")) << r.out;
  EXPECT_TRUE(contains(r.out, R"("layermod": ")" + d.seen(d.layer / "python/layermod.py") + "\"")) << r.out;
  EXPECT_TRUE(contains(r.out, R"(/awslambdaric/__main__.py", "app.handler"])")) << r.out;
  EXPECT_TRUE(contains(r.out, R"("exec_env": "AWS_Lambda_python3.12")")) << r.out;
  EXPECT_TRUE(contains(r.out, R"("app_root": ")" + d.seen(d.function) + "\"")) << r.out;
  // sys.path: the task, the tmpdump's python/ (the wrapper's), the layer's
  // site-packages and python/, then /var/runtime.
  const std::string task = d.seen(d.function), opt = d.seen(d.layer);
  const auto at = [&](const std::string& entry) { return r.out.find("\"" + entry + "\""); };
  ASSERT_NE(at((d.root / "python").string()), std::string::npos) << r.out;
  EXPECT_LT(at(task), at((d.root / "python").string())) << r.out;
  EXPECT_LT(at((d.root / "python").string()), at(opt + "/python/lib/python3.12/site-packages")) << r.out;
  EXPECT_LT(at(opt + "/python/lib/python3.12/site-packages"), at(opt + "/python")) << r.out;
  EXPECT_LT(at(opt + "/python"), at(d.runtime_seen())) << r.out;
  EXPECT_TRUE(contains(r.err, "tmpdump-exec-wrapper: init in ")) << r.err;
}

INSTANTIATE_TEST_SUITE_P(Sandbox, EmulatePython, ::testing::Values("auto", "off"));

// Lambda's layout: /var/runtime/index.mjs, the handler from $_HANDLER (a stand-in for Lambda's bundled client).
TEST(EmulateRuntime, Nodejs20StartsNodeWithLambdasFlagsAndTheHandlerLoadsANativeAddonFromTheTmpdump) {
  if (!have("node")) GTEST_SKIP() << "no node";
  RuntimeDirs d;
  fs::copy_file(fixtures() / "node/index.mjs", d.runtime / "index.mjs");
  fs::copy_file(fixtures() / "node/handler.js", d.function / "handler.js");
  if (!add_node_addon(d)) GTEST_SKIP() << "no node headers: the test addon cannot be built";

  auto r = d.emulate("nodejs20.x", "handler.handler", d.tmpdump_env());
  ASSERT_EQ(r.exit_code, 0) << r.all();
  EXPECT_TRUE(contains(r.out, R"("addon":"hello from the tmpdump")")) << r.out;
  // 1,769 MB: new space 176, semi space 88, old space 1,593.
  EXPECT_TRUE(contains(r.out, R"("execArgv":["--expose-gc","--max-http-header-size","81920",)"
                              R"("--max-semi-space-size=88","--max-old-space-size=1593"])"))
      << r.out;
  EXPECT_TRUE(contains(r.out, "\",\"" + d.runtime_seen("index.mjs") + "\"]")) << r.out;
  const std::string opt = d.seen(d.layer);
  EXPECT_TRUE(contains(r.out, R"("nodePath":")" + opt + "/nodejs/node20/node_modules:" + opt +
                                  "/nodejs/node_modules:" + d.runtime_seen("node_modules") + ":" + d.runtime_seen() +
                                  ":" + d.seen(d.function) + "\""))
      << r.out;
  EXPECT_TRUE(contains(r.out, R"("execEnv":"AWS_Lambda_nodejs20.x")")) << r.out;
  EXPECT_TRUE(contains(r.err, "tmpdump-exec-wrapper: init in ")) << r.err;
}

// The real aws-lambda-ric 3.3.0 from npm (tests/runtimes/node-ric, installed
// and built by scripts/install-deps), started by its own entry.
TEST(EmulateRuntime, Nodejs20RunsTheRealNpmRuntimeClientThroughTheWrapperWithANativeAddonFromTheTmpdump) {
  if (!have("node")) GTEST_SKIP() << "no node";
  const fs::path ric = fixtures() / "node-ric";
  ASSERT_TRUE(fs::exists(ric / "node_modules/aws-lambda-ric/dist/rapid-client.node"))
      << "aws-lambda-ric is not installed: run scripts/install-deps";
  RuntimeDirs d;
  fs::copy_file(fixtures() / "node/handler.js", d.function / "handler.js");
  if (!add_node_addon(d)) GTEST_SKIP() << "no node headers: the test addon cannot be built";

  auto r = d.emulate("nodejs20.x", "handler.handler", d.tmpdump_env(), ric);
  ASSERT_EQ(r.exit_code, 0) << r.all();
  EXPECT_TRUE(contains(r.out, R"("addon":"hello from the tmpdump")")) << r.out;
  EXPECT_TRUE(contains(r.out, R"("execArgv":["--expose-gc","--max-http-header-size","81920",)"
                              R"("--max-semi-space-size=88","--max-old-space-size=1593"])"))
      << r.out;
  const std::string entry =
      (d.sandboxed() ? fs::path("/var/runtime") : ric).string() + "/node_modules/aws-lambda-ric/bin/index.mjs";
  EXPECT_TRUE(contains(r.out, R"(",")" + entry + R"(","handler.handler"])")) << r.out;
  EXPECT_TRUE(contains(r.out, R"("event":"event")")) << r.out;
  EXPECT_TRUE(contains(r.err, "Executing 'handler.handler' in function directory '" + d.seen(d.function) + "'"))
      << r.err;
  EXPECT_TRUE(contains(r.err, "tmpdump-exec-wrapper: init in ")) << r.err;
}

TEST(EmulateRuntime, AnExecWrapperThatIsNotThereIsAnInitErrorNamingIt) {
  RuntimeDirs d;
  fs::copy(fixtures() / "python/awslambdaric", d.runtime / "awslambdaric");
  const std::string missing = d.seen(d.layer / "no-such-wrapper");
  auto r = d.emulate("python3.12", "app.handler", {"--env", "AWS_LAMBDA_EXEC_WRAPPER=" + missing});
  EXPECT_EQ(r.exit_code, 14) << r.all();
  EXPECT_TRUE(contains(r.err, "cannot execute " + missing + ": No such file or directory")) << r.err;
  EXPECT_TRUE(contains(r.out, "Runtime.ExitError")) << r.out;
}

TEST(EmulateRuntime, AMissingRuntimePieceIsOneUsageLineNamingWhatToGive) {
  RuntimeDirs d;
  auto no_dir = d.emulate_once("H", "{}", {"--runtime", "java21"});
  EXPECT_EQ(no_dir.exit_code, 2) << no_dir.all();
  EXPECT_EQ(no_dir.out, "");
  EXPECT_EQ(std::ranges::count(no_dir.err, '\n'), 1) << no_dir.err;
  EXPECT_TRUE(contains(no_dir.err, "tmpdump emulate: ")) << no_dir.err;
  EXPECT_TRUE(contains(no_dir.err, "--runtime java21 needs --runtime-dir DIR")) << no_dir.err;

  auto empty = d.emulate("python3.13", "app.handler", {});
  EXPECT_EQ(empty.exit_code, 2) << empty.all();
  EXPECT_TRUE(contains(empty.err, "has no awslambdaric/")) << empty.err;

  auto no_lang = d.emulate("nodejs22.x", "h.h", {"--lang-dir", (d.tmp / "no-such-lang").string()});
  EXPECT_EQ(no_lang.exit_code, 2) << no_lang.all();

  auto provided = d.emulate_once("H", "{}", {"--runtime", "provided.al2023", "--runtime-dir", d.runtime.string()});
  EXPECT_EQ(provided.exit_code, 2) << provided.all();
  EXPECT_TRUE(contains(provided.err, "provided.al2023 runs a bootstrap")) << provided.err;

  auto unknown = d.emulate_once("H", "{}", {"--runtime", "java8"});
  EXPECT_EQ(unknown.exit_code, 2) << unknown.all();
  EXPECT_TRUE(contains(unknown.err, "--runtime must be one of java17, java21")) << unknown.err;
}

}  // namespace
}  // namespace tmpdump::testing
