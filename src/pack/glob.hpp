// Path globs as `tmpdump pack --exclude` and `tmpdump prune --pattern` take them.
#pragma once

#include <string_view>

namespace tmpdump::pack {

/// Whether `path` (a relative archive path, '/'-separated) matches `pattern`:
/// `*` is any run of characters except '/', `?` one character except '/',
/// `[abc]` / `[a-z]` / `[!a-z]` a character class, `**` as a whole path part
/// any number of parts (`a/**/b` matches `a/b` and `a/x/y/b`; a trailing `/**`
/// everything below), `\` escapes the next character. Matches the whole path.
[[nodiscard]] bool glob_match(std::string_view pattern, std::string_view path) noexcept;

/// glob_match(), except that a pattern without '/' is matched against the
/// path's last part, as `zip -d` users expect (`*.a` removes `lib/x/libfoo.a`).
[[nodiscard]] bool glob_match_anywhere(std::string_view pattern, std::string_view path) noexcept;

}  // namespace tmpdump::pack
