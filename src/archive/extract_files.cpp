#include "archive/extract_files.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <map>
#include <optional>
#include <utility>
#include <vector>

#include "archive/bytes.hpp"

namespace tmpdump::archive::detail {

std::string entry_label(const ByteSource& source, const Entry& e) {
  return fmt::format("{}: entry \"{}\"", source.describe(), printable(e.raw_name));
}

Result<void> make_parents(int dest_fd, std::string_view name, const std::string& label) {
  for (std::size_t slash = name.find('/'); slash != std::string_view::npos; slash = name.find('/', slash + 1)) {
    const std::string dir(name.substr(0, slash));
    if (::mkdirat(dest_fd, dir.c_str(), 0700) != 0 && errno != EEXIST)
      return std::unexpected(sys_error(errno, fmt::format("{}: creating directory {}", label, dir)));
  }
  return {};
}

Result<UniqueFd> create_file(int dest_fd, const Entry& e, const std::string& label) {
  constexpr int kFlags = O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC;
  int fd = ::openat(dest_fd, e.name.c_str(), kFlags, 0600);
  if (fd < 0 && errno == ENOENT) {
    if (auto r = make_parents(dest_fd, e.name, label); !r) return std::unexpected(r.error());
    fd = ::openat(dest_fd, e.name.c_str(), kFlags, 0600);
  }
  if (fd < 0) return std::unexpected(sys_error(errno, fmt::format("{}: creating file", label)));
  return UniqueFd(fd);
}

Result<void> set_mode_and_time(int fd, const Entry& e, const std::string& label) {
  const timespec times[2] = {to_timespec(e.mtime), to_timespec(e.mtime)};
  if (::fchmod(fd, static_cast<mode_t>(installed_mode(e.mode, false))) != 0 || ::futimens(fd, times) != 0)
    return std::unexpected(sys_error(errno, fmt::format("{}: setting mode and time", label)));
  return {};
}

Result<UniqueFd> open_empty_dest(const std::filesystem::path& dest) {
  UniqueFd fd(::open(dest.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd.valid()) return std::unexpected(sys_error(errno, "opening destination " + dest.string()));
  const int dup = ::fcntl(fd.get(), F_DUPFD_CLOEXEC, 0);
  if (dup < 0) return std::unexpected(sys_error(errno, "opening destination " + dest.string()));
  DIR* d = ::fdopendir(dup);
  if (!d) {
    ::close(dup);
    return std::unexpected(sys_error(errno, "listing destination " + dest.string()));
  }
  bool empty = true;
  while (const dirent* ent = ::readdir(d)) {
    const std::string_view n = ent->d_name;
    if (n != "." && n != "..") {
      empty = false;
      break;
    }
  }
  ::closedir(d);
  if (!empty) return fail(Errc::InvalidArgument, "destination {} is not empty", dest.string());
  return fd;
}

namespace {

struct DirFix {
  std::uint32_t mode = 0755;
  std::optional<std::int64_t> mtime;
};

// Every directory of the tree: those the archives name, with their mode and
// time, and those only implied by a path, with the defaults.
std::map<std::string, DirFix> directories_of(std::span<const ArchiveInput> archives) {
  std::map<std::string, DirFix> dirs;
  for (const auto& a : archives) {
    for (const auto& e : a.directory->entries) {
      for (std::size_t s = e.name.find('/'); s != std::string::npos; s = e.name.find('/', s + 1))
        dirs.try_emplace(e.name.substr(0, s));
      if (e.type == EntryType::Directory) dirs[e.name] = DirFix{installed_mode(e.mode, true), e.mtime};
    }
  }
  return dirs;
}

Result<void> fix_directory(int dest_fd, const std::string& name, const DirFix& fix) {
  UniqueFd fd(::openat(dest_fd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!fd.valid()) return std::unexpected(sys_error(errno, fmt::format("opening directory {}", name)));
  if (::fchmod(fd.get(), static_cast<mode_t>(fix.mode)) != 0)
    return std::unexpected(sys_error(errno, fmt::format("setting mode of directory {}", name)));
  if (fix.mtime) {
    const timespec times[2] = {to_timespec(*fix.mtime), to_timespec(*fix.mtime)};
    if (::futimens(fd.get(), times) != 0)
      return std::unexpected(sys_error(errno, fmt::format("setting time of directory {}", name)));
  }
  return {};
}

}  // namespace

Result<void> finish_directories(int dest_fd, std::span<const ArchiveInput> archives) {
  const auto dirs = directories_of(archives);
  std::vector<std::pair<const std::string*, const DirFix*>> order;
  order.reserve(dirs.size());
  for (const auto& [name, fix] : dirs) order.emplace_back(&name, &fix);
  std::stable_sort(order.begin(), order.end(), [](const auto& x, const auto& y) {
    return std::count(x.first->begin(), x.first->end(), '/') > std::count(y.first->begin(), y.first->end(), '/');
  });
  for (const auto& [name, fix] : order) {
    if (auto r = fix_directory(dest_fd, *name, *fix); !r) return r;
  }
  return {};
}

}  // namespace tmpdump::archive::detail
