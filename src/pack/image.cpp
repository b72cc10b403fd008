#include "pack/image.hpp"

namespace tmpdump::pack {

bool is_glibc_family(std::string_view n) noexcept {
  const auto so = n.find(".so");
  if (so == std::string_view::npos) return false;
  const std::string_view stem = n.substr(0, so);
  static constexpr std::string_view kStems[] = {"libc",
                                                "libm",
                                                "libpthread",
                                                "libdl",
                                                "librt",
                                                "libresolv",
                                                "libutil",
                                                "libanl",
                                                "libmvec",
                                                "libBrokenLocale",
                                                "libthread_db",
                                                "libc_malloc_debug",
                                                "libmemusage",
                                                "libpcprofile",
                                                "libSegFault",
                                                "ld-linux-x86-64",
                                                "ld-linux-aarch64",
                                                "ld-linux",
                                                "ld64",
                                                "libnsl",
                                                "libcidn"};
  for (auto s : kStems) {
    if (stem == s) return true;
  }
  return stem.starts_with("libnss_") || stem.starts_with("ld-");
}

bool is_dynamic_loader(std::string_view n) noexcept {
  return n.starts_with("ld") && is_glibc_family(n);
}

bool image_provides(std::string_view n) noexcept {
  return is_glibc_family(n) || n == "libgcc_s.so.1";
}

}  // namespace tmpdump::pack
