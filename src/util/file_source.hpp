// ByteSources over local bytes: a file read with pread(), and an in-memory
// string for tests.
#pragma once

#include <cstddef>
#include <filesystem>
#include <memory>
#include <string>

#include "util/byte_source.hpp"
#include "util/error.hpp"
#include "util/unique_fd.hpp"

namespace tmpdump {

/// Opens `path`, a file a command reads (an archive, a trace, an ELF file),
/// read-only, and never blocks doing so: the open is non-blocking, so a FIFO
/// with no writer cannot hang it. Returns the descriptor (close-on-exec,
/// blocking again) only for a regular file (symlinks are followed).
/// Errors: NotFound "<path>: No such file or directory"; InvalidArgument
/// "<path>: a FIFO, not a regular file" (likewise a character or block
/// device, a socket, a directory); Forbidden / Io from errno.
[[nodiscard]] Result<UniqueFd> open_input_file(const std::filesystem::path& path);

/// Opens `path` for ranged reads with pread(), with open_input_file()'s rules. The etag is
/// "<size>-<mtime ns>-<inode>" as of opening; describe() is the path.
/// Errors: NotFound, Io (and whatever errno maps to) naming the path.
[[nodiscard]] Result<std::unique_ptr<ByteSource>> open_file_source(const std::filesystem::path& path);

/// A source over `bytes`, named `name` in messages. read() hands the sink
/// pieces of at most `piece_bytes` bytes (small values exercise consumers'
/// handling of split input). Clones share the bytes.
[[nodiscard]] std::unique_ptr<ByteSource> make_memory_source(std::string bytes, std::string name,
                                                             std::size_t piece_bytes = 64 << 10);

}  // namespace tmpdump
