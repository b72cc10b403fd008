// Reads and writes that finish what they start. read(2)/write(2) may stop
// early (a signal, a pipe, a short pread near a concurrent truncate) and fail
// with EINTR; these loops are written once here instead of at every call site.
// Errors are the errno value, so a caller words its own message with
// sys_error(r.error(), "reading " + shown) and hot paths build no strings.
#pragma once

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <expected>
#include <span>
#include <string>
#include <string_view>

namespace tmpdump {

/// A count of bytes, or the errno of the call that failed.
template <class T>
using IoResult = std::expected<T, int>;

/// Calls `call` again while it returns a negative value with errno EINTR
/// (waitpid, connect, flock, accept4, ...); returns its last result.
template <class Call>
auto retry_eintr(Call&& call) {
  for (;;) {
    auto r = call();
    if (!(r < 0 && errno == EINTR)) return r;
  }
}

/// One read(2) into `out`, retried on EINTR: the bytes read, 0 at end of file.
[[nodiscard]] IoResult<std::size_t> read_some(int fd, std::span<std::byte> out) noexcept;

/// Reads until `out` is full or the file ends; the bytes read (fewer than
/// out.size() only at end of file).
[[nodiscard]] IoResult<std::size_t> read_full(int fd, std::span<std::byte> out) noexcept;

/// pread(2) from `offset` until `out` is full or the file ends; as read_full().
[[nodiscard]] IoResult<std::size_t> pread_full(int fd, std::span<std::byte> out, std::uint64_t offset) noexcept;

/// Reads to the end of the file: its bytes, or EFBIG once they pass `limit`.
[[nodiscard]] IoResult<std::string> read_all(int fd, std::size_t limit = SIZE_MAX);

/// Writes all of `bytes`.
[[nodiscard]] IoResult<void> write_all(int fd, std::span<const std::byte> bytes) noexcept;
[[nodiscard]] inline IoResult<void> write_all(int fd, std::string_view bytes) noexcept {
  return write_all(fd, std::as_bytes(std::span(bytes.data(), bytes.size())));
}

/// pwrite(2) all of `bytes` at `offset`.
[[nodiscard]] IoResult<void> pwrite_all(int fd, std::span<const std::byte> bytes, std::uint64_t offset) noexcept;

}  // namespace tmpdump
