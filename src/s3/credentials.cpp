// The credentials chain: environment, container endpoint, shared files.
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "s3/detail.hpp"
#include "s3/s3.hpp"
#include "util/display.hpp"

namespace tmpdump::s3 {
namespace {

constexpr std::size_t kMaxCredentialsBody = std::size_t{64} * 1024;

std::optional<std::string> non_empty(const Env& env, std::string_view name) {
  auto value = env(name);
  if (!value || value->empty()) return std::nullopt;
  return value;
}

std::string trim_line(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ' || s.back() == '\t')) s.pop_back();
  std::size_t start = 0;
  while (start < s.size() && (s[start] == ' ' || s[start] == '\t')) ++start;
  return s.substr(start);
}

Result<std::optional<Credentials>> from_environment(const Env& env) {
  auto key = non_empty(env, "AWS_ACCESS_KEY_ID");
  auto secret = non_empty(env, "AWS_SECRET_ACCESS_KEY");
  if (!key && !secret) return std::nullopt;
  if (!key) return fail(Errc::InvalidArgument, "AWS_SECRET_ACCESS_KEY is set but AWS_ACCESS_KEY_ID is not");
  if (!secret) return fail(Errc::InvalidArgument, "AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not");
  Credentials c;
  c.access_key_id = *key;
  c.secret_access_key = *secret;
  c.session_token = non_empty(env, "AWS_SESSION_TOKEN").value_or("");
  c.origin = "environment";
  return c;
}

Result<std::optional<std::string>> container_token(const Env& env) {
  std::string token;
  if (auto file = non_empty(env, "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE")) {
    std::ifstream in(*file, std::ios::binary);
    if (!in) {
      return fail(Errc::Forbidden, "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE: cannot read {}", *file);
    }
    std::ostringstream text;
    text << in.rdbuf();
    token = trim_line(std::move(text).str());
  } else if (auto value = non_empty(env, "AWS_CONTAINER_AUTHORIZATION_TOKEN")) {
    token = *value;
  } else {
    return std::nullopt;
  }
  if (token.find_first_of("\r\n") != std::string::npos || token.empty()) {
    return fail(Errc::InvalidArgument, "the container authorization token is empty or spans several lines");
  }
  return token;
}

/// The container credentials endpoint and the variable that named it.
struct ContainerEndpoint {
  std::string url;
  std::string_view origin_var;
};

Result<std::optional<ContainerEndpoint>> container_endpoint(const Env& env) {
  ContainerEndpoint endpoint;
  if (auto relative = non_empty(env, "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI")) {
    if (!relative->starts_with("/")) {
      return fail(Errc::InvalidArgument, "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI must start with '/'");
    }
    endpoint.url = "http://169.254.170.2" + *relative;
    endpoint.origin_var = "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI";
  } else if (auto full = non_empty(env, "AWS_CONTAINER_CREDENTIALS_FULL_URI")) {
    endpoint.url = *full;
    endpoint.origin_var = "AWS_CONTAINER_CREDENTIALS_FULL_URI";
    if (!detail::container_uri_allowed(endpoint.url)) {
      return fail(Errc::InvalidArgument,
                  "{} '{}' is not allowed: it must be https, or http to a loopback address, 169.254.170.2, "
                  "169.254.170.23 or fd00:ec2::23",
                  endpoint.origin_var, display_source(endpoint.url));
    }
  } else {
    return std::nullopt;
  }
  for (char c : endpoint.url) {
    if (static_cast<unsigned char>(c) <= 0x20) {
      return fail(Errc::InvalidArgument, "{} contains spaces or control characters", endpoint.origin_var);
    }
  }
  return endpoint;
}

/// The endpoint's answer body (HTTP 200 only); a transport error names the
/// endpoint and never shows the token.
Result<std::string> fetch_container_answer(http::Transport& transport, const ContainerEndpoint& endpoint,
                                           const std::optional<std::string>& token) {
  const std::string& url = endpoint.url;
  http::Request request;
  request.url = url;
  if (token) request.headers.emplace_back("Authorization", *token);
  std::string body;
  auto collect = [&](std::span<const std::byte> bytes) -> Result<void> {
    if (body.size() + bytes.size() > kMaxCredentialsBody) {
      return fail(Errc::Forbidden, "container credentials endpoint {}: answer larger than 64 KiB", display_source(url));
    }
    body.append(reinterpret_cast<const char*>(bytes.data()), bytes.size());
    return {};
  };
  // The endpoint is local to the host; one quick retry covers a restart blip.
  Result<http::Response> response = fail(Errc::Network, "not tried");
  for (int attempt = 0; attempt < 2; ++attempt) {
    body.clear();
    response = transport.perform(request, collect);
    if (response && response->status < 500) break;
  }
  if (!response) {
    auto e = response.error();
    if (e.code == Errc::Network) {
      e.message = fmt::format("container credentials endpoint {} ({}): {}", display_source(url), endpoint.origin_var,
                              e.message);
    }
    if (token) {
      for (auto pos = e.message.find(*token); pos != std::string::npos; pos = e.message.find(*token)) {
        e.message.replace(pos, token->size(), "***");
      }
    }
    return std::unexpected(std::move(e));
  }
  if (response->status != 200) {
    return fail(response->status == 401 || response->status == 403 ? Errc::Forbidden : Errc::Network,
                "container credentials endpoint {} answered HTTP {}{}", display_source(url), response->status,
                response->status == 401 || response->status == 403 ? " (authorization token rejected)" : "");
  }
  return body;
}

Result<Credentials> parse_container_answer(const std::string& body, const std::string& url) {
  auto json = nlohmann::json::parse(body, nullptr, false);
  if (json.is_discarded() || !json.is_object()) {
    return fail(Errc::Forbidden, "container credentials endpoint {}: the answer is not a JSON object",
                display_source(url));
  }
  auto field = [&](const char* name) -> std::optional<std::string> {
    auto it = json.find(name);
    if (it == json.end() || !it->is_string() || it->get_ref<const std::string&>().empty()) return std::nullopt;
    return it->get<std::string>();
  };
  auto key = field("AccessKeyId");
  auto secret = field("SecretAccessKey");
  if (!key || !secret) {
    return fail(Errc::Forbidden, "container credentials endpoint {}: the answer lacks {}", display_source(url),
                !key ? "AccessKeyId" : "SecretAccessKey");
  }
  Credentials c;
  c.access_key_id = *key;
  c.secret_access_key = *secret;
  c.session_token = field("Token").value_or("");
  c.origin = "container credentials";
  return c;
}

Result<std::optional<Credentials>> from_container(const Env& env, http::Transport& transport) {
  auto endpoint = container_endpoint(env);
  if (!endpoint) return std::unexpected(endpoint.error());
  if (!*endpoint) return std::nullopt;
  auto token = container_token(env);
  if (!token) return std::unexpected(token.error());
  auto body = fetch_container_answer(transport, **endpoint, *token);
  if (!body) return std::unexpected(body.error());
  auto credentials = parse_container_answer(*body, (*endpoint)->url);
  if (!credentials) return std::unexpected(credentials.error());
  return std::move(*credentials);
}

Result<std::optional<Credentials>> from_shared_files(const Env& env) {
  const auto profile = detail::chosen_profile(env);
  const auto files = detail::load_shared_files(env);
  const std::map<std::string, std::string>* in_credentials = nullptr;
  if (files.credentials) {
    auto it = files.credentials->find(profile.name);
    if (it != files.credentials->end()) in_credentials = &it->second;
  }
  const auto* in_config = detail::config_profile(files, profile.name);
  if (in_credentials == nullptr && in_config == nullptr) {
    if (!profile.named) return std::nullopt;
    return fail(Errc::InvalidArgument, "profile '{}' (from {}) is in neither {} nor {}", profile.name,
                non_empty(env, "AWS_PROFILE") ? "AWS_PROFILE" : "AWS_DEFAULT_PROFILE",
                files.credentials_path.empty() ? std::string("<no credentials file: HOME unset>")
                                               : files.credentials_path + (files.credentials ? "" : " (unreadable)"),
                files.config_path.empty() ? std::string("<no config file: HOME unset>")
                                          : files.config_path + (files.config ? "" : " (unreadable)"));
  }
  auto lookup = [&](const std::map<std::string, std::string>* keys, const char* name) -> std::optional<std::string> {
    if (keys == nullptr) return std::nullopt;
    auto it = keys->find(name);
    if (it == keys->end() || it->second.empty()) return std::nullopt;
    return it->second;
  };
  for (const auto* keys : {in_credentials, in_config}) {
    auto key = lookup(keys, "aws_access_key_id");
    auto secret = lookup(keys, "aws_secret_access_key");
    if (!key && !secret) continue;
    const auto& path = keys == in_credentials ? files.credentials_path : files.config_path;
    if (!key || !secret) {
      return fail(Errc::InvalidArgument, "profile '{}' in {} has {} but not {}", profile.name, path,
                  key ? "aws_access_key_id" : "aws_secret_access_key",
                  key ? "aws_secret_access_key" : "aws_access_key_id");
    }
    Credentials c;
    c.access_key_id = *key;
    c.secret_access_key = *secret;
    c.session_token = lookup(keys, "aws_session_token").value_or("");
    c.origin = fmt::format("profile '{}' in {}", profile.name, path);
    return c;
  }
  for (const char* unsupported :
       {"role_arn", "credential_process", "sso_session", "sso_start_url", "web_identity_token_file"}) {
    if (lookup(in_credentials, unsupported) || lookup(in_config, unsupported)) {
      return fail(Errc::Unsupported,
                  "profile '{}' gets its credentials through {}, which tmpdump does not support; export them "
                  "instead (eval \"$(aws configure export-credentials --profile {} --format env)\")",
                  profile.name, unsupported, profile.name);
    }
  }
  return std::nullopt;
}

}  // namespace

Result<std::optional<Credentials>> resolve_credentials(const Env& env, http::Transport& transport) {
  auto from_env = from_environment(env);
  if (!from_env || *from_env) return from_env;
  auto container = from_container(env, transport);
  if (!container || *container) return container;
  return from_shared_files(env);
}

}  // namespace tmpdump::s3
