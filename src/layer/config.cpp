#include "layer/config.hpp"

#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "util/strings.hpp"

namespace tmpdump::layer {

namespace fs = std::filesystem;

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

/// {"source": FIRST, "alternates": [MORE...], "sha256": HEX} as the source
/// text it stands for, "FIRST|MORE...#sha256=HEX". `want` is the message for
/// a malformed entry.
Result<std::string> source_object_text(const nlohmann::json& s, const fs::path& path, const std::string& want) {
  if (!s.is_object() || !s.contains("source") || !s["source"].is_string()) {
    return fail(Errc::InvalidArgument, "{}", want);
  }
  for (const auto& [key, value] : s.items()) {
    if (key != "source" && key != "alternates" && key != "sha256") {
      return fail(Errc::InvalidArgument, "{}: unknown key \"{}\" in a source object", path.string(), key);
    }
  }
  std::string source = s["source"].get<std::string>();
  if (s.contains("alternates")) {
    if (!s["alternates"].is_array()) return fail(Errc::InvalidArgument, "{}", want);
    for (const auto& a : s["alternates"]) {
      if (!a.is_string() || a.get<std::string>().empty()) {
        return fail(Errc::InvalidArgument, "{}: \"alternates\" must hold non-empty strings", path.string());
      }
      source += pull::kAlternateSeparator;
      source += a.get<std::string>();
    }
  }
  if (s.contains("sha256")) {
    if (!s["sha256"].is_string()) return fail(Errc::InvalidArgument, "{}: \"sha256\" must be a string", path.string());
    source += "#sha256=" + s["sha256"].get<std::string>();
  }
  return source;
}

Result<std::optional<FileConfig>> read_function_config(const fs::path& path) {
  std::error_code ec;
  if (!fs::exists(path, ec)) return std::optional<FileConfig>{};
  std::ifstream in(path);
  if (!in) return fail(Errc::Io, "cannot read {}", path.string());
  std::stringstream text;
  text << in.rdbuf();
  auto doc = nlohmann::json::parse(text.str(), nullptr, false);
  if (doc.is_discarded() || !doc.is_object())
    return fail(Errc::InvalidArgument, "{} is not a JSON object", path.string());
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
      auto source = s.is_string() ? Result<std::string>(s.get<std::string>()) : source_object_text(s, path, want);
      if (!source) return std::unexpected(source.error());
      fc.sources.push_back(std::move(*source));
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
    return fail(Errc::NotFound,
                "_HANDLER is not set: name an executable (bin/myfn) or a library and its function "
                "(lib/libmyfn.so:my_handler), relative to {}",
                task_root.string());
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
  // NOLINTNEXTLINE(bugprone-branch-clone): absolute and bare library names are separate cases on purpose
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
  if (!c.root.is_absolute())
    return fail(Errc::InvalidArgument, "TMPDUMP_ROOT must be an absolute path, not '{}'", c.root.string());

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

}  // namespace tmpdump::layer
