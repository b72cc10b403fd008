#include "pack/glob.hpp"

namespace tmpdump::pack {
namespace {

/// Matches one character class starting at pattern[i] == '['; sets `end` past
/// its ']'. Returns nullopt-like -1 when the class is malformed (then '[' is literal).
int match_class(std::string_view p, std::size_t i, char c, std::size_t& end) noexcept {
  std::size_t j = i + 1;
  bool negate = false;
  if (j < p.size() && (p[j] == '!' || p[j] == '^')) {
    negate = true;
    ++j;
  }
  bool matched = false;
  bool first = true;
  while (j < p.size() && (first || p[j] != ']')) {
    first = false;
    char lo = p[j];
    if (lo == '\\' && j + 1 < p.size()) lo = p[++j];
    char hi = lo;
    if (j + 2 < p.size() && p[j + 1] == '-' && p[j + 2] != ']') {
      hi = p[j + 2];
      if (hi == '\\' && j + 3 < p.size()) hi = p[++j + 2];
      j += 2;
    }
    if (lo <= c && c <= hi) matched = true;
    ++j;
  }
  if (j >= p.size()) return -1;
  end = j + 1;
  return matched != negate ? 1 : 0;
}

constexpr std::size_t kNoMatch = std::string_view::npos;

bool match(std::string_view p, std::string_view s) noexcept;

/// Whether p[pi] starts a "**" that is a whole path part.
bool is_double_star_part(std::string_view p, std::size_t pi) noexcept {
  const bool at_part_start = pi == 0 || p[pi - 1] == '/';
  return at_part_start && p.substr(pi, 2) == "**" && (pi + 2 == p.size() || p[pi + 2] == '/');
}

/// Matches `rest` (what follows "**/") at s[si] and at the start of every
/// later part: "**" stands for zero or more whole path parts.
bool match_after_double_star(std::string_view rest, std::string_view s, std::size_t si) noexcept {
  for (std::size_t k = si;;) {
    if (match(rest, s.substr(k))) return true;
    const auto slash = s.find('/', k);
    if (slash == std::string_view::npos) return false;
    k = slash + 1;
  }
}

/// Where the pattern goes on when p[pi] (anything but '*') matches the one
/// character `c`; kNoMatch when it does not.
std::size_t match_one(std::string_view p, std::size_t pi, char c) noexcept {
  const char pc = p[pi];
  if (pc == '?') return c != '/' ? pi + 1 : kNoMatch;
  if (pc == '[') {
    std::size_t end = 0;
    const int m = match_class(p, pi, c, end);
    if (m == 1 && c != '/') return end;
    if (m == -1 && c == '[') return pi + 1;
    return kNoMatch;
  }
  if (pc == '\\' && pi + 1 < p.size()) return p[pi + 1] == c ? pi + 2 : kNoMatch;
  return pc == c ? pi + 1 : kNoMatch;
}

bool match(std::string_view p, std::string_view s) noexcept {
  std::size_t pi = 0, si = 0;
  // Backtracking point for the last single '*': where it started in p and s.
  std::size_t star_p = std::string_view::npos, star_s = 0;
  while (si < s.size() || pi < p.size()) {
    if (pi < p.size()) {
      if (is_double_star_part(p, pi)) {
        if (pi + 2 == p.size()) return true;  // trailing "/**": everything below
        return match_after_double_star(p.substr(pi + 3), s, si);
      }
      if (p[pi] == '*') {
        star_p = pi++;
        star_s = si;
        continue;
      }
      if (si < s.size()) {
        if (const auto next = match_one(p, pi, s[si]); next != kNoMatch) {
          pi = next;
          ++si;
          continue;
        }
      }
    }
    // Mismatch: let the last '*' swallow one more character, never a '/'.
    if (star_p != std::string_view::npos && star_s < s.size() && s[star_s] != '/') {
      pi = star_p + 1;
      si = ++star_s;
      continue;
    }
    return false;
  }
  return true;
}

}  // namespace

bool glob_match(std::string_view pattern, std::string_view path) noexcept {
  return match(pattern, path);
}

bool glob_match_anywhere(std::string_view pattern, std::string_view path) noexcept {
  if (pattern.find('/') == std::string_view::npos) {
    const auto slash = path.rfind('/');
    if (slash != std::string_view::npos) path = path.substr(slash + 1);
  }
  return match(pattern, path);
}

}  // namespace tmpdump::pack
