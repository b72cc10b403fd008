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
#include "cli/open_archive.hpp"
#include "pack/manifest.hpp"

namespace tmpdump::cli {

namespace {

using json = nlohmann::json;

struct InspectOptions {
  std::string archive;
  bool json = false;
};

std::string_view method_name(archive::Method m) {
  switch (m) {
    case archive::Method::Stored:
      return "stored";
    case archive::Method::Deflate:
      return "deflate";
    case archive::Method::Zstd:
      return "zstd";
  }
  return "?";
}

std::string_view type_name(archive::EntryType t) {
  switch (t) {
    case archive::EntryType::File:
      return "file";
    case archive::EntryType::Directory:
      return "dir";
    case archive::EntryType::Symlink:
      return "symlink";
  }
  return "?";
}

double ratio(std::uint64_t unpacked, std::uint64_t packed) {
  return packed == 0 ? 0.0 : static_cast<double>(unpacked) / static_cast<double>(packed);
}

// What inspect learns about an archive beyond its central directory.
struct Inspection {
  std::optional<pack::Manifest> manifest;       ///< when the archive was made by tmpdump pack
  std::map<std::string, std::string> targets;   ///< symlink entry -> its target
  std::map<std::string, std::string> variants;  ///< "x86-64-v3" -> "lib/glibc-hwcaps/x86-64-v3"
  std::uint64_t files = 0, links = 0, dirs = 0, packed = 0;
};

Result<std::optional<pack::Manifest>> read_manifest(OpenArchive& archive) {
  std::optional<pack::Manifest> manifest;
  for (const auto& e : archive.dir.entries) {
    if (e.name != pack::kManifestPath) continue;
    auto text = archive::read_entry(*archive.source, archive.dir, e);
    if (!text) return std::unexpected(text.error());
    auto parsed = pack::parse_manifest(*text, fmt::format("{}: {}", archive.shown, pack::kManifestPath));
    if (!parsed) return std::unexpected(parsed.error());
    manifest = std::move(*parsed);
  }
  return manifest;
}

// Symlink targets: from the manifest when it lists them, else read from the entries.
Result<std::map<std::string, std::string>> symlink_targets(OpenArchive& archive,
                                                           const std::optional<pack::Manifest>& manifest) {
  std::map<std::string, std::string> targets;
  if (manifest) targets = manifest->symlinks;
  for (const auto& e : archive.dir.entries) {
    if (e.type != archive::EntryType::Symlink || targets.contains(e.name)) continue;
    auto t = archive::read_entry(*archive.source, archive.dir, e, 4096);
    if (!t) return std::unexpected(t.error());
    targets[e.name] = *t;
  }
  return targets;
}

// Variants: the manifest's, else the glibc-hwcaps directories present.
std::map<std::string, std::string> variants_of(const archive::CentralDirectory& dir,
                                               const std::optional<pack::Manifest>& manifest) {
  if (manifest && manifest->variants) return *manifest->variants;
  std::map<std::string, std::string> variants;
  constexpr std::string_view hw = "lib/glibc-hwcaps/";
  for (const auto& e : dir.entries) {
    if (!e.name.starts_with(hw)) continue;
    const std::string rest = e.name.substr(hw.size());
    const std::string name = rest.substr(0, rest.find('/'));
    if (!name.empty() && rest.find('/') != std::string::npos) variants[name] = std::string(hw) + name;
  }
  return variants;
}

Result<Inspection> inspect(OpenArchive& archive) {
  Inspection in;
  auto manifest = read_manifest(archive);
  if (!manifest) return std::unexpected(manifest.error());
  in.manifest = std::move(*manifest);
  auto targets = symlink_targets(archive, in.manifest);
  if (!targets) return std::unexpected(targets.error());
  in.targets = std::move(*targets);
  in.variants = variants_of(archive.dir, in.manifest);
  for (const auto& e : archive.dir.entries) {
    in.packed += e.compressed_size;
    if (e.type == archive::EntryType::File) ++in.files;
    if (e.type == archive::EntryType::Symlink) ++in.links;
    if (e.type == archive::EntryType::Directory) ++in.dirs;
  }
  return in;
}

json entries_json(const archive::CentralDirectory& dir, const std::map<std::string, std::string>& targets) {
  json entries = json::array();
  for (const auto& e : dir.entries) {
    json j = {{"path", e.name},
              {"type", type_name(e.type)},
              {"size", e.uncompressed_size},
              {"compressed_size", e.compressed_size},
              {"method", method_name(e.method)},
              {"mode", fmt::format("{:04o}", e.mode)}};
    if (auto t = targets.find(e.name); t != targets.end()) j["target"] = t->second;
    entries.push_back(std::move(j));
  }
  return entries;
}

void print_json(const OpenArchive& archive, const Inspection& in) {
  const auto& dir = archive.dir;
  json out = {{"archive", archive.shown},
              {"archive_bytes", dir.archive_size},
              {"files", in.files},
              {"symlinks", in.links},
              {"directories", in.dirs},
              {"compressed_bytes", in.packed},
              {"unpacked_bytes", dir.total_uncompressed},
              {"ratio", ratio(dir.total_uncompressed, in.packed)},
              {"variants", in.variants},
              {"manifest", in.manifest ? json(true) : json(false)},
              {"requirements", in.manifest ? in.manifest->requirements : json()},
              {"entries", entries_json(dir, in.targets)}};
  if (in.manifest && !in.manifest->left_out.empty()) {
    json left = json::array();
    for (const auto& l : in.manifest->left_out) left.push_back({{"path", l.path}, {"provided_by", l.provided_by}});
    out["left_out"] = std::move(left);
  }
  fmt::print("{}\n", out.dump(2));
}

// The lines above the table: totals, variants, requirements, what pack left out.
void print_summary(const OpenArchive& archive, const Inspection& in) {
  const auto& dir = archive.dir;
  fmt::print(
      "{}: {} entries ({} files, {} symlinks, {} directories), {} compressed -> {} unpacked (ratio {:.2f}), "
      "archive {}\n",
      archive.shown, dir.entries.size(), in.files, in.links, in.dirs, mb(in.packed), mb(dir.total_uncompressed),
      ratio(dir.total_uncompressed, in.packed), mb(dir.archive_size));
  if (in.variants.empty()) {
    fmt::print("variants: none\n");
  } else {
    for (const auto& [k, v] : in.variants) fmt::print("variant: {} in {}/\n", k, v);
  }
  const auto& manifest = in.manifest;
  if (!manifest) {
    fmt::print("requirements: unknown: no {} (not made by tmpdump pack); `tmpdump check {}` computes them\n",
               pack::kManifestPath, archive.shown);
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
}

void print_entries(const archive::CentralDirectory& dir, const std::map<std::string, std::string>& targets) {
  fmt::print("\n{:>12} {:>12} {:>6} {:<8} {:<5} {}\n", "size", "compressed", "ratio", "method", "mode", "path");
  for (const auto& e : dir.entries) {
    std::string path = e.name;
    if (e.type == archive::EntryType::Directory) path += '/';
    if (auto t = targets.find(e.name); t != targets.end()) path += " -> " + t->second;
    const std::string r = e.type == archive::EntryType::File && e.compressed_size > 0
                              ? fmt::format("{:.2f}", ratio(e.uncompressed_size, e.compressed_size))
                              : "";
    fmt::print("{:>12} {:>12} {:>6} {:<8} {:04o}  {}\n", e.uncompressed_size, e.compressed_size, r,
               e.type == archive::EntryType::File ? method_name(e.method) : type_name(e.type), e.mode, path);
  }
}

int run_inspect(const InspectOptions& o) {
  auto archive = open_archive(o.archive);
  if (!archive) return report_error("inspect", archive.error());
  auto in = inspect(*archive);
  if (!in) return report_error("inspect", in.error());
  if (o.json) {
    print_json(*archive, *in);
  } else {
    print_summary(*archive, *in);
    print_entries(archive->dir, in->targets);
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
