#include "util/io.hpp"

#include <sys/types.h>
#include <unistd.h>

#include <array>

namespace tmpdump {

IoResult<std::size_t> read_some(int fd, std::span<std::byte> out) noexcept {
  const ssize_t n = retry_eintr([&] { return ::read(fd, out.data(), out.size()); });
  if (n < 0) return std::unexpected(errno);
  return static_cast<std::size_t>(n);
}

IoResult<std::size_t> read_full(int fd, std::span<std::byte> out) noexcept {
  std::size_t done = 0;
  while (done < out.size()) {
    const ssize_t n = retry_eintr([&] { return ::read(fd, out.data() + done, out.size() - done); });
    if (n < 0) return std::unexpected(errno);
    if (n == 0) break;
    done += static_cast<std::size_t>(n);
  }
  return done;
}

IoResult<std::size_t> pread_full(int fd, std::span<std::byte> out, std::uint64_t offset) noexcept {
  std::size_t done = 0;
  while (done < out.size()) {
    const ssize_t n = retry_eintr(
        [&] { return ::pread(fd, out.data() + done, out.size() - done, static_cast<off_t>(offset + done)); });
    if (n < 0) return std::unexpected(errno);
    if (n == 0) break;
    done += static_cast<std::size_t>(n);
  }
  return done;
}

IoResult<std::string> read_all(int fd, std::size_t limit) {
  std::string text;
  std::array<std::byte, 64 << 10> buffer{};
  for (;;) {
    const auto n = read_some(fd, buffer);
    if (!n) return std::unexpected(n.error());
    if (*n == 0) return text;
    if (*n > limit - text.size()) return std::unexpected(EFBIG);
    text.append(reinterpret_cast<const char*>(buffer.data()), *n);
  }
}

IoResult<void> write_all(int fd, std::span<const std::byte> bytes) noexcept {
  while (!bytes.empty()) {
    const ssize_t w = retry_eintr([&] { return ::write(fd, bytes.data(), bytes.size()); });
    if (w < 0) return std::unexpected(errno);
    bytes = bytes.subspan(static_cast<std::size_t>(w));
  }
  return {};
}

IoResult<void> pwrite_all(int fd, std::span<const std::byte> bytes, std::uint64_t offset) noexcept {
  while (!bytes.empty()) {
    const ssize_t w = retry_eintr([&] { return ::pwrite(fd, bytes.data(), bytes.size(), static_cast<off_t>(offset)); });
    if (w < 0) return std::unexpected(errno);
    bytes = bytes.subspan(static_cast<std::size_t>(w));
    offset += static_cast<std::uint64_t>(w);
  }
  return {};
}

}  // namespace tmpdump
