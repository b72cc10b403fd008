// examples/java-opencv end to end, as a Java user runs it (its README): trace a
// warm-up of the handler, pack what it loaded, check it for java17, push it to
// the local S3-API server, and run the function under `tmpdump emulate
// --runtime java17` in its sandbox, through the layer's exec wrapper. The
// handler's class loads Debian's OpenCV Java bindings (libopencv_java460.so
// and ~270 libraries it needs) in a static block; none of them is in the
// function package, so the invocation works only if they came from the tmpdump.
//
// The runtime interface client is the stand-in of tests/runtimes/java (the real
// one comes from Maven Central); the JVM and its command line are real.
// Skips only when the example was not built (no JDK or no OpenCV Java bindings
// when cmake ran).
#include <filesystem>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "functions/lambda.hpp"
#include "support/process.hpp"
#include "support/s3_server.hpp"

namespace tmpdump::testing {
namespace {

namespace fs = std::filesystem;

#if defined(JAVA_OPENCV_TASK_DIR) && !defined(__SANITIZE_ADDRESS__)
const fs::path kTask = JAVA_OPENCV_TASK_DIR;
const fs::path kJniDir = JAVA_OPENCV_JNI_DIR;
#define SKIP_UNLESS_BUILT() (void)0
#else
const fs::path kTask;
const fs::path kJniDir;
// Under ASan the JVM would have to load the sanitized exec wrapper's runtime.
#define SKIP_UNLESS_BUILT() \
  GTEST_SKIP() << "examples/java-opencv was not built (needs javac and libopencv-java libopencv406-jni), or ASan"
#endif

RunResult tmpdump(std::vector<std::string> args, EnvChanges env = {}) {
  args.insert(args.begin(), tmpdump_binary().string());
  return run(args, {.env = std::move(env), .timeout = std::chrono::seconds(240)});
}

TEST(JavaOpenCv, TracedPackedPushedHandlerLoadsItsJniLibraryFromTheTmpdumpUnderJava17) {
  SKIP_UNLESS_BUILT();
  LambdaDirs d;
  const fs::path portrait = astronaut();
  ASSERT_TRUE(fs::exists(portrait));

  // 1. The warm-up, traced on the build machine (the JNI library from /usr/lib/jni).
  const fs::path trace = d.tmp / "edge.trace", zip = d.tmp / "edge-count.zip";
  auto traced = tmpdump({"trace", "-o", trace.string(), "--", "java", "-cp", (kTask / "lib/*").string(),
                         "-Djava.library.path=" + kJniDir.string(), "example.Warmup", portrait.string()});
  ASSERT_EQ(traced.exit_code, 0) << traced.all();
  EXPECT_TRUE(contains(traced.out, R"("width": 512, "height": 512, "edges": )")) << traced.all();

  // 2. Pack what the function brings (zstd 3 keeps the test quick), naming the
  // archive in the function's tmpdump.json.
  const std::string source = std::string("s3://") + S3Server::kBucket + "/tmpdump/edge-count.zip";
  auto packed = tmpdump({"pack", trace.string(), "--closure", "--level", "3", "-o", zip.string(), "-v",
                         "--function-config", (d.function / "tmpdump.json").string(), "--source", source});
  ASSERT_EQ(packed.exit_code, 0) << packed.all();
  auto listing = run({"unzip", "-Z1", zip.string()});
  ASSERT_EQ(listing.exit_code, 0) << listing.all();
  EXPECT_TRUE(contains(listing.out, "lib/libopencv_java460.so")) << listing.out;
  EXPECT_TRUE(contains(listing.out, "lib/libopencv_core.so.406")) << listing.out;
  // The JDK's own libraries belong to the runtime: Lambda's java17 brings them.
  for (const char* jdk : {"libjvm.so", "libjava.so", "libjli.so", "libnio.so", "libzip.so"}) {
    EXPECT_FALSE(contains(listing.out, std::string("/") + jdk)) << jdk << " was packed:\n" << listing.out;
  }

  // 3. The function package: the two jars in lib/, as Maven lays them out.
  for (const auto& jar : fs::directory_iterator(kTask / "lib"))
    fs::copy_file(jar.path(), d.function / "lib" / jar.path().filename());
  const fs::path runtime = d.tmp / "runtime";
  ASSERT_TRUE(build_java_runtime_client(runtime, d.tmp.path()));
  fs::copy_file(build_dir() / "src/wrapper/tmpdump-exec-wrapper", d.layer / "tmpdump-exec-wrapper");

  S3Server s3;
  auto pushed = tmpdump({"push", zip.string(), source, "--no-progress"}, s3.client_env());
  ASSERT_EQ(pushed.exit_code, 0) << pushed.all();

  // 4. A cold start under java17: the exec wrapper pulls the tmpdump into the
  // sandbox's /tmp before the JVM starts, and the static block finds the
  // library there. 2 GB: the JVM's heap and the 300 MB tree in /tmp (a tmpfs,
  // counted against the function's memory) must both fit.
  auto r = d.emulate_once("example.EdgeCount::handleRequest",
                          R"({"image": ")" + run({"base64", "-w0", portrait.string()}).out + "\"}",
                          {"--runtime", "java17", "--runtime-dir", runtime.string(), "--memory", "2048", "--timeout",
                           "60", "--env", "AWS_LAMBDA_EXEC_WRAPPER=" + d.seen(d.layer / "tmpdump-exec-wrapper")},
                          s3.client_env());
  ASSERT_EQ(r.exit_code, 0) << r.all();
  EXPECT_TRUE(contains(r.out, R"("width": 512, "height": 512, "edges": )")) << r.out;
  EXPECT_TRUE(contains(r.out, R"("opencv": "4.6.0")")) << r.out;
  EXPECT_TRUE(contains(r.out, "\"library\": \"" + (d.root / "lib/libopencv_java460.so").string() + "\"")) << r.all();
  EXPECT_TRUE(contains(r.err, "tmpdump-exec-wrapper: init in")) << r.err;
  EXPECT_TRUE(contains(r.err, "cache miss")) << r.err;
  // The same edges as the warm-up counted on the build machine.
  const auto edges = [](const std::string& s) {
    const auto at = s.find("\"edges\": ");
    return at == std::string::npos ? std::string() : s.substr(at + 9, s.find(',', at) - at - 9);
  };
  EXPECT_EQ(edges(r.out), edges(traced.out));
}

}  // namespace
}  // namespace tmpdump::testing
