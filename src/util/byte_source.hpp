// The one interface between "where the archive's bytes come from" (S3, HTTPS,
// a local file) and "what is done with them" (the zip reader and extractor).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>

#include "util/error.hpp"

namespace tmpdump {

/// What is known of a whole object before its bytes are read.
struct ObjectInfo {
  std::uint64_t size = 0;
  /// Identifies this version of the object: S3/HTTP ETag (quotes kept), or for
  /// a local file "<size>-<mtime ns>-<inode>". Empty if the server sent none.
  std::string etag;
};

/// Receives bytes in order. Returning an error aborts the read with that error.
using ByteSink = std::function<Result<void>(std::span<const std::byte>)>;

/// A random-access object that can be read in byte ranges, streaming.
///
/// Contract: read() hands the sink every byte of [offset, offset + length)
/// exactly once, in order, in chunks of any size, or returns an error. Transient
/// failures are retried inside read(); a body broken mid-way resumes where it
/// stopped, and only from the same object version (ETag) it started with.
/// One instance is used by one thread at a time; clone() makes another that
/// shares no connection state, for parallel reads.
class ByteSource {
 public:
  virtual ~ByteSource() = default;

  /// Size and version of the object; for HTTP sources one HEAD (or equivalent).
  [[nodiscard]] virtual Result<ObjectInfo> stat() = 0;

  /// Streams [offset, offset + length) to the sink. length 0 reads nothing.
  [[nodiscard]] virtual Result<void> read(std::uint64_t offset, std::uint64_t length, const ByteSink& sink) = 0;

  /// An independent reader of the same object (its own connection).
  [[nodiscard]] virtual std::unique_ptr<ByteSource> clone() const = 0;

  /// How to name this source in messages, e.g. "s3://bucket/key". Never
  /// contains credentials or presigned query strings.
  [[nodiscard]] virtual std::string describe() const = 0;
};

}  // namespace tmpdump
