// Small text helpers with no better home.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace tmpdump {

/// The non-empty items of `text` between any of `separators`
/// (split_list("a, b,,c", ", ") is {"a", "b", "c"}).
[[nodiscard]] inline std::vector<std::string> split_list(std::string_view text, std::string_view separators) {
  std::vector<std::string> out;
  std::string cur;
  for (char c : text) {
    if (separators.find(c) != std::string_view::npos) {
      if (!cur.empty()) out.push_back(std::move(cur));
      cur.clear();
    } else {
      cur += c;
    }
  }
  if (!cur.empty()) out.push_back(std::move(cur));
  return out;
}

}  // namespace tmpdump
