// Incremental SHA-256 (OpenSSL EVP, which uses the SHA extensions where the CPU has them).
#pragma once

#include <cstddef>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "util/error.hpp"

namespace tmpdump {

class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(Sha256&&) noexcept;
  Sha256& operator=(Sha256&&) noexcept;

  /// Adds bytes to the digest.
  void update(std::span<const std::byte> data);
  /// Finishes and returns the digest as 64 lower-case hex digits.
  [[nodiscard]] std::string hex_digest();

 private:
  struct State;
  std::unique_ptr<State> state_;
};

/// sha256 of a byte string, as lower-case hex.
[[nodiscard]] std::string sha256_hex(std::string_view data);

/// sha256 of a file's contents, as lower-case hex, read in 1 MiB blocks.
/// Errors name the file.
[[nodiscard]] Result<std::string> sha256_file(const std::filesystem::path& path);

/// True when `s` is 64 hex digits (either case). Inline, so parsing a source
/// needs no libcrypto (the bootstrap does not link it; src/bootstrap).
[[nodiscard]] constexpr bool is_sha256_hex(std::string_view s) noexcept {
  if (s.size() != 64) return false;
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'))) return false;
  }
  return true;
}

}  // namespace tmpdump
