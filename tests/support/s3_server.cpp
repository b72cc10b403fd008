#include "support/s3_server.hpp"

#include <fstream>
#include <sstream>
#include <stdexcept>

#include <fmt/format.h>

namespace tmpdump::testing {

namespace fs = std::filesystem;

fs::path source_dir() {
  return TMPDUMP_SOURCE_DIR;
}
fs::path tmpdump_binary() {
  return TMPDUMP_BIN;
}
fs::path build_dir() {
  return TMPDUMP_BUILD_DIR;
}

S3Server::S3Server() {
  fs::create_directories(dir_ / "data");
  fs::create_directories(dir_ / "home");
  process_ =
      std::make_unique<Background>(std::vector<std::string>{"node", (source_dir() / "tests/s3server/serve.js").string(),
                                                            (dir_ / "data").string(), "0", kBucket},
                                   EnvChanges{{"S3SERVER_KEYS", fmt::format("{}:{}", kKeyId, kSecret)},
                                              {"S3SERVER_LOG", (dir_ / "requests.log").string()}});
  auto line = process_->wait_for_line("READY ", std::chrono::seconds(30));
  if (!line) throw std::runtime_error("the S3 server did not start (is scripts/install-deps done?)");
  port_ = std::stoi(line->substr(6));
}

S3Server::~S3Server() = default;

std::string S3Server::endpoint() const {
  return fmt::format("http://127.0.0.1:{}", port_);
}

EnvChanges S3Server::client_env() const {
  return {{"AWS_ENDPOINT_URL", endpoint()},
          {"AWS_ENDPOINT_URL_S3", std::nullopt},
          {"AWS_ACCESS_KEY_ID", kKeyId},
          {"AWS_SECRET_ACCESS_KEY", kSecret},
          {"AWS_SESSION_TOKEN", std::nullopt},
          {"AWS_REGION", "us-east-1"},
          {"AWS_DEFAULT_REGION", "us-east-1"},
          {"AWS_PROFILE", std::nullopt},
          {"AWS_CONTAINER_CREDENTIALS_FULL_URI", std::nullopt},
          {"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", std::nullopt},
          {"HOME", (dir_ / "home").string()},
          {"AWS_CONFIG_FILE", (dir_ / "home/config").string()},
          {"AWS_SHARED_CREDENTIALS_FILE", (dir_ / "home/credentials").string()},
          {"TMPDUMP_PROGRESS", "0"}};
}

void S3Server::put(const fs::path& file, const std::string& key) const {
  auto r = run({"aws", "--endpoint-url", endpoint(), "s3", "cp", "--only-show-errors", file.string(),
                fmt::format("s3://{}/{}", kBucket, key)},
               {.env = client_env(), .timeout = std::chrono::seconds(120)});
  if (r.exit_code != 0) throw std::runtime_error("aws s3 cp failed: " + r.err);
}

std::string S3Server::presign(const std::string& key) const {
  auto r = run({"aws", "--endpoint-url", endpoint(), "s3", "presign", fmt::format("s3://{}/{}", kBucket, key)},
               {.env = client_env(), .timeout = std::chrono::seconds(60)});
  if (r.exit_code != 0) throw std::runtime_error("aws s3 presign failed: " + r.err);
  std::string url = r.out;
  while (!url.empty() && (url.back() == '\n' || url.back() == '\r')) url.pop_back();
  return url;
}

std::vector<std::string> S3Server::requests() const {
  std::ifstream in(dir_ / "requests.log");
  std::vector<std::string> out;
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

void S3Server::clear_log() const {
  fs::remove(dir_ / "requests.log");
}

}  // namespace tmpdump::testing
