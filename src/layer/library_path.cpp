#include "layer/library_path.hpp"

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
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("bmi") && __builtin_cpu_supports("bmi2") &&
         __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c") && __builtin_cpu_supports("movbe") &&
         __builtin_cpu_supports("lzcnt");
#else
  return false;
#endif
}

}  // namespace tmpdump::layer
