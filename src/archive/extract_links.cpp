#include "archive/extract_links.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <string_view>
#include <unordered_map>
#include <utility>

#include "archive/bytes.hpp"
#include "archive/extract_files.hpp"

namespace tmpdump::archive::detail {
namespace {

constexpr int kMaxSymlinkHops = 40;

std::vector<std::string_view> split(std::string_view path) {
  std::vector<std::string_view> parts;
  std::size_t start = 0;
  while (start <= path.size()) {
    std::size_t end = path.find('/', start);
    if (end == std::string_view::npos) end = path.size();
    parts.push_back(path.substr(start, end - start));
    start = end + 1;
  }
  return parts;
}

std::string join(const std::vector<std::string_view>& parts) {
  std::string out;
  for (auto p : parts) {
    if (!out.empty()) out += '/';
    out += p;
  }
  return out;
}

// The checks that need no other link: an empty, NUL-holding or absolute target.
Result<void> check_target_text(const PendingLink& link) {
  const auto& target = link.target;
  if (target.empty()) return fail(Errc::Unsafe, "{}: empty symlink target", link.label);
  if (target.find('\0') != std::string::npos) return fail(Errc::Unsafe, "{}: NUL in symlink target", link.label);
  if (target.front() == '/')
    return fail(Errc::Unsafe,
                "{}: symlink target \"{}\" is an absolute path; store the file it points to instead "
                "(e.g. Debian's /etc/alternatives links: copy with cp -L before zip -y)",
                link.label, printable(target));
  return {};
}

// Resolves `link`'s target the way the kernel would, through the other
// symlinks of the tree, and fails if any step leaves the root.
Result<void> check_link(const PendingLink& link, const std::unordered_map<std::string, const PendingLink*>& links) {
  if (auto r = check_target_text(link); !r) return r;
  const auto& target = link.target;
  auto stack = split(link.name);
  stack.pop_back();
  auto pending = split(target);
  std::reverse(pending.begin(), pending.end());
  int hops = 0;
  while (!pending.empty()) {
    const auto part = pending.back();
    pending.pop_back();
    if (part.empty() || part == ".") continue;
    if (part == "..") {
      if (stack.empty())
        return fail(Errc::Unsafe, "{}: symlink target \"{}\" resolves outside the root", link.label, printable(target));
      stack.pop_back();
      continue;
    }
    stack.push_back(part);
    auto it = links.find(join(stack));
    if (it == links.end()) continue;
    if (++hops > kMaxSymlinkHops)
      return fail(Errc::Unsafe, "{}: symlink target \"{}\" runs through more than {} symlinks", link.label,
                  printable(target), kMaxSymlinkHops);
    const auto& via = it->second->target;
    if (via.empty() || via.front() == '/')
      return fail(Errc::Unsafe, "{}: symlink target \"{}\" runs through symlink \"{}\" to an absolute path", link.label,
                  printable(target), it->first);
    stack.pop_back();
    auto more = split(via);
    pending.insert(pending.end(), more.rbegin(), more.rend());
  }
  return {};
}

}  // namespace

Result<void> check_links(const std::vector<PendingLink>& links) {
  std::unordered_map<std::string, const PendingLink*> by_name;
  for (const auto& l : links) by_name.emplace(l.name, &l);
  for (const auto& l : links) {
    if (auto r = check_link(l, by_name); !r) return r;
  }
  return {};
}

Result<void> create_links(int dest_fd, std::vector<PendingLink>& links) {
  std::ranges::sort(links, {}, [](const PendingLink& l) { return std::pair(l.archive, l.entry); });
  if (auto r = check_links(links); !r) return r;
  for (const auto& l : links) {
    if (auto r = make_parents(dest_fd, l.name, l.label); !r) return r;
    if (::symlinkat(l.target.c_str(), dest_fd, l.name.c_str()) != 0)
      return std::unexpected(sys_error(errno, fmt::format("{}: creating symlink", l.label)));
    const timespec times[2] = {to_timespec(l.mtime), to_timespec(l.mtime)};
    if (::utimensat(dest_fd, l.name.c_str(), times, AT_SYMLINK_NOFOLLOW) != 0)
      return std::unexpected(sys_error(errno, fmt::format("{}: setting symlink time", l.label)));
  }
  return {};
}

}  // namespace tmpdump::archive::detail
