// Where requests go: URI parsing, region, endpoint, object URLs, and the
// small parsers the rest of the module shares.
#include <algorithm>
#include <cctype>
#include <charconv>
#include <fstream>
#include <sstream>

#include "s3/detail.hpp"
#include "s3/s3.hpp"

namespace tmpdump::s3 {
namespace detail {
namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

std::optional<std::string> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) return std::nullopt;
  return std::move(text).str();
}

std::optional<std::string> non_empty(const Env& env, std::string_view name) {
  auto value = env(name);
  if (!value || value->empty()) return std::nullopt;
  return value;
}

std::string expand_home(const Env& env, std::string path) {
  if (path.starts_with("~/")) {
    if (auto home = non_empty(env, "HOME")) return *home + path.substr(1);
  }
  return path;
}

}  // namespace

std::string encode_key(std::string_view key) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(key.size());
  for (char ch : key) {
    const auto c = static_cast<unsigned char>(ch);
    if (std::isalnum(c) != 0 || c == '-' || c == '.' || c == '_' || c == '~' || c == '/') {
      out.push_back(ch);
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 0xF]);
    }
  }
  return out;
}

std::optional<std::string> url_host(std::string_view url) {
  auto scheme_end = url.find("://");
  if (scheme_end == std::string_view::npos) return std::nullopt;
  auto authority = url.substr(scheme_end + 3);
  authority = authority.substr(0, authority.find_first_of("/?#"));
  if (authority.find('@') != std::string_view::npos) return std::nullopt;
  if (authority.starts_with("[")) {
    auto close = authority.find(']');
    if (close == std::string_view::npos || close == 1) return std::nullopt;
    auto rest = authority.substr(close + 1);
    if (!rest.empty() && !rest.starts_with(":")) return std::nullopt;
    return std::string(authority.substr(1, close - 1));
  }
  auto host = authority.substr(0, authority.find(':'));
  if (host.empty()) return std::nullopt;
  return std::string(host);
}

Result<std::string> validate_endpoint(std::string_view url, std::string_view origin) {
  const auto scheme = lower(url.substr(0, url.find("://")));
  if (url.find("://") == std::string_view::npos || (scheme != "http" && scheme != "https")) {
    return fail(Errc::InvalidArgument, "{}: only http:// and https:// endpoints are supported", origin);
  }
  if (url.find_first_of("?#") != std::string_view::npos) {
    return fail(Errc::InvalidArgument, "{}: an endpoint URL cannot have a query or fragment", origin);
  }
  auto authority = url.substr(url.find("://") + 3);
  authority = authority.substr(0, authority.find('/'));
  if (authority.find('@') != std::string_view::npos) {
    return fail(Errc::InvalidArgument, "{}: an endpoint URL cannot carry user information", origin);
  }
  if (!url_host(url)) return fail(Errc::InvalidArgument, "{}: the endpoint URL has no host", origin);
  for (char c : url) {
    const auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u >= 0x7f) {
      return fail(Errc::InvalidArgument, "{}: the endpoint URL contains spaces or control characters", origin);
    }
  }
  std::string out(url);
  while (out.ends_with('/')) out.pop_back();
  return out;
}

Result<void> validate_region(std::string_view region, std::string_view origin) {
  const bool ok = !region.empty() && region.size() <= 32 && std::all_of(region.begin(), region.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
  });
  if (!ok) {
    return fail(Errc::InvalidArgument, "{}: '{}' is not a region name (expected e.g. us-east-1)", origin,
                std::all_of(region.begin(), region.end(),
                            [](char c) { return std::isprint(static_cast<unsigned char>(c)) != 0; }) &&
                        region.size() <= 64
                    ? std::string(region)
                    : std::string("<unprintable>"));
  }
  return {};
}

bool container_uri_allowed(std::string_view url) {
  const auto scheme = lower(url.substr(0, url.find("://")));
  auto host = url_host(url);
  if (!host || url.find("://") == std::string_view::npos) return false;
  if (scheme == "https") return true;
  if (scheme != "http") return false;
  const auto h = lower(*host);
  if (h == "localhost" || h == "::1" || h == "169.254.170.2" || h == "169.254.170.23" || h == "fd00:ec2::23") {
    return true;
  }
  // 127.0.0.0/8, written as a dotted quad.
  if (!h.starts_with("127.")) return false;
  int parts = 0;
  std::string_view rest(h);
  while (!rest.empty()) {
    auto dot = rest.find('.');
    auto part = rest.substr(0, dot);
    auto value = parse_decimal(part);
    if (!value || *value > 255 || part.size() > 3) return false;
    ++parts;
    if (dot == std::string_view::npos) break;
    rest.remove_prefix(dot + 1);
    if (rest.empty()) return false;
  }
  return parts == 4;
}

IniFile parse_ini(std::string_view text) {
  IniFile out;
  std::string section;
  bool in_section = false;
  while (!text.empty()) {
    auto eol = text.find('\n');
    std::string_view raw = text.substr(0, eol);
    text = eol == std::string_view::npos ? std::string_view() : text.substr(eol + 1);
    if (!raw.empty() && (raw.front() == ' ' || raw.front() == '\t')) continue;  // sub-property
    auto line = trim(raw);
    if (line.empty() || line.front() == '#' || line.front() == ';') continue;
    if (line.front() == '[') {
      auto close = line.find(']');
      if (close == std::string_view::npos) {
        in_section = false;  // a broken header: ignore its keys rather than misfile them
        continue;
      }
      section = std::string(trim(line.substr(1, close - 1)));
      in_section = true;
      out[section];
      continue;
    }
    if (!in_section) continue;
    auto eq = line.find('=');
    if (eq == std::string_view::npos || eq == 0) continue;
    auto key = trim(line.substr(0, eq));
    if (key.empty()) continue;
    out[section][lower(key)] = std::string(trim(line.substr(eq + 1)));
  }
  return out;
}

std::optional<std::uint64_t> parse_decimal(std::string_view value) {
  if (value.empty() || value.size() > 20) return std::nullopt;
  std::uint64_t out = 0;
  auto [ptr, ec] = std::from_chars(value.data(), value.data() + value.size(), out);
  if (ec != std::errc{} || ptr != value.data() + value.size()) return std::nullopt;
  return out;
}

std::optional<ContentRange> parse_content_range(std::string_view value) {
  if (!value.starts_with("bytes ")) return std::nullopt;
  value.remove_prefix(6);
  auto dash = value.find('-');
  auto slash = value.find('/');
  if (dash == std::string_view::npos || slash == std::string_view::npos || dash > slash) return std::nullopt;
  auto first = parse_decimal(value.substr(0, dash));
  auto last = parse_decimal(value.substr(dash + 1, slash - dash - 1));
  if (!first || !last || *last < *first) return std::nullopt;
  ContentRange out{*first, *last, std::nullopt};
  auto total = value.substr(slash + 1);
  if (total != "*") {
    out.total = parse_decimal(total);
    if (!out.total || *out.total <= *last) return std::nullopt;
  }
  return out;
}

std::optional<std::uint64_t> parse_unsatisfied_range(std::string_view value) {
  if (!value.starts_with("bytes */")) return std::nullopt;
  return parse_decimal(value.substr(8));
}

std::string xml_element(std::string_view xml, std::string_view tag) {
  const std::string open = "<" + std::string(tag) + ">";
  const std::string close = "</" + std::string(tag) + ">";
  auto start = xml.find(open);
  if (start == std::string_view::npos) return {};
  start += open.size();
  auto end = xml.find(close, start);
  if (end == std::string_view::npos) return {};
  std::string out;
  for (char c : xml.substr(start, std::min<std::size_t>(end - start, 512))) {
    out.push_back(std::isprint(static_cast<unsigned char>(c)) != 0 ? c : ' ');
  }
  return out;
}

std::chrono::milliseconds backoff_delay(const RetryPolicy& policy, int attempt, std::mt19937_64& rng) {
  const auto base = std::max<std::int64_t>(0, policy.base_delay.count());
  const auto cap = std::max<std::int64_t>(0, policy.max_delay.count());
  std::int64_t ceiling = base;
  for (int i = 1; i < attempt && ceiling < cap; ++i) ceiling *= 2;
  ceiling = std::min(ceiling, cap);
  std::uniform_int_distribution<std::int64_t> pick(0, ceiling);
  return std::chrono::milliseconds(pick(rng));
}

ProfileChoice chosen_profile(const Env& env) {
  if (auto p = non_empty(env, "AWS_PROFILE")) return {*p, true};
  if (auto p = non_empty(env, "AWS_DEFAULT_PROFILE")) return {*p, true};
  return {"default", false};
}

SharedFiles load_shared_files(const Env& env) {
  SharedFiles files;
  auto home = non_empty(env, "HOME");
  if (auto p = non_empty(env, "AWS_SHARED_CREDENTIALS_FILE")) {
    files.credentials_path = expand_home(env, *p);
  } else if (home) {
    files.credentials_path = *home + "/.aws/credentials";
  }
  if (auto p = non_empty(env, "AWS_CONFIG_FILE")) {
    files.config_path = expand_home(env, *p);
  } else if (home) {
    files.config_path = *home + "/.aws/config";
  }
  if (!files.credentials_path.empty()) {
    if (auto text = read_file(files.credentials_path)) files.credentials = parse_ini(*text);
  }
  if (!files.config_path.empty()) {
    if (auto text = read_file(files.config_path)) files.config = parse_ini(*text);
  }
  return files;
}

const std::map<std::string, std::string>* config_profile(const SharedFiles& files, std::string_view profile) {
  if (!files.config) return nullptr;
  auto it = files.config->find("profile " + std::string(profile));
  if (it != files.config->end()) return &it->second;
  if (profile == "default") {
    it = files.config->find("default");
    if (it != files.config->end()) return &it->second;
  }
  return nullptr;
}

http::SigV4 s3_signing(const Credentials& credentials, const std::string& region) {
  http::SigV4 sig;
  sig.region = region;
  sig.access_key_id = credentials.access_key_id;
  sig.secret_access_key = credentials.secret_access_key;
  sig.session_token = credentials.session_token;
  return sig;
}

}  // namespace detail

Result<ClientConfig> config_from_env(const Env& env, http::Transport& transport) {
  ClientConfig config;
  auto get = [&](std::string_view name) -> std::optional<std::string> {
    auto v = env(name);
    if (!v || v->empty()) return std::nullopt;
    return v;
  };
  if (auto r = get("AWS_REGION")) {
    if (auto ok = detail::validate_region(*r, "AWS_REGION"); !ok) return std::unexpected(ok.error());
    config.region = *r;
  } else if (auto dr = get("AWS_DEFAULT_REGION")) {
    if (auto ok = detail::validate_region(*dr, "AWS_DEFAULT_REGION"); !ok) return std::unexpected(ok.error());
    config.region = *dr;
  } else {
    const auto profile = detail::chosen_profile(env);
    const auto files = detail::load_shared_files(env);
    if (const auto* keys = detail::config_profile(files, profile.name)) {
      if (auto it = keys->find("region"); it != keys->end() && !it->second.empty()) {
        const auto origin = fmt::format("region of profile '{}' in {}", profile.name, files.config_path);
        if (auto ok = detail::validate_region(it->second, origin); !ok) return std::unexpected(ok.error());
        config.region = it->second;
      }
    }
  }

  auto ignore = get("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS");
  const bool ignore_endpoints = ignore && (*ignore == "true" || *ignore == "TRUE" || *ignore == "1");
  if (!ignore_endpoints) {
    for (std::string_view var : {"AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL"}) {
      if (auto url = get(var)) {
        auto checked = detail::validate_endpoint(*url, var);
        if (!checked) return std::unexpected(checked.error());
        config.endpoint_url = *checked;
        break;
      }
    }
  }

  auto credentials = resolve_credentials(env, transport);
  if (!credentials) return std::unexpected(credentials.error());
  config.credentials = std::move(*credentials);
  return config;
}

std::string object_url(const ClientConfig& config, const Location& location) {
  const auto key = detail::encode_key(location.key);
  if (config.endpoint_url) return *config.endpoint_url + "/" + location.bucket + "/" + key;
  const std::string domain = config.region.starts_with("cn-") ? "amazonaws.com.cn" : "amazonaws.com";
  // A dotted bucket name would not match the virtual hosts' wildcard
  // certificate; legacy names with '_' or capitals are not host names at all.
  if (std::any_of(location.bucket.begin(), location.bucket.end(),
                  [](char c) { return c == '.' || c == '_' || (c >= 'A' && c <= 'Z'); })) {
    return fmt::format("https://s3.{}.{}/{}/{}", config.region, domain, location.bucket, key);
  }
  return fmt::format("https://{}.s3.{}.{}/{}", location.bucket, config.region, domain, key);
}

}  // namespace tmpdump::s3
