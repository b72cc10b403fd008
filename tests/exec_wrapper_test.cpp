// tmpdump-exec-wrapper in front of real runtimes: a Java command line shaped
// like Lambda's (with a stand-in for its entry class that loads the handler
// the way the real one does), Debian's python3, and a program that prints its
// arguments; plus the ways it must fail before the runtime starts. Fixtures
// (tests/wrapper/) are compiled here with javac and gcc.
#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "functions/lambda.hpp"
#include "support/process.hpp"
#include "support/s3_server.hpp"

namespace tmpdump::testing {
namespace {

namespace fs = std::filesystem;

const std::string kJavaMain = "com.amazonaws.services.lambda.runtime.api.client.AWSLambda";

fs::path wrapper_bin() {
  return build_dir() / "src/wrapper/tmpdump-exec-wrapper";
}
fs::path fixtures() {
  return source_dir() / "tests/wrapper";
}

std::size_t lines(const std::string& text) {
  return static_cast<std::size_t>(std::ranges::count(text, '\n'));
}

// The NUL-separated output of printargs, split.
std::vector<std::string> split_nul(const std::string& out) {
  std::vector<std::string> parts;
  std::string cur;
  for (char c : out) {
    if (c == '\0') {
      parts.push_back(std::move(cur));
      cur.clear();
    } else {
      cur += c;
    }
  }
  return parts;
}

void run_ok(const std::vector<std::string>& argv, const RunOptions& options = {}) {
  auto r = run(argv, options);
  ASSERT_EQ(r.exit_code, 0) << argv.front() << ": " << r.all();
}

/// A function directory (the stand-in for /var/task), a tmpdump root and a
/// directory to assemble the tmpdump in.
struct Dirs {
  TempDir tmp;
  fs::path task = tmp / "task", root = tmp / "root", dump = tmp / "dump", bin = tmp / "bin";

  Dirs() {
    for (const auto& d : {task, root, dump / "lib", bin}) fs::create_directories(d);
  }

  /// zip -y -r of the dump directory, the Java layer's way.
  fs::path zip() const {
    const fs::path out = tmp / "dump.zip";
    std::vector<std::string> argv{"zip", "-q", "-y", "-r", out.string()};
    for (const auto& e : fs::directory_iterator(dump)) argv.push_back(e.path().filename().string());
    EXPECT_EQ(run(argv, {.cwd = dump}).exit_code, 0);
    return out;
  }

  /// printargs compiled into bin/<name>.
  fs::path printargs(const std::string& name = "printargs") const {
    const fs::path out = bin / name;
    if (!fs::exists(out)) compile({(fixtures() / "printargs.c").string(), "-o", out.string()});
    return out;
  }

  /// The environment every wrapper run gets: this task and root, nothing
  /// configured unless the test says so, text lines and no EMF record (so
  /// stdout is exactly the program's; WritesItsEmfRecordBeforeTheProgram
  /// turns them on).
  EnvChanges env(EnvChanges more = {}) const {
    EnvChanges e{{"LAMBDA_TASK_ROOT", task.string()},
                 {"TMPDUMP_ROOT", root.string()},
                 {"TMPDUMP_SOURCES", std::nullopt},
                 {"TMPDUMP_BUCKET", std::nullopt},
                 {"HUMANGRAPHICS_BUCKET", std::nullopt},
                 {"AWS_LAMBDA_RUNTIME_API", std::nullopt},
                 {"AWS_LAMBDA_INITIALIZATION_TYPE", std::nullopt},
                 {"TMPDUMP_JAVA_REMOVE_FLAGS", std::nullopt},
                 {"TMPDUMP_JAVA_ADD_FLAGS", std::nullopt},
                 {"PYTHONPATH", std::nullopt},
                 {"LD_LIBRARY_PATH", std::nullopt},
                 {"TMPDUMP_PROGRESS", "0"},
                 {"TMPDUMP_METRICS", "0"},
                 {"AWS_LAMBDA_LOG_FORMAT", std::nullopt},
                 {"AWS_LAMBDA_LOG_LEVEL", std::nullopt}};
    for (auto& [k, v] : more) e[k] = v;
    return e;
  }
};

fs::path jdk_include() {
  return fs::canonical("/usr/bin/javac").parent_path().parent_path() / "include";
}

/// Builds the Java fixtures: the runtime stand-in as a jar (returned), the
/// handler's classes in the task directory, a jar in the task's lib/, and the
/// JNI library plus its dependency in the dump's lib/.
fs::path build_java(const Dirs& d) {
  const fs::path java = fixtures() / "java";
  const fs::path rt_classes = d.tmp / "rt-classes", greeter_classes = d.tmp / "greeter-classes";
  run_ok({"javac", "-d", rt_classes.string(), (java / "runtime/AWSLambda.java").string()});
  const fs::path rt_jar = d.tmp / "runtime/aws-lambda-java-runtime-interface-client.jar";
  fs::create_directories(rt_jar.parent_path());
  run_ok({"jar", "cf", rt_jar.string(), "-C", rt_classes.string(), "."});
  run_ok({"javac", "-d", greeter_classes.string(), (java / "lib/example/Greeter.java").string()});
  fs::create_directories(d.task / "lib");
  run_ok({"jar", "cf", (d.task / "lib/greeter.jar").string(), "-C", greeter_classes.string(), "."});
  run_ok({"javac", "-cp", greeter_classes.string(), "-d", d.task.string(),
          (java / "handler/example/Handler.java").string()});

  const fs::path testdep = plain_testdep(d.tmp / "plain");
  compile({"-shared", "-fPIC", "-I" + jdk_include().string(), "-I" + (jdk_include() / "linux").string(),
           "-I" + (source_dir() / "tests/functions").string(), "-I" + (source_dir() / "include").string(),
           (fixtures() / "jni_greeting.c").string(), "-o", (d.dump / "lib/libtmpdumpjni.so").string(),
           "-L" + testdep.parent_path().string(), "-ltmpdump_testdep"});
  fs::copy_file(testdep, d.dump / "lib/libtmpdump_testdep.so");
  return rt_jar;
}

/// Lambda's java17 command line, with the runtime stand-in's jar.
std::vector<std::string> lambda_java_command(const fs::path& rt_jar) {
  return {"/usr/bin/java",
          "-XX:+UseSerialGC",
          "-Xshare:auto",
          "-XX:+TieredCompilation",
          "-XX:TieredStopAtLevel=1",
          "-Djava.net.preferIPv4Stack=true",
          "-classpath",
          rt_jar.string(),
          kJavaMain,
          "example.Handler::handleRequest"};
}

TEST(ExecWrapper, JavaHandlerLoadsFromTheSystemClassLoaderWithItsJniLibraryFromTheTmpdump) {
  S3Server s3;
  Dirs d;
  const fs::path rt_jar = build_java(d);
  s3.put(d.zip(), "tmpdump/java-fn.zip");
  const auto command = lambda_java_command(rt_jar);

  EnvChanges env = d.env({{"TMPDUMP_BUCKET", S3Server::kBucket}, {"AWS_LAMBDA_FUNCTION_NAME", "java-fn"}});
  for (const auto& [k, v] : s3.client_env()) env[k] = v;

  // Without the wrapper the real runtime's layout breaks the handler.
  auto bare = run(command, {.env = env, .timeout = std::chrono::seconds(60)});
  EXPECT_NE(bare.exit_code, 0) << bare.all();
  EXPECT_TRUE(contains(bare.out, "handler loader: child")) << bare.out;
  EXPECT_TRUE(contains(bare.out, "UnsatisfiedLinkError")) << bare.out;

  std::vector<std::string> wrapped{wrapper_bin().string()};
  wrapped.insert(wrapped.end(), command.begin(), command.end());
  auto r = run(wrapped, {.env = env, .timeout = std::chrono::seconds(60)});
  ASSERT_EQ(r.exit_code, 0) << r.all();
  EXPECT_TRUE(contains(r.out, "handler loader: system")) << r.out;
  EXPECT_TRUE(contains(r.out, "greeter loader: system")) << r.out;
  EXPECT_TRUE(contains(r.out, "handler says: Hello, hello from the tmpdump")) << r.out;
  EXPECT_TRUE(contains(r.out, "java.library.path: " + (d.root / "lib").string() + ":")) << r.out;
  EXPECT_TRUE(contains(r.out, "-XX:TieredStopAtLevel=1")) << r.out;  // no edits unless asked
  EXPECT_TRUE(contains(r.err, "tmpdump-exec-wrapper: init in ")) << r.err;
  EXPECT_TRUE(contains(r.err, "from TMPDUMP_BUCKET, cache miss")) << r.err;
  EXPECT_TRUE(fs::exists(d.root / "lib/libtmpdumpjni.so"));
}

TEST(ExecWrapper, JavaFlagEditsReachTheJvm) {
  Dirs d;
  const fs::path rt_jar = build_java(d);
  const fs::path zip = d.zip();
  std::vector<std::string> wrapped{wrapper_bin().string()};
  const auto command = lambda_java_command(rt_jar);
  wrapped.insert(wrapped.end(), command.begin(), command.end());
  auto r = run(wrapped, {.env = d.env({{"TMPDUMP_SOURCES", zip.string()},
                                       {"TMPDUMP_JAVA_REMOVE_FLAGS", "-XX:TieredStopAtLevel"},
                                       {"TMPDUMP_JAVA_ADD_FLAGS", "-XX:-TieredCompilation -Xss2m"}}),
                         .timeout = std::chrono::seconds(60)});
  ASSERT_EQ(r.exit_code, 0) << r.all();
  EXPECT_FALSE(contains(r.out, "TieredStopAtLevel")) << r.out;
  EXPECT_TRUE(contains(r.out, "-XX:+TieredCompilation, -Djava.net.preferIPv4Stack=true, -Djava.library.path="))
      << r.out;
  EXPECT_TRUE(contains(r.out, "-XX:-TieredCompilation, -Xss2m]")) << r.out;
  EXPECT_TRUE(contains(r.out, "handler says: Hello, hello from the tmpdump")) << r.out;
  EXPECT_TRUE(contains(r.err, "1 option(s) removed")) << r.err;
}

TEST(ExecWrapper, PythonImportsAPureModuleAndACExtensionThatLiveOnlyInTheTmpdump) {
  Dirs d;
  fs::create_directories(d.dump / "python");
  fs::copy_file(fixtures() / "python/puremod.py", d.dump / "python/puremod.py");
  auto include = run({"/usr/bin/python3", "-c", "import sysconfig; print(sysconfig.get_paths()['include'], end='')"});
  ASSERT_EQ(include.exit_code, 0) << include.all();
  const fs::path testdep = plain_testdep(d.tmp / "plain");
  compile({"-shared", "-fPIC", "-I" + include.out, "-I" + (source_dir() / "tests/functions").string(),
           "-I" + (source_dir() / "include").string(), (fixtures() / "tmpdump_cext.c").string(), "-o",
           (d.dump / "python/tmpdump_cext.so").string(), "-L" + testdep.parent_path().string(), "-ltmpdump_testdep"});
  fs::copy_file(testdep, d.dump / "lib/libtmpdump_testdep.so");
  const fs::path zip = d.zip();

  const std::vector<std::string> command{
      "/usr/bin/python3", "-c",
      "import puremod, tmpdump_cext\nprint(puremod.hello())\nprint(tmpdump_cext.greeting())\nprint(puremod.__file__)"};
  // TMPDUMP_METRICS=0: stdout is then exactly the program's.
  const auto env =
      d.env({{"TMPDUMP_SOURCES", zip.string()}, {"PYTHONPATH", "/nonexistent/runtime"}, {"TMPDUMP_METRICS", "0"}});
  auto bare = run(command, {.env = env});
  EXPECT_NE(bare.exit_code, 0);
  EXPECT_TRUE(contains(bare.err, "ModuleNotFoundError")) << bare.all();

  std::vector<std::string> wrapped{wrapper_bin().string()};
  wrapped.insert(wrapped.end(), command.begin(), command.end());
  auto r = run(wrapped, {.env = env});
  ASSERT_EQ(r.exit_code, 0) << r.all();
  EXPECT_EQ(r.out,
            "pure module from the tmpdump\nhello from the tmpdump\n" + (d.root / "python/puremod.py").string() + "\n");
  EXPECT_TRUE(contains(r.err, "python: PYTHONPATH +" + (d.root / "python").string())) << r.err;
}

const std::vector<std::string> kAwkwardArguments = {"a b",
                                                    "",
                                                    "'single quoted'",
                                                    "\"double\"",
                                                    "x=y",
                                                    "=",
                                                    "==",
                                                    " lead and trail ",
                                                    "tab\there",
                                                    "new\nline",
                                                    "-Djava.library.path=not-mine",
                                                    "-cp",
                                                    "--help",
                                                    "$HOME",
                                                    "\\back\\slash",
                                                    "ünïcødé",
                                                    "*",
                                                    ""};

TEST(ExecWrapper, ArgumentsPassThroughByteForByte) {
  Dirs d;
  std::vector<std::string> command{d.printargs().string()};
  command.insert(command.end(), kAwkwardArguments.begin(), kAwkwardArguments.end());
  std::vector<std::string> wrapped{wrapper_bin().string()};
  wrapped.insert(wrapped.end(), command.begin(), command.end());
  auto r = run(wrapped, {.env = d.env({{"LD_LIBRARY_PATH", "/inherited"}})});
  ASSERT_EQ(r.exit_code, 0) << r.all();
  auto printed = split_nul(r.out);
  ASSERT_EQ(printed.size(), command.size() + 2) << r.out;
  EXPECT_EQ(std::vector<std::string>(printed.begin(), printed.begin() + static_cast<std::ptrdiff_t>(command.size())),
            command);
  EXPECT_EQ(printed[command.size()], "LD_LIBRARY_PATH=" + (d.task / "lib").string() + ":/inherited");
  EXPECT_EQ(printed[command.size() + 1], "PYTHONPATH=<unset>");
  EXPECT_TRUE(contains(r.err, "no tmpdump configured; printargs: environment only")) << r.err;
}

TEST(ExecWrapper, JavaApplicationArgumentsPassThroughByteForByte) {
  Dirs d;
  const fs::path java = d.printargs("java");
  std::vector<std::string> command{java.string(), "-Dkeep= spaces =", "-cp", "a b.jar", "Main"};
  command.insert(command.end(), kAwkwardArguments.begin(), kAwkwardArguments.end());
  std::vector<std::string> wrapped{wrapper_bin().string()};
  wrapped.insert(wrapped.end(), command.begin(), command.end());
  auto r = run(wrapped, {.env = d.env()});
  ASSERT_EQ(r.exit_code, 0) << r.all();
  auto printed = split_nul(r.out);
  ASSERT_EQ(printed.size(), command.size() + 1 + 2) << r.out;
  std::vector<std::string> want{
      java.string(),
      "-Dkeep= spaces =",
      "-cp",
      "a b.jar:" + d.task.string() + ":" + (d.task / "lib/*").string(),
      "-Djava.library.path=" + (d.task / "lib").string() + ":/usr/java/packages/lib:/usr/lib64:/lib64:/lib:/usr/lib",
      "Main"};
  want.insert(want.end(), kAwkwardArguments.begin(), kAwkwardArguments.end());
  EXPECT_EQ(std::vector<std::string>(printed.begin(), printed.begin() + static_cast<std::ptrdiff_t>(want.size())),
            want);
}

TEST(ExecWrapper, MissingObjectFailsInOneLineNamingBucketAndKeyBeforeTheRuntimeStarts) {
  S3Server s3;
  Dirs d;
  EnvChanges env = d.env({{"TMPDUMP_SOURCES", "s3://dumps/tmpdump/no-such-fn.zip"}});
  for (const auto& [k, v] : s3.client_env()) env[k] = v;
  auto r = run({wrapper_bin().string(), d.printargs().string(), "runtime-started"}, {.env = env});
  EXPECT_EQ(r.exit_code, 3) << r.all();  // NotFound
  EXPECT_EQ(r.out, "");                  // the runtime never ran
  EXPECT_EQ(lines(r.err), 1u) << r.err;
  EXPECT_TRUE(r.err.starts_with("tmpdump-exec-wrapper: TmpDump.NotFound: ")) << r.err;
  EXPECT_TRUE(contains(r.err, "dumps")) << r.err;
  EXPECT_TRUE(contains(r.err, "tmpdump/no-such-fn.zip")) << r.err;
  EXPECT_FALSE(contains(r.all(), S3Server::kSecret));
}

TEST(ExecWrapper, SnapStartRefusesATmpdumpOver512MBBeforeExtracting) {
  Dirs d;
  // 513 MiB of zeros, deflated to about 2 MB.
  const fs::path zip = d.tmp / "big.zip";
  run_ok({"/usr/bin/python3", "-c",
          "import sys, zipfile\n"
          "with zipfile.ZipFile(sys.argv[1], 'w', compression=zipfile.ZIP_DEFLATED, compresslevel=1) as z:\n"
          "  with z.open('lib/big.bin', 'w') as f:\n"
          "    b = bytes(1 << 20)\n"
          "    for i in range(513): f.write(b)\n",
          zip.string()});
  auto r = run({wrapper_bin().string(), d.printargs().string()},
               {.env = d.env({{"TMPDUMP_SOURCES", zip.string()}, {"AWS_LAMBDA_INITIALIZATION_TYPE", "snap-start"}})});
  EXPECT_EQ(r.exit_code, 8) << r.all();  // NoSpace
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(lines(r.err), 1u) << r.err;
  EXPECT_TRUE(contains(r.err, "TmpDump.NoSpace")) << r.err;
  EXPECT_TRUE(contains(r.err, "512 MB")) << r.err;
  EXPECT_TRUE(contains(r.err, "SnapStart")) << r.err;
  EXPECT_TRUE(contains(r.err, "unpack to 513.0 MiB")) << r.err;
  EXPECT_FALSE(fs::exists(d.root / "lib"));
  for (const auto& e : fs::directory_iterator(d.root)) {
    EXPECT_FALSE(e.path().filename().string().starts_with(".tmpdump-staging-")) << e.path();
  }
}

TEST(ExecWrapper, SnapStartPullsWithContainerCredentials) {
  S3Server s3;
  Dirs d;
  fs::copy_file(plain_testdep(d.tmp / "plain"), d.dump / "lib/libtmpdump_testdep.so");
  s3.put(d.zip(), "tmpdump/snap-fn.zip");
  const std::string token = "container-token-0123456789";
  Background creds({"/usr/bin/python3", (fixtures() / "credentials_server.py").string()},
                   {{"TOKEN", token}, {"KEY_ID", S3Server::kKeyId}, {"SECRET", S3Server::kSecret}});
  auto line = creds.wait_for_line("listening on ", std::chrono::seconds(20));
  ASSERT_TRUE(line);
  const std::string port = line->substr(std::string("listening on ").size());

  EnvChanges env =
      d.env({{"TMPDUMP_SOURCES", "s3://dumps/tmpdump/snap-fn.zip"}, {"AWS_LAMBDA_INITIALIZATION_TYPE", "snap-start"}});
  for (const auto& [k, v] : s3.client_env()) env[k] = v;
  env["AWS_ACCESS_KEY_ID"] = std::nullopt;
  env["AWS_SECRET_ACCESS_KEY"] = std::nullopt;
  env["AWS_CONTAINER_CREDENTIALS_FULL_URI"] = "http://127.0.0.1:" + port + "/2021-04-23/credentials";
  env["AWS_CONTAINER_AUTHORIZATION_TOKEN"] = token;
  auto r = run({wrapper_bin().string(), d.printargs().string()}, {.env = env});
  ASSERT_EQ(r.exit_code, 0) << r.all();
  EXPECT_TRUE(r.out.starts_with(d.printargs().string() + '\0')) << r.out;
  EXPECT_TRUE(fs::exists(d.root / "lib/libtmpdump_testdep.so"));
  auto request = creds.wait_for_line("request ", std::chrono::seconds(5));
  ASSERT_TRUE(request);
  EXPECT_EQ(*request, "request /2021-04-23/credentials auth=ok");
  EXPECT_FALSE(contains(r.all(), token));
}

TEST(ExecWrapper, WritesItsEmfRecordBeforeTheProgramAndAJsonInitLine) {
  Dirs d;
  const fs::path zip = d.zip();
  auto r =
      run({wrapper_bin().string(), d.printargs().string()}, {.env = d.env({{"TMPDUMP_SOURCES", zip.string()},
                                                                           {"TMPDUMP_METRICS", std::nullopt},
                                                                           {"AWS_LAMBDA_FUNCTION_NAME", "wrapped-fn"},
                                                                           {"AWS_LAMBDA_LOG_FORMAT", "JSON"}})});
  ASSERT_EQ(r.exit_code, 0) << r.all();
  // The record is the first line of stdout; the program's output follows it untouched.
  const auto nl = r.out.find('\n');
  ASSERT_NE(nl, std::string::npos) << r.out;
  const auto emf = nlohmann::json::parse(r.out.substr(0, nl), nullptr, false);
  ASSERT_TRUE(emf.is_object()) << r.out;
  EXPECT_EQ(emf["FunctionName"], "wrapped-fn");
  EXPECT_EQ(emf["_aws"]["CloudWatchMetrics"][0]["Dimensions"], nlohmann::json::parse(R"([["FunctionName"]])"));
  EXPECT_EQ(emf["CacheHit"], 0);
  EXPECT_TRUE(r.out.substr(nl + 1).starts_with(d.printargs().string() + '\0')) << r.out;
  // stderr: the init summary as one JSON line.
  ASSERT_EQ(lines(r.err), 1u) << r.err;
  const auto init = nlohmann::json::parse(r.err, nullptr, false);
  ASSERT_TRUE(init.is_object()) << r.err;
  EXPECT_EQ(init["level"], "INFO");
  EXPECT_EQ(init["cache"], "miss");
  EXPECT_EQ(init["sources"][0], zip.string());
}

TEST(ExecWrapper, BadJavaFlagConfigurationFailsBeforeTheJvmStarts) {
  Dirs d;
  auto r = run({wrapper_bin().string(), d.printargs("java").string(), "-cp", "x", "Main"},
               {.env = d.env({{"TMPDUMP_JAVA_ADD_FLAGS", "-Xss2m Oops"}})});
  EXPECT_EQ(r.exit_code, 2) << r.all();
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(lines(r.err), 1u) << r.err;
  EXPECT_TRUE(contains(r.err, "TMPDUMP_JAVA_ADD_FLAGS: 'Oops'")) << r.err;
}

TEST(ExecWrapper, ProgramThatCannotRunIsOneLineAnd127) {
  Dirs d;
  auto r = run({wrapper_bin().string(), (d.tmp / "no-such-runtime").string(), "x"}, {.env = d.env()});
  EXPECT_EQ(r.exit_code, 127) << r.all();
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(lines(r.err), 1u) << r.err;
  EXPECT_TRUE(contains(r.err, "tmpdump-exec-wrapper: Runtime.InvalidEntrypoint: cannot execute " +
                                  (d.tmp / "no-such-runtime").string() + ": No such file or directory"))
      << r.err;
}

TEST(ExecWrapper, NoArgumentsPrintsUsageAndExits2) {
  auto r = run({wrapper_bin().string()});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.out, "");
  EXPECT_TRUE(r.err.starts_with("usage: tmpdump-exec-wrapper PROGRAM [ARG]...")) << r.err;

  auto help = run({wrapper_bin().string(), "--help"});
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_TRUE(help.out.starts_with("usage: ")) << help.out;

  auto version = run({wrapper_bin().string(), "--version"});
  EXPECT_EQ(version.exit_code, 0);
  EXPECT_TRUE(version.out.starts_with("tmpdump-exec-wrapper ")) << version.out;

  // Only alone: "--version" followed by more is a command line to run.
  Dirs d;
  auto command = run({wrapper_bin().string(), "--version", "x"}, {.env = d.env()});
  EXPECT_EQ(command.exit_code, 127) << command.all();
  EXPECT_TRUE(contains(command.err, "cannot execute --version")) << command.err;
}

// Under the emulator, with a layer bootstrap that does what a managed
// runtime's does: exec "$AWS_LAMBDA_EXEC_WRAPPER" <runtime command line>.
// The wrapper ships in the layer, as on Lambda; returns the --env that names
// it as the runtime sees it.
std::string use_wrapper_as_runtime(const LambdaDirs& dirs, const std::string& runtime_command) {
  fs::remove(dirs.layer / "bootstrap");
  write_file(dirs.layer / "bootstrap", "#!/bin/sh\nexec \"$AWS_LAMBDA_EXEC_WRAPPER\" " + runtime_command + "\n");
  // Readable and executable by the sandbox's user too.
  const auto rx = fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec | fs::perms::others_read |
                  fs::perms::others_exec;
  fs::permissions(dirs.layer / "bootstrap", rx);
  fs::copy_file(wrapper_bin(), dirs.layer / "tmpdump-exec-wrapper", fs::copy_options::overwrite_existing);
  return "AWS_LAMBDA_EXEC_WRAPPER=" + dirs.seen(dirs.layer / "tmpdump-exec-wrapper");
}

TEST(ExecWrapper, UnderTheEmulatorARuntimeNeedingTheTmpdumpRuns) {
  LambdaDirs dirs;
  const auto zip = dirs.make_tmpdump();
  const auto wrapper = use_wrapper_as_runtime(dirs, "\"$LAMBDA_TASK_ROOT/bin/echo_fn_dep\"");
  auto r = dirs.emulate_once("unused", R"("dep")", {"--env", "TMPDUMP_SOURCES=" + dirs.seen(zip), "--env", wrapper});
  ASSERT_EQ(r.exit_code, 0) << r.all();
  EXPECT_EQ(r.out, "\"hello from the tmpdump\"\n");
  EXPECT_TRUE(contains(r.err, "tmpdump-exec-wrapper: init in ")) << r.err;
  EXPECT_TRUE(contains(r.err, "echo_fn_dep: environment only")) << r.err;
}

TEST(ExecWrapper, UnderTheEmulatorAFailedPullIsAnInitErrorWithItsType) {
  LambdaDirs dirs;
  const std::string missing = (dirs.tmp / "nowhere/dump.zip").string();
  const auto wrapper = use_wrapper_as_runtime(dirs, "\"$LAMBDA_TASK_ROOT/bin/echo_fn\"");
  auto r = dirs.emulate_once("unused", "{}", {"--env", "TMPDUMP_SOURCES=" + missing, "--env", wrapper});
  EXPECT_EQ(r.exit_code, 14) << r.all();  // emulate --event: the function failed
  EXPECT_TRUE(contains(r.out, R"("errorType":"TmpDump.NotFound")")) << r.out;
  EXPECT_TRUE(contains(r.out, missing)) << r.out;
  EXPECT_TRUE(contains(r.err, "tmpdump-exec-wrapper: TmpDump.NotFound: ")) << r.err;
  EXPECT_TRUE(contains(r.err, "Error Type: TmpDump.NotFound")) << r.err;
}

bool cpu_has_v3() {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("bmi") && __builtin_cpu_supports("bmi2") &&
         __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c") && __builtin_cpu_supports("movbe") &&
         __builtin_cpu_supports("lzcnt");
}

TEST(ExecWrapper, CpuVariantDirectoryIsChosenAtInitWhenTheCpuHasIt) {
  LambdaDirs dirs;
  const fs::path src = dirs.tmp / "dump-src";
  const fs::path v3 = src / "lib/glibc-hwcaps/x86-64-v3";
  fs::create_directories(v3);
  write_file(dirs.tmp / "v3.c",
             "const char* testdep_greeting(void) { return \"hello from the x86-64-v3 variant\"; }\n");
  compile({"-shared", "-fPIC", "-march=x86-64-v3", (dirs.tmp / "v3.c").string(), "-Wl,-soname,libtmpdump_testdep.so",
           "-o", (v3 / "libtmpdump_testdep.so").string()});
  const auto zip = dirs.make_tmpdump();  // adds lib/libtmpdump_testdep.so, zips lib/

  const auto wrapper = use_wrapper_as_runtime(dirs, "\"$LAMBDA_TASK_ROOT/bin/echo_fn_dep\"");
  auto r = dirs.emulate_once("unused", R"("dep")", {"--env", "TMPDUMP_SOURCES=" + dirs.seen(zip), "--env", wrapper});
  ASSERT_EQ(r.exit_code, 0) << r.all();
  EXPECT_EQ(r.out, cpu_has_v3() ? "\"hello from the x86-64-v3 variant\"\n" : "\"hello from the tmpdump\"\n");

  // The choice is made by the wrapper, not left to glibc-hwcaps (which Amazon
  // Linux 2's glibc 2.26 lacks): the variant directory comes first in the path.
  Dirs d;
  auto p = run({wrapper_bin().string(), d.printargs().string()}, {.env = d.env({{"TMPDUMP_SOURCES", zip.string()}})});
  ASSERT_EQ(p.exit_code, 0) << p.all();
  const auto printed = split_nul(p.out);
  ASSERT_EQ(printed.size(), 3u);
  const std::string lib = (d.root / "lib").string();
  EXPECT_EQ(printed[1], "LD_LIBRARY_PATH=" + (cpu_has_v3() ? lib + "/glibc-hwcaps/x86-64-v3:" : std::string()) + lib +
                            ":" + (d.task / "lib").string());
}

}  // namespace
}  // namespace tmpdump::testing
