// libtmpdump-pull.so: the half of the pull step that needs the network (see
// layer/pull.hpp). The bootstrap and the exec wrapper dlopen it only
// when the root's stamp cannot prove the tmpdumps are installed.
#include <fmt/format.h>

#include "layer/pull.hpp"
#include "pull/install.hpp"
#include "s3/s3.hpp"

extern "C" __attribute__((visibility("default"))) tmpdump::Result<tmpdump::layer::PullOutcome> tmpdump_pull_in_module(
    const tmpdump::layer::Config& config, const tmpdump::Env& env, const tmpdump::layer::Notice& notice) {
  using namespace tmpdump;
  pull::InstallOptions options;
  options.root = config.root;
  options.notice = notice;
  if (env("AWS_LAMBDA_INITIALIZATION_TYPE").value_or("") == "snap-start") {
    options.max_tree_bytes = layer::kSnapStartTmpLimit;
    options.max_tree_reason = fmt::format(
        "(512 MB) that SnapStart allows in /tmp, for the tmpdump from {}; pack fewer or smaller files "
        "(tmpdump pack --exclude) or turn SnapStart off",
        config.origin);
  }
  auto report = pull::install(config.sources, options, env);
  if (!report) return std::unexpected(report.error());
  std::string summary = layer::pull_summary(config, report->cached, report->archive_bytes, report->bytes_read);
  // Which alternate served, when it was not the first place named (docs/pull.md, "Alternates").
  for (std::size_t i = 0; i < report->served.size() && i < config.sources.size(); ++i) {
    if (report->served[i] != pull::display_name(config.sources[i])) {
      summary += fmt::format("; {} served by alternate {}", pull::display_name(config.sources[i]), report->served[i]);
    }
  }
  for (const auto& skipped : report->passed_over) summary += fmt::format("; passed over {}", skipped);
  return layer::PullOutcome{.installed = true,
                            .summary = std::move(summary),
                            .cached = report->cached,
                            .archive_bytes = report->archive_bytes,
                            .bytes_read = report->bytes_read,
                            .bytes_unpacked = report->cached ? 0 : report->bytes_written,
                            .retries = s3::source_retries()};
}
