// Typed errors for every library module; the CLI and bootstrap turn them into
// exit codes and Lambda errorTypes in one place (exit_code / error_type).
#pragma once

#include <expected>
#include <string>
#include <string_view>

#include <fmt/format.h>

namespace tmpdump {

/// What went wrong, coarse enough to act on. Each kind has its own exit code
/// and Lambda errorType; messages carry the specifics.
enum class Errc {
  InvalidArgument,   ///< bad flag, bad source URI, bad configuration value
  NotFound,          ///< the object, bucket or file does not exist
  Forbidden,         ///< credentials missing, wrong, or not allowed (401/403)
  Corrupt,           ///< the archive is malformed or fails a CRC
  Unsafe,            ///< the archive is hostile: escaping paths, devices, lying sizes
  ChecksumMismatch,  ///< the whole archive does not have the expected sha256
  NoSpace,           ///< the root has no room for the extracted tree
  Network,           ///< transport failures that outlived the retry budget
  Io,                ///< local file system errors other than no space
  Unsupported,       ///< a valid feature this build cannot handle (method, encryption)
  Conflict,          ///< the root holds something tmpdump did not install
};

/// An error with a message a person can act on. Never holds credentials.
struct Error {
  Errc code;
  std::string message;
};

/// The return type of everything that can fail in the libraries.
template <class T>
using Result = std::expected<T, Error>;

/// Shorthand: `return fail(Errc::NotFound, "no such key {}", key);`
template <class... Args>
[[nodiscard]] std::unexpected<Error> fail(Errc code, fmt::format_string<Args...> f, Args&&... args) {
  return std::unexpected(Error{code, fmt::format(f, std::forward<Args>(args)...)});
}

/// Prefixes context to an error's message ("s3://b/k: ..."), unless the
/// message already starts with exactly that context.
[[nodiscard]] Error with_context(Error e, std::string_view context);

/// Lambda errorType for an init error, e.g. "TmpDump.NotFound".
[[nodiscard]] std::string_view error_type(Errc code) noexcept;

/// Process exit code for the CLI (documented in docs/cli.md).
[[nodiscard]] int exit_code(Errc code) noexcept;

/// Short lower-case name ("not found"), used in summaries.
[[nodiscard]] std::string_view describe(Errc code) noexcept;

/// Errc for a failed system call's errno (ENOSPC -> NoSpace, ENOENT -> NotFound, ...).
[[nodiscard]] Errc errc_from_errno(int err) noexcept;

/// An Error for a failed system call: "<what>: <strerror(err)>".
[[nodiscard]] Error sys_error(int err, std::string_view what);

}  // namespace tmpdump
