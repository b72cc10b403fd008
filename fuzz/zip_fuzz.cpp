// libFuzzer target: the zip end records and central directory parser. The
// input is taken as the whole tail of an archive of the same size.
#include <cstddef>
#include <cstdint>
#include <span>

#include "archive/zip.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto tail = std::as_bytes(std::span(data, size));
  tmpdump::archive::Limits limits;
  limits.max_entries = 10'000;
  limits.max_central_directory_bytes = 1 << 20;
  std::uint64_t need = 0;
  (void)tmpdump::archive::parse_tail(tail, size, limits, &need);
  // Also as the tail of a larger archive, to exercise the need_offset paths.
  (void)tmpdump::archive::parse_tail(tail, static_cast<std::uint64_t>(size) + 1000, limits, &need);
  (void)tmpdump::archive::parse_tail(tail, size, limits, nullptr);
  return 0;
}
