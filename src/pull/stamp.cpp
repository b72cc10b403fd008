#include "pull/stamp.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstddef>
#include <utility>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "util/file_source.hpp"
#include "util/io.hpp"

namespace tmpdump::pull {

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

constexpr int kStampFormat = 1;

}  // namespace

Result<void> check_root(int root_fd, const fs::path& root) {
  struct stat st {};
  if (::fstat(root_fd, &st) != 0) return std::unexpected(sys_error(errno, fmt::format("stat {}", root.string())));
  if (st.st_uid != ::geteuid() && st.st_uid != 0) {
    return fail(Errc::Io,
                "root {} belongs to uid {}, not to you (uid {}) or root: its owner could replace what "
                "tmpdump installs there; pick a root you own",
                root.string(), st.st_uid, ::geteuid());
  }
  if ((st.st_mode & S_IWOTH) != 0 && (st.st_mode & S_ISVTX) == 0) {
    return fail(Errc::Io,
                "root {} is writable by every user and has no sticky bit: anyone could replace what "
                "tmpdump installs there; chmod +t or o-w it, or pick another root",
                root.string());
  }
  return {};
}

Result<RootLock> RootLock::acquire(int root_fd, const fs::path& root,
                                   const std::function<void(std::string_view)>& notice) {
  const std::string shown = (root / kLockName).string();
  const std::string name(kLockName);
  bool told = false;
  for (;;) {
    bool created = true;
    int fd = ::openat(root_fd, name.c_str(), O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0 && errno == EEXIST) {
      created = false;
      fd = ::openat(root_fd, name.c_str(), O_RDWR | O_NOFOLLOW | O_CLOEXEC);
      if (fd < 0 && errno == ENOENT) continue;  // removed by a pull that failed: make it anew
    }
    if (fd < 0) {
      if (errno == ELOOP) {
        return fail(Errc::Io,
                    "{} is a symbolic link, not tmpdump's lock file; tmpdump never follows it (anyone who "
                    "can write to {} could have planted it): remove it",
                    shown, root.string());
      }
      return std::unexpected(sys_error(errno, fmt::format("opening lock {}", shown)));
    }
    const int root_dup = ::fcntl(root_fd, F_DUPFD_CLOEXEC, 0);
    RootLock lock(fd, root_dup, created);
    struct stat held {};
    if (root_dup < 0 || ::fstat(fd, &held) != 0) {
      return std::unexpected(sys_error(errno, fmt::format("opening lock {}", shown)));
    }
    if (!S_ISREG(held.st_mode)) return fail(Errc::Io, "{} is not a regular file; remove it", shown);
    if (held.st_uid != ::geteuid() && held.st_uid != 0) {
      return fail(Errc::Io,
                  "{} belongs to uid {}, who could hold it and stall every pull into {}: remove it or pick "
                  "another root",
                  shown, held.st_uid, root.string());
    }
    if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
      if (errno != EWOULDBLOCK) return std::unexpected(sys_error(errno, fmt::format("locking {}", shown)));
      if (notice && !told) notice(fmt::format("waiting for another pull into {} to finish", root.string()));
      told = true;
      if (retry_eintr([&] { return ::flock(fd, LOCK_EX); }) != 0) {
        return std::unexpected(sys_error(errno, fmt::format("locking {}", shown)));
      }
    }
    // A pull that made the lock file and failed removes it before it lets go;
    // a lock on that removed file excludes nobody, so take the one there now.
    struct stat now {};
    if (::fstatat(root_fd, name.c_str(), &now, AT_SYMLINK_NOFOLLOW) == 0 && now.st_dev == held.st_dev &&
        now.st_ino == held.st_ino) {
      return lock;
    }
  }
}

Result<RootLock> RootLock::acquire(const fs::path& root, const std::function<void(std::string_view)>& notice) {
  auto dir = open_directory_nofollow(root);
  if (!dir) return std::unexpected(dir.error());
  return acquire(dir->get(), root, notice);
}

std::optional<RootLock> RootLock::try_acquire(int root_fd) {
  const std::string name(kLockName);
  const int fd = ::openat(root_fd, name.c_str(), O_RDWR | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  RootLock lock(fd, -1, false);
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) return std::nullopt;
  struct stat held {
  }, now{};
  if (::fstat(fd, &held) != 0 || ::fstatat(root_fd, name.c_str(), &now, AT_SYMLINK_NOFOLLOW) != 0 ||
      held.st_dev != now.st_dev || held.st_ino != now.st_ino) {
    return std::nullopt;
  }
  return lock;
}

RootLock::RootLock(RootLock&& o) noexcept
    : fd_(std::exchange(o.fd_, -1)), root_fd_(std::exchange(o.root_fd_, -1)), created_(o.created_) {}

RootLock::~RootLock() {
  if (fd_ >= 0) ::close(fd_);  // releases the flock
  if (root_fd_ >= 0) ::close(root_fd_);
}

void RootLock::remove_and_release() {
  if (fd_ < 0 || root_fd_ < 0) return;
  const std::string name(kLockName);
  struct stat held {
  }, now{};
  // Only the file this lock holds: never a name someone put there since.
  if (::fstat(fd_, &held) == 0 && ::fstatat(root_fd_, name.c_str(), &now, AT_SYMLINK_NOFOLLOW) == 0 &&
      held.st_dev == now.st_dev && held.st_ino == now.st_ino) {
    ::unlinkat(root_fd_, name.c_str(), 0);
  }
  ::close(std::exchange(fd_, -1));
}

std::optional<Stamp> read_stamp(int root_fd) {
  const std::string stamp_name(kStampName);
  const int fd = ::openat(root_fd, stamp_name.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) return std::nullopt;
  const UniqueFd file(fd);
  struct stat st {};
  // Only a stamp this user (or root) wrote says what tmpdump installed; one
  // another user planted in a shared root would make their files "cached".
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || (st.st_uid != ::geteuid() && st.st_uid != 0)) {
    return std::nullopt;
  }
  auto text = read_all(fd, 16u << 20);  // no stamp is this large
  if (!text) return std::nullopt;
  // A damaged stamp only costs a re-extraction; it is never trusted.
  json j = json::parse(*text, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) return std::nullopt;
  Stamp s;
  try {
    // Inside the try: value() throws when "format" is not a number.
    if (j.value("format", 0) != kStampFormat) return std::nullopt;
    for (const auto& a : j.at("archives")) {
      StampedArchive sa;
      sa.source = a.at("source").get<std::string>();
      sa.size = a.at("size").get<std::uint64_t>();
      sa.etag = a.at("etag").get<std::string>();
      if (a.contains("sha256") && a["sha256"].is_string()) sa.sha256 = a["sha256"].get<std::string>();
      if (a.contains("query_sha256") && a["query_sha256"].is_string()) {
        sa.query_sha256 = a["query_sha256"].get<std::string>();
      }
      s.archives.push_back(std::move(sa));
    }
    for (const auto& t : j.at("top_level")) {
      auto name = t.get<std::string>();
      // Only plain names directly under the root: a tampered stamp must not
      // make tmpdump replace or delete anything else.
      if (name.empty() || name == "." || name == ".." || name.find('/') != std::string::npos) return std::nullopt;
      s.top_level.push_back(std::move(name));
    }
  } catch (const json::exception&) {
    return std::nullopt;
  }
  return s;
}

Result<void> write_stamp(int root_fd, const fs::path& root, const Stamp& s) {
  json j;
  j["format"] = kStampFormat;
  j["archives"] = json::array();
  for (const auto& a : s.archives) {
    json ja{{"source", a.source}, {"size", a.size}, {"etag", a.etag}};
    ja["sha256"] = a.sha256 ? json(*a.sha256) : json(nullptr);
    if (a.query_sha256) ja["query_sha256"] = *a.query_sha256;
    j["archives"].push_back(std::move(ja));
  }
  j["top_level"] = s.top_level;
  const std::string text = j.dump(2) + "\n";
  const std::string shown = (root / kStampName).string();
  auto replaced = replace_file_at(root_fd, kStampName, text, 0644, shown);
  struct stat st {};
  if (!replaced && ::fstatat(root_fd, std::string(kStampName).c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 &&
      st.st_uid != ::geteuid()) {
    // A sticky root (like /tmp) lets nobody but its owner replace another user's name.
    return fail(Errc::Io,
                "{} belongs to uid {}, not to you, and cannot be replaced ({}): remove it or pick another "
                "root",
                shown, st.st_uid, replaced.error().message);
  }
  return replaced;
}

bool same_archive(const StampedArchive& stamped, const StampedArchive& now) {
  if (stamped.source != now.source || stamped.query_sha256 != now.query_sha256 || stamped.size != now.size) {
    return false;
  }
  if (now.etag.empty() || stamped.etag != now.etag) return false;  // no ETag, no proof
  return !now.sha256 || stamped.sha256 == now.sha256;
}

bool exists_nofollow(int dir_fd, const std::string& name) {
  struct stat st {};
  return ::fstatat(dir_fd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0;
}

bool top_level_present(const Stamp& s, int root_fd) {
  return std::ranges::all_of(s.top_level, [&](const std::string& n) {
    struct stat st {};
    return ::fstatat(root_fd, n.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 && (st.st_uid == ::geteuid() || st.st_uid == 0);
  });
}

std::optional<LocalHit> installed_locally(std::span<const SourceSpec> specs, const fs::path& root) {
  if (specs.empty()) return std::nullopt;
  auto dir = open_directory_nofollow(root);
  if (!dir || !check_root(dir->get(), root)) return std::nullopt;
  // Held while the stamp and the tree are read, as install() holds it.
  auto lock = RootLock::try_acquire(dir->get());
  if (!lock) return std::nullopt;
  const std::optional<Stamp> stamp = read_stamp(dir->get());
  if (!stamp || stamp->archives.size() != specs.size()) return std::nullopt;
  LocalHit hit;
  for (std::size_t i = 0; i < specs.size(); ++i) {
    const SourceSpec& spec = specs[i];
    const StampedArchive& stamped = stamp->archives[i];
    if (stamped.source != display_name(spec)) return std::nullopt;
    if (spec.sha256) {
      // Content-addressed: the stamp's digest was checked against every byte
      // when this archive was extracted (so a URL's query, whose digest this
      // half cannot compute without libcrypto, does not matter).
      if (stamped.sha256 != spec.sha256) return std::nullopt;
    } else if (spec.kind == SourceKind::File) {
      auto file = open_file_source(spec.location);
      if (!file) return std::nullopt;
      auto info = (*file)->stat();
      if (!info || !same_archive(stamped, {stamped.source, info->size, info->etag, std::nullopt, std::nullopt})) {
        return std::nullopt;
      }
    } else {
      return std::nullopt;  // only a HEAD can prove it
    }
    hit.archive_bytes += stamped.size;
  }
  if (!top_level_present(*stamp, dir->get())) return std::nullopt;
  hit.top_level = stamp->top_level;
  return hit;
}

}  // namespace tmpdump::pull
