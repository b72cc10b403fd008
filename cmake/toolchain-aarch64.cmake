# Cross-compiling for arm64 (Lambda's Graviton) on Debian with multiarch
# packages: crossbuild-essential-arm64 and the <lib>-dev:arm64 packages
# (scripts/layer --arch arm64 lists them). Usage:
#   cmake -S . -B build-arm64 -DCMAKE_TOOLCHAIN_FILE=cmake/toolchain-aarch64.cmake
# Debian's libisal-dev is not Multi-Arch: same, so its arm64 copy is unpacked
# into a private prefix and named by TMPDUMP_ARM64_EXTRA_PREFIX (environment).
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CMAKE_LIBRARY_ARCHITECTURE aarch64-linux-gnu)
set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_CXX_COMPILER aarch64-linux-gnu-g++)

# Multiarch: arm64 libraries live in /usr/lib/aarch64-linux-gnu of the host,
# so the host root is the sysroot; never fall back to x86_64 .pc files.
set(ENV{PKG_CONFIG_LIBDIR} "/usr/lib/aarch64-linux-gnu/pkgconfig:/usr/share/pkgconfig")
if(DEFINED ENV{TMPDUMP_ARM64_EXTRA_PREFIX})
  set(ENV{PKG_CONFIG_PATH} "$ENV{TMPDUMP_ARM64_EXTRA_PREFIX}/usr/lib/aarch64-linux-gnu/pkgconfig")
  list(APPEND CMAKE_PREFIX_PATH "$ENV{TMPDUMP_ARM64_EXTRA_PREFIX}/usr")
endif()

# Test binaries run under qemu-user with the arm64 loader and libraries.
set(CMAKE_CROSSCOMPILING_EMULATOR qemu-aarch64 -L /usr/aarch64-linux-gnu)
