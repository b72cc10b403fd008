// The DT_NEEDED closure of a packed archive, resolved the way ld.so resolves
// it. Internal to the pack module (plan.cpp uses it; closure_test.cpp tests it).
#pragma once

#include <filesystem>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "elf/elf.hpp"
#include "pack/plan.hpp"

namespace tmpdump::pack {

/// The links that make `name` reach the real file `real` the way its own
/// directory does (libx.so -> libx.so.1 -> libx.so.1.2.3): {link, target}
/// pairs, bare names. A name with no such chain gets one direct link; the real
/// file's own name gets none.
[[nodiscard]] std::vector<std::pair<std::string, std::string>> links_to(const std::string& name,
                                                                        const std::filesystem::path& real);

/// The system loader's directories: those of `ld_so_conf` (with its `include`
/// globs), then the default ones for x86-64 / aarch64 Debian and Amazon Linux.
/// Directories that do not exist are left out.
[[nodiscard]] std::vector<std::filesystem::path> system_search_path(
    const std::filesystem::path& ld_so_conf = "/etc/ld.so.conf");

/// Where ld.so finds `needed` for the object `requester` (its DT_RPATH /
/// DT_RUNPATH with $ORIGIN, $LIB and $PLATFORM expanded): DT_RPATH when there
/// is no DT_RUNPATH, then `library_path`, then DT_RUNPATH, then `system_path`.
/// Only candidates of the requester's ELF class and machine count.
[[nodiscard]] std::optional<std::filesystem::path> resolve_needed(
    std::string_view needed, const std::filesystem::path& requester, const elf::Info& info,
    const std::vector<std::filesystem::path>& library_path, const std::vector<std::filesystem::path>& system_path);

/// Adds to `entries` (archive path -> entry) every dependency of its ELF files
/// and of options.closure_roots that lib/ does not provide, with the symlinks
/// the names need; what the image provides (image_provides()) only with
/// options.with_libc, and then under kBundledLibcDir; never the names in
/// `runtime_names` (libraries the traced runtime brings). Returns the archive
/// paths added. Errors: NotFound naming the dependency and who needs it.
[[nodiscard]] Result<std::vector<std::string>> add_closure(std::map<std::string, PlannedEntry>& entries,
                                                           const PackOptions& options,
                                                           const std::set<std::string>& runtime_names = {});

}  // namespace tmpdump::pack
