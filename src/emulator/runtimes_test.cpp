#include "emulator/runtimes.hpp"

#include <unistd.h>

#include <cstdlib>
#include <fstream>

#include <gtest/gtest.h>

namespace tmpdump::emulator {
namespace {

namespace fs = std::filesystem;

struct Tree {
  fs::path root;
  Tree() {
    std::string tmpl = (fs::temp_directory_path() / "tmpdump-runtimes-test-XXXXXX").string();
    root = ::mkdtemp(tmpl.data());
  }
  ~Tree() {
    std::error_code ec;
    fs::remove_all(root, ec);
  }
  void file(const fs::path& rel, bool executable = false) const {
    fs::create_directories((root / rel).parent_path());
    std::ofstream(root / rel) << "x";
    if (executable) fs::permissions(root / rel, fs::perms::owner_all);
  }
  // As the sandbox shows them: --runtime-dir at /var/runtime, --lang-dir at /var/lang.
  RuntimePaths paths() const {
    return {.runtime_host = root / "runtime",
            .lang_host = root / "lang",
            .runtime_seen = "/var/runtime",
            .lang_seen = "/var/lang",
            .task_seen = "/var/task",
            .opt_seen = "/opt",
            .sandboxed = true};
  }
};

std::string env_of(const Launch& l, const std::string& name) {
  for (const auto& [k, v] : l.env) {
    if (k == name) return v;
  }
  return "<unset>";
}

TEST(Runtimes, ParsesLambdasIdentifiersAndNamesThemWhenWrong) {
  EXPECT_EQ(parse_runtime("java21")->language, Language::Java);
  EXPECT_EQ(parse_runtime("java21")->version, "21");
  EXPECT_EQ(parse_runtime("python3.13")->version, "3.13");
  EXPECT_EQ(parse_runtime("nodejs22.x")->version, "22");
  EXPECT_EQ(parse_runtime("provided.al2")->language, Language::Provided);
  auto bad = parse_runtime("java8");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code, Errc::InvalidArgument);
  EXPECT_NE(bad.error().message.find("java17, java21, python3.12"), std::string::npos) << bad.error().message;
}

TEST(Runtimes, JavaHeapMatchesWhatLambdaPassesAtEachObservedMemorySize) {
  EXPECT_EQ(java_max_heap_kib(128), 111412UL);
  EXPECT_EQ(java_max_heap_kib(512), 445645UL);
  EXPECT_EQ(java_max_heap_kib(2045), 1848320UL);
  EXPECT_EQ(java_max_heap_kib(4093), 3945472UL);
  EXPECT_EQ(java_max_heap_kib(10238), 10237952UL);
}

TEST(Runtimes, JavaCommandLineIsLambdasWithTheRuntimeDirsJarsAndTheHandler) {
  Tree t;
  t.file("runtime/lib/b-serialization.jar");
  t.file("runtime/lib/a-core.jar");
  t.file("runtime/lib/README");
  t.file("lang/bin/java", true);
  auto l = managed_launch(*parse_runtime("java21"), t.paths(), "example.Handler::handleRequest", 512, {});
  ASSERT_TRUE(l) << l.error().message;
  const std::vector<std::string> want{"/var/lang/bin/java",
                                      "-XX:MaxHeapSize=445645k",
                                      "-XX:+UseSerialGC",
                                      "-Xshare:auto",
                                      "-XX:+TieredCompilation",
                                      "-XX:TieredStopAtLevel=1",
                                      "--add-opens=java.base/java.io=ALL-UNNAMED",
                                      "-Dorg.crac.Core.Compat=com.amazonaws.services.lambda.crac",
                                      "-Djava.net.preferIPv4Stack=true",
                                      "-XX:+ErrorFileToStderr",
                                      "-classpath",
                                      "/var/runtime/lib/a-core.jar:/var/runtime/lib/b-serialization.jar",
                                      "com.amazonaws.services.lambda.runtime.api.client.AWSLambda",
                                      "example.Handler::handleRequest"};
  EXPECT_EQ(l->argv, want);
  EXPECT_EQ(env_of(*l, "AWS_EXECUTION_ENV"), "AWS_Lambda_java21");

  // The image's own files, when given, are used as Lambda uses them.
  t.file("lang/lib/server/runtime.jsa");
  t.file("runtime/lib/Log4jHotPatch.jar");
  t.file("runtime/lib/jni/libaws-lambda-jni.linux-x86_64.so");
  l = managed_launch(*parse_runtime("java17"), t.paths(), "H", 128, {});
  ASSERT_TRUE(l);
  EXPECT_EQ(l->argv[2], "-javaagent:/var/runtime/lib/Log4jHotPatch.jar=log4jFixerVerbose=false");
  EXPECT_EQ(l->argv[4], "-Xshare:on");
  EXPECT_EQ(l->argv[5], "-XX:SharedArchiveFile=/var/lang/lib/server/runtime.jsa");
  EXPECT_NE(std::find(l->argv.begin(), l->argv.end(),
                      "-Dcom.amazonaws.services.lambda.runtime.api.client.runtimeapi.NativeClient.JNI=/var/runtime/"
                      "lib/jni/libaws-lambda-jni.linux-x86_64.so"),
            l->argv.end());
}

TEST(Runtimes, ExecWrapperGetsTheRuntimesCommandLineAsItsArguments) {
  Tree t;
  t.file("runtime/lib/ric.jar");
  t.file("lang/bin/java", true);
  auto bare = managed_launch(*parse_runtime("java17"), t.paths(), "H", 1024, {});
  auto wrapped = managed_launch(*parse_runtime("java17"), t.paths(), "H", 1024,
                                {{"AWS_LAMBDA_EXEC_WRAPPER", "/opt/tmpdump-exec-wrapper"}});
  ASSERT_TRUE(bare && wrapped);
  ASSERT_EQ(wrapped->argv.size(), bare->argv.size() + 1);
  EXPECT_EQ(wrapped->argv.front(), "/opt/tmpdump-exec-wrapper");
  EXPECT_TRUE(std::equal(bare->argv.begin(), bare->argv.end(), wrapped->argv.begin() + 1));
}

TEST(Runtimes, PythonRunsTheClientModuleWithLambdasPathOrder) {
  Tree t;
  t.file("runtime/awslambdaric/__main__.py");
  t.file("lang/bin/python3.12", true);
  t.file("lang/bin/python3", true);
  auto l = managed_launch(*parse_runtime("python3.12"), t.paths(), "app.handler", 128, {});
  ASSERT_TRUE(l) << l.error().message;
  EXPECT_EQ(l->argv, (std::vector<std::string>{"/var/lang/bin/python3.12", "-m", "awslambdaric", "app.handler"}));
  EXPECT_EQ(env_of(*l, "PYTHONPATH"), "/var/task:/opt/python/lib/python3.12/site-packages:/opt/python:/var/runtime");
  // The function's own PYTHONPATH replaces /opt's, as Lambda's bootstrap.py does.
  l = managed_launch(*parse_runtime("python3.13"), t.paths(), "app.handler", 128, {{"PYTHONPATH", "/var/task/deps"}});
  ASSERT_TRUE(l);
  EXPECT_EQ(l->argv.front(), "/var/lang/bin/python3");  // no python3.13: the next name
  EXPECT_EQ(env_of(*l, "PYTHONPATH"), "/var/task:/var/task/deps:/var/runtime");
}

TEST(Runtimes, NodeRunsLambdasEntryOrTheClientsOwnWithMemoryFlags) {
  Tree t;
  t.file("runtime/node_modules/aws-lambda-ric/bin/index.mjs");
  t.file("lang/bin/node", true);
  auto l = managed_launch(*parse_runtime("nodejs20.x"), t.paths(), "index.handler", 1024, {});
  ASSERT_TRUE(l) << l.error().message;
  EXPECT_EQ(l->argv,
            (std::vector<std::string>{"/var/lang/bin/node", "--expose-gc", "--max-http-header-size", "81920",
                                      "--max-semi-space-size=51", "--max-old-space-size=922",
                                      "/var/runtime/node_modules/aws-lambda-ric/bin/index.mjs", "index.handler"}));
  EXPECT_EQ(
      env_of(*l, "NODE_PATH"),
      "/opt/nodejs/node20/node_modules:/opt/nodejs/node_modules:/var/runtime/node_modules:/var/runtime:/var/task");
  t.file("runtime/index.mjs");
  l = managed_launch(*parse_runtime("nodejs22.x"), t.paths(), "index.handler", 1024, {});
  ASSERT_TRUE(l);
  EXPECT_EQ(l->argv.back(), "/var/runtime/index.mjs");  // Lambda's: the handler comes from $_HANDLER
}

TEST(Runtimes, HostInterpreterIsTheFirstProgramOnPathAndTheSandboxMustSeeIt) {
  Tree t;
  t.file("runtime/index.mjs");
  // A version manager's shim script first on PATH, then a program outside the system directories.
  fs::create_directories(t.root / "shims");
  std::ofstream(t.root / "shims/node") << "#!/bin/sh\nexec pyenv-like-manager \"$@\"\n";
  fs::permissions(t.root / "shims/node", fs::perms::owner_all);
  fs::create_directories(t.root / "versions/20/bin");
  fs::copy_file("/bin/true", t.root / "versions/20/bin/node");
  const std::string saved = std::getenv("PATH") != nullptr ? std::getenv("PATH") : "";
  ::setenv("PATH", ((t.root / "shims").string() + ":" + (t.root / "versions/20/bin").string()).c_str(), 1);
  auto paths = t.paths();
  paths.lang_host.clear();
  paths.sandboxed = false;
  auto host = managed_launch(*parse_runtime("nodejs20.x"), paths, "h.h", 128, {});
  paths.sandboxed = true;
  auto unseen = managed_launch(*parse_runtime("nodejs20.x"), paths, "h.h", 128, {});
  ::setenv("PATH", "/nonexistent", 1);
  auto none = managed_launch(*parse_runtime("nodejs20.x"), paths, "h.h", 128, {});
  ::setenv("PATH", saved.c_str(), 1);

  ASSERT_TRUE(host) << host.error().message;
  EXPECT_EQ(host->argv.front(), (t.root / "versions/20/bin/node").string());
  ASSERT_FALSE(unseen);
  EXPECT_NE(unseen.error().message.find("the sandbox cannot see " + (t.root / "versions/20/bin/node").string()),
            std::string::npos)
      << unseen.error().message;
  EXPECT_NE(unseen.error().message.find("give --lang-dir " + (t.root / "versions/20").string()), std::string::npos)
      << unseen.error().message;
  ASSERT_FALSE(none);
  EXPECT_NE(none.error().message.find("no node on PATH"), std::string::npos) << none.error().message;
}

TEST(Runtimes, AMissingPieceIsOneErrorNamingWhatToGive) {
  Tree t;
  auto paths = t.paths();
  paths.runtime_host.clear();
  auto none = managed_launch(*parse_runtime("java17"), paths, "H", 128, {});
  ASSERT_FALSE(none);
  EXPECT_EQ(none.error().code, Errc::InvalidArgument);
  EXPECT_NE(none.error().message.find("needs --runtime-dir DIR"), std::string::npos) << none.error().message;

  fs::create_directories(t.root / "runtime");
  fs::create_directories(t.root / "lang");
  auto no_jars = managed_launch(*parse_runtime("java17"), t.paths(), "H", 128, {});
  ASSERT_FALSE(no_jars);
  EXPECT_NE(no_jars.error().message.find("has no jars in lib/"), std::string::npos) << no_jars.error().message;
  auto no_ric = managed_launch(*parse_runtime("python3.12"), t.paths(), "H", 128, {});
  ASSERT_FALSE(no_ric);
  EXPECT_NE(no_ric.error().message.find("has no awslambdaric/"), std::string::npos) << no_ric.error().message;
  auto no_entry = managed_launch(*parse_runtime("nodejs20.x"), t.paths(), "H", 128, {});
  ASSERT_FALSE(no_entry);
  EXPECT_NE(no_entry.error().message.find("aws-lambda-ric"), std::string::npos) << no_entry.error().message;

  t.file("runtime/lib/ric.jar");
  auto no_java = managed_launch(*parse_runtime("java17"), t.paths(), "H", 128, {});
  ASSERT_FALSE(no_java);
  EXPECT_NE(no_java.error().message.find("has no bin/java"), std::string::npos) << no_java.error().message;
}

}  // namespace
}  // namespace tmpdump::emulator
