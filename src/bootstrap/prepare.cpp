#include "bootstrap/prepare.hpp"

#include <fmt/format.h>

#include "pull/install.hpp"
#include "util/units.hpp"

namespace tmpdump::bootstrap {

Result<Pulled> pull_configured(const Config& config, const Env& env,
                               const std::function<void(std::string_view)>& notice) {
  Pulled out;
  if (config.sources.empty()) {
    out.summary = "no tmpdump configured";
    return out;
  }
  const bool snap_start = env("AWS_LAMBDA_INITIALIZATION_TYPE").value_or("") == "snap-start";
  pull::InstallOptions options;
  options.root = config.root;
  options.notice = notice;
  if (snap_start) {
    options.max_tree_bytes = kSnapStartTmpLimit;
    options.max_tree_reason = fmt::format(
        "(512 MB) that SnapStart allows in /tmp, for the tmpdump from {}; pack fewer or smaller files "
        "(tmpdump pack --exclude) or turn SnapStart off", config.origin);
  }
  auto report = pull::install(config.sources, options, env);
  if (!report) return std::unexpected(report.error());
  out.pulled = true;
  out.summary = fmt::format("{} archive(s) of {} from {}, {} ({} read) into {}", config.sources.size(),
                            mb(report->archive_bytes), config.origin, report->cached ? "cache hit" : "cache miss",
                            mb(report->bytes_read), config.root.string());
  return out;
}

}  // namespace tmpdump::bootstrap
