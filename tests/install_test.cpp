// find_package(tmpdump) as a user meets it: `cmake --install` of this build
// (the "development" component: the runtime library, its headers, the package
// files) into a temporary prefix, the ten-line consumer in tests/install/consumer
// configured and built against that prefix alone, and the program it makes
// answering an event under the real `tmpdump emulate` and bootstrap.
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "functions/lambda.hpp"

namespace tmpdump::testing {
namespace {

// The tools this build was made with (tests/CMakeLists.txt passes them), so the
// consumer is built the way a user of this toolchain would build it.
const std::string kCmake = TMPDUMP_TEST_CMAKE;

class InstalledPackage : public ::testing::Test {
 protected:
  TempDir work;
  fs::path prefix = work / "prefix";
  fs::path consumer_build = work / "consumer-build";

  RunResult install() const {
    return run({kCmake, "--install", build_dir().string(), "--component", "development", "--prefix", prefix.string()});
  }

  RunResult configure_consumer() const {
    std::vector<std::string> argv{
        kCmake, "-S", (source_dir() / "tests/install/consumer").string(), "-B", consumer_build.string(), "-G",
        TMPDUMP_TEST_CMAKE_GENERATOR, "-DCMAKE_MAKE_PROGRAM=" TMPDUMP_TEST_CMAKE_MAKE_PROGRAM,
        "-DCMAKE_CXX_COMPILER=" TMPDUMP_TEST_CMAKE_CXX_COMPILER, "-DCMAKE_PREFIX_PATH=" + prefix.string(),
        // Only the prefix: no package registry, so a tmpdump found
        // elsewhere cannot make the test pass.
        "-DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF", "-DCMAKE_FIND_USE_SYSTEM_PACKAGE_REGISTRY=OFF"};
    // A sanitized build installs a sanitized library; its users link the runtimes.
    if (TMPDUMP_TEST_SANITIZED) argv.emplace_back("-DCMAKE_EXE_LINKER_FLAGS=-fsanitize=address,undefined");
    return run(argv, {.env = {{"CMAKE_PREFIX_PATH", std::nullopt}, {"tmpdump_DIR", std::nullopt}}});
  }

  RunResult build_consumer() const { return run({kCmake, "--build", consumer_build.string()}); }
};

TEST_F(InstalledPackage, InstallsOnlyTheRuntimeClientAndItsPackageFiles) {
  auto r = install();
  ASSERT_EQ(r.exit_code, 0) << r.all();
  EXPECT_TRUE(fs::is_regular_file(prefix / "lib/libtmpdump-runtime.a"));
  EXPECT_TRUE(fs::is_regular_file(prefix / "include/tmpdump/runtime.hpp"));
  EXPECT_TRUE(fs::is_regular_file(prefix / "include/tmpdump/handler.h"));
  EXPECT_TRUE(fs::is_regular_file(prefix / "include/tmpdump/api.h"));
  EXPECT_TRUE(fs::is_regular_file(prefix / "lib/cmake/tmpdump/tmpdumpConfig.cmake"));
  EXPECT_TRUE(fs::is_regular_file(prefix / "lib/cmake/tmpdump/tmpdumpConfigVersion.cmake"));
  EXPECT_TRUE(fs::is_regular_file(prefix / "lib/cmake/tmpdump/tmpdumpTargets.cmake"));
  // The CLI and the layer programs are not part of the development package.
  EXPECT_FALSE(fs::exists(prefix / "bin"));
  EXPECT_FALSE(fs::exists(prefix / "libexec"));
}

TEST_F(InstalledPackage, ConsumerBuiltWithFindPackageAnswersUnderEmulate) {
  auto r = install();
  ASSERT_EQ(r.exit_code, 0) << r.all();
  r = configure_consumer();
  ASSERT_EQ(r.exit_code, 0) << r.all();
  // The package came from the temporary prefix, not from anywhere else.
  EXPECT_TRUE(contains(read_file(consumer_build / "CMakeCache.txt"),
                       "tmpdump_DIR:PATH=" + (prefix / "lib/cmake/tmpdump").string()))
      << read_file(consumer_build / "CMakeCache.txt");
  r = build_consumer();
  ASSERT_EQ(r.exit_code, 0) << r.all();

  LambdaDirs dirs;
  fs::copy_file(consumer_build / "app", dirs.function / "bin/app");
  r = dirs.emulate_once("bin/app", R"({"hello":"installed"})");
  ASSERT_EQ(r.exit_code, 0) << r.all();
  EXPECT_TRUE(contains(r.out, R"({"installed_echo":{"hello":"installed"},"request_id":")")) << r.out;
  EXPECT_TRUE(contains(r.err, "END RequestId: ")) << r.err;
}

}  // namespace
}  // namespace tmpdump::testing
