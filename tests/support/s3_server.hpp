// The local S3-API server (@20minutes/s3rver, SigV4-verifying) as a test fixture.
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "support/process.hpp"

namespace tmpdump::testing {

/// Starts tests/s3server/serve.js on a free 127.0.0.1 port with bucket "dumps"
/// and one key pair; stops it (and removes its data) on destruction.
class S3Server {
 public:
  static constexpr const char* kKeyId = "AKIDTMPDUMPTEST0001";
  static constexpr const char* kSecret = "tmpdump-test-secret-Qx7vZ2pL9wK";
  static constexpr const char* kBucket = "dumps";

  S3Server();
  ~S3Server();

  [[nodiscard]] std::string endpoint() const;
  [[nodiscard]] int port() const { return port_; }
  /// The environment a client needs to reach this server with the good key:
  /// endpoint, credentials, region, and no stray ~/.aws files.
  [[nodiscard]] EnvChanges client_env() const;
  /// Uploads with the AWS CLI (an independent client).
  void put(const std::filesystem::path& file, const std::string& key) const;
  /// A presigned GET URL for the key, made by the AWS CLI.
  [[nodiscard]] std::string presign(const std::string& key) const;
  /// The requests served since the last clear_log(): "METHOD /path RANGE".
  [[nodiscard]] std::vector<std::string> requests() const;
  void clear_log() const;

 private:
  TempDir dir_;
  std::unique_ptr<Background> process_;
  int port_ = 0;
};

/// Paths set by CMake.
std::filesystem::path source_dir();
std::filesystem::path tmpdump_binary();
/// The CMake build directory (other binaries: bootstrap, audit library...).
std::filesystem::path build_dir();

}  // namespace tmpdump::testing
