// libFuzzer target: the zip reader. The input is used twice: as the tail of an
// archive (the pure end-record and central-directory parser, with the archive
// larger than the tail so the need_offset paths run), and as a whole archive
// read through a ByteSource, whose entries are read one by one and then
// extracted into a scratch directory (local headers, decoders, CRC and size
// checks, symlink resolution, the O_NOFOLLOW writer).
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <span>
#include <string>

#include "archive/extract.hpp"
#include "archive/read_entry.hpp"
#include "archive/zip.hpp"
#include "scratch.hpp"
#include "util/file_source.hpp"

namespace {

namespace fs = std::filesystem;
namespace ar = tmpdump::archive;

const fs::path& scratch() {
  return tmpdump::fuzz::scratch_dir("zip");
}

ar::Limits small_limits() {
  ar::Limits limits;
  limits.max_entries = 10'000;
  limits.max_central_directory_bytes = 1 << 20;
  return limits;
}

void whole_archive(const std::uint8_t* data, std::size_t size) {
  // Small pieces so the consumers' handling of split input runs too.
  auto source = tmpdump::make_memory_source(std::string(reinterpret_cast<const char*>(data), size), "fuzz.zip", 4096);
  auto info = source->stat();
  if (!info) return;
  ar::ExtractOptions options;
  options.limits = small_limits();
  auto dir = ar::read_central_directory(*source, *info, options.limits);
  if (!dir) return;
  int read = 0;
  for (const auto& e : dir->entries) {
    if (e.type == ar::EntryType::Directory) continue;
    (void)ar::read_entry(*source, *dir, e, 64 << 10);
    if (++read == 8) break;
  }
  // A few KB of zstd can claim gigabytes; the decoders' size checks are
  // exercised on small claims, disk bombs are left to the limits tests.
  if (dir->total_uncompressed > (16u << 20)) return;
  const fs::path dest = scratch() / "x";
  std::error_code ec;
  fs::remove_all(dest, ec);
  fs::create_directory(dest, ec);
  if (ec) return;
  options.jobs = 2;
  options.chunk_bytes = 1024;  // several chunks even for small inputs
  const ar::ArchiveInput input{source.get(), &*dir, std::nullopt};
  (void)ar::check_union(std::span(&input, 1));
  (void)ar::extract(std::span(&input, 1), dest, options);
  fs::remove_all(dest, ec);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto tail = std::as_bytes(std::span(data, size));
  const ar::Limits limits = small_limits();
  std::uint64_t need = 0;
  (void)ar::parse_tail(tail, size, limits, &need);
  (void)ar::parse_tail(tail, static_cast<std::uint64_t>(size) + 1000, limits, &need);
  (void)ar::parse_tail(tail, size, limits, nullptr);
  whole_archive(data, size);
  return 0;
}
