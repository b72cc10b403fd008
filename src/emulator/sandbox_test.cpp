#include "emulator/sandbox.hpp"

#include <sys/stat.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>

namespace tmpdump::emulator {
namespace {

namespace fs = std::filesystem;

class SandboxLayers : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::temp_directory_path() / "sandbox-test-XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  void write(const fs::path& p, const std::string& text) {
    fs::create_directories(p.parent_path());
    std::ofstream(p, std::ios::binary) << text;
  }
  static std::string read(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }
  fs::path dir_;
};

TEST(SandboxOptions, ModesParseAndOthersAreRejected) {
  EXPECT_EQ(parse_sandbox_mode("off").value(), SandboxMode::Off);
  EXPECT_EQ(parse_sandbox_mode("auto").value(), SandboxMode::Auto);
  EXPECT_EQ(parse_sandbox_mode("required").value(), SandboxMode::Required);
  auto bad = parse_sandbox_mode("on");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code, Errc::InvalidArgument);
  EXPECT_NE(bad.error().message.find("off, auto or required"), std::string::npos) << bad.error().message;
}

TEST(SandboxOptions, MemoryIsLambdasRange) {
  EXPECT_EQ(check_memory_mb(128).value(), 128U);
  EXPECT_EQ(check_memory_mb(10240).value(), 10240U);
  EXPECT_FALSE(check_memory_mb(127));
  EXPECT_FALSE(check_memory_mb(10241));
  EXPECT_FALSE(check_memory_mb(-1));
  EXPECT_NE(check_memory_mb(64).error().message.find("128 to 10240 MB"), std::string::npos);
}

TEST(SandboxOptions, EphemeralStorageIsLambdasRange) {
  EXPECT_EQ(check_ephemeral_mb(512).value(), 512U);
  EXPECT_EQ(check_ephemeral_mb(10240).value(), 10240U);
  EXPECT_FALSE(check_ephemeral_mb(511));
  EXPECT_FALSE(check_ephemeral_mb(10241));
  EXPECT_NE(check_ephemeral_mb(0).error().message.find("--ephemeral-storage"), std::string::npos);
}

TEST(SandboxCpu, OneCoreFor1769MbAndProportionalBelow) {
  EXPECT_DOUBLE_EQ(lambda_cpus(1769, 8), 1.0);
  EXPECT_NEAR(lambda_cpus(1024, 8), 0.5789, 1e-4);
  EXPECT_NEAR(lambda_cpus(128, 8), 0.0724, 1e-4);
  EXPECT_NEAR(lambda_cpus(10240, 8), 5.7886, 1e-4);  // Lambda's 6 vCPUs at the top
}

TEST(SandboxCpu, NeverMoreThanTheMachinesCores) {
  EXPECT_DOUBLE_EQ(lambda_cpus(10240, 2), 2.0);
  EXPECT_DOUBLE_EQ(lambda_cpus(3538, 2), 2.0);
  EXPECT_DOUBLE_EQ(lambda_cpus(1769, 0), 1.0);  // an unknown core count counts as one
}

TEST(SandboxCpu, QuotaIsSharePerHundredMillisecondsAndAtLeastTheKernelsMinimum) {
  EXPECT_EQ(cfs_quota(1.0).quota_us, 100000);
  EXPECT_EQ(cfs_quota(1.0).period_us, 100000);
  EXPECT_EQ(cfs_quota(lambda_cpus(1024, 8)).quota_us, 57886);
  EXPECT_EQ(cfs_quota(2.5).quota_us, 250000);
  EXPECT_EQ(cfs_quota(0.001).quota_us, 1000);
}

TEST(SandboxCpu, CpusOverrideMustBePositiveAndFitTheMachine) {
  EXPECT_DOUBLE_EQ(check_cpus(0.5, 2).value(), 0.5);
  EXPECT_DOUBLE_EQ(check_cpus(2, 2).value(), 2.0);
  EXPECT_FALSE(check_cpus(0, 2));
  EXPECT_FALSE(check_cpus(-1, 2));
  EXPECT_FALSE(check_cpus(3, 2));
}

TEST_F(SandboxLayers, LaterLayersWinAndEarlierFilesStay) {
  write(dir_ / "a/bin/tool", "from a");
  write(dir_ / "a/only-a", "a");
  write(dir_ / "b/bin/tool", "from b");
  write(dir_ / "b/only-b", "b");
  fs::create_directory(dir_ / "opt");
  const std::vector<fs::path> layers{dir_ / "a", dir_ / "b"};
  ASSERT_TRUE(merge_layers(layers, dir_ / "opt"));
  EXPECT_EQ(read(dir_ / "opt/bin/tool"), "from b");
  EXPECT_EQ(read(dir_ / "opt/only-a"), "a");
  EXPECT_EQ(read(dir_ / "opt/only-b"), "b");
}

TEST_F(SandboxLayers, OrderDecidesTheWinner) {
  write(dir_ / "a/x", "a");
  write(dir_ / "b/x", "b");
  fs::create_directory(dir_ / "opt");
  const std::vector<fs::path> layers{dir_ / "b", dir_ / "a"};
  ASSERT_TRUE(merge_layers(layers, dir_ / "opt"));
  EXPECT_EQ(read(dir_ / "opt/x"), "a");
}

TEST_F(SandboxLayers, ZipLayersMergeInOrderWithDirectories) {
  write(dir_ / "z/bin/tool", "from zip");
  write(dir_ / "z/zip-only", "z");
  fs::permissions(dir_ / "z/bin/tool", fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                                           fs::perms::others_read | fs::perms::others_exec);
  ASSERT_EQ(std::system(("cd " + (dir_ / "z").string() + " && zip -q -r ../layer.zip .").c_str()), 0);
  write(dir_ / "d/bin/tool", "from dir");
  fs::create_directory(dir_ / "opt");
  const std::vector<fs::path> zip_then_dir{dir_ / "layer.zip", dir_ / "d"};
  ASSERT_TRUE(merge_layers(zip_then_dir, dir_ / "opt"));
  EXPECT_EQ(read(dir_ / "opt/bin/tool"), "from dir");
  EXPECT_EQ(read(dir_ / "opt/zip-only"), "z");

  fs::remove_all(dir_ / "opt2");
  fs::create_directory(dir_ / "opt2");
  const std::vector<fs::path> dir_then_zip{dir_ / "d", dir_ / "layer.zip"};
  ASSERT_TRUE(merge_layers(dir_then_zip, dir_ / "opt2"));
  EXPECT_EQ(read(dir_ / "opt2/bin/tool"), "from zip");
  EXPECT_EQ(fs::status(dir_ / "opt2/bin/tool").permissions() & fs::perms::owner_exec, fs::perms::owner_exec);
  // The zip's staging is gone: only the layers' contents are left.
  for (const auto& e : fs::directory_iterator(dir_))
    EXPECT_FALSE(e.path().filename().string().starts_with(".")) << e.path();
}

TEST_F(SandboxLayers, MergedOptIsReadableByEveryone) {
  write(dir_ / "a/x", "a");
  fs::create_directory(dir_ / "opt");
  fs::permissions(dir_ / "opt", fs::perms::owner_all);
  const std::vector<fs::path> layers{dir_ / "a"};
  ASSERT_TRUE(merge_layers(layers, dir_ / "opt"));
  EXPECT_EQ(fs::status(dir_ / "opt").permissions() & fs::perms::others_exec, fs::perms::others_exec);
}

TEST_F(SandboxLayers, MissingLayerIsNotFoundNamingIt) {
  fs::create_directory(dir_ / "opt");
  const std::vector<fs::path> layers{dir_ / "nope.zip"};
  auto r = merge_layers(layers, dir_ / "opt");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::NotFound);
  EXPECT_NE(r.error().message.find("nope.zip"), std::string::npos) << r.error().message;
}

TEST_F(SandboxLayers, ANonZipFileLayerIsCorrupt) {
  write(dir_ / "junk.zip", "not a zip");
  fs::create_directory(dir_ / "opt");
  const std::vector<fs::path> layers{dir_ / "junk.zip"};
  auto r = merge_layers(layers, dir_ / "opt");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::Corrupt) << r.error().message;
}

TEST(SandboxCreate, OffConfinesNothingAndSaysNothing) {
  std::string notice = "x";
  auto s = Sandbox::create({}, SandboxMode::Off, &notice);
  ASSERT_TRUE(s);
  EXPECT_EQ(*s, nullptr);
  EXPECT_TRUE(notice.empty());
}

}  // namespace
}  // namespace tmpdump::emulator
