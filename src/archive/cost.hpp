// How long a pull of an archive takes on a Lambda function of a given memory
// size, and whether the network or the CPU bounds it. A model whose constants
// come from bench/cpu (docs/benchmarks.md, "bench/cpu"); `tmpdump check` and
// `tmpdump pack` print it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "archive/zip.hpp"

namespace tmpdump::archive {

/// Lambda's CPU for a memory size: 1,769 MB is one vCPU, in proportion, and
/// at most 6 (10,240 MB).
[[nodiscard]] double lambda_vcpus(std::uint64_t memory_mb) noexcept;

/// What a function gets from S3: about 600 Mbit/s (docs/benchmarks.md).
inline constexpr double kLambdaNetworkBytesPerSecond = 75e6;

struct PullEstimate {
  double download_seconds = 0;  ///< the archive's bytes at the network rate
  double cpu_seconds = 0;       ///< CPU the pull needs: receive, SHA-256, decode, CRC-32, write, metadata
  double cpu_wall_seconds = 0;  ///< that CPU at the function's share, throttling included
  double seconds = 0;           ///< the estimate: the larger of the two
  [[nodiscard]] bool cpu_bound() const noexcept { return cpu_wall_seconds > download_seconds; }
};

/// The pull streams: download and CPU work overlap, and the slower sets the
/// time. `zstd_level` is the level the archive was packed at (its manifest
/// says), when known.
[[nodiscard]] PullEstimate estimate_pull(const CentralDirectory& dir, std::optional<int> zstd_level, double vcpus,
                                         double network_bytes_per_second = kLambdaNetworkBytesPerSecond) noexcept;

/// "about 0.9 s at 1,024 MB (0.58 vCPU): CPU-bound (0.47 CPU-s), the download alone 0.84 s"
[[nodiscard]] std::string describe(const PullEstimate& e, std::uint64_t memory_mb);

}  // namespace tmpdump::archive
