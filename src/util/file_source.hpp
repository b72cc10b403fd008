// ByteSources over local bytes: a file read with pread(), and an in-memory
// string for tests.
#pragma once

#include <cstddef>
#include <filesystem>
#include <memory>
#include <string>

#include "util/byte_source.hpp"
#include "util/error.hpp"

namespace tmpdump {

/// Opens `path` for ranged reads with pread(). The etag is
/// "<size>-<mtime ns>-<inode>" as of opening; describe() is the path.
/// Errors: NotFound, Io (and whatever errno maps to) naming the path.
[[nodiscard]] Result<std::unique_ptr<ByteSource>> open_file_source(const std::filesystem::path& path);

/// A source over `bytes`, named `name` in messages. read() hands the sink
/// pieces of at most `piece_bytes` bytes (small values exercise consumers'
/// handling of split input). Clones share the bytes.
[[nodiscard]] std::unique_ptr<ByteSource> make_memory_source(std::string bytes, std::string name,
                                                             std::size_t piece_bytes = 64 << 10);

}  // namespace tmpdump
