// Internal: streaming decoders for the compression methods tmpdump reads, and
// the CRC-32 they are checked with.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>

#include "archive/extract.hpp"
#include "util/error.hpp"

namespace tmpdump::archive::detail {

/// Where a decoder puts its output: it asks for space, fills a prefix of it,
/// and commits what it filled. commit() may refuse (too much data, disk full).
class OutputBuffer {
 public:
  virtual ~OutputBuffer() = default;
  /// Writable space; never empty.
  [[nodiscard]] virtual std::span<std::byte> space() = 0;
  /// Accepts the first `n` bytes of the last space().
  [[nodiscard]] virtual Result<void> commit(std::size_t n) = 0;
};

/// One compressed stream at a time; reset() before each entry.
class Decoder {
 public:
  virtual ~Decoder() = default;
  virtual void reset() = 0;
  /// Decodes `in` (the next piece of the compressed stream) into `out`.
  [[nodiscard]] virtual Result<void> feed(std::span<const std::byte> in, OutputBuffer& out) = 0;
  /// After the last piece: flushes what is pending; true when the stream ended
  /// properly (a complete deflate stream / zstd frame).
  [[nodiscard]] virtual Result<bool> finish(OutputBuffer& out) = 0;
};

[[nodiscard]] std::unique_ptr<Decoder> make_stored_decoder();
[[nodiscard]] std::unique_ptr<Decoder> make_inflater(Inflater which);
/// Refuses frames whose window exceeds kZstdMaxWindowLog (memory bound).
[[nodiscard]] std::unique_ptr<Decoder> make_zstd_decoder();
inline constexpr int kZstdMaxWindowLog = 24;

/// CRC-32 (zip/gzip polynomial), continuing from `crc` (0 to start).
[[nodiscard]] std::uint32_t crc32(std::uint32_t crc, std::span<const std::byte> data) noexcept;

}  // namespace tmpdump::archive::detail
