// Uploading a file to S3: one PUT for small files, multipart with parallel
// parts for large ones, the file's sha256 stored as object metadata, and no
// upload at all when the key already holds those bytes.
#pragma once

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>

#include "http/transport.hpp"
#include "s3/s3.hpp"
#include "util/error.hpp"

namespace tmpdump::s3 {

/// The metadata header that carries the archive's sha256 (x-amz-meta-tmpdump-sha256).
inline constexpr const char* kSha256Metadata = "x-amz-meta-tmpdump-sha256";

struct UploadOptions {
  /// sha256 of the file, lower-case hex; computed when empty.
  std::string sha256;
  /// Files of at least this size go multipart.
  std::uint64_t multipart_threshold = 32ull << 20;
  /// Part size; raised when the file would need more than 10,000 parts. S3's
  /// minimum is 5 MiB (except the last part).
  std::uint64_t part_bytes = 16ull << 20;
  unsigned jobs = 4;  ///< parts uploaded at once, each with its own connection
  std::string content_type = "application/zip";
  /// Uploaded bytes so far (parts count when they complete a request).
  std::atomic<std::uint64_t>* progress = nullptr;
  RetryPolicy retry;
  /// Upload even when the key holds an object with the same sha256 metadata.
  bool force = false;
};

struct UploadResult {
  bool skipped = false;  ///< the key already held these bytes (HEAD: same sha256 and size)
  std::uint64_t bytes = 0;
  unsigned parts = 0;  ///< 0 for a single PUT
  std::string etag;
  std::string sha256;
};

/// Uploads `file` to `location`. Before anything else one HEAD: when the
/// object exists with the same size and x-amz-meta-tmpdump-sha256, nothing is
/// sent (skipped). Every request is retried on 5xx, 429, throttling codes and
/// connection errors with full-jitter backoff; a failed multipart upload is
/// aborted (AbortMultipartUpload). Errors: NotFound (no such bucket or local
/// file), Forbidden naming S3's code and the credential origin, Network after
/// the retries, InvalidArgument for other refusals, Io for the local file.
[[nodiscard]] Result<UploadResult> upload_file(const std::filesystem::path& file, const Location& location,
                                               const ClientConfig& config, const http::Transport& transport,
                                               const UploadOptions& options = {});

}  // namespace tmpdump::s3
