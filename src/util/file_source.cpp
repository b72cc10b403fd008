#include "util/file_source.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <vector>

#include "util/io.hpp"
#include "util/unique_fd.hpp"

namespace tmpdump {
namespace {

// pread() is offset-independent, so clones may share one descriptor.
using SharedFd = std::shared_ptr<const UniqueFd>;

class FileSource final : public ByteSource {
 public:
  FileSource(SharedFd fd, std::string path) : fd_(std::move(fd)), path_(std::move(path)) {}

  Result<ObjectInfo> stat() override {
    struct stat st {};
    if (::fstat(fd_->get(), &st) != 0) return std::unexpected(sys_error(errno, "stat " + path_));
    const auto mtime_ns = static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec;
    return ObjectInfo{static_cast<std::uint64_t>(st.st_size), fmt::format("{}-{}-{}", st.st_size, mtime_ns, st.st_ino)};
  }

  Result<void> read(std::uint64_t offset, std::uint64_t length, const ByteSink& sink) override {
    // Large enough to amortise syscalls, small enough to stay out of the RSS budget.
    constexpr std::size_t kBuffer = 256 << 10;
    if (buffer_.empty()) buffer_.resize(kBuffer);
    while (length > 0) {
      const auto want = static_cast<std::size_t>(std::min<std::uint64_t>(length, buffer_.size()));
      const auto n = pread_full(fd_->get(), std::span(buffer_.data(), want), offset);
      if (!n) return std::unexpected(sys_error(n.error(), "reading " + path_));
      if (*n == 0) return fail(Errc::Corrupt, "{}: unexpected end of file at offset {}", path_, offset);
      const auto got = *n;
      if (auto r = sink(std::span<const std::byte>(buffer_.data(), got)); !r) return r;
      offset += got;
      length -= got;
    }
    return {};
  }

  std::unique_ptr<ByteSource> clone() const override { return std::make_unique<FileSource>(fd_, path_); }
  std::string describe() const override { return path_; }

 private:
  SharedFd fd_;
  std::string path_;
  std::vector<std::byte> buffer_;
};

class MemorySource final : public ByteSource {
 public:
  MemorySource(std::shared_ptr<const std::string> bytes, std::string name, std::size_t piece)
      : bytes_(std::move(bytes)), name_(std::move(name)), piece_(std::max<std::size_t>(piece, 1)) {}

  Result<ObjectInfo> stat() override { return ObjectInfo{bytes_->size(), fmt::format("\"mem-{}\"", bytes_->size())}; }

  Result<void> read(std::uint64_t offset, std::uint64_t length, const ByteSink& sink) override {
    if (offset > bytes_->size() || length > bytes_->size() - offset)
      return fail(Errc::InvalidArgument, "{}: range {}+{} beyond size {}", name_, offset, length, bytes_->size());
    const auto* base = reinterpret_cast<const std::byte*>(bytes_->data());
    auto pos = static_cast<std::size_t>(offset);
    auto left = static_cast<std::size_t>(length);
    while (left > 0) {
      const std::size_t n = std::min(left, piece_);
      if (auto r = sink(std::span<const std::byte>(base + pos, n)); !r) return r;
      pos += n;
      left -= n;
    }
    return {};
  }

  std::unique_ptr<ByteSource> clone() const override { return std::make_unique<MemorySource>(bytes_, name_, piece_); }
  std::string describe() const override { return name_; }

 private:
  std::shared_ptr<const std::string> bytes_;
  std::string name_;
  std::size_t piece_;
};

}  // namespace

namespace {

Error not_regular(const std::filesystem::path& path, mode_t mode) {
  const char* kind = S_ISDIR(mode)    ? "a directory"
                     : S_ISFIFO(mode) ? "a FIFO"
                     : S_ISCHR(mode)  ? "a character device"
                     : S_ISBLK(mode)  ? "a block device"
                     : S_ISSOCK(mode) ? "a socket"
                                      : "of an unknown type";
  return Error{Errc::InvalidArgument, fmt::format("{}: {}, not a regular file", path.string(), kind)};
}

}  // namespace

Result<UniqueFd> open_input_file(const std::filesystem::path& path) {
  UniqueFd owned(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK));
  const int fd = owned.get();
  if (fd < 0) {
    const int err = errno;
    // A socket cannot be opened at all (ENXIO): say what it is rather than why open() failed.
    struct stat st {};
    if (err != ENOENT && ::stat(path.c_str(), &st) == 0 && !S_ISREG(st.st_mode))
      return std::unexpected(not_regular(path, st.st_mode));
    return std::unexpected(sys_error(err, path.string()));
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0) return std::unexpected(sys_error(errno, path.string()));
  if (!S_ISREG(st.st_mode)) return std::unexpected(not_regular(path, st.st_mode));
  // Regular files never block; clear the flag so later reads behave as usual.
  const int flags = ::fcntl(fd, F_GETFL);
  if (flags >= 0) ::fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
  return owned;
}

Result<std::unique_ptr<ByteSource>> open_file_source(const std::filesystem::path& path) {
  auto fd = open_input_file(path);
  if (!fd) return std::unexpected(fd.error());
  return std::make_unique<FileSource>(std::make_shared<const UniqueFd>(std::move(*fd)), path.string());
}

std::unique_ptr<ByteSource> make_memory_source(std::string bytes, std::string name, std::size_t piece_bytes) {
  return std::make_unique<MemorySource>(std::make_shared<const std::string>(std::move(bytes)), std::move(name),
                                        piece_bytes);
}

}  // namespace tmpdump
