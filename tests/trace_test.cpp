// tmpdump trace end to end: real programs (C built here, a JVM) run under the
// real audit library; the trace file is read back with the trace module.
#include "trace/trace.hpp"

#include <algorithm>
#include <filesystem>
#include <set>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "support/process.hpp"
#include "support/s3_server.hpp"

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

std::string listing(const trace::Trace& t) {
  return trace::to_json(t);
}

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
    compile({"-shared", "-fPIC", "-Wl,-soname,libdep.so.2", "-o", (d / "lib/libdep.so.2").string(),
             (d / "dep.c").string()});
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

  // Runs `tmpdump pack -v TRACE -o OUT.zip` and returns its result; `listing` gets the archive's paths.
  RunResult pack(const fs::path& trace_file, const std::string& out, std::vector<std::string> extra,
                 std::set<std::string>* listing) {
    std::vector<std::string> argv{tmpdump_binary().string(), "pack",    "-v", trace_file.string(), "-o",
                                  (work_ / out).string(),    "--level", "1"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    auto r = run(argv, {.env = {{"TMPDUMP_PROGRESS", "0"}}, .timeout = std::chrono::seconds(120)});
    auto names = run({"unzip", "-Z1", (work_ / out).string()});
    std::size_t at = 0;
    while (listing != nullptr && at < names.out.size()) {
      const auto nl = names.out.find('\n', at);
      listing->insert(names.out.substr(at, nl - at));
      at = nl == std::string::npos ? names.out.size() : nl + 1;
    }
    return r;
  }

  static TempDir* dir_;
  TempDir work_;
};

TempDir* TraceTest::dir_ = nullptr;

std::string joined(const std::set<std::string>& s) {
  std::string out;
  for (const auto& x : s) out += x + "\n";
  return out;
}

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

  const auto zlib =
      std::find_if(t.libraries.begin(), t.libraries.end(), [](const auto& l) { return has_name(l, "libz.so.1"); });
  ASSERT_NE(zlib, t.libraries.end()) << listing(t);
  EXPECT_EQ(zlib->path, fs::canonical(zlib->path).string());

  // The glibc family is recorded; the loader, the vDSO and the audit library are not.
  EXPECT_TRUE(
      std::any_of(t.libraries.begin(), t.libraries.end(), [](const auto& l) { return has_name(l, "libc.so.6"); }));
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
  auto r = trace_cmd({(jdk / "bin/java").string(), "-cp", j.string(), "Hello", (j / "packed/libhello.so").string(),
                      (j / "cache").string()},
                     &t);
  ASSERT_EQ(r.exit_code, 0) << r.all();
  EXPECT_NE(r.out.find("answer 42"), std::string::npos) << r.all();
  const auto* hello = find_library(t, fs::canonical(j / "cache/libhello.so"));
  ASSERT_NE(hello, nullptr) << listing(t);
  EXPECT_TRUE(has_name(*hello, fs::canonical(j / "cache/libhello.so").string()) ||
              has_name(*hello, (j / "cache/libhello.so").string()))
      << listing(t);
  // The JVM itself was loaded with dlopen by the launcher.
  EXPECT_TRUE(std::any_of(t.libraries.begin(), t.libraries.end(), [](const auto& l) {
    return l.path.ends_with("/libjvm.so");
  })) << listing(t);
  // The user's JNI library is the function's, the JDK's are the runtime's: only the former is packed.
  EXPECT_EQ(hello->provided_by, "") << listing(t);
  std::set<std::string> packed;
  auto p = pack(work_ / "trace.json", "jni.zip", {}, &packed);
  ASSERT_EQ(p.exit_code, 0) << p.all();
  EXPECT_TRUE(packed.contains("lib/libhello.so")) << joined(packed);
  EXPECT_FALSE(packed.contains("lib/libjvm.so")) << joined(packed);
}

TEST_F(TraceTest, JvmsOwnLibrariesAreTheRuntimesAndLeftOutUnlessIncludeRuntime) {
  const auto java_where = run({"/bin/sh", "-c", "readlink -f \"$(command -v javac)\""});
  if (java_where.exit_code != 0 || java_where.out.empty()) GTEST_SKIP() << "no javac (default-jdk-headless)";
  const fs::path jdk = fs::path(java_where.out.substr(0, java_where.out.find('\n'))).parent_path().parent_path();
  write_file(work_ / "Crc.java", R"(public class Crc {
  public static void main(String[] a) throws Exception {
    java.util.zip.CRC32 c = new java.util.zip.CRC32();
    c.update(new byte[] {1, 2, 3});
    System.out.println("crc " + c.getValue() + " " + java.nio.file.Files.exists(java.nio.file.Paths.get("/")));
  }
}
)");
  auto javac = run({(jdk / "bin/javac").string(), "-d", work_.path().string(), (work_ / "Crc.java").string()},
                   {.timeout = std::chrono::seconds(120)});
  ASSERT_EQ(javac.exit_code, 0) << javac.all();
  trace::Trace t;
  auto r = trace_cmd({(jdk / "bin/java").string(), "-cp", work_.path().string(), "Crc"}, &t);
  ASSERT_EQ(r.exit_code, 0) << r.all();
  ASSERT_NE(r.out.find("crc "), std::string::npos) << r.all();
  EXPECT_NE(r.err.find(" the java runtime's own, written to "), std::string::npos) << r.err;
  std::size_t jdk_libs = 0;
  for (const auto& l : t.libraries) {
    if (l.path.starts_with(fs::canonical(jdk).string() + "/")) {
      ++jdk_libs;
      EXPECT_EQ(l.provided_by, "java") << l.path;
    }
  }
  EXPECT_GE(jdk_libs, 3u) << listing(t);  // libjli, libjvm, libjava, libzip, ...

  std::set<std::string> packed;
  auto p = pack(work_ / "trace.json", "java.zip", {}, &packed);
  ASSERT_EQ(p.exit_code, 0) << p.all();
  for (const auto& e : packed) {
    for (const char* jdk_lib : {"libjvm.so", "libjava.so", "libjli.so", "libzip.so", "libnio.so", "libnet.so"}) {
      EXPECT_NE(e, std::string("lib/") + jdk_lib) << joined(packed);
    }
  }
  EXPECT_NE(p.err.find("leaving out "), std::string::npos) << p.all();
  EXPECT_NE(p.err.find("libjvm.so: the java runtime brings its own"), std::string::npos) << p.all();
  EXPECT_NE(p.out.find("the java runtime brings itself"), std::string::npos) << p.all();

  auto inspect = run({tmpdump_binary().string(), "inspect", (work_ / "java.zip").string()});
  ASSERT_EQ(inspect.exit_code, 0) << inspect.all();
  EXPECT_NE(inspect.out.find("left out: "), std::string::npos) << inspect.out;
  EXPECT_NE(inspect.out.find("libjvm.so (provided by java)"), std::string::npos) << inspect.out;

  std::set<std::string> everything;
  auto all = pack(work_ / "trace.json", "java-all.zip", {"--include-runtime"}, &everything);
  ASSERT_EQ(all.exit_code, 0) << all.all();
  EXPECT_TRUE(everything.contains("lib/libjvm.so")) << joined(everything);
  EXPECT_TRUE(everything.contains("lib/libjava.so")) << joined(everything);
}

TEST_F(TraceTest, NodesOwnLibrariesAreTheRuntimesAndAnAddonsAreTheFunctions) {
  const auto where = run({"/bin/sh", "-c", "command -v node"});
  if (where.exit_code != 0 || where.out.empty()) GTEST_SKIP() << "no node";
  // process.dlopen maps the library (and what it needs) before it finds no
  // module registration in it: enough to stand in for a native addon.
  const fs::path plugin = d() / "lib/libplugin.so.1";
  trace::Trace t;
  auto r = trace_cmd(
      {"node", "-e", "try { process.dlopen({exports: {}}, process.argv[1]); } catch (e) { } console.log('node ran')",
       plugin.string()},
      &t);
  ASSERT_EQ(r.exit_code, 0) << r.all();
  ASSERT_NE(r.out.find("node ran"), std::string::npos) << r.all();
  const auto* addon = find_library(t, fs::canonical(plugin));
  ASSERT_NE(addon, nullptr) << listing(t);
  EXPECT_EQ(addon->provided_by, "");
  const auto* dep = find_library(t, fs::canonical(d() / "lib/libdep.so.2"));
  ASSERT_NE(dep, nullptr) << listing(t);
  EXPECT_EQ(dep->provided_by, "");
  // Whatever node itself links (libnode and its ICU, OpenSSL, ... on Debian; libstdc++ for a static build).
  std::size_t runtime = 0;
  for (const auto& l : t.libraries) runtime += l.provided_by == "node" ? 1u : 0u;
  EXPECT_GE(runtime, 1u) << listing(t);

  std::set<std::string> packed;
  auto p = pack(work_ / "trace.json", "node.zip", {}, &packed);
  ASSERT_EQ(p.exit_code, 0) << p.all();
  EXPECT_TRUE(packed.contains("lib/libplugin.so.1.0")) << joined(packed);
  EXPECT_TRUE(packed.contains("lib/libdep.so.2")) << joined(packed);
  for (const auto& l : t.libraries) {
    if (l.provided_by == "node") {
      EXPECT_FALSE(packed.contains("lib/" + fs::path(l.path).filename().string())) << l.path;
    }
  }
}

TEST_F(TraceTest, PythonsOwnModulesAreTheRuntimesAndTheFunctionsModuleGoesUnderPython) {
  const std::string python = "/usr/bin/python3";
  if (!fs::exists(python)) GTEST_SKIP() << "no /usr/bin/python3";
  auto conf =
      run({python, "-c",
           "import sysconfig; print(sysconfig.get_paths()['include']); print(sysconfig.get_config_var('EXT_SUFFIX'))"});
  ASSERT_EQ(conf.exit_code, 0) << conf.all();
  const std::string include = conf.out.substr(0, conf.out.find('\n'));
  const std::string suffix = conf.out.substr(conf.out.find('\n') + 1, conf.out.rfind('\n') - conf.out.find('\n') - 1);
  if (!fs::exists(fs::path(include) / "Python.h")) GTEST_SKIP() << "no Python.h (python3-dev)";

  // The function's package: an extension module in site-packages that needs a library of its own.
  const fs::path site = work_ / "venv/lib/site-packages";
  fs::create_directories(site / "mypkg");
  write_file(site / "mypkg/__init__.py", "");
  write_file(work_ / "hello.c", R"(#include <Python.h>
int dep_value(void);
static PyObject* value(PyObject* self, PyObject* args) { (void)self; (void)args; return PyLong_FromLong(dep_value()); }
static PyMethodDef methods[] = {{"value", value, METH_NOARGS, ""}, {NULL, NULL, 0, NULL}};
static struct PyModuleDef def = {PyModuleDef_HEAD_INIT, "_hello", NULL, -1, methods, NULL, NULL, NULL, NULL};
PyMODINIT_FUNC PyInit__hello(void) { return PyModule_Create(&def); }
)");
  const std::string module = "mypkg/_hello" + suffix;
  compile({"-shared", "-fPIC", "-I" + include, "-o", (site / module).string(), (work_ / "hello.c").string(),
           "-L" + (d() / "lib").string(), "-l:libdep.so.2", "-Wl,-rpath," + (d() / "lib").string()});

  trace::Trace t;
  auto r = trace_cmd({python, "-c",
                      "import sys, json, ctypes, _json; sys.path.insert(0, sys.argv[1]); import mypkg._hello as h; "
                      "print('value', h.value(), json.dumps([1]))",
                      site.string()},
                     &t);
  ASSERT_EQ(r.exit_code, 0) << r.all();
  ASSERT_NE(r.out.find("value 40 [1]"), std::string::npos) << r.all();
  const auto* mod = find_library(t, fs::canonical(site / module));
  ASSERT_NE(mod, nullptr) << listing(t);
  EXPECT_EQ(mod->python_module, module);
  EXPECT_EQ(mod->provided_by, "");

  std::set<std::string> packed;
  auto p = pack(work_ / "trace.json", "py.zip", {}, &packed);
  ASSERT_EQ(p.exit_code, 0) << p.all();
  EXPECT_TRUE(packed.contains("python/" + module)) << joined(packed);
  EXPECT_TRUE(packed.contains("lib/libdep.so.2")) << joined(packed);
  for (const auto& e : packed) {
    // No extension module flattened into lib/, none of the interpreter's (lib-dynload: _json, _ctypes),
    // and none of what only the interpreter needs (libffi for _ctypes, libexpat, libz).
    EXPECT_FALSE(e.starts_with("lib/") && e.find(".cpython-") != std::string::npos) << e;
    for (const char* own : {"lib/libffi.so", "lib/libexpat.so", "lib/libz.so"}) EXPECT_FALSE(e.starts_with(own)) << e;
  }
  EXPECT_NE(p.err.find("the python runtime brings its own"), std::string::npos) << p.all();

  std::set<std::string> everything;
  auto all = pack(work_ / "trace.json", "py-all.zip", {"--include-runtime"}, &everything);
  ASSERT_EQ(all.exit_code, 0) << all.all();
  EXPECT_TRUE(std::any_of(everything.begin(), everything.end(), [](const std::string& e) {
    return e.starts_with("lib/libffi.so");
  })) << joined(everything);
  EXPECT_TRUE(std::any_of(everything.begin(), everything.end(), [](const std::string& e) {
    return e.starts_with("python/_json.cpython-");
  })) << joined(everything);
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
  auto r =
      run({tmpdump_binary().string(), "trace", "-q", "/bin/sh", "-c", "echo $0 $1", "-o", "-q"}, {.cwd = work_.path()});
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
