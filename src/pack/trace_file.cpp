#include "pack/trace_file.hpp"

#include <algorithm>
#include <array>

#include <nlohmann/json.hpp>

#include "util/file_source.hpp"
#include "util/io.hpp"

namespace tmpdump::pack {

namespace fs = std::filesystem;

namespace {

/// The document as a format-1 trace file's object, or why it is not one.
Result<nlohmann::json> parse_document(std::string_view json, std::string_view name) {
  nlohmann::json doc;
  try {
    doc = nlohmann::json::parse(json);
  } catch (const nlohmann::json::exception& e) {
    return fail(Errc::InvalidArgument, "{}: not a JSON trace file: {}", name, e.what());
  }
  if (!doc.is_object()) return fail(Errc::InvalidArgument, "{}: a trace file is a JSON object", name);
  if (!doc.contains("format") || !doc["format"].is_number_integer()) {
    return fail(Errc::InvalidArgument, "{}: no \"format\" number: not a tmpdump trace file", name);
  }
  if (doc["format"].get<long long>() != 1) {
    return fail(Errc::InvalidArgument, "{}: trace format {} is unknown to this tmpdump (it reads format 1)", name,
                doc["format"].get<long long>());
  }
  return doc;
}

Result<void> parse_names(const nlohmann::json& lib, std::string_view name, std::size_t index, TracedLibrary& t) {
  if (!lib.contains("names")) return {};
  if (!lib["names"].is_array()) {
    return fail(Errc::InvalidArgument, "{}: libraries[{}]: \"names\" must be an array", name, index);
  }
  for (const auto& n : lib["names"]) {
    if (!n.is_string()) return fail(Errc::InvalidArgument, "{}: libraries[{}]: a name is not a string", name, index);
    t.names.push_back(n.get<std::string>());
  }
  return {};
}

Result<void> parse_python_module(const nlohmann::json& lib, std::string_view name, std::size_t index,
                                 TracedLibrary& t) {
  if (!lib.contains("python_module")) return {};
  if (!lib["python_module"].is_string()) {
    return fail(Errc::InvalidArgument, "{}: libraries[{}]: \"python_module\" must be a string", name, index);
  }
  t.python_module = lib["python_module"].get<std::string>();
  const auto parts = fs::path(t.python_module);
  const bool escapes = t.python_module.empty() || parts.is_absolute() ||
                       std::any_of(parts.begin(), parts.end(), [](const fs::path& p) { return p == ".." || p == "."; });
  if (escapes) {
    return fail(Errc::InvalidArgument, "{}: libraries[{}]: python_module '{}' is not a relative path inside python/",
                name, index, t.python_module);
  }
  return {};
}

Result<TracedLibrary> parse_library(const nlohmann::json& lib, std::string_view name, std::size_t index) {
  if (!lib.is_object() || !lib.contains("path") || !lib["path"].is_string()) {
    return fail(Errc::InvalidArgument, "{}: libraries[{}] has no \"path\" string", name, index);
  }
  TracedLibrary t;
  t.path = lib["path"].get<std::string>();
  if (t.path.empty() || t.path[0] != '/') {
    return fail(Errc::InvalidArgument, "{}: libraries[{}]: path '{}' is not absolute", name, index, t.path);
  }
  if (auto r = parse_names(lib, name, index, t); !r) return std::unexpected(r.error());
  // Fields a newer trace adds; an older tmpdump ignores them.
  if (lib.contains("provided_by")) {
    if (!lib["provided_by"].is_string()) {
      return fail(Errc::InvalidArgument, "{}: libraries[{}]: \"provided_by\" must be a string", name, index);
    }
    t.provided_by = lib["provided_by"].get<std::string>();
  }
  if (auto r = parse_python_module(lib, name, index, t); !r) return std::unexpected(r.error());
  return t;
}

}  // namespace

Result<Trace> parse_trace(std::string_view json, std::string_view name) {
  auto doc = parse_document(json, name);
  if (!doc) return std::unexpected(doc.error());
  Trace trace;
  if (doc->contains("command")) {
    if (!(*doc)["command"].is_array()) return fail(Errc::InvalidArgument, "{}: \"command\" must be an array", name);
    for (const auto& a : (*doc)["command"]) {
      if (a.is_string()) trace.command.push_back(a.get<std::string>());
    }
  }
  if (!doc->contains("libraries") || !(*doc)["libraries"].is_array()) {
    return fail(Errc::InvalidArgument, "{}: \"libraries\" must be an array", name);
  }
  std::size_t index = 0;
  for (const auto& lib : (*doc)["libraries"]) {
    auto t = parse_library(lib, name, index);
    if (!t) return std::unexpected(t.error());
    trace.libraries.push_back(std::move(*t));
    ++index;
  }
  return trace;
}

Result<Trace> read_trace(const fs::path& path) {
  auto fd = open_input_file(path);
  if (!fd) return std::unexpected(fd.error());
  auto text = read_all(fd->get());
  if (!text) return std::unexpected(sys_error(text.error(), "reading " + path.string()));
  return parse_trace(*text, path.string());
}

}  // namespace tmpdump::pack
