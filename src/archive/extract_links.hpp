// Internal to extract(): symlink entries, created last, after every target
// has been resolved inside the destination.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "util/error.hpp"

namespace tmpdump::archive::detail {

/// A decoded symlink entry waiting to be created.
struct PendingLink {
  std::string name;
  std::string target;
  std::int64_t mtime = 0;
  std::string label;
  std::size_t archive = 0, entry = 0;  ///< the order links are checked in, whatever order they were decoded in
};

/// Checks every link's target against the whole set, in the order given
/// (see check_symlinks() in extract.hpp).
[[nodiscard]] Result<void> check_links(const std::vector<PendingLink>& links);

/// Sorts `links` into archive and entry order, checks them, then creates them
/// under `dest_fd` with their mtimes.
[[nodiscard]] Result<void> create_links(int dest_fd, std::vector<PendingLink>& links);

}  // namespace tmpdump::archive::detail
