// The pull step shared by `bootstrap` (custom runtimes) and
// `tmpdump-exec-wrapper` (managed runtimes): install the configured tmpdumps
// and say in one line what happened.
//
// Split in two so a warm start loads no network code. This part (linked into
// the programs) answers "already installed?" from the root's stamp alone
// (pull::installed_locally). Only when that cannot prove it does it dlopen
// the pull module, libtmpdump-pull.so, which links the S3 client and libcurl:
// libcurl's 38-library link closure cost ~10 ms of symbol lookups at every
// start, more than the 10 ms a warm start is allowed (docs/benchmarks.md).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "layer/config.hpp"
#include "util/env.hpp"
#include "util/error.hpp"

namespace tmpdump::layer {

/// What SnapStart allows in /tmp (Lambda's "512 MB", which is MiB like all its sizes).
inline constexpr std::uint64_t kSnapStartTmpLimit = 512ull << 20;

/// The pull module's file name. It is looked for next to the running program:
/// <program dir>/tmpdump/lib/ (the layer: /opt/bootstrap and /opt/tmpdump/lib),
/// then <program dir>/ (the build tree, an install into libexec/tmpdump, a
/// layer directory in tests). The program's directory comes from
/// /proc/self/exe; without /proc, from the path it was started by (AT_EXECFN)
/// and then /opt, and the error lists every path tried. Never on the library
/// path: the environment does not choose this code.
inline constexpr std::string_view kPullModuleName = "libtmpdump-pull.so";

using Notice = std::function<void(std::string_view)>;

/// How pull_configured() ended.
struct PullOutcome {
  bool installed = false;            ///< sources were configured and are now installed under config.root
  std::string summary;               ///< "1 archive(s) of 14.4 MB from TMPDUMP_BUCKET, cache miss (...) into /tmp"
  bool cached = false;               ///< the root held these archives already
  std::uint64_t archive_bytes = 0;   ///< sum of the archives' sizes
  std::uint64_t bytes_read = 0;      ///< archive bytes transferred (0 when cached)
  std::uint64_t bytes_unpacked = 0;  ///< bytes written into the root (0 when cached)
  std::uint64_t retries = 0;         ///< requests tried again (503 SlowDown, network) during the pull
};

/// Installs `config.sources` into `config.root` (nothing to do when there are
/// none). `notice` gets lines for a person (waiting for a lock). A root that
/// provably holds them already is answered without loading the pull module;
/// otherwise the module runs tmpdump_pull_in_module(). A module that cannot be
/// loaded is an Io error naming every place it was looked for.
[[nodiscard]] Result<PullOutcome> pull_configured(const Config& config, const Env& env, const Notice& notice);

/// The one-line summary of a pull, shared by both halves.
[[nodiscard]] std::string pull_summary(const Config& config, bool cached, std::uint64_t archive_bytes,
                                       std::uint64_t bytes_read);

}  // namespace tmpdump::layer

/// The pull module's entry point (C linkage: dlsym finds it by this name), for
/// pull_configured(), which has handled an empty list: pull::install. Under
/// SnapStart (AWS_LAMBDA_INITIALIZATION_TYPE=snap-start) a tree that would
/// unpack to more than kSnapStartTmpLimit fails with NoSpace before anything
/// is extracted, naming the limit. Other errors are those of pull::install.
extern "C" tmpdump::Result<tmpdump::layer::PullOutcome> tmpdump_pull_in_module(const tmpdump::layer::Config& config,
                                                                               const tmpdump::Env& env,
                                                                               const tmpdump::layer::Notice& notice);
