#include "layer/pull.hpp"

#include <dlfcn.h>
#include <sys/auxv.h>

#include <algorithm>
#include <filesystem>
#include <system_error>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "pull/stamp.hpp"
#include "util/units.hpp"

namespace tmpdump::layer {

namespace fs = std::filesystem;

std::string pull_summary(const Config& config, bool cached, std::uint64_t archive_bytes, std::uint64_t bytes_read) {
  return fmt::format("{} archive(s) of {} from {}, {} ({} read) into {}", config.sources.size(), mb(archive_bytes),
                     config.origin, cached ? "cache hit" : "cache miss", mb(bytes_read), config.root.string());
}

namespace {

/// Where kPullModuleName is looked for, in order (see pull.hpp): beside
/// the running program, found through /proc/self/exe; without /proc, through
/// the path it was started by (AT_EXECFN) and the layer's own place, /opt.
/// `why` gets a note when /proc/self/exe could not be read.
std::vector<fs::path> module_candidates(std::string& why) {
  std::error_code ec;
  std::vector<fs::path> dirs;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    dirs.push_back(exe.parent_path());
  } else {
    why = fmt::format("; /proc/self/exe: {}", ec.message());
    // NOLINTNEXTLINE(performance-no-int-to-ptr): getauxval returns AT_EXECFN's address as an unsigned long
    if (const auto* started = reinterpret_cast<const char*>(::getauxval(AT_EXECFN)); started != nullptr && *started) {
      const fs::path p = fs::absolute(started, ec).lexically_normal();
      if (!ec && p.has_parent_path()) dirs.push_back(p.parent_path());
    }
    if (std::find(dirs.begin(), dirs.end(), fs::path("/opt")) == dirs.end()) dirs.emplace_back("/opt");
  }
  std::vector<fs::path> out;
  for (const auto& d : dirs) {
    out.push_back(d / "tmpdump/lib" / kPullModuleName);
    out.push_back(d / kPullModuleName);
  }
  return out;
}

using PullFn = decltype(&tmpdump_pull_in_module);

Result<PullFn> load_module() {
  std::vector<std::string> tried;  // "<path> (<why not>)"
  std::string no_proc;
  for (const auto& path : module_candidates(no_proc)) {
    std::error_code ec;
    if (!fs::exists(path, ec)) {
      tried.push_back(fmt::format("{} (missing)", path.string()));
      continue;
    }
    // Never unloaded: the pull's threads and libcurl's state live in it.
    void* lib = ::dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (lib == nullptr) {
      const char* why = ::dlerror();
      tried.push_back(fmt::format("{} ({})", path.string(), why != nullptr ? why : "?"));
      continue;
    }
    // POSIX guarantees object/function pointer conversion for dlsym results.
    if (auto fn = reinterpret_cast<PullFn>(::dlsym(lib, "tmpdump_pull_in_module"))) return fn;
    tried.push_back(fmt::format("{} (no tmpdump_pull_in_module)", path.string()));
  }
  return fail(Errc::Io, "the layer is incomplete: cannot load its pull module {} (tried {}{}); reinstall the layer",
              kPullModuleName, fmt::join(tried, ", "), no_proc);
}

}  // namespace

Result<PullOutcome> pull_configured(const Config& config, const Env& env, const Notice& notice) {
  PullOutcome out;
  if (config.sources.empty()) {
    out.summary = "no tmpdump configured";
    return out;
  }
  if (auto hit = pull::installed_locally(config.sources, config.root)) {
    out.installed = true;
    out.summary = pull_summary(config, /*cached=*/true, hit->archive_bytes, 0);
    out.cached = true;
    out.archive_bytes = hit->archive_bytes;
    return out;
  }
  auto pull = load_module();
  if (!pull) return std::unexpected(pull.error());
  return (*pull)(config, env, notice);
}

}  // namespace tmpdump::layer
