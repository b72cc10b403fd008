// Incremental SHA-256 (OpenSSL EVP, which uses the SHA extensions where the CPU has them).
#pragma once

#include <cstddef>
#include <memory>
#include <span>
#include <string>
#include <string_view>

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

/// True when `s` is 64 hex digits (either case).
[[nodiscard]] bool is_sha256_hex(std::string_view s) noexcept;

}  // namespace tmpdump
