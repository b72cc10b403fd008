// What every Lambda image gives a function before any layer or tmpdump: the
// one list that `pack` (what it leaves out) and `check` (what need not be in
// the archive) share, and where `pack --with-libc` puts its own copy.
#pragma once

#include <string_view>

namespace tmpdump::pack {

/// True for the names of glibc's own objects (libc.so.6, libm.so.6,
/// libpthread.so.0, ld-linux-x86-64.so.2, libnss_*.so.2, ...): names up to
/// the first ".so", which glibc keeps across versions.
[[nodiscard]] bool is_glibc_family(std::string_view file_name) noexcept;

/// True for the dynamic loader's names (ld-linux-x86-64.so.2,
/// ld-linux-aarch64.so.1, ld64.so.2, ld-musl-x86_64.so.1): the one object
/// every process maps and no archive ships as a library (`trace` leaves it
/// out of a trace file; `pack --with-libc` bundles it apart, in kBundledLibcDir).
[[nodiscard]] bool is_dynamic_loader(std::string_view file_name) noexcept;

/// True for what every Lambda image provides: the glibc family, its loader
/// and libgcc_s.so.1 (glibc itself dlopens it for pthread_cancel, so no
/// glibc system is without it). `pack` leaves these out unless --with-libc;
/// `check` counts them as found. libstdc++, OpenSSL, zlib... are not here:
/// an image may have them today but does not promise them.
[[nodiscard]] bool image_provides(std::string_view file_name) noexcept;

/// Where `pack --with-libc` puts what image_provides() names, loader
/// included: a directory no library path names, so only the start through
/// the bundled loader (`bootstrap`, `--library-path <root>/lib/libc:...`)
/// sees it and a managed runtime on the image's loader never loads it.
inline constexpr std::string_view kBundledLibcDir = "lib/libc";

}  // namespace tmpdump::pack
