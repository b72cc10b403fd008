#include "http/transport.hpp"

#include <array>

namespace tmpdump::http {

std::optional<std::string> Response::header(std::string_view name) const {
  for (const auto& [key, value] : headers) {
    if (key == name) return value;
  }
  return std::nullopt;
}

std::string find_ca_bundle(const std::function<std::optional<std::string>(std::string_view)>& getenv,
                           const std::function<bool(const std::string&)>& exists) {
  for (std::string_view var : kCaBundleVariables) {
    if (auto value = getenv(var); value && !value->empty() && exists(*value)) return *value;
  }
  for (const char* path : kCaBundlePaths) {
    if (exists(path)) return path;
  }
  return {};
}

}  // namespace tmpdump::http
