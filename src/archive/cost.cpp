#include "archive/cost.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <utility>

#include <fmt/format.h>

namespace tmpdump::archive {

namespace {

// CPU seconds per byte, one thread, from `bench/cpu/run --levels "19 17 15
// 12"` on ~275 MB of real shared libraries (docs/benchmarks.md, "bench/cpu").
// Decoding, per byte unpacked, by zstd level (the levels between take the
// next one up; levels under 12 decode about as fast as 12):
constexpr std::array<std::pair<int, double>, 4> kZstdDecode{
    {{12, 0.67e-9}, {15, 0.68e-9}, {17, 0.82e-9}, {19, 1.04e-9}}};
constexpr double kDeflateDecode = 1.20e-9;  // ISA-L inflate
constexpr double kStoredDecode = 0.05e-9;   // a copy
// Per byte of the archive: taking it off the socket (curl's own CPU,
// 0.030 s for 63 MB) and SHA-256 (OpenSSL with the SHA extensions).
constexpr double kReceive = 0.5e-9;
constexpr double kSha256 = 0.65e-9;
// Per byte unpacked: CRC-32 (ISA-L) and writing into /tmp (a tmpfs).
constexpr double kCrcAndWrite = 0.27e-9;
// Per entry: creating it, its mode, its name in the directory.
constexpr double kPerEntry = 100e-6;
// Under a quota below the machine's cores the kernel throttles the pull's
// threads in 100 ms periods, and the network stalls behind them: at 0.58 and
// 0.29 of a core the pulls took 1/0.74 of their CPU time over the share
// (median over five archives).
constexpr double kThrottledEfficiency = 0.74;

double zstd_decode(std::optional<int> level) {
  const int l = level.value_or(19);
  for (const auto& [at, cost] : kZstdDecode)
    if (l <= at) return cost;
  return kZstdDecode.back().second;
}

}  // namespace

double lambda_vcpus(std::uint64_t memory_mb) noexcept {
  return std::min(6.0, static_cast<double>(memory_mb) / 1769.0);
}

PullEstimate estimate_pull(const CentralDirectory& dir, std::optional<int> zstd_level, double vcpus,
                           double network_bytes_per_second) noexcept {
  PullEstimate e;
  const auto archive_bytes = static_cast<double>(dir.archive_size);
  e.download_seconds = archive_bytes / network_bytes_per_second;
  double cpu = archive_bytes * (kReceive + kSha256);
  for (const auto& entry : dir.entries) {
    cpu += kPerEntry;
    if (entry.type != EntryType::File) continue;
    const auto out = static_cast<double>(entry.uncompressed_size);
    const double decode = entry.method == Method::Zstd      ? zstd_decode(zstd_level)
                          : entry.method == Method::Deflate ? kDeflateDecode
                                                            : kStoredDecode;
    cpu += out * (decode + kCrcAndWrite);
  }
  e.cpu_seconds = cpu;
  const double share = std::max(vcpus, 0.01);
  e.cpu_wall_seconds = cpu / (share < 1 ? share * kThrottledEfficiency : share);
  e.seconds = std::max(e.download_seconds, e.cpu_wall_seconds);
  return e;
}

std::string describe(const PullEstimate& e, std::uint64_t memory_mb) {
  return fmt::format(
      "the pull takes about {:.1f} s at {} MB ({:.2f} vCPU): {} ({:.2f} CPU-s, {:.1f} s at that share; "
      "the download alone {:.1f} s at ~75 MB/s)",
      e.seconds, memory_mb, lambda_vcpus(memory_mb), e.cpu_bound() ? "CPU-bound" : "network-bound", e.cpu_seconds,
      e.cpu_wall_seconds, e.download_seconds);
}

}  // namespace tmpdump::archive
