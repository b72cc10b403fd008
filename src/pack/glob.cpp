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

bool match(std::string_view p, std::string_view s) noexcept {
  std::size_t pi = 0, si = 0;
  // Backtracking point for the last single '*': where it started in p and s.
  std::size_t star_p = std::string_view::npos, star_s = 0;
  while (si < s.size() || pi < p.size()) {
    if (pi < p.size()) {
      // "**" as a whole part: zero or more whole path parts.
      const bool at_part_start = pi == 0 || p[pi - 1] == '/';
      if (at_part_start && p.substr(pi, 2) == "**" && (pi + 2 == p.size() || p[pi + 2] == '/')) {
        if (pi + 2 == p.size()) return true;  // trailing "/**": everything below
        const std::string_view rest = p.substr(pi + 3);
        // Try the rest at this part and at the start of every later part.
        std::size_t k = si;
        for (;;) {
          if (match(rest, s.substr(k))) return true;
          const auto slash = s.find('/', k);
          if (slash == std::string_view::npos) return false;
          k = slash + 1;
        }
      }
      const char c = p[pi];
      if (c == '*') {
        star_p = pi++;
        star_s = si;
        continue;
      }
      if (si < s.size()) {
        if (c == '?' && s[si] != '/') {
          ++pi;
          ++si;
          continue;
        }
        if (c == '[') {
          std::size_t end = 0;
          const int m = match_class(p, pi, s[si], end);
          if (m == 1 && s[si] != '/') {
            pi = end;
            ++si;
            continue;
          }
          if (m == -1 && s[si] == '[') {
            ++pi;
            ++si;
            continue;
          }
        } else if (c == '\\' && pi + 1 < p.size()) {
          if (p[pi + 1] == s[si]) {
            pi += 2;
            ++si;
            continue;
          }
        } else if (c != '?' && c == s[si]) {
          ++pi;
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

bool glob_match(std::string_view pattern, std::string_view path) noexcept { return match(pattern, path); }

bool glob_match_anywhere(std::string_view pattern, std::string_view path) noexcept {
  if (pattern.find('/') == std::string_view::npos) {
    const auto slash = path.rfind('/');
    if (slash != std::string_view::npos) path = path.substr(slash + 1);
  }
  return match(pattern, path);
}

}  // namespace tmpdump::pack
