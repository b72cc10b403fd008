#include "trace/runtime.hpp"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include <gtest/gtest.h>

namespace tmpdump::trace {
namespace {

namespace fs = std::filesystem;

TEST(JavaHome, IsTheDirectoryAboveLibOfLibjvmOrLibjava) {
  EXPECT_EQ(java_home_of("/usr/lib/jvm/java-17-openjdk-amd64/lib/server/libjvm.so"),
            fs::path("/usr/lib/jvm/java-17-openjdk-amd64"));
  EXPECT_EQ(java_home_of("/var/lang/lib/libjava.so"), fs::path("/var/lang"));
  EXPECT_EQ(java_home_of("/opt/jdk8/jre/lib/amd64/server/libjvm.so"), fs::path("/opt/jdk8/jre"));
  EXPECT_FALSE(java_home_of("/usr/lib/x86_64-linux-gnu/libz.so.1"));
  EXPECT_FALSE(java_home_of("/tmp/cache/libjniopencv_core.so"));
}

TEST(PythonModulePath, IsRelativeToSitePackagesOrTheTopPackage) {
  EXPECT_EQ(python_module_path(
                "/venv/lib/python3.12/site-packages/numpy/core/_multiarray_umath.cpython-312-x86_64-linux-gnu.so"),
            "numpy/core/_multiarray_umath.cpython-312-x86_64-linux-gnu.so");
  EXPECT_EQ(python_module_path("/usr/lib/python3/dist-packages/cv2.cpython-311-x86_64-linux-gnu.so"),
            "cv2.cpython-311-x86_64-linux-gnu.so");
  EXPECT_EQ(python_module_path("/x/site-packages/pkg/_fast.abi3.so"), "pkg/_fast.abi3.so");
  // Not an extension module: a plain library, even inside site-packages.
  EXPECT_FALSE(python_module_path("/x/site-packages/numpy.libs/libopenblas64_p-r0-0cf96a72.3.23.dev.so"));

  // A package of the function's own, outside site-packages: relative to the directory above it.
  const fs::path d = fs::temp_directory_path() / ("tmpdump-pymod-" + std::to_string(::getpid()));
  fs::create_directories(d / "src/app/native");
  std::ofstream(d / "src/app/__init__.py") << "";
  std::ofstream(d / "src/app/native/__init__.py") << "";
  EXPECT_EQ(python_module_path(d / "src/app/native/_x.cpython-312-x86_64-linux-gnu.so"),
            "app/native/_x.cpython-312-x86_64-linux-gnu.so");
  EXPECT_FALSE(python_module_path(d / "src/_loose.cpython-312-x86_64-linux-gnu.so"));
  fs::remove_all(d);
}

Library lib(std::string path) {
  return {std::move(path), {}, {}, {}};
}

TEST(MarkRuntime, JdkPythonStdlibAndNodeAreTheRuntimesTheFunctionsOwnAreNot) {
  std::vector<Library> libs{
      lib("/usr/lib/jvm/jdk/lib/server/libjvm.so"),
      lib("/usr/lib/jvm/jdk/lib/libnio.so"),
      lib("/tmp/cache/libjniopencv_core.so"),
      lib("/usr/lib/python3.11/lib-dynload/_json.cpython-311-x86_64-linux-gnu.so"),
      lib("/usr/lib/python3/dist-packages/cv2.cpython-311-x86_64-linux-gnu.so"),
      lib("/opt/py/lib/python3.12/site-packages/pkg/_m.cpython-312-x86_64-linux-gnu.so"),
      lib("/opt/py/lib/libpython3.12.so.1.0"),
      lib("/usr/lib/x86_64-linux-gnu/libnode.so.108"),
      lib("/usr/lib/x86_64-linux-gnu/libopencv_core.so.406"),
  };
  mark_runtime_libraries(libs, {"app"}, "");
  EXPECT_EQ(libs[0].provided_by, "java");
  EXPECT_EQ(libs[1].provided_by, "java");
  EXPECT_EQ(libs[2].provided_by, "");
  EXPECT_EQ(libs[3].provided_by, "python");
  EXPECT_EQ(libs[3].python_module, "_json.cpython-311-x86_64-linux-gnu.so");  // under python/ with --include-runtime
  EXPECT_EQ(libs[4].provided_by, "");
  EXPECT_EQ(libs[4].python_module, "cv2.cpython-311-x86_64-linux-gnu.so");
  EXPECT_EQ(libs[5].provided_by, "");  // site-packages inside the interpreter's prefix is still the function's
  EXPECT_EQ(libs[5].python_module, "pkg/_m.cpython-312-x86_64-linux-gnu.so");
  EXPECT_EQ(libs[6].provided_by, "python");
  EXPECT_EQ(libs[7].provided_by, "node");
  EXPECT_EQ(libs[8].provided_by, "");
  EXPECT_EQ(libs[8].python_module, "");
}

TEST(MarkRuntime, WhatTheInterpreterNeedsIsTheRuntimesUnlessTheFunctionNeedsItToo) {
  // Real ELF files: python3's own DT_NEEDED (libz on Debian, libexpat...) are
  // the runtime's; a library the function's module also needs stays the function's.
  const char* python = "/usr/bin/python3";
  if (!fs::exists(python)) GTEST_SKIP() << "no /usr/bin/python3";
  const fs::path z = fs::canonical("/lib/x86_64-linux-gnu/libz.so.1");
  std::vector<Library> libs{{z.string(), {"libz.so.1"}, {}, {}}};
  mark_runtime_libraries(libs, {python, "-c", "pass"}, "/usr/bin");
  // Debian's python3.11 links libz itself.
  EXPECT_EQ(libs[0].provided_by, "python");
  std::vector<Library> other{{z.string(), {"libz.so.1"}, {}, {}}};
  mark_runtime_libraries(other, {"/bin/true"}, "/usr/bin");
  EXPECT_EQ(other[0].provided_by, "");
}

}  // namespace
}  // namespace tmpdump::trace
