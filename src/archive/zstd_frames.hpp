// Compressing one large file as a sequence of independent zstd frames, one
// per fixed-size slice, so that readers can decode its slices in parallel
// (docs/formats.md, "Multi-frame zstd entries"). The concatenation is still
// one valid zstd stream for any other decoder.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "util/error.hpp"

struct ZSTD_CCtx_s;

namespace tmpdump::archive {

/// Compresses slices into frames whose bytes depend only on the slice and the
/// level (content size in the header, no checksum, no long-distance matching,
/// single-threaded), so output is reproducible whatever runs it. One per thread.
class ZstdFrameCompressor {
 public:
  explicit ZstdFrameCompressor(int level);
  ~ZstdFrameCompressor();
  ZstdFrameCompressor(const ZstdFrameCompressor&) = delete;
  ZstdFrameCompressor& operator=(const ZstdFrameCompressor&) = delete;

  /// One complete frame holding `slice`.
  [[nodiscard]] Result<std::string> compress(std::span<const char> slice);

 private:
  ZSTD_CCtx_s* cctx_;
};

/// `bytes` as frames of `slice_size` input bytes each (the last holds the
/// rest), compressed by `threads` threads; byte-identical for any thread count.
struct FramedZstd {
  std::string data;                  ///< the frames, concatenated
  std::vector<std::uint32_t> sizes;  ///< compressed size of each frame
};
[[nodiscard]] Result<FramedZstd> compress_zstd_frames(std::string_view bytes, int level, std::uint32_t slice_size,
                                                      unsigned threads);

}  // namespace tmpdump::archive
