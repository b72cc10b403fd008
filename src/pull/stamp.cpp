#include "pull/stamp.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <fstream>
#include <utility>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "util/file_source.hpp"

namespace tmpdump::pull {

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

constexpr int kStampFormat = 1;

}  // namespace

Result<RootLock> RootLock::acquire(const fs::path& root, const std::function<void(std::string_view)>& notice) {
  const fs::path path = root / kLockName;
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) return std::unexpected(sys_error(errno, fmt::format("opening lock {}", path.string())));
  RootLock lock(fd);
  if (::flock(fd, LOCK_EX | LOCK_NB) == 0) return lock;
  if (errno != EWOULDBLOCK) return std::unexpected(sys_error(errno, fmt::format("locking {}", path.string())));
  if (notice) notice(fmt::format("waiting for another pull into {} to finish", root.string()));
  while (::flock(fd, LOCK_EX) != 0) {
    if (errno != EINTR) return std::unexpected(sys_error(errno, fmt::format("locking {}", path.string())));
  }
  return lock;
}

std::optional<RootLock> RootLock::try_acquire(const fs::path& root) {
  int fd = ::open((root / kLockName).c_str(), O_RDWR | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) return std::nullopt;
  RootLock lock(fd);
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) return std::nullopt;
  return lock;
}

RootLock::RootLock(RootLock&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}

RootLock::~RootLock() {
  if (fd_ >= 0) ::close(fd_);  // releases the flock
}

std::optional<Stamp> read_stamp(const fs::path& root) {
  std::ifstream in(root / kStampName);
  if (!in) return std::nullopt;
  // A damaged stamp only costs a re-extraction; it is never trusted.
  json j = json::parse(in, nullptr, /*allow_exceptions=*/false);
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

Result<void> write_stamp(const fs::path& root, const Stamp& s) {
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
  const fs::path tmp = root / (std::string(kStampName) + ".new");
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << j.dump(2) << '\n';
    if (!out.flush()) return std::unexpected(sys_error(errno != 0 ? errno : EIO, fmt::format("writing {}", tmp.string())));
  }
  if (::rename(tmp.c_str(), (root / kStampName).c_str()) != 0) {
    return std::unexpected(sys_error(errno, "installing the stamp"));
  }
  return {};
}

bool same_archive(const StampedArchive& stamped, const StampedArchive& now) {
  if (stamped.source != now.source || stamped.query_sha256 != now.query_sha256 || stamped.size != now.size) {
    return false;
  }
  if (now.etag.empty() || stamped.etag != now.etag) return false;  // no ETag, no proof
  return !now.sha256 || stamped.sha256 == now.sha256;
}

bool exists_nofollow(const fs::path& p) {
  struct stat st{};
  return ::lstat(p.c_str(), &st) == 0;
}

bool top_level_present(const Stamp& s, const fs::path& root) {
  return std::ranges::all_of(s.top_level, [&](const auto& n) { return exists_nofollow(root / n); });
}

std::optional<LocalHit> installed_locally(std::span<const SourceSpec> specs, const fs::path& root) {
  if (specs.empty()) return std::nullopt;
  // Held while the stamp and the tree are read, as install() holds it.
  auto lock = RootLock::try_acquire(root);
  if (!lock) return std::nullopt;
  const std::optional<Stamp> stamp = read_stamp(root);
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
  if (!top_level_present(*stamp, root)) return std::nullopt;
  hit.top_level = stamp->top_level;
  return hit;
}

}  // namespace tmpdump::pull
