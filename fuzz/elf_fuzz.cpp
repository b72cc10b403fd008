// libFuzzer target: the ELF reader (program headers, dynamic section, string
// table, version needs, GNU property notes). Seed it with real libraries, e.g.
// /lib/x86_64-linux-gnu/*.so*.
#include <cstddef>
#include <cstdint>
#include <span>

#include "elf/elf.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto image = std::as_bytes(std::span(data, size));
  auto info = tmpdump::elf::parse(image);
  if (info) (void)tmpdump::elf::max_glibc_version(info->version_needs);
  return 0;
}
