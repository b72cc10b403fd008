#include "util/file_source.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <vector>

namespace tmpdump {
namespace {

// pread() is offset-independent, so clones may share one descriptor.
struct Fd {
  int fd = -1;
  explicit Fd(int f) : fd(f) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

class FileSource final : public ByteSource {
 public:
  FileSource(std::shared_ptr<Fd> fd, std::string path) : fd_(std::move(fd)), path_(std::move(path)) {}

  Result<ObjectInfo> stat() override {
    struct stat st {};
    if (::fstat(fd_->fd, &st) != 0) return std::unexpected(sys_error(errno, "stat " + path_));
    const auto mtime_ns = static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec;
    return ObjectInfo{static_cast<std::uint64_t>(st.st_size),
                      fmt::format("{}-{}-{}", st.st_size, mtime_ns, st.st_ino)};
  }

  Result<void> read(std::uint64_t offset, std::uint64_t length, const ByteSink& sink) override {
    // Large enough to amortise syscalls, small enough to stay out of the RSS budget.
    constexpr std::size_t kBuffer = 256 << 10;
    if (buffer_.empty()) buffer_.resize(kBuffer);
    while (length > 0) {
      const auto want = static_cast<std::size_t>(std::min<std::uint64_t>(length, buffer_.size()));
      const ssize_t n = ::pread(fd_->fd, buffer_.data(), want, static_cast<off_t>(offset));
      if (n < 0) {
        if (errno == EINTR) continue;
        return std::unexpected(sys_error(errno, "reading " + path_));
      }
      if (n == 0) return fail(Errc::Corrupt, "{}: unexpected end of file at offset {}", path_, offset);
      const auto got = static_cast<std::size_t>(n);
      if (auto r = sink(std::span<const std::byte>(buffer_.data(), got)); !r) return r;
      offset += got;
      length -= got;
    }
    return {};
  }

  std::unique_ptr<ByteSource> clone() const override { return std::make_unique<FileSource>(fd_, path_); }
  std::string describe() const override { return path_; }

 private:
  std::shared_ptr<Fd> fd_;
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

  std::unique_ptr<ByteSource> clone() const override {
    return std::make_unique<MemorySource>(bytes_, name_, piece_);
  }
  std::string describe() const override { return name_; }

 private:
  std::shared_ptr<const std::string> bytes_;
  std::string name_;
  std::size_t piece_;
};

}  // namespace

Result<std::unique_ptr<ByteSource>> open_file_source(const std::filesystem::path& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::unexpected(sys_error(errno, "opening " + path.string()));
  auto holder = std::make_shared<Fd>(fd);
  struct stat st {};
  if (::fstat(fd, &st) != 0) return std::unexpected(sys_error(errno, "stat " + path.string()));
  if (!S_ISREG(st.st_mode)) return fail(Errc::InvalidArgument, "{}: not a regular file", path.string());
  return std::make_unique<FileSource>(std::move(holder), path.string());
}

std::unique_ptr<ByteSource> make_memory_source(std::string bytes, std::string name, std::size_t piece_bytes) {
  return std::make_unique<MemorySource>(std::make_shared<const std::string>(std::move(bytes)), std::move(name),
                                        piece_bytes);
}

}  // namespace tmpdump
