#include "wrapper/rewrite.hpp"

#include <unistd.h>

#include <filesystem>
#include <fstream>

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace tmpdump::wrapper {
namespace {

namespace fs = std::filesystem;
using ::testing::ElementsAre;
using ::testing::ElementsAreArray;
using ::testing::Pair;

using Strings = std::vector<std::string>;

const Strings kRuntimeJars = {
    "/var/runtime/lib/aws-lambda-java-core-1.2.3.jar:/var/runtime/lib/"
    "aws-lambda-java-runtime-interface-client-2.5.1-linux-x86_64.jar"};

// The java17 command line Lambda ran in 2024, shortened.
Strings lambda_java() {
  return {"/var/lang/bin/java",
          "-XX:MaxHeapSize=445645k",
          "-javaagent:/var/runtime/lib/Log4jHotPatch.jar=log4jFixerVerbose=false",
          "-XX:+UseSerialGC",
          "-Xshare:on",
          "-XX:+TieredCompilation",
          "-XX:TieredStopAtLevel=1",
          "--add-opens=java.base/java.io=ALL-UNNAMED",
          "-classpath",
          kRuntimeJars[0],
          "com.amazonaws.services.lambda.runtime.api.client.AWSLambda",
          "example.Handler::handleRequest"};
}

Layout installed_layout() {
  return {.root = "/tmp", .installed = true, .task_root = "/var/task", .cpu_has_v3 = false};
}

std::string env_of(const Launch& l, const std::string& name) {
  for (const auto& [k, v] : l.env) {
    if (k == name) return v;
  }
  return "<unset>";
}

TEST(Classify, JavaPythonAndNodeByBasename) {
  EXPECT_EQ(classify("/var/lang/bin/java"), Runtime::Java);
  EXPECT_EQ(classify("java"), Runtime::Java);
  EXPECT_EQ(classify("/var/lang/bin/python3.12"), Runtime::Python);
  EXPECT_EQ(classify("python3"), Runtime::Python);
  EXPECT_EQ(classify("/usr/bin/python"), Runtime::Python);
  EXPECT_EQ(classify("/usr/bin/python3-config"), Runtime::Other);
  EXPECT_EQ(classify("/var/lang/bin/node"), Runtime::Node);
  EXPECT_EQ(classify("nodejs"), Runtime::Node);
  EXPECT_EQ(classify("/usr/bin/node-gyp"), Runtime::Other);
  EXPECT_EQ(classify("/usr/bin/javac"), Runtime::Other);
  EXPECT_EQ(classify("/java/bin/sh"), Runtime::Other);
}

TEST(JavaMainIndex, SkipsOptionsAndTheirValues) {
  EXPECT_EQ(java_main_index(lambda_java()), 10u);
  EXPECT_EQ(java_main_index(Strings{"java", "--add-opens", "a=b", "-cp", "x", "Main", "-cp"}), 5u);
  EXPECT_EQ(java_main_index(Strings{"java", "-Xmx1g", "-jar", "app.jar", "-cp"}), 2u);
  EXPECT_EQ(java_main_index(Strings{"java", "@args.txt", "-m", "mod/Main"}), 2u);
  EXPECT_EQ(java_main_index(Strings{"java", "-version"}), 2u);
}

TEST(Rewrite, JavaAppendsTheTaskToTheClasspathAndAddsTheLibraryPath) {
  auto l = rewrite(lambda_java(), installed_layout(), fixed_env({{"LD_LIBRARY_PATH", "/var/lang/lib:/lib64"}}));
  ASSERT_TRUE(l) << l.error().message;
  EXPECT_EQ(l->runtime, Runtime::Java);
  Strings want = lambda_java();
  want[9] = kRuntimeJars[0] + ":/var/task:/var/task/lib/*";
  want.insert(want.begin() + 10,
              "-Djava.library.path=/tmp/lib:/var/task/lib:/var/lang/lib:/lib64:/usr/java/packages/lib:/usr/lib64:/lib:/"
              "usr/lib");
  EXPECT_THAT(l->argv, ElementsAreArray(want));
  EXPECT_EQ(env_of(*l, "LD_LIBRARY_PATH"), "/tmp/lib:/var/task/lib:/var/lang/lib:/lib64");
  EXPECT_EQ(env_of(*l, "PYTHONPATH"), "<unset>");
}

TEST(Rewrite, JavaPrefixesAnExistingLibraryPathAndKeepsOtherArgumentsExactly) {
  Strings cmd{"java",  "-Djava.library.path=/opt/native", "-Dx= a b ", "-cp", "a.jar", "Main", "", "-cp", "x=y z",
              "'\"q\""};
  auto l = rewrite(cmd, installed_layout(), fixed_env({}));
  ASSERT_TRUE(l) << l.error().message;
  EXPECT_THAT(l->argv, ElementsAre("java", "-Djava.library.path=/tmp/lib:/var/task/lib:/opt/native", "-Dx= a b ", "-cp",
                                   "a.jar:/var/task:/var/task/lib/*", "Main", "", "-cp", "x=y z", "'\"q\""));
}

TEST(Rewrite, JavaLongClassPathFormAndIdempotence) {
  Strings cmd{"java", "--class-path=a.jar:/var/task", "Main"};
  auto l = rewrite(cmd, installed_layout(), fixed_env({}));
  ASSERT_TRUE(l);
  EXPECT_EQ(l->argv[1], "--class-path=a.jar:/var/task:/var/task/lib/*");
  auto again = rewrite(l->argv, installed_layout(), fixed_env({}));
  ASSERT_TRUE(again);
  EXPECT_EQ(again->argv, l->argv);
}

TEST(Rewrite, JavaWithoutClasspathGetsOneFromClasspathVariable) {
  auto l = rewrite(Strings{"java", "Main"}, installed_layout(), fixed_env({{"CLASSPATH", "/x.jar"}}));
  ASSERT_TRUE(l);
  EXPECT_THAT(l->argv, ElementsAre("java", "-classpath", "/x.jar:/var/task:/var/task/lib/*", ::testing::_, "Main"));
  auto d = rewrite(Strings{"java", "Main"}, installed_layout(), fixed_env({}));
  ASSERT_TRUE(d);
  EXPECT_EQ(d->argv[2], ".:/var/task:/var/task/lib/*");
}

TEST(Rewrite, JavaJarKeepsItsOwnClasspath) {
  auto l = rewrite(Strings{"java", "-jar", "app.jar", "-cp", "x"}, installed_layout(), fixed_env({}));
  ASSERT_TRUE(l);
  ASSERT_EQ(l->argv.size(), 6u);
  EXPECT_TRUE(l->argv[1].starts_with("-Djava.library.path=/tmp/lib:"));
  EXPECT_THAT(Strings(l->argv.begin() + 2, l->argv.end()), ElementsAre("-jar", "app.jar", "-cp", "x"));
}

TEST(Rewrite, JavaTaskRootComesFromTheLayout) {
  Layout layout = installed_layout();
  layout.task_root = "/tmp/t task";
  auto l = rewrite(lambda_java(), layout, fixed_env({}));
  ASSERT_TRUE(l);
  EXPECT_EQ(l->argv[9], kRuntimeJars[0] + ":/tmp/t task:/tmp/t task/lib/*");
}

TEST(Rewrite, JavaFlagEditsRemoveBeforeTheMainClassAndAddLastAmongOptions) {
  auto l = rewrite(lambda_java(), installed_layout(),
                   fixed_env({{"TMPDUMP_JAVA_REMOVE_FLAGS", "-XX:TieredStopAtLevel, -Xshare -javaagent"},
                              {"TMPDUMP_JAVA_ADD_FLAGS", " -XX:-TieredCompilation\t-Xss2m "}}));
  ASSERT_TRUE(l) << l.error().message;
  EXPECT_THAT(l->argv, ElementsAre("/var/lang/bin/java", "-XX:MaxHeapSize=445645k", "-XX:+UseSerialGC",
                                   "-XX:+TieredCompilation", "--add-opens=java.base/java.io=ALL-UNNAMED", "-classpath",
                                   kRuntimeJars[0] + ":/var/task:/var/task/lib/*",
                                   ::testing::StartsWith("-Djava.library.path="), "-XX:-TieredCompilation", "-Xss2m",
                                   "com.amazonaws.services.lambda.runtime.api.client.AWSLambda",
                                   "example.Handler::handleRequest"));
  EXPECT_TRUE(l->what.find("3 option(s) removed") != std::string::npos) << l->what;
}

TEST(Rewrite, JavaRemovingAnOptionWithAValueRemovesBoth) {
  auto l = rewrite(Strings{"java", "--add-opens", "a/b=ALL", "-cp", "c", "Main", "--add-opens"}, installed_layout(),
                   fixed_env({{"TMPDUMP_JAVA_REMOVE_FLAGS", "--add-opens"}}));
  ASSERT_TRUE(l);
  EXPECT_THAT(l->argv, ElementsAre("java", "-cp", "c:/var/task:/var/task/lib/*", ::testing::_, "Main", "--add-opens"));
}

TEST(Rewrite, JavaAddFlagThatIsNotAnOptionIsRefused) {
  auto l = rewrite(lambda_java(), installed_layout(), fixed_env({{"TMPDUMP_JAVA_ADD_FLAGS", "-Xss2m Main2"}}));
  ASSERT_FALSE(l);
  EXPECT_EQ(l.error().code, Errc::InvalidArgument);
  EXPECT_TRUE(l.error().message.find("'Main2'") != std::string::npos) << l.error().message;
}

TEST(FlagMatches, ExactPrefixAndStar) {
  EXPECT_TRUE(flag_matches("-XX:TieredStopAtLevel=1", "-XX:TieredStopAtLevel"));
  EXPECT_TRUE(flag_matches("-XX:TieredStopAtLevel=1", "-XX:TieredStopAtLevel=1"));
  EXPECT_FALSE(flag_matches("-XX:TieredStopAtLevel=1", "-XX:TieredStopAtLevel=4"));
  EXPECT_TRUE(flag_matches("-Xshare:on", "-Xshare"));
  EXPECT_FALSE(flag_matches("-Xshared", "-Xshare"));
  EXPECT_TRUE(flag_matches("-XX:+UseSerialGC", "-XX:+Use*"));
  EXPECT_FALSE(flag_matches("-XX:+UseSerialGC", ""));
}

TEST(Rewrite, PythonGetsThePythonDirectoryWhenTheTmpdumpHasOne) {
  const fs::path root = fs::temp_directory_path() / fmt::format("wrapper-rewrite-test-{}", ::getpid());
  fs::create_directories(root / "python");
  Layout layout{.root = root, .installed = true, .task_root = "/var/task"};
  Strings cmd{"/var/lang/bin/python3.12", "-c", "x = 'a b'", ""};
  auto l = rewrite(cmd, layout, fixed_env({{"PYTHONPATH", "/var/runtime::/opt/python"}}));
  ASSERT_TRUE(l);
  EXPECT_EQ(l->argv, cmd);
  EXPECT_EQ(env_of(*l, "PYTHONPATH"), (root / "python").string() + ":/var/runtime::/opt/python");
  EXPECT_EQ(env_of(*l, "LD_LIBRARY_PATH"), (root / "lib").string() + ":/var/task/lib");

  fs::remove_all(root / "python");
  auto without = rewrite(cmd, layout, fixed_env({}));
  ASSERT_TRUE(without);
  EXPECT_EQ(env_of(*without, "PYTHONPATH"), "<unset>");
  fs::remove_all(root);
}

TEST(Rewrite, CpuVariantDirectoryComesFirstWhenTheCpuHasIt) {
  const fs::path root = fs::temp_directory_path() / fmt::format("wrapper-rewrite-v3-{}", ::getpid());
  fs::create_directories(root / "lib/glibc-hwcaps/x86-64-v3");
  Layout layout{.root = root, .installed = true, .task_root = "/var/task", .cpu_has_v3 = true};
  auto l = rewrite(Strings{"java", "-cp", "a", "Main"}, layout, fixed_env({}));
  ASSERT_TRUE(l);
  const std::string v3 = (root / "lib/glibc-hwcaps/x86-64-v3").string(), lib = (root / "lib").string();
  EXPECT_TRUE(env_of(*l, "LD_LIBRARY_PATH").starts_with(v3 + ":" + lib + ":")) << env_of(*l, "LD_LIBRARY_PATH");
  EXPECT_TRUE(l->argv[3].starts_with("-Djava.library.path=" + v3 + ":" + lib + ":")) << l->argv[3];
  layout.cpu_has_v3 = false;
  auto plain = rewrite(Strings{"java", "-cp", "a", "Main"}, layout, fixed_env({}));
  ASSERT_TRUE(plain);
  EXPECT_TRUE(env_of(*plain, "LD_LIBRARY_PATH").starts_with(lib + ":")) << env_of(*plain, "LD_LIBRARY_PATH");
  fs::remove_all(root);
}

TEST(Rewrite, OtherRuntimesKeepTheCommandAndGetTheLibraryPath) {
  Strings cmd{"/var/lang/bin/ruby", "--expose-gc", "", "a b", "x=\"y\""};
  auto l = rewrite(cmd, installed_layout(), fixed_env({{"LD_LIBRARY_PATH", "/var/lang/lib"}}));
  ASSERT_TRUE(l);
  EXPECT_EQ(l->argv, cmd);
  EXPECT_THAT(l->env, ElementsAre(Pair("LD_LIBRARY_PATH", "/tmp/lib:/var/task/lib:/var/lang/lib")));
}

TEST(Rewrite, NothingPulledStillPutsTheTaskOnTheClasspathButNoTmpdumpDirectory) {
  Layout layout = installed_layout();
  layout.installed = false;
  auto l = rewrite(lambda_java(), layout, fixed_env({}));
  ASSERT_TRUE(l);
  EXPECT_EQ(env_of(*l, "LD_LIBRARY_PATH"), "/var/task/lib");
  EXPECT_EQ(l->argv[9], kRuntimeJars[0] + ":/var/task:/var/task/lib/*");
}

// A root laid out as the pull leaves it, removed afterwards.
struct ScratchRoot {
  fs::path path = fs::temp_directory_path() / fmt::format("wrapper-rewrite-{}-{}", ::getpid(), counter()++);
  explicit ScratchRoot(std::initializer_list<const char*> dirs, std::initializer_list<const char*> files = {}) {
    for (const char* d : dirs) fs::create_directories(path / d);
    for (const char* f : files) std::ofstream(path / f) << "x";
  }
  ~ScratchRoot() { fs::remove_all(path); }
  static int& counter() {
    static int n = 0;
    return n;
  }
};

TEST(Rewrite, NodeGetsTheDumpsNodeModulesAheadOfNodePath) {
  ScratchRoot root({"nodejs/node_modules", "node_modules", "lib"});
  const Layout layout{.root = root.path, .installed = true, .task_root = "/var/task", .cpu_has_v3 = false};
  Strings cmd{"/var/lang/bin/node", "--expose-gc", "/var/runtime/index.mjs"};
  auto l = rewrite(cmd, layout, fixed_env({{"NODE_PATH", "/opt/nodejs/node_modules:/var/runtime/node_modules"}}));
  ASSERT_TRUE(l);
  EXPECT_EQ(l->runtime, Runtime::Node);
  EXPECT_EQ(l->argv, cmd);
  EXPECT_EQ(env_of(*l, "NODE_PATH"), (root.path / "nodejs/node_modules").string() + ":" +
                                         (root.path / "node_modules").string() +
                                         ":/opt/nodejs/node_modules:/var/runtime/node_modules");
  EXPECT_NE(l->what.find("NODE_PATH"), std::string::npos) << l->what;

  // Without them, or without a pull, NODE_PATH is left alone.
  ScratchRoot bare({"lib"});
  auto none = rewrite(cmd, {.root = bare.path, .installed = true}, fixed_env({{"NODE_PATH", "/x"}}));
  ASSERT_TRUE(none);
  EXPECT_EQ(env_of(*none, "NODE_PATH"), "<unset>");
  auto unpulled = rewrite(cmd, {.root = root.path, .installed = false}, fixed_env({}));
  ASSERT_TRUE(unpulled);
  EXPECT_EQ(env_of(*unpulled, "NODE_PATH"), "<unset>");
}

TEST(Rewrite, GlibcBundledInLibcDirectoryIsOnNoPath) {
  // Today's pack --with-libc: lib/libc/ holds glibc and the loader; only bootstrap's start names it.
  ScratchRoot root({"lib/libc"}, {"lib/libc/libc.so.6", "lib/libc/ld-linux-x86-64.so.2"});
  const Layout layout{.root = root.path, .installed = true, .task_root = "/var/task", .cpu_has_v3 = false};
  auto l = rewrite(lambda_java(), layout, fixed_env({{"LD_LIBRARY_PATH", "/var/lang/lib:/lib64"}}));
  ASSERT_TRUE(l);
  EXPECT_EQ(env_of(*l, "LD_LIBRARY_PATH"), (root.path / "lib").string() + ":/var/task/lib:/var/lang/lib:/lib64");
  for (const auto& a : l->argv) EXPECT_EQ(a.find("lib/libc"), std::string::npos) << a;
}

TEST(Rewrite, OlderArchiveWithGlibcInLibPutsLibAfterTheInheritedPath) {
  // An archive from an older pack --with-libc: libc.so.6 in lib/ itself. lib/
  // first would make the image's loader load that newer libc and fail.
  ScratchRoot root({"lib/glibc-hwcaps/x86-64-v3"}, {"lib/libc.so.6", "lib/ld-linux-x86-64.so.2"});
  const Layout layout{.root = root.path, .installed = true, .task_root = "/var/task", .cpu_has_v3 = true};
  auto l = rewrite(Strings{"/var/lang/bin/python3.12", "-m", "awslambdaric"}, layout,
                   fixed_env({{"LD_LIBRARY_PATH", "/var/lang/lib:/lib64:/usr/lib64"}}));
  ASSERT_TRUE(l);
  EXPECT_EQ(env_of(*l, "LD_LIBRARY_PATH"),
            (root.path / "lib/glibc-hwcaps/x86-64-v3").string() +
                ":/var/task/lib:/var/lang/lib:/lib64:/usr/lib64:" + (root.path / "lib").string());
  EXPECT_NE(l->what.find("holds glibc"), std::string::npos) << l->what;
}

TEST(Rewrite, EmptyCommandIsRefused) {
  EXPECT_FALSE(rewrite(Strings{}, installed_layout(), fixed_env({})));
  EXPECT_FALSE(rewrite(Strings{""}, installed_layout(), fixed_env({})));
}

}  // namespace
}  // namespace tmpdump::wrapper
