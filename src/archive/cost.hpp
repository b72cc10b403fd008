// How long a pull of an archive takes on a Lambda function of a given size,
// and whether the network or the CPU bounds it: a model whose constants come
// from bench/cpu (docs/benchmarks.md, "bench/cpu"). Used by `tmpdump check`.
#pragma once

#include <cstdint>

#include "archive/zip.hpp"

namespace tmpdump::archive {

/// Lambda's CPU for a memory size: 1,769 MB is one vCPU, in proportion, at
/// most 6 (10,240 MB).
[[nodiscard]] double lambda_vcpus(std::uint64_t memory_mb) noexcept;

struct PullConditions {
  double vcpus = 1;                          ///< the CPU share the pull runs with
  double network_bytes_per_second = 75e6;    ///< what a function gets from S3 (~600 Mbit/s)
};

struct PullEstimate {
  double download_seconds = 0;  ///< the archive's bytes at the network rate
  double cpu_seconds = 0;       ///< CPU the whole pull needs (receive, SHA-256, decode, CRC-32, write, metadata)
  double seconds = 0;           ///< the larger of the download and the CPU time at `vcpus`
  [[nodiscard]] bool cpu_bound() const noexcept { return cpu_seconds > download_seconds * vcpus_used; }
  double vcpus_used = 1;
};

/// The model: the pull streams, so download and CPU overlap and the slower one
/// sets the time; CPU work spreads over the share (the pull decodes on all
/// cores, in parts of ~8 MiB).
[[nodiscard]] PullEstimate estimate_pull(const CentralDirectory& dir, const PullConditions& conditions) noexcept;

}  // namespace tmpdump::archive
