#include "util/display.hpp"

#include <algorithm>
#include <cctype>

namespace tmpdump {

namespace {

/// The length of "scheme://" at the start of `text` (RFC 3986 scheme), or 0.
std::size_t scheme_prefix(std::string_view text) {
  const auto sep = text.find("://");
  if (sep == std::string_view::npos || sep == 0) return 0;
  const std::string_view scheme = text.substr(0, sep);
  const auto ok = [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '+' || c == '-' || c == '.';
  };
  if (std::isalpha(static_cast<unsigned char>(scheme.front())) == 0 || !std::ranges::all_of(scheme, ok)) return 0;
  return sep + 3;
}

bool is_s3(std::string_view text) {
  return text.size() >= 5 && (text[0] == 's' || text[0] == 'S') && text.substr(1, 4) == "3://";
}

}  // namespace

std::string display_source(std::string_view source) {
  const std::size_t start = scheme_prefix(source);
  if (start == 0 || is_s3(source)) return std::string(source);
  const auto end = std::min(source.find_first_of("?#", start), source.size());
  std::string_view authority = source.substr(start, end - start);
  authority = authority.substr(0, authority.find('/'));
  std::string shown(source.substr(0, start));
  if (auto at = authority.rfind('@'); at != std::string_view::npos) {
    shown += source.substr(start + at + 1, end - start - at - 1);
  } else {
    shown += source.substr(start, end - start);
  }
  if (source.find('?', start) < source.find('#', start)) shown += "?…";
  return shown;
}

}  // namespace tmpdump
