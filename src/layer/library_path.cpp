#include "layer/library_path.hpp"

#if defined(__x86_64__)
#include <cpuid.h>
#endif

#include <system_error>
#include <vector>

namespace tmpdump::layer {

namespace fs = std::filesystem;

std::string library_path(const fs::path& root, bool installed, const fs::path& task_root, std::string_view inherited,
                         bool cpu_has_v3) {
  std::vector<std::string> parts;
  auto add = [&parts](std::string p) {
    if (p.empty()) return;
    for (const auto& q : parts) {
      if (q == p) return;
    }
    parts.push_back(std::move(p));
  };
  if (installed) {
    std::error_code ec;
    const fs::path v3 = root / "lib/glibc-hwcaps/x86-64-v3";
    if (cpu_has_v3 && fs::is_directory(v3, ec)) add(v3.string());
    add((root / "lib").string());
  }
  add((task_root / "lib").string());
  std::string_view rest = inherited;
  while (!rest.empty()) {
    auto colon = rest.find(':');
    add(std::string(rest.substr(0, colon)));
    if (colon == std::string_view::npos) break;
    rest.remove_prefix(colon + 1);
  }
  std::string out;
  for (const auto& p : parts) {
    if (!out.empty()) out += ':';
    out += p;
  }
  return out;
}

bool cpu_has_x86_64_v3() noexcept {
#if defined(__x86_64__)
  // CPUID itself rather than __builtin_cpu_supports(): clang 16 (the fuzz
  // build, clang-tidy) knows neither "f16c", "movbe" nor "lzcnt" there. The
  // features are the psABI's x86-64-v3 level; layer_test checks this agrees
  // with GCC's builtin.
  unsigned a = 0, b = 0, c = 0, d = 0;
  if (__get_cpuid(1, &a, &b, &c, &d) == 0) return false;
  constexpr unsigned kLeaf1 = bit_FMA | bit_MOVBE | bit_F16C | bit_OSXSAVE | bit_AVX;
  if ((c & kLeaf1) != kLeaf1) return false;
  // AVX instructions fault unless the OS saves the YMM state (XCR0 bits 1 and 2).
  unsigned xcr0 = 0, xcr0_high = 0;
  __asm__("xgetbv" : "=a"(xcr0), "=d"(xcr0_high) : "c"(0));
  if ((xcr0 & 6u) != 6u) return false;
  if (__get_cpuid_count(7, 0, &a, &b, &c, &d) == 0) return false;
  constexpr unsigned kLeaf7 = bit_AVX2 | bit_BMI | bit_BMI2;
  if ((b & kLeaf7) != kLeaf7) return false;
  if (__get_cpuid(0x80000001u, &a, &b, &c, &d) == 0) return false;
  return (c & bit_LZCNT) != 0;
#else
  return false;
#endif
}

}  // namespace tmpdump::layer
