// `tmpdump pack`: from a trace file, extra trees and CPU variants to a
// reproducible zip under lib/ with symlink chains and a manifest
// (docs/formats.md), compressed on all cores and written in sorted order.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "pack/plan.hpp"
#include "util/error.hpp"

namespace tmpdump::pack {

struct PackReport {
  std::uint64_t files = 0, symlinks = 0, directories = 0;
  std::uint64_t unpacked_bytes = 0;
  std::uint64_t archive_bytes = 0;
  std::string sha256;                         ///< of the whole archive
  std::optional<std::string> glibc;           ///< highest GLIBC_x.y any non-variant file needs
  int x86_isa_level = 0;                      ///< highest x86-64 level any non-variant file needs
  std::vector<std::string> added_by_closure;  ///< archive paths the closure added
  std::vector<LeftOut> left_out;              ///< runtime libraries not packed, also in the manifest
  std::chrono::duration<double> elapsed{};
};

/// Plans and writes the archive to `output`, atomically (a temporary file
/// beside it, fsync, rename). The same inputs give the same bytes.
[[nodiscard]] Result<PackReport> pack(const PackOptions& options, const std::filesystem::path& output);

}  // namespace tmpdump::pack
