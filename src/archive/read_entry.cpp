#include "archive/read_entry.hpp"

#include <algorithm>
#include <vector>

#include "archive/bytes.hpp"
#include "archive/decoders.hpp"

namespace tmpdump::archive {

namespace {

// Appends decoded bytes to a string, refusing more than the entry declares.
class StringOutput final : public detail::OutputBuffer {
 public:
  StringOutput(std::string& out, std::uint64_t limit) : out_(out), limit_(limit) {}
  std::span<std::byte> space() override {
    buffer_.resize(64 << 10);
    return buffer_;
  }
  Result<void> commit(std::size_t n) override {
    if (out_.size() + n > limit_) return fail(Errc::Corrupt, "more data than the declared size ({} bytes)", limit_);
    out_.append(reinterpret_cast<const char*>(buffer_.data()), n);
    return {};
  }

 private:
  std::string& out_;
  std::uint64_t limit_;
  std::vector<std::byte> buffer_;
};

}  // namespace

Result<std::string> read_entry(ByteSource& source, const CentralDirectory& directory, const Entry& entry,
                               std::uint64_t max_bytes) {
  const std::string label = source.describe() + ": " + entry.name;
  if (entry.type == EntryType::Directory) return fail(Errc::InvalidArgument, "{}: a directory has no data", label);
  if (entry.uncompressed_size > max_bytes) {
    return fail(Errc::InvalidArgument, "{}: {} bytes, more than the {} this reads into memory", label,
                entry.uncompressed_size, max_bytes);
  }
  std::string header;
  auto r = source.read(entry.local_header_offset, detail::kLocalHeaderSize, [&](std::span<const std::byte> b) {
    header.append(reinterpret_cast<const char*>(b.data()), b.size());
    return Result<void>{};
  });
  if (!r) return std::unexpected(with_context(r.error(), label));
  const auto h = std::as_bytes(std::span(header));
  if (h.size() != detail::kLocalHeaderSize || detail::le32(h, 0) != detail::kLocalHeaderSig) {
    return fail(Errc::Corrupt, "{}: no local header at offset {}", label, entry.local_header_offset);
  }
  const std::uint64_t data_start =
      entry.local_header_offset + detail::kLocalHeaderSize + detail::le16(h, 26) + detail::le16(h, 28);
  // The data must end before the next entry's local header (or the central directory).
  std::uint64_t limit = directory.cd_offset;
  for (const auto& e : directory.entries) {
    if (e.local_header_offset > entry.local_header_offset) limit = std::min(limit, e.local_header_offset);
  }
  if (data_start > limit || entry.compressed_size > limit - data_start) {
    return fail(Errc::Unsafe, "{}: data runs into the next entry", label);
  }

  std::unique_ptr<detail::Decoder> decoder;
  switch (entry.method) {
    case Method::Stored:
      decoder = detail::make_stored_decoder();
      break;
    case Method::Deflate:
      decoder = detail::make_inflater(Inflater::Zlib);
      break;
    case Method::Zstd:
      decoder = detail::make_zstd_decoder();
      break;
  }
  decoder->reset();
  std::string out;
  StringOutput sink(out, entry.uncompressed_size);
  r = source.read(data_start, entry.compressed_size,
                  [&](std::span<const std::byte> b) { return decoder->feed(b, sink); });
  if (!r) return std::unexpected(with_context(r.error(), label));
  auto done = decoder->finish(sink);
  if (!done) return std::unexpected(with_context(done.error(), label));
  if (!*done) return fail(Errc::Corrupt, "{}: compressed data ends early", label);
  if (out.size() != entry.uncompressed_size) {
    return fail(Errc::Corrupt, "{}: {} bytes, the directory says {}", label, out.size(), entry.uncompressed_size);
  }
  if (detail::crc32(0, std::as_bytes(std::span(out))) != entry.crc32)
    return fail(Errc::Corrupt, "{}: CRC mismatch", label);
  return out;
}

}  // namespace tmpdump::archive
