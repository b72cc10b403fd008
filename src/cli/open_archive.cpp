#include "cli/open_archive.hpp"

#include "pull/source.hpp"
#include "pull/spec.hpp"
#include "util/env.hpp"

namespace tmpdump::cli {

Result<OpenArchive> open_archive(std::string_view text) {
  auto spec = pull::parse_source(text);
  if (!spec) return std::unexpected(spec.error());
  auto source = pull::open_source(*spec, process_env());
  if (!source) return std::unexpected(source.error());
  auto info = (*source)->stat();
  if (!info) return std::unexpected(info.error());
  auto dir = archive::read_central_directory(**source, *info);
  if (!dir) return std::unexpected(dir.error());
  return OpenArchive{pull::display_name(*spec), std::move(*source), std::move(*dir)};
}

}  // namespace tmpdump::cli
