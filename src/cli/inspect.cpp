// tmpdump inspect ARCHIVE [--json]
//
// Reads only the central directory, plus the manifest and symlink targets
// (small ranged reads); nothing is extracted.
#include <algorithm>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "archive/read_entry.hpp"
#include "archive/zip.hpp"
#include "cli/commands.hpp"
#include "pack/manifest.hpp"
#include "pull/source.hpp"

namespace tmpdump::cli {

namespace {

using json = nlohmann::json;

struct InspectOptions {
  std::string archive;
  bool json = false;
};

std::string_view method_name(archive::Method m) {
  switch (m) {
    case archive::Method::Stored: return "stored";
    case archive::Method::Deflate: return "deflate";
    case archive::Method::Zstd: return "zstd";
  }
  return "?";
}

std::string_view type_name(archive::EntryType t) {
  switch (t) {
    case archive::EntryType::File: return "file";
    case archive::EntryType::Directory: return "dir";
    case archive::EntryType::Symlink: return "symlink";
  }
  return "?";
}

double ratio(std::uint64_t unpacked, std::uint64_t packed) {
  return packed == 0 ? 0.0 : static_cast<double>(unpacked) / static_cast<double>(packed);
}


int run_inspect(const InspectOptions& o) {
  auto spec = pull::parse_source(o.archive);
  if (!spec) return report_error("inspect", spec.error());
  auto source = pull::open_source(*spec, process_env());
  if (!source) return report_error("inspect", source.error());
  auto info = (*source)->stat();
  if (!info) return report_error("inspect", info.error());
  auto dir = archive::read_central_directory(**source, *info);
  if (!dir) return report_error("inspect", dir.error());

  // The manifest, when the archive was made by tmpdump pack.
  std::optional<pack::Manifest> manifest;
  for (const auto& e : dir->entries) {
    if (e.name != pack::kManifestPath) continue;
    auto text = archive::read_entry(**source, *dir, e);
    if (!text) return report_error("inspect", text.error());
    auto parsed = pack::parse_manifest(*text, fmt::format("{}: {}", display_name(*spec), pack::kManifestPath));
    if (!parsed) return report_error("inspect", parsed.error());
    manifest = std::move(*parsed);
  }

  // Symlink targets: from the manifest when it lists them, else read from the entries.
  std::map<std::string, std::string> targets;
  if (manifest) targets = manifest->symlinks;
  for (const auto& e : dir->entries) {
    if (e.type != archive::EntryType::Symlink || targets.contains(e.name)) continue;
    auto t = archive::read_entry(**source, *dir, e, 4096);
    if (!t) return report_error("inspect", t.error());
    targets[e.name] = *t;
  }

  // Variants: the manifest's, else the glibc-hwcaps directories present.
  std::map<std::string, std::string> variants;
  if (manifest && manifest->variants) {
    variants = *manifest->variants;
  } else {
    constexpr std::string_view hw = "lib/glibc-hwcaps/";
    for (const auto& e : dir->entries) {
      if (!e.name.starts_with(hw)) continue;
      const std::string rest = e.name.substr(hw.size());
      const std::string name = rest.substr(0, rest.find('/'));
      if (!name.empty() && rest.find('/') != std::string::npos) variants[name] = std::string(hw) + name;
    }
  }

  std::uint64_t files = 0, links = 0, dirs = 0, packed = 0;
  for (const auto& e : dir->entries) {
    packed += e.compressed_size;
    if (e.type == archive::EntryType::File) ++files;
    if (e.type == archive::EntryType::Symlink) ++links;
    if (e.type == archive::EntryType::Directory) ++dirs;
  }
  const std::string name = display_name(*spec);

  if (o.json) {
    json entries = json::array();
    for (const auto& e : dir->entries) {
      json j = {{"path", e.name},
                {"type", type_name(e.type)},
                {"size", e.uncompressed_size},
                {"compressed_size", e.compressed_size},
                {"method", method_name(e.method)},
                {"mode", fmt::format("{:04o}", e.mode)}};
      if (auto t = targets.find(e.name); t != targets.end()) j["target"] = t->second;
      entries.push_back(std::move(j));
    }
    json out = {{"archive", name},
                {"archive_bytes", dir->archive_size},
                {"files", files},
                {"symlinks", links},
                {"directories", dirs},
                {"compressed_bytes", packed},
                {"unpacked_bytes", dir->total_uncompressed},
                {"ratio", ratio(dir->total_uncompressed, packed)},
                {"variants", variants},
                {"manifest", manifest ? json(true) : json(false)},
                {"requirements", manifest ? manifest->requirements : json()},
                {"entries", entries}};
    if (manifest && !manifest->left_out.empty()) {
      json left = json::array();
      for (const auto& l : manifest->left_out) left.push_back({{"path", l.path}, {"provided_by", l.provided_by}});
      out["left_out"] = std::move(left);
    }
    fmt::print("{}\n", out.dump(2));
    return 0;
  }

  fmt::print("{}: {} entries ({} files, {} symlinks, {} directories), {} compressed -> {} unpacked (ratio {:.2f}), "
             "archive {}\n",
             name, dir->entries.size(), files, links, dirs, mb(packed), mb(dir->total_uncompressed),
             ratio(dir->total_uncompressed, packed), mb(dir->archive_size));
  if (variants.empty()) {
    fmt::print("variants: none\n");
  } else {
    for (const auto& [k, v] : variants) fmt::print("variant: {} in {}/\n", k, v);
  }
  if (!manifest) {
    fmt::print("requirements: unknown: no {} (not made by tmpdump pack); `tmpdump check {}` computes them\n",
               pack::kManifestPath, name);
  } else {
    fmt::print("requirements: glibc {}, x86-64 ISA level {}{}\n", manifest->glibc.value_or("?"),
               manifest->x86_isa_level ? std::to_string(*manifest->x86_isa_level) : "?",
               manifest->created_by.empty() ? "" : fmt::format(" (manifest by {})", manifest->created_by));
  }
  if (manifest && !manifest->left_out.empty()) {
    fmt::print("left out: {} traced librar{} the runtime brings itself (pack --include-runtime packs them):\n",
               manifest->left_out.size(), manifest->left_out.size() == 1 ? "y" : "ies");
    for (const auto& l : manifest->left_out) fmt::print("  {} (provided by {})\n", l.path, l.provided_by);
  }
  fmt::print("\n{:>12} {:>12} {:>6} {:<8} {:<5} {}\n", "size", "compressed", "ratio", "method", "mode", "path");
  for (const auto& e : dir->entries) {
    std::string path = e.name;
    if (e.type == archive::EntryType::Directory) path += '/';
    if (auto t = targets.find(e.name); t != targets.end()) path += " -> " + t->second;
    const std::string r = e.type == archive::EntryType::File && e.compressed_size > 0
                              ? fmt::format("{:.2f}", ratio(e.uncompressed_size, e.compressed_size))
                              : "";
    fmt::print("{:>12} {:>12} {:>6} {:<8} {:04o}  {}\n", e.uncompressed_size, e.compressed_size, r,
               e.type == archive::EntryType::File ? method_name(e.method) : type_name(e.type), e.mode, path);
  }
  return 0;
}

}  // namespace

Runner setup_inspect(CLI::App& sub) {
  auto o = std::make_shared<InspectOptions>();
  sub.footer(
      "ARCHIVE is a path, s3://bucket/key or an https:// URL, as for pull. Only the central\n"
      "directory, the manifest and symlink targets are read; nothing is extracted.");
  sub.add_option("ARCHIVE", o->archive, "The tmpdump archive")->required();
  sub.add_flag("--json", o->json, "Print JSON instead of a table");
  return [o] { return run_inspect(*o); };
}

}  // namespace tmpdump::cli
