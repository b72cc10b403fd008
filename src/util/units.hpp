// Sizes for people: one spelling everywhere tmpdump prints one.
#pragma once

#include <cstdint>
#include <string>

#include <fmt/format.h>

namespace tmpdump {

/// "14.4 MB" (decimal megabytes, as S3 and Lambda's network figures are).
inline std::string mb(std::uint64_t bytes) {
  return fmt::format("{:.1f} MB", static_cast<double>(bytes) / 1e6);
}

/// "600.0 MB" for 600 x 2^20 bytes: Lambda's MB, in which it counts memory and
/// ephemeral storage (`--ephemeral-mb 512` is 512 x 2^20 bytes of /tmp), for
/// sizes set against those limits.
inline std::string lambda_mb(std::uint64_t bytes) {
  return fmt::format("{:.1f} MB", static_cast<double>(bytes) / static_cast<double>(1 << 20));
}

/// "3.2/14.4 MB": how far a transfer of `total` bytes has come, in decimal MB.
inline std::string mb_progress(std::uint64_t done, std::uint64_t total) {
  return fmt::format("{:.1f}/{:.1f} MB", static_cast<double>(done) / 1e6, static_cast<double>(total) / 1e6);
}

/// "85.3 MB/s" (with `decimals` 1) or "85 MB/s" (0): `bytes` over `seconds`,
/// in decimal MB; 0 before any time has passed.
inline std::string mb_per_s(std::uint64_t bytes, double seconds, int decimals = 1) {
  return fmt::format("{:.{}f} MB/s", seconds > 0 ? static_cast<double>(bytes) / 1e6 / seconds : 0.0, decimals);
}

/// "14.4 MiB" with `decimals` digits (binary megabytes, as Lambda's /tmp and
/// SnapStart limits are).
inline std::string mib(std::uint64_t bytes, int decimals) {
  return fmt::format("{:.{}f} MiB", static_cast<double>(bytes) / (1ull << 20), decimals);
}

/// Room on a file system: "1.50 GiB" from 1 GiB, "14.4 MiB" from 1 MiB,
/// otherwise whole KiB rounded up ("12 KiB").
inline std::string binary_size(std::uint64_t bytes) {
  if (bytes >= (1ull << 30)) return fmt::format("{:.2f} GiB", static_cast<double>(bytes) / (1ull << 30));
  if (bytes >= (1ull << 20)) return mib(bytes, 1);
  return fmt::format("{} KiB", (bytes + 1023) / 1024);
}

}  // namespace tmpdump
