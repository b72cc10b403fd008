// Sizes for people: one spelling everywhere tmpdump prints one.
#pragma once

#include <cstdint>
#include <string>

#include <fmt/format.h>

namespace tmpdump {

/// "14.4 MB" (decimal megabytes, as S3 and Lambda's network figures are).
inline std::string mb(std::uint64_t bytes) { return fmt::format("{:.1f} MB", static_cast<double>(bytes) / 1e6); }

}  // namespace tmpdump
