// Reading what the dynamic loader needs from an ELF shared object or
// executable: its name, its dependencies, the symbol versions it requires and
// the ISA level it was built for. Pure parsing over bytes (fuzz/elf_fuzz.cpp).
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "util/error.hpp"

namespace tmpdump::elf {

/// A version requirement from .gnu.version_r, e.g. {"libc.so.6", "GLIBC_2.34"}.
struct VersionNeed {
  std::string file;
  std::string version;
};

struct Info {
  std::uint16_t machine = 0;  ///< EM_X86_64, EM_AARCH64, ...
  bool is_64 = true;
  bool is_shared_object = false;            ///< ET_DYN (shared objects and PIE executables)
  std::optional<std::string> soname;        ///< DT_SONAME
  std::vector<std::string> needed;          ///< DT_NEEDED, in order
  std::vector<std::string> rpath, runpath;  ///< DT_RPATH / DT_RUNPATH entries, $ORIGIN unexpanded
  std::optional<std::string> interpreter;   ///< PT_INTERP
  std::vector<VersionNeed> version_needs;
  /// x86-64 ISA level from GNU_PROPERTY_X86_ISA_1_NEEDED (1 = baseline, 2, 3, 4); 0 when not marked.
  int x86_isa_level = 0;
};

/// Parses an ELF image. Errors: Corrupt (with the reason) for anything
/// truncated or inconsistent, Unsupported for non-ELF input.
[[nodiscard]] Result<Info> parse(std::span<const std::byte> image);

/// Reads and parses a file (mmap).
[[nodiscard]] Result<Info> read_file(const std::filesystem::path& path);

/// The highest GLIBC_x.y[.z] version in `needs`, as comparable numbers {x, y, z}; nullopt if none.
[[nodiscard]] std::optional<std::vector<int>> max_glibc_version(const std::vector<VersionNeed>& needs);

/// "GLIBC_2.34" -> {2, 34, 0}; nullopt for anything else ("GLIBC_PRIVATE", "GCC_3.0").
[[nodiscard]] std::optional<std::vector<int>> parse_glibc_version(std::string_view version);

/// {2, 34, 0} -> "2.34", {2, 3, 4} -> "2.3.4" (the manifest's "needs_glibc" form).
[[nodiscard]] std::string version_string(const std::vector<int>& version);

}  // namespace tmpdump::elf
