// Opening what `tmpdump pull SOURCE` accepts (pull/spec.hpp) as a ByteSource.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "pull/spec.hpp"
#include "util/byte_source.hpp"
#include "util/env.hpp"
#include "util/error.hpp"

namespace tmpdump::pull {

/// Opens the source: S3 with the credentials chain, region and endpoint from
/// `env`; URLs unsigned; files with pread.
[[nodiscard]] Result<std::unique_ptr<ByteSource>> open_source(const SourceSpec& spec, const Env& env);

/// An integer setting from the environment (TMPDUMP_MAX_ATTEMPTS…): `fallback`
/// when unset or empty; InvalidArgument naming it when outside [lo, hi].
[[nodiscard]] Result<long> env_number(const Env& env, std::string_view name, long fallback, long lo, long hi);

/// sha256 (hex) of a URL source's query string, for the stamp; nullopt for
/// other sources and URLs without one.
[[nodiscard]] std::optional<std::string> query_digest(const SourceSpec& spec);

}  // namespace tmpdump::pull
