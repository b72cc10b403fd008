#include "archive/zstd_frames.hpp"

#include <zstd.h>

#include <algorithm>
#include <atomic>
#include <new>
#include <optional>
#include <thread>

namespace tmpdump::archive {

ZstdFrameCompressor::ZstdFrameCompressor(int level) : cctx_(ZSTD_createCCtx()) {
  if (!cctx_) throw std::bad_alloc();
  ZSTD_CCtx_setParameter(cctx_, ZSTD_c_compressionLevel, level);
  ZSTD_CCtx_setParameter(cctx_, ZSTD_c_contentSizeFlag, 1);
  ZSTD_CCtx_setParameter(cctx_, ZSTD_c_checksumFlag, 0);
  // Readers (tmpdump pull) refuse windows above 16 MiB; a slice never needs more.
  ZSTD_CCtx_setParameter(cctx_, ZSTD_c_enableLongDistanceMatching, 0);
}

ZstdFrameCompressor::~ZstdFrameCompressor() {
  ZSTD_freeCCtx(cctx_);
}

Result<std::string> ZstdFrameCompressor::compress(std::span<const char> slice) {
  std::string out(ZSTD_compressBound(slice.size()), '\0');
  const std::size_t n = ZSTD_compress2(cctx_, out.data(), out.size(), slice.data(), slice.size());
  if (ZSTD_isError(n)) return fail(Errc::Io, "zstd compression failed: {}", ZSTD_getErrorName(n));
  out.resize(n);
  return out;
}

Result<FramedZstd> compress_zstd_frames(std::string_view bytes, int level, std::uint32_t slice_size, unsigned threads) {
  if (slice_size == 0) return fail(Errc::InvalidArgument, "zstd frame slice size 0");
  const std::size_t count = bytes.empty() ? 0 : (bytes.size() - 1) / slice_size + 1;
  std::vector<std::optional<Result<std::string>>> frames(count);
  std::atomic<std::size_t> next{0};
  auto work = [&] {
    ZstdFrameCompressor z(level);
    for (std::size_t i; (i = next.fetch_add(1)) < count;) {
      const auto slice = bytes.substr(i * slice_size, slice_size);
      frames[i] = z.compress(std::span(slice.data(), slice.size()));
    }
  };
  {
    std::vector<std::jthread> pool;
    const auto n = std::clamp<std::size_t>(threads, 1, std::max<std::size_t>(count, 1));
    for (std::size_t t = 0; t < n; ++t) pool.emplace_back(work);
  }
  FramedZstd out;
  for (auto& f : frames) {
    if (!*f) return std::unexpected(std::move(f->error()));
    out.sizes.push_back(static_cast<std::uint32_t>((*f)->size()));
    out.data += **f;
  }
  return out;
}

}  // namespace tmpdump::archive
