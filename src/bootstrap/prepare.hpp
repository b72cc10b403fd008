// The pull step shared by `bootstrap` (custom runtimes) and
// `tmpdump-exec-wrapper` (managed runtimes): install the configured tmpdumps
// and say in one line what happened.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "bootstrap/config.hpp"
#include "util/env.hpp"
#include "util/error.hpp"

namespace tmpdump::bootstrap {

/// What SnapStart allows in /tmp (Lambda's "512 MB", which is MiB like all its sizes).
inline constexpr std::uint64_t kSnapStartTmpLimit = 512ull << 20;

struct Pulled {
  bool pulled = false;   ///< sources were configured and are now installed under config.root
  std::string summary;   ///< "1 archive(s) of 14.4 MB from TMPDUMP_BUCKET, cache miss (...) into /tmp"
};

/// Installs `config.sources` into `config.root` (nothing to do when there are
/// none). `notice` gets lines for a person (waiting for a lock). Under
/// SnapStart (AWS_LAMBDA_INITIALIZATION_TYPE=snap-start) a tree that would
/// unpack to more than kSnapStartTmpLimit fails with NoSpace before anything
/// is extracted, naming the limit. Other errors are those of pull::install.
[[nodiscard]] Result<Pulled> pull_configured(const Config& config, const Env& env,
                                             const std::function<void(std::string_view)>& notice);

}  // namespace tmpdump::bootstrap
