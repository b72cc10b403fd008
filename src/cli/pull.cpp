// tmpdump pull SOURCE... [--root DIR] [--sha256 HEX]
#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "cli/commands.hpp"
#include "cli/progress.hpp"
#include "pull/install.hpp"
#include "util/sha256.hpp"

namespace tmpdump::cli {

namespace {

struct PullOptions {
  std::vector<std::string> sources;
  std::string root = "/tmp";
  std::string sha256;
  unsigned jobs = 0;
  std::string inflater = "isal";
  bool quiet = false;
  bool no_progress = false;
};

// The SOURCEs, with --sha256 pinned on the only one.
Result<std::vector<pull::SourceSpec>> parse_sources(const PullOptions& o) {
  std::vector<pull::SourceSpec> specs;
  for (const auto& text : o.sources) {
    auto spec = pull::parse_source(text);
    if (!spec) return std::unexpected(spec.error());
    specs.push_back(std::move(*spec));
  }
  if (o.sha256.empty()) return specs;
  if (specs.size() != 1) {
    return fail(Errc::InvalidArgument, "--sha256 needs exactly one SOURCE; with several, append #sha256=HEX to each");
  }
  if (!is_sha256_hex(o.sha256)) return fail(Errc::InvalidArgument, "--sha256 must be 64 hex digits");
  std::string digest = o.sha256;
  for (auto& c : digest) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  specs[0].sha256 = digest;
  return specs;
}

// Installs `specs`, with a progress line on a terminal.
Result<pull::InstallReport> install(const PullOptions& o, const std::vector<pull::SourceSpec>& specs) {
  archive::Progress progress;
  pull::InstallOptions io;
  io.root = o.root;
  io.jobs = o.jobs;
  io.inflater = o.inflater == "zlib" ? archive::Inflater::Zlib : archive::Inflater::Isal;
  io.progress = &progress;
  std::atomic<std::uint64_t> archive_total{0}, tree_total{0};
  ProgressLine line(
      [&](double secs) {
        if (archive_total == 0) return std::string("pulling: reading the central directory...");
        const std::uint64_t read = progress.bytes_read.load(std::memory_order_relaxed);
        const std::uint64_t written = progress.bytes_written.load(std::memory_order_relaxed);
        return fmt::format("pulling {}  {}  -> {} unpacked", mb_progress(read, archive_total.load()),
                           mb_per_s(read, secs), mb_progress(written, tree_total.load()));
      },
      !o.no_progress && !o.quiet && progress_wanted());
  io.on_start = [&](std::uint64_t a, std::uint64_t t) {
    tree_total = t;
    archive_total = a;
  };
  io.notice = [&o](std::string_view msg) {
    if (!o.quiet) fmt::print(stderr, "tmpdump pull: {}\n", msg);
  };
  auto report = pull::install(specs, io, process_env());
  line.stop();
  return report;
}

void print_report(const PullOptions& o, const std::vector<pull::SourceSpec>& specs, const pull::InstallReport& report) {
  // Which place served each source, when it was not the first one named.
  for (const auto& skipped : report.passed_over) fmt::print("tmpdump pull: passed over {}\n", skipped);
  for (std::size_t i = 0; i < report.served.size() && i < specs.size(); ++i) {
    if (report.served[i] != pull::display_name(specs[i])) {
      fmt::print("tmpdump pull: {} served by alternate {}\n", pull::display_name(specs[i]), report.served[i]);
    }
  }
  const double secs = report.elapsed.count();
  if (report.cached) {
    fmt::print("tmpdump pull: up to date: {} already holds {} archive(s) ({}), checked in {:.3f} s\n", o.root,
               specs.size(), mb(report.archive_bytes), secs);
  } else {
    fmt::print(
        "tmpdump pull: {} archive(s), {} read -> {} in {} files, {} symlinks, {} dirs under {} in {:.2f} s "
        "({} unpacked)\n",
        specs.size(), mb(report.bytes_read), mb(report.bytes_written), report.files, report.symlinks,
        report.directories, o.root, secs, mb_per_s(report.bytes_written, secs, 0));
  }
}

int run_pull(const PullOptions& o) {
  auto specs = parse_sources(o);
  if (!specs) return report_error("pull", specs.error());
  auto report = install(o, *specs);
  if (!report) return report_error("pull", report.error());
  if (!o.quiet) print_report(o, *specs, *report);
  return 0;
}

}  // namespace

Runner setup_pull(CLI::App& sub) {
  auto o = std::make_shared<PullOptions>();
  sub.footer(
      "SOURCE is s3://bucket/key, an https:// URL (e.g. presigned) or a local path, optionally with\n"
      "#sha256=HEX. Places holding the same archive are separated by '|' and tried in order\n"
      "(s3://a/k.zip|https://mirror/k.zip#sha256=HEX; the pin applies to each). S3 credentials,\n"
      "region and endpoint come from the usual AWS environment variables and ~/.aws files\n"
      "(docs/configuration.md). Pulling the same archives again costs one HEAD each and transfers\n"
      "no body.");
  sub.add_option("SOURCE", o->sources, "Archives to install (their union)")->required();
  sub.add_option("--root", o->root, "Directory to unpack into")->capture_default_str();
  sub.add_option("--sha256", o->sha256, "Expected sha256 of the archive (one SOURCE only)");
  sub.add_option("-j,--jobs", o->jobs, "Parallel range readers and decoders (default: cores, at least 2)");
  sub.add_option("--inflater", o->inflater, "Deflate decoder: isal (default) or zlib")
      ->check(CLI::IsMember({"isal", "zlib"}))
      ->group("Advanced");
  sub.add_flag("-q,--quiet", o->quiet, "Print nothing but errors");
  sub.add_flag("--no-progress", o->no_progress, "No progress line, even on a terminal");
  return [o] { return run_pull(*o); };
}

}  // namespace tmpdump::cli
