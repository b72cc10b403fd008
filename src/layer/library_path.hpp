// Where the handler's dynamic loader looks for libraries once a tmpdump is
// installed: the one place both layer programs compute LD_LIBRARY_PATH from.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

namespace tmpdump::layer {

/// The LD_LIBRARY_PATH the handler runs with: the CPU-variant directory (when
/// `root`/lib/glibc-hwcaps/x86-64-v3 exists and `cpu_has_v3`), `root`/lib
/// (when `installed`), `task_root`/lib, then `inherited`, without duplicates.
[[nodiscard]] std::string library_path(const std::filesystem::path& root, bool installed,
                                       const std::filesystem::path& task_root, std::string_view inherited,
                                       bool cpu_has_v3);

/// True when this CPU runs x86-64-v3 code (AVX2, BMI1/2, FMA, F16C, MOVBE, LZCNT).
[[nodiscard]] bool cpu_has_x86_64_v3() noexcept;

}  // namespace tmpdump::layer
