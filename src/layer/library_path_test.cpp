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

}  // namespace
}  // namespace tmpdump::layer
