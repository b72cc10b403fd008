// Typed errors for every library module; the CLI and bootstrap turn them into
// exit codes and Lambda errorTypes in one place (exit_code / error_type).
#pragma once

#include <expected>
#include <optional>
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

/// Exit codes for outcomes that are answers, not failures of tmpdump itself.
inline constexpr int kExitProblemsFound = 13;  ///< `check` found something that will not work on Lambda
inline constexpr int kExitFunctionError = 14;  ///< `emulate --event`: the function failed (init error, error, timeout)

/// One exit code of the CLI and the layer programs.
struct ExitCodeMeaning {
  int code;
  std::string_view meaning;  ///< as `tmpdump --help` lists it: "not found"
  std::optional<Errc> kind;  ///< the error kind that exits with it; none for 0, 1 and the answers
};

/// Every exit code, in order: the one table that exit_code() maps from,
/// `tmpdump --help` prints and docs/cli.md's "Exit codes" spells out.
inline constexpr ExitCodeMeaning kExitCodes[] = {
    {0, "ok", std::nullopt},
    {1, "unexpected", std::nullopt},
    {2, "usage or configuration", Errc::InvalidArgument},
    {3, "not found", Errc::NotFound},
    {4, "forbidden", Errc::Forbidden},
    {5, "corrupt archive", Errc::Corrupt},
    {6, "unsafe archive", Errc::Unsafe},
    {7, "checksum mismatch", Errc::ChecksumMismatch},
    {8, "no space", Errc::NoSpace},
    {9, "network", Errc::Network},
    {10, "i/o", Errc::Io},
    {11, "unsupported", Errc::Unsupported},
    {12, "conflict", Errc::Conflict},
    {kExitProblemsFound, "check found problems", std::nullopt},
    {kExitFunctionError, "the emulated function failed", std::nullopt},
};

/// Process exit code for an error kind: its row of kExitCodes; 1 for a kind
/// the table lacks.
[[nodiscard]] int exit_code(Errc code) noexcept;

/// Short lower-case name ("not found"), used in summaries.
[[nodiscard]] std::string_view describe(Errc code) noexcept;

/// Errc for a failed system call's errno (ENOSPC -> NoSpace, ENOENT -> NotFound, ...).
[[nodiscard]] Errc errc_from_errno(int err) noexcept;

/// strerror(err)'s text ("No such file or directory"), safe from any thread:
/// strerror() itself may return a buffer another thread overwrites.
[[nodiscard]] std::string errno_text(int err);

/// An Error for a failed system call: "<what>: <strerror(err)>".
[[nodiscard]] Error sys_error(int err, std::string_view what);

}  // namespace tmpdump
