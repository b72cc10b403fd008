// tmpdump trace end to end: real programs (C built here, a JVM) run under the
// real audit library; the trace file is read back with the trace module.
#include <algorithm>
#include <filesystem>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "support/process.hpp"
#include "support/s3_server.hpp"
#include "trace/trace.hpp"

namespace tmpdump::testing {
namespace {

namespace fs = std::filesystem;


const trace::Library* find_library(const trace::Trace& t, const fs::path& real_path) {
  for (const auto& l : t.libraries) {
    if (l.path == real_path.string()) return &l;
  }
  return nullptr;
}

bool has_name(const trace::Library& l, const std::string& name) {
  return std::find(l.names.begin(), l.names.end(), name) != l.names.end();
}

std::string listing(const trace::Trace& t) { return trace::to_json(t); }

class TraceTest : public ::testing::Test {
 protected:
  // A plugin with a symlinked soname and a dependency of its own, and a
  // program linked against zlib that dlopens whatever it is told to.
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    const fs::path d = dir_->path();
    fs::create_directories(d / "lib");
    write_file(d / "dep.c", "int dep_value(void) { return 40; }\n");
    write_file(d / "plugin.c", "int dep_value(void);\nint plugin_value(void) { return dep_value() + 2; }\n");
    write_file(d / "dl.c", R"(#include <dlfcn.h>
#include <stdio.h>
#include <zlib.h>
int main(int argc, char** argv) {
  if (argc < 2) return 2;
  void* h = dlopen(argv[1], RTLD_NOW);
  if (!h) { fprintf(stderr, "%s\n", dlerror()); return 1; }
  int (*f)(void) = (int (*)(void))dlsym(h, "plugin_value");
  printf("plugin says %d, zlib %s\n", f(), zlibVersion());
  return 0;
}
)");
    compile({"-shared", "-fPIC", "-Wl,-soname,libdep.so.2", "-o", (d / "lib/libdep.so.2").string(), (d / "dep.c").string()});
    compile({"-shared", "-fPIC", "-Wl,-soname,libplugin.so.1", "-o", (d / "lib/libplugin.so.1.0").string(),
             (d / "plugin.c").string(), "-L" + (d / "lib").string(), "-l:libdep.so.2", "-Wl,-rpath,$ORIGIN"});
    fs::create_symlink("libplugin.so.1.0", d / "lib/libplugin.so.1");
    compile({"-o", (d / "dl").string(), (d / "dl.c").string(), "-lz", "-ldl"});
  }
  static void TearDownTestSuite() {
    delete dir_;
    dir_ = nullptr;
  }
  void SetUp() override {
    ASSERT_TRUE(fs::exists(dir_->path() / "dl")) << "the test programs did not build (see above)";
  }

  static fs::path d() { return dir_->path(); }

  // Runs `tmpdump trace -o OUT -- command...` and reads OUT back.
  RunResult trace_cmd(const std::vector<std::string>& command, trace::Trace* out, EnvChanges env = {}) {
    const fs::path file = work_ / "trace.json";
    std::vector<std::string> argv{tmpdump_binary().string(), "trace", "-o", file.string(), "--"};
    argv.insert(argv.end(), command.begin(), command.end());
    auto r = run(argv, {.env = env, .timeout = std::chrono::seconds(120)});
    if (out != nullptr && fs::exists(file)) {
      auto t = trace::parse_json(read_file(file), file.string());
      EXPECT_TRUE(t) << t.error().message;
      if (t) *out = std::move(*t);
    }
    return r;
  }

  static TempDir* dir_;
  TempDir work_;
};

TempDir* TraceTest::dir_ = nullptr;

TEST_F(TraceTest, RecordsDlopenedLibraryItsDependencyAndLinkedLibraries) {
  trace::Trace t;
  auto r = trace_cmd({(d() / "dl").string(), "libplugin.so.1"}, &t, {{"LD_LIBRARY_PATH", (d() / "lib").string()}});
  ASSERT_EQ(r.exit_code, 0) << r.all();
  EXPECT_NE(r.out.find("plugin says 42"), std::string::npos) << r.all();
  EXPECT_EQ(t.command, (std::vector<std::string>{(d() / "dl").string(), "libplugin.so.1"}));

  const auto* plugin = find_library(t, fs::canonical(d() / "lib/libplugin.so.1.0"));
  ASSERT_NE(plugin, nullptr) << listing(t);
  // The symlink names the loader was asked for survive: the dlopen argument and the path it opened.
  EXPECT_TRUE(has_name(*plugin, "libplugin.so.1")) << listing(t);
  EXPECT_TRUE(has_name(*plugin, (d() / "lib/libplugin.so.1").string())) << listing(t);

  const auto* dep = find_library(t, fs::canonical(d() / "lib/libdep.so.2"));
  ASSERT_NE(dep, nullptr) << listing(t);
  EXPECT_TRUE(has_name(*dep, "libdep.so.2"));

  const auto zlib = std::find_if(t.libraries.begin(), t.libraries.end(),
                                 [](const auto& l) { return has_name(l, "libz.so.1"); });
  ASSERT_NE(zlib, t.libraries.end()) << listing(t);
  EXPECT_EQ(zlib->path, fs::canonical(zlib->path).string());

  // The glibc family is recorded; the loader, the vDSO and the audit library are not.
  EXPECT_TRUE(std::any_of(t.libraries.begin(), t.libraries.end(), [](const auto& l) { return has_name(l, "libc.so.6"); }));
  for (const auto& l : t.libraries) {
    EXPECT_EQ(l.path.find("ld-linux"), std::string::npos) << l.path;
    EXPECT_EQ(l.path.find("vdso"), std::string::npos) << l.path;
    EXPECT_EQ(l.path.find("tmpdump-audit"), std::string::npos) << l.path;
  }
  // Each real file once.
  for (std::size_t i = 0; i < t.libraries.size(); ++i) {
    for (std::size_t j = i + 1; j < t.libraries.size(); ++j) EXPECT_NE(t.libraries[i].path, t.libraries[j].path);
  }
}

TEST_F(TraceTest, RecordsLibrariesLoadedByChildProcesses) {
  trace::Trace t;
  const std::string script = fmt::format("{} {} && true", (d() / "dl").string(), (d() / "lib/libplugin.so.1").string());
  auto r = trace_cmd({"/bin/sh", "-c", script}, &t);
  ASSERT_EQ(r.exit_code, 0) << r.all();
  const auto* plugin = find_library(t, fs::canonical(d() / "lib/libplugin.so.1.0"));
  ASSERT_NE(plugin, nullptr) << listing(t);
  EXPECT_TRUE(has_name(*plugin, (d() / "lib/libplugin.so.1").string())) << listing(t);
  EXPECT_TRUE(has_name(*plugin, "libplugin.so.1")) << listing(t);  // its soname
}

TEST_F(TraceTest, RecordsJniLibraryThatJvmLoadsFromCacheDirectory) {
  const auto javac_where = run({"/bin/sh", "-c", "readlink -f \"$(command -v javac)\""});
  if (javac_where.exit_code != 0 || javac_where.out.empty()) GTEST_SKIP() << "no javac (default-jdk-headless)";
  const fs::path jdk = fs::path(javac_where.out.substr(0, javac_where.out.find('\n'))).parent_path().parent_path();
  const fs::path j = work_ / "jni";
  fs::create_directories(j / "packed");
  write_file(j / "Hello.java", R"(import java.nio.file.*;
public class Hello {
  static native int answer();
  public static void main(String[] args) throws Exception {
    // As JavaCPP does: copy the library out of the "jar" into a cache dir, then load it from there.
    Path cache = Paths.get(args[1]);
    Files.createDirectories(cache);
    Path lib = cache.resolve("libhello.so");
    Files.copy(Paths.get(args[0]), lib, StandardCopyOption.REPLACE_EXISTING);
    System.load(lib.toString());
    System.out.println("answer " + answer());
  }
}
)");
  write_file(j / "hello.c", R"(#include <jni.h>
JNIEXPORT jint JNICALL Java_Hello_answer(JNIEnv* env, jclass cls) { (void)env; (void)cls; return 42; }
)");
  compile({"-shared", "-fPIC", "-I" + (jdk / "include").string(), "-I" + (jdk / "include/linux").string(), "-o",
           (j / "packed/libhello.so").string(), (j / "hello.c").string()});
  auto javac = run({(jdk / "bin/javac").string(), "-d", j.string(), (j / "Hello.java").string()},
                   {.timeout = std::chrono::seconds(120)});
  ASSERT_EQ(javac.exit_code, 0) << javac.all();

  trace::Trace t;
  auto r = trace_cmd({(jdk / "bin/java").string(), "-cp", j.string(), "Hello",
                      (j / "packed/libhello.so").string(), (j / "cache").string()},
                     &t);
  ASSERT_EQ(r.exit_code, 0) << r.all();
  EXPECT_NE(r.out.find("answer 42"), std::string::npos) << r.all();
  const auto* hello = find_library(t, fs::canonical(j / "cache/libhello.so"));
  ASSERT_NE(hello, nullptr) << listing(t);
  EXPECT_TRUE(has_name(*hello, fs::canonical(j / "cache/libhello.so").string()) ||
              has_name(*hello, (j / "cache/libhello.so").string()))
      << listing(t);
  // The JVM itself was loaded with dlopen by the launcher.
  EXPECT_TRUE(std::any_of(t.libraries.begin(), t.libraries.end(),
                          [](const auto& l) { return l.path.ends_with("/libjvm.so"); }))
      << listing(t);
}

TEST_F(TraceTest, ExitsWithCommandStatusAndStillWritesTrace) {
  trace::Trace t;
  auto r = trace_cmd({"/bin/sh", "-c", "exit 7"}, &t);
  EXPECT_EQ(r.exit_code, 7) << r.all();
  EXPECT_EQ(t.command, (std::vector<std::string>{"/bin/sh", "-c", "exit 7"}));
  EXPECT_NE(r.err.find("exited with 7"), std::string::npos) << r.err;
}

TEST_F(TraceTest, CommandOptionsAreNotTakenForTracesOwn) {
  // No "--": everything from the command on is the command's, -o and -q included.
  auto r = run({tmpdump_binary().string(), "trace", "-q", "/bin/sh", "-c", "echo $0 $1", "-o", "-q"},
               {.cwd = work_.path()});
  ASSERT_EQ(r.exit_code, 0) << r.all();
  EXPECT_NE(r.out.find("-o -q\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\"format\": 1"), std::string::npos) << r.out;  // trace on stdout after the command's output
  EXPECT_TRUE(r.err.empty()) << r.err;
}

TEST_F(TraceTest, CommandThatDoesNotExistIsNotFound) {
  auto r = trace_cmd({"/nonexistent/program"}, nullptr);
  EXPECT_EQ(r.exit_code, 3) << r.all();
  EXPECT_NE(r.err.find("/nonexistent/program"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(work_ / "trace.json"));
}

TEST_F(TraceTest, MissingAuditLibraryIsReportedWithWhereToSetIt) {
  auto r = trace_cmd({"/bin/true"}, nullptr, {{"TMPDUMP_AUDIT_LIB", "/nonexistent/libtmpdump-audit.so"}});
  EXPECT_EQ(r.exit_code, 3) << r.all();
  EXPECT_NE(r.err.find("TMPDUMP_AUDIT_LIB"), std::string::npos) << r.err;
}

TEST_F(TraceTest, AuditLibraryIsFoundInBuildTree) {
  EXPECT_TRUE(fs::exists(build_dir() / "src/trace/libtmpdump-audit.so"));
}

}  // namespace
}  // namespace tmpdump::testing
