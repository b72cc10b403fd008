// Sizes for people: one spelling everywhere tmpdump prints one.
#pragma once

#include <cstdint>
#include <string>

#include <fmt/format.h>

namespace tmpdump {

/// "14.4 MB" (decimal megabytes, as S3 and Lambda's network figures are).
inline std::string mb(std::uint64_t bytes) { return fmt::format("{:.1f} MB", static_cast<double>(bytes) / 1e6); }

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
