#include "util/sha256.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <stdexcept>
#include <vector>

#include <openssl/evp.h>

#include "util/io.hpp"
#include "util/unique_fd.hpp"

namespace tmpdump {

struct Sha256::State {
  EVP_MD_CTX* ctx = nullptr;
  ~State() { EVP_MD_CTX_free(ctx); }
};

Sha256::Sha256() : state_(std::make_unique<State>()) {
  state_->ctx = EVP_MD_CTX_new();
  if (state_->ctx == nullptr || EVP_DigestInit_ex(state_->ctx, EVP_sha256(), nullptr) != 1) {
    throw std::runtime_error("OpenSSL: cannot initialise SHA-256");
  }
}
Sha256::~Sha256() = default;
Sha256::Sha256(Sha256&&) noexcept = default;
Sha256& Sha256::operator=(Sha256&&) noexcept = default;

void Sha256::update(std::span<const std::byte> data) {
  EVP_DigestUpdate(state_->ctx, data.data(), data.size());
}

std::string Sha256::hex_digest() {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_DigestFinal_ex(state_->ctx, md, &len);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(std::size_t{len} * 2);
  for (unsigned i = 0; i < len; ++i) {
    out.push_back(kHex[md[i] >> 4]);
    out.push_back(kHex[md[i] & 15]);
  }
  return out;
}

std::string sha256_hex(std::string_view data) {
  Sha256 h;
  h.update(std::as_bytes(std::span(data.data(), data.size())));
  return h.hex_digest();
}

Result<std::string> sha256_file(const std::filesystem::path& path) {
  const UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return std::unexpected(sys_error(errno, "opening " + path.string()));
  Sha256 sha;
  std::vector<std::byte> buffer(1 << 20);
  for (;;) {
    const auto n = read_some(fd.get(), buffer);
    if (!n) return std::unexpected(sys_error(n.error(), "reading " + path.string()));
    if (*n == 0) break;
    sha.update(std::span(buffer.data(), *n));
  }
  return sha.hex_digest();
}

}  // namespace tmpdump
