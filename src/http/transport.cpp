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
  for (std::string_view var : {"SSL_CERT_FILE", "CURL_CA_BUNDLE", "AWS_CA_BUNDLE"}) {
    if (auto value = getenv(var); value && !value->empty() && exists(*value)) return *value;
  }
  // Amazon Linux first: that is where the bootstrap runs; the rest cover the
  // machines where tmpdump is used as a CLI.
  static constexpr std::array<const char*, 6> kPaths = {
      "/etc/pki/tls/certs/ca-bundle.crt",                   // Amazon Linux, Fedora, RHEL
      "/etc/ssl/certs/ca-certificates.crt",                 // Debian, Ubuntu, Alpine
      "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem",  // RHEL 7+
      "/etc/ssl/ca-bundle.pem",                             // openSUSE
      "/etc/ssl/cert.pem",                                  // Alpine, macOS
      "/etc/ssl/certs/ca-bundle.crt",                       // older distributions
  };
  for (const char* path : kPaths) {
    if (exists(path)) return path;
  }
  return {};
}

}  // namespace tmpdump::http
