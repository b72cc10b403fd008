#include "bootstrap/config.hpp"

#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

namespace tmpdump::bootstrap {

namespace fs = std::filesystem;

std::vector<std::string> split_list(std::string_view text, std::string_view separators) {
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

namespace {

Result<std::vector<pull::SourceSpec>> parse_sources(const std::vector<std::string>& texts, std::string_view origin) {
  std::vector<pull::SourceSpec> specs;
  for (const auto& t : texts) {
    auto spec = pull::parse_source(t);
    if (!spec) return std::unexpected(with_context(spec.error(), origin));
    specs.push_back(std::move(*spec));
  }
  return specs;
}

struct FileConfig {
  std::vector<std::string> sources;
  std::optional<std::string> root;
};

Result<std::optional<FileConfig>> read_function_config(const fs::path& path) {
  std::error_code ec;
  if (!fs::exists(path, ec)) return std::optional<FileConfig>{};
  std::ifstream in(path);
  if (!in) return fail(Errc::Io, "cannot read {}", path.string());
  std::stringstream text;
  text << in.rdbuf();
  auto doc = nlohmann::json::parse(text.str(), nullptr, false);
  if (doc.is_discarded() || !doc.is_object()) return fail(Errc::InvalidArgument, "{} is not a JSON object", path.string());
  if (!doc.contains("format") || !doc["format"].is_number_integer() || doc["format"].get<int>() != 1) {
    return fail(Errc::InvalidArgument, "{}: unknown \"format\" (this bootstrap reads format 1)", path.string());
  }
  FileConfig fc;
  if (doc.contains("sources")) {
    const std::string want = fmt::format(
        "{}: \"sources\" must be an array of strings or objects "
        "{{\"source\": \"...\", \"alternates\": [\"...\"], \"sha256\": \"...\"}}",
        path.string());
    if (!doc["sources"].is_array()) return fail(Errc::InvalidArgument, "{}", want);
    for (const auto& s : doc["sources"]) {
      if (s.is_string()) {
        fc.sources.push_back(s.get<std::string>());
        continue;
      }
      // {"source": FIRST, "alternates": [MORE...], "sha256": HEX}: the same as "FIRST|MORE...#sha256=HEX".
      if (!s.is_object() || !s.contains("source") || !s["source"].is_string()) {
        return fail(Errc::InvalidArgument, "{}", want);
      }
      for (const auto& [key, value] : s.items()) {
        if (key != "source" && key != "alternates" && key != "sha256") {
          return fail(Errc::InvalidArgument, "{}: unknown key \"{}\" in a source object", path.string(), key);
        }
      }
      std::string text = s["source"].get<std::string>();
      if (s.contains("alternates")) {
        if (!s["alternates"].is_array()) return fail(Errc::InvalidArgument, "{}", want);
        for (const auto& a : s["alternates"]) {
          if (!a.is_string() || a.get<std::string>().empty()) {
            return fail(Errc::InvalidArgument, "{}: \"alternates\" must hold non-empty strings", path.string());
          }
          text += pull::kAlternateSeparator;
          text += a.get<std::string>();
        }
      }
      if (s.contains("sha256")) {
        if (!s["sha256"].is_string())
          return fail(Errc::InvalidArgument, "{}: \"sha256\" must be a string", path.string());
        text += "#sha256=" + s["sha256"].get<std::string>();
      }
      fc.sources.push_back(std::move(text));
    }
  }
  if (doc.contains("root")) {
    if (!doc["root"].is_string()) return fail(Errc::InvalidArgument, "{}: \"root\" must be a string", path.string());
    fc.root = doc["root"].get<std::string>();
  }
  return std::optional<FileConfig>(std::move(fc));
}

std::optional<std::string> non_empty(const Env& env, std::string_view name) {
  auto v = env(name);
  if (v && v->empty()) return std::nullopt;
  return v;
}

}  // namespace

Result<HandlerSpec> parse_handler(std::string_view text, const fs::path& task_root) {
  HandlerSpec h;
  h.text = text;
  if (text.empty()) {
    return fail(Errc::NotFound, "_HANDLER is not set: name an executable (bin/myfn) or a library and its function "
                                "(lib/libmyfn.so:my_handler), relative to {}", task_root.string());
  }
  auto colon = text.rfind(':');
  std::string_view file = text;
  if (colon != std::string_view::npos) {
    h.kind = HandlerSpec::Kind::Library;
    file = text.substr(0, colon);
    h.symbol = text.substr(colon + 1);
    if (file.empty() || h.symbol.empty()) {
      return fail(Errc::NotFound, "_HANDLER={} is not LIBRARY:FUNCTION (e.g. lib/libmyfn.so:my_handler)", text);
    }
  }
  if (file.starts_with('/')) {
    h.path = file;
  } else if (h.kind == HandlerSpec::Kind::Library && file.find('/') == std::string_view::npos) {
    h.path = file;  // dlopen searches LD_LIBRARY_PATH, which includes the tmpdump
  } else {
    h.path = (task_root / file).string();
  }
  return h;
}

Result<Config> load_config(const Env& env) {
  Config c;
  if (auto v = non_empty(env, "LAMBDA_TASK_ROOT")) c.task_root = *v;
  auto file = read_function_config(c.task_root / "tmpdump.json");
  if (!file) return std::unexpected(file.error());

  if (auto v = non_empty(env, "TMPDUMP_ROOT")) {
    c.root = *v;
  } else if (*file && (*file)->root) {
    c.root = *(*file)->root;
  }
  if (!c.root.is_absolute()) return fail(Errc::InvalidArgument, "TMPDUMP_ROOT must be an absolute path, not '{}'", c.root.string());

  const auto function_name = non_empty(env, "AWS_LAMBDA_FUNCTION_NAME");
  auto bucket_source = [&](std::string_view var) -> Result<std::vector<pull::SourceSpec>> {
    if (!function_name) return fail(Errc::InvalidArgument, "{} needs AWS_LAMBDA_FUNCTION_NAME to name the object", var);
    std::string bucket = *env(var);
    return parse_sources({"s3://" + bucket + "/tmpdump/" + *function_name + ".zip"}, var);
  };
  Result<std::vector<pull::SourceSpec>> sources = std::vector<pull::SourceSpec>{};
  if (auto v = non_empty(env, "TMPDUMP_SOURCES")) {
    c.origin = "TMPDUMP_SOURCES";
    sources = parse_sources(split_list(*v, kListSeparators), "TMPDUMP_SOURCES");
  } else if (non_empty(env, "TMPDUMP_BUCKET")) {
    c.origin = "TMPDUMP_BUCKET";
    sources = bucket_source("TMPDUMP_BUCKET");
  } else if (non_empty(env, "HUMANGRAPHICS_BUCKET")) {
    c.origin = "HUMANGRAPHICS_BUCKET";
    sources = bucket_source("HUMANGRAPHICS_BUCKET");
  } else if (*file && !(*file)->sources.empty()) {
    c.origin = (c.task_root / "tmpdump.json").string();
    sources = parse_sources((*file)->sources, c.origin);
  }
  if (!sources) return std::unexpected(sources.error());
  c.sources = std::move(*sources);

  c.handler_text = env("_HANDLER").value_or("");
  return c;
}

std::string library_path(const fs::path& root, bool pulled, const fs::path& task_root, std::string_view inherited,
                         bool cpu_has_v3) {
  std::vector<std::string> parts;
  auto add = [&parts](std::string p) {
    if (p.empty()) return;
    for (const auto& q : parts) {
      if (q == p) return;
    }
    parts.push_back(std::move(p));
  };
  if (pulled) {
    std::error_code ec;
    const fs::path v3 = root / "lib/glibc-hwcaps/x86-64-v3";
    if (cpu_has_v3 && fs::is_directory(v3, ec)) add(v3.string());
    add((root / "lib").string());
  }
  add((task_root / "lib").string());
  std::string_view rest = inherited;
  while (!rest.empty()) {
    auto colon = rest.find(':');
    add(std::string(rest.substr(0, colon)));
    if (colon == std::string_view::npos) break;
    rest.remove_prefix(colon + 1);
  }
  std::string out;
  for (const auto& p : parts) {
    if (!out.empty()) out += ':';
    out += p;
  }
  return out;
}

bool cpu_has_x86_64_v3() noexcept {
#if defined(__x86_64__)
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("bmi") && __builtin_cpu_supports("bmi2") &&
         __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c") && __builtin_cpu_supports("movbe") &&
         __builtin_cpu_supports("lzcnt");
#else
  return false;
#endif
}

}  // namespace tmpdump::bootstrap
