#include "util/fs_at.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <random>
#include <vector>

#include "util/io.hpp"

namespace tmpdump {

namespace fs = std::filesystem;

namespace {

std::string random_suffix() {
  static constexpr std::string_view kChars = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
  std::array<unsigned char, 6> bytes{};
  if (::getrandom(bytes.data(), bytes.size(), 0) != static_cast<ssize_t>(bytes.size())) {
    std::random_device rd;
    for (auto& b : bytes) b = static_cast<unsigned char>(rd());
  }
  std::string s;
  for (unsigned char b : bytes) s += kChars[b % kChars.size()];
  return s;
}

// Enough that only a directory filled with our own names on purpose runs out.
constexpr int kAttempts = 100;

}  // namespace

Result<UniqueFd> open_directory_nofollow(const fs::path& path) {
  if (path.empty()) return fail(Errc::InvalidArgument, "empty directory name");
  const int fd = ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd >= 0) return UniqueFd(fd);
  const int err = errno;
  struct stat st {};
  if (::lstat(path.c_str(), &st) == 0) {
    if (S_ISLNK(st.st_mode)) {
      return fail(Errc::Io,
                  "{} is a symbolic link, which tmpdump does not follow there (anyone who can write to its "
                  "directory could have made it); name the directory itself",
                  path.string());
    }
    if (!S_ISDIR(st.st_mode)) return fail(Errc::Io, "{} is not a directory", path.string());
  }
  return std::unexpected(sys_error(err, fmt::format("opening directory {}", path.string())));
}

Result<ParentDir> open_parent_directory(const fs::path& path) {
  const fs::path name = path.filename();
  if (name.empty() || name == "." || name == "..") {
    return fail(Errc::InvalidArgument, "{} does not name a file", path.string());
  }
  const fs::path parent = path.has_parent_path() ? path.parent_path() : fs::path(".");
  // The parent's own last component is followed like any leading component:
  // the rule is about the name being written, which is opened relative to it.
  const int fd = ::open(parent.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return std::unexpected(sys_error(errno, fmt::format("opening directory {}", parent.string())));
  return ParentDir{UniqueFd(fd), name.string()};
}

Result<NewFile> create_unique_file(int dir_fd, std::string_view prefix, mode_t mode, std::string_view shown_dir) {
  for (int i = 0; i < kAttempts; ++i) {
    std::string name = std::string(prefix) + random_suffix();
    const int fd = ::openat(dir_fd, name.c_str(), O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
    if (fd >= 0) return NewFile{UniqueFd(fd), std::move(name)};
    if (errno != EEXIST) {
      return std::unexpected(sys_error(errno, fmt::format("creating a temporary file in {}", shown_dir)));
    }
  }
  return fail(Errc::Io, "creating a temporary file in {}: {} names taken", shown_dir, kAttempts);
}

Result<NewFile> create_unique_directory(int dir_fd, std::string_view prefix, mode_t mode, std::string_view shown_dir) {
  for (int i = 0; i < kAttempts; ++i) {
    std::string name = std::string(prefix) + random_suffix();
    if (::mkdirat(dir_fd, name.c_str(), mode) != 0) {
      if (errno == EEXIST) continue;
      return std::unexpected(sys_error(errno, fmt::format("creating a directory in {}", shown_dir)));
    }
    const int fd = ::openat(dir_fd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) return std::unexpected(sys_error(errno, fmt::format("opening {}/{}", shown_dir, name)));
    UniqueFd dir(fd);
    struct stat st {};
    if (::fstat(fd, &st) != 0) return std::unexpected(sys_error(errno, fmt::format("stat {}/{}", shown_dir, name)));
    // Someone who may rename entries in dir_fd swapped it between mkdirat and openat.
    if (st.st_uid != ::geteuid()) return fail(Errc::Io, "{}/{} was replaced while being created", shown_dir, name);
    return NewFile{std::move(dir), std::move(name)};
  }
  return fail(Errc::Io, "creating a directory in {}: {} names taken", shown_dir, kAttempts);
}

Result<void> replace_file_at(int dir_fd, std::string_view name, std::string_view bytes, mode_t mode,
                             std::string_view shown) {
  const std::string prefix = (name.starts_with('.') ? std::string(name) : "." + std::string(name)) + ".tmp-";
  auto tmp = create_unique_file(dir_fd, prefix, mode, shown);
  if (!tmp) return std::unexpected(tmp.error());
  auto fail_cleanup = [&](Error e) -> Result<void> {
    ::unlinkat(dir_fd, tmp->name.c_str(), 0);
    return std::unexpected(std::move(e));
  };
  if (auto w = write_all(tmp->fd.get(), bytes); !w)
    return fail_cleanup(sys_error(w.error(), fmt::format("writing {}", shown)));
  if (::fsync(tmp->fd.get()) != 0) return fail_cleanup(sys_error(errno, fmt::format("syncing {}", shown)));
  const std::string target(name);
  if (::renameat(dir_fd, tmp->name.c_str(), dir_fd, target.c_str()) != 0) {
    return fail_cleanup(sys_error(errno, fmt::format("replacing {}", shown)));
  }
  return {};
}

Result<void> write_file_atomically(const fs::path& path, std::string_view bytes, mode_t mode) {
  auto parent = open_parent_directory(path);
  if (!parent) return std::unexpected(parent.error());
  return replace_file_at(parent->fd.get(), parent->name, bytes, mode, path.string());
}

Result<void> remove_tree_at(int dir_fd, const std::string& name) {
  struct stat st {};
  if (::fstatat(dir_fd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
    if (errno == ENOENT) return {};
    return std::unexpected(sys_error(errno, fmt::format("removing {}", name)));
  }
  if (!S_ISDIR(st.st_mode)) {
    if (::unlinkat(dir_fd, name.c_str(), 0) != 0 && errno != ENOENT) {
      return std::unexpected(sys_error(errno, fmt::format("removing {}", name)));
    }
    return {};
  }
  Result<void> result;
  {
    const int fd = ::openat(dir_fd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
      // Replaced by a link or file since the fstatat: remove the name, never what it points to.
      if (errno == ELOOP || errno == ENOTDIR) {
        if (::unlinkat(dir_fd, name.c_str(), 0) != 0 && errno != ENOENT) {
          return std::unexpected(sys_error(errno, fmt::format("removing {}", name)));
        }
        return {};
      }
      if (errno == ENOENT) return {};
      return std::unexpected(sys_error(errno, fmt::format("opening {}", name)));
    }
    UniqueFd dir(fd);
    std::vector<std::string> children;
    const int listing = ::fcntl(fd, F_DUPFD_CLOEXEC, 0);
    DIR* d = listing >= 0 ? ::fdopendir(listing) : nullptr;
    if (d == nullptr) {
      if (listing >= 0) ::close(listing);
      return std::unexpected(sys_error(errno, fmt::format("listing {}", name)));
    }
    while (const dirent* e = ::readdir(d)) {
      const std::string_view n = e->d_name;
      if (n != "." && n != "..") children.emplace_back(n);
    }
    ::closedir(d);
    for (const auto& child : children) {
      if (auto r = remove_tree_at(fd, child); !r && result) result = std::unexpected(with_context(r.error(), name));
    }
  }
  if (::unlinkat(dir_fd, name.c_str(), AT_REMOVEDIR) != 0 && errno != ENOENT && result) {
    result = std::unexpected(sys_error(errno, fmt::format("removing {}", name)));
  }
  return result;
}

}  // namespace tmpdump
