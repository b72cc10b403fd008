#include "layer/library_path.hpp"

#include <unistd.h>

#include <filesystem>

#include <gtest/gtest.h>

namespace tmpdump::layer {
namespace {

namespace fs = std::filesystem;

TEST(LayerLibraryPath, TmpdumpFirstThenTaskThenInheritedWithoutDuplicates) {
  EXPECT_EQ(library_path("/tmp", true, "/var/task", "/var/task/lib:/opt/lib", false),
            "/tmp/lib:/var/task/lib:/opt/lib");
  EXPECT_EQ(library_path("/tmp", false, "/var/task", "", false), "/var/task/lib");
}

TEST(LayerLibraryPath, CpuVariantDirectoryComesFirstWhenPresentAndSupported) {
  char tmpl[] = "/tmp/bootstrap-hwcaps-XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  const fs::path root = tmpl;
  fs::create_directories(root / "lib/glibc-hwcaps/x86-64-v3");
  EXPECT_EQ(library_path(root, true, "/var/task", "", true),
            (root / "lib/glibc-hwcaps/x86-64-v3").string() + ":" + (root / "lib").string() + ":/var/task/lib");
  EXPECT_EQ(library_path(root, true, "/var/task", "", false), (root / "lib").string() + ":/var/task/lib");
  fs::remove_all(root);
}

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
// The CPUID reading must agree with GCC's own test of the same features (the
// psABI's x86-64-v3 list), on whatever machine runs the suite.
TEST(LayerLibraryPath, X86_64V3DetectionAgreesWithTheCompilersBuiltin) {
  __builtin_cpu_init();
  const bool builtin = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("bmi") &&
                       __builtin_cpu_supports("bmi2") && __builtin_cpu_supports("fma") &&
                       __builtin_cpu_supports("f16c") && __builtin_cpu_supports("movbe") &&
                       __builtin_cpu_supports("lzcnt");
  EXPECT_EQ(cpu_has_x86_64_v3(), builtin);
}
#endif

}  // namespace
}  // namespace tmpdump::layer
