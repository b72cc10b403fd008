// tmpdump prune FILE.jar [--pattern GLOB...] [--dry-run]
#include "pack/prune.hpp"

#include <memory>
#include <string>
#include <vector>

#include "cli/commands.hpp"

namespace tmpdump::cli {

namespace {

struct PruneCliOptions {
  std::string file;
  std::vector<std::string> patterns;
  bool dry_run = false;
  bool quiet = false;
  bool verbose = false;
};

int run_prune(const PruneCliOptions& o) {
  pack::PruneOptions p;
  if (!o.patterns.empty()) p.patterns = o.patterns;
  p.dry_run = o.dry_run;
  auto report = pack::prune(o.file, p);
  if (!report) return report_error("prune", report.error());
  if (o.verbose || o.dry_run) {
    for (const auto& name : report->removed) fmt::print("{}{}\n", o.dry_run ? "would remove " : "removed ", name);
  }
  if (!o.quiet) {
    if (report->removed.empty()) {
      fmt::print("tmpdump prune: {}: no entry matches; left unchanged ({})\n", o.file, mb(report->bytes_before));
    } else if (o.dry_run) {
      fmt::print("tmpdump prune: {}: would remove {} of {} entries ({} unpacked); nothing changed\n", o.file,
                 report->removed.size(), report->removed.size() + report->kept, mb(report->unpacked_removed));
    } else {
      fmt::print("tmpdump prune: {}: removed {} of {} entries ({} unpacked), {} -> {}, saved {}\n", o.file,
                 report->removed.size(), report->removed.size() + report->kept, mb(report->unpacked_removed),
                 mb(report->bytes_before), mb(report->bytes_after),
                 mb(report->bytes_before - std::min(report->bytes_before, report->bytes_after)));
    }
  }
  return 0;
}

}  // namespace

Runner setup_prune(CLI::App& sub) {
  auto o = std::make_shared<PruneCliOptions>();
  sub.footer(
      "Default patterns (JavaCPP's native libraries and build leftovers): org/bytedeco/**/*.so,\n"
      "org/bytedeco/**/*.so.*, org/bytedeco/**/*.a, *.xml, *.h, *.hpp under org/bytedeco/. A pattern\n"
      "without '/' matches an entry's last name part at any depth; ** matches any number of directories.\n"
      "Kept entries are copied byte for byte; the file is replaced atomically.");
  sub.add_option("FILE", o->file, "Jar or zip to prune in place")->required();
  sub.add_option("--pattern", o->patterns, "Entry names to remove (replaces the defaults)");
  sub.add_flag("-n,--dry-run", o->dry_run, "List what would be removed; change nothing");
  sub.add_flag("-v,--verbose", o->verbose, "List the removed entries");
  sub.add_flag("-q,--quiet", o->quiet, "Print nothing but errors");
  return [o] { return run_prune(*o); };
}

}  // namespace tmpdump::cli
