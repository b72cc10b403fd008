#include "archive/cost.hpp"

#include <gtest/gtest.h>

namespace tmpdump::archive {
namespace {

/// One file of `unpacked` bytes stored with `method` in an archive of `archive` bytes.
CentralDirectory one_file(Method method, std::uint64_t unpacked, std::uint64_t archive) {
  CentralDirectory dir;
  Entry e;
  e.name = "lib/libbig.so";
  e.method = method;
  e.uncompressed_size = unpacked;
  e.compressed_size = archive;
  dir.entries.push_back(e);
  dir.archive_size = archive;
  dir.total_uncompressed = unpacked;
  return dir;
}

TEST(PullCost, LambdaGivesOneVcpuPer1769MbUpToSix) {
  EXPECT_DOUBLE_EQ(lambda_vcpus(1769), 1.0);
  EXPECT_NEAR(lambda_vcpus(1024), 0.58, 0.005);
  EXPECT_NEAR(lambda_vcpus(128), 0.072, 0.001);
  EXPECT_LE(lambda_vcpus(10240), 6.0);
}

TEST(PullCost, AtAFullCoreTheDownloadBoundsAndAtATinyShareTheCpuDoes) {
  // 275 MB of libraries in a 63 MB zstd-19 archive, as bench/cpu measured.
  const auto dir = one_file(Method::Zstd, 275'000'000, 63'000'000);
  const auto full = estimate_pull(dir, 19, 1.0);
  EXPECT_NEAR(full.download_seconds, 0.84, 0.01);
  EXPECT_FALSE(full.cpu_bound());
  EXPECT_DOUBLE_EQ(full.seconds, full.download_seconds);
  const auto small = estimate_pull(dir, 19, lambda_vcpus(512));
  EXPECT_TRUE(small.cpu_bound());
  EXPECT_GT(small.seconds, 2 * small.download_seconds);
  // The same CPU either way; only its wall time depends on the share.
  EXPECT_DOUBLE_EQ(small.cpu_seconds, full.cpu_seconds);
}

TEST(PullCost, LowerZstdLevelsDecodeCheaperAndDeflateCostsMore) {
  const auto z19 = estimate_pull(one_file(Method::Zstd, 100'000'000, 23'000'000), 19, 0.58);
  const auto z12 = estimate_pull(one_file(Method::Zstd, 100'000'000, 26'000'000), 12, 0.58);
  const auto deflate = estimate_pull(one_file(Method::Deflate, 100'000'000, 30'500'000), std::nullopt, 0.58);
  EXPECT_LT(z12.cpu_seconds, z19.cpu_seconds);
  EXPECT_GT(deflate.cpu_seconds, z19.cpu_seconds);
  // An unknown level is costed as the dearest (19).
  EXPECT_DOUBLE_EQ(estimate_pull(one_file(Method::Zstd, 100'000'000, 23'000'000), std::nullopt, 0.58).cpu_seconds,
                   z19.cpu_seconds);
}

TEST(PullCost, EveryEntryCostsSomethingEvenEmpty) {
  CentralDirectory dir;
  for (int i = 0; i < 1000; ++i) {
    Entry e;
    e.type = EntryType::Symlink;
    dir.entries.push_back(e);
  }
  EXPECT_GT(estimate_pull(dir, 19, 1.0).cpu_seconds, 0.05);
}

TEST(PullCost, DescribeSaysWhatBoundsIt) {
  const auto dir = one_file(Method::Zstd, 275'000'000, 63'000'000);
  EXPECT_NE(describe(estimate_pull(dir, 19, lambda_vcpus(512)), 512).find("CPU-bound"), std::string::npos);
  const auto text = describe(estimate_pull(dir, 19, lambda_vcpus(1769)), 1769);
  EXPECT_NE(text.find("network-bound"), std::string::npos) << text;
  EXPECT_NE(text.find("at 1769 MB (1.00 vCPU)"), std::string::npos) << text;
}

}  // namespace
}  // namespace tmpdump::archive
