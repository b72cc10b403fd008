// tmpdump check ARCHIVE [--app FILE...] [--target al2023|al2|java21|python3.12|...] [--ephemeral-mb N] [--snapstart]
// [--memory MB]
//
// Extracts the archive into a private temporary directory (archive::extract:
// the same secure path as pull) and prints what check::Checker finds wrong
// with it for the target runtime, each problem with its fix.
#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "archive/extract.hpp"
#include "check/checker.hpp"
#include "cli/commands.hpp"
#include "cli/open_archive.hpp"
#include "util/file_source.hpp"

namespace tmpdump::cli {

namespace {

namespace fs = std::filesystem;

struct CheckOptions {
  std::string archive;
  std::vector<std::string> apps;
  std::string target = "al2023";
  std::uint64_t ephemeral_mb = 512;
  std::uint64_t memory_mb = 1024;
  bool snapstart = false;
  bool quiet = false;
};

// A private directory, removed with everything in it.
class ScratchDir {
 public:
  explicit ScratchDir(fs::path path) : path_(std::move(path)) {}
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  ~ScratchDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  [[nodiscard]] const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

// Every --app is readable before anything is downloaded.
Result<void> check_apps_readable(const std::vector<std::string>& apps) {
  for (const auto& app : apps) {
    if (auto opened = open_input_file(app); !opened) return std::unexpected(with_context(opened.error(), "--app"));
  }
  return {};
}

Result<std::unique_ptr<ScratchDir>> extract_to_scratch(OpenArchive& archive) {
  std::string tmpl = (fs::temp_directory_path() / "tmpdump-check-XXXXXX").string();
  if (::mkdtemp(tmpl.data()) == nullptr) return std::unexpected(sys_error(errno, "creating a temporary directory"));
  auto scratch = std::make_unique<ScratchDir>(tmpl);
  const archive::ArchiveInput input{archive.source.get(), &archive.dir, std::nullopt};
  auto extracted = archive::extract(std::span(&input, 1), scratch->path());
  if (!extracted) return std::unexpected(extracted.error());
  return scratch;
}

// The summary on stderr: what was checked, what it needs, the /tmp use and the pull estimate.
void print_summary(const CheckOptions& o, const check::Target& target, const OpenArchive& archive,
                   const check::Checker& checker, std::size_t problems, const fs::path& root) {
  const std::string glibc = checker.bundles_libc() ? "bundled"
                            : checker.max_glibc()  ? elf::version_string(*checker.max_glibc())
                                                   : "none";
  const check::TmpSpace tmp{o.ephemeral_mb, o.snapstart};
  fmt::print(stderr, "tmpdump check: {}: {} on {}: {} ELF objects, needs glibc {} (has {}), ISA {}, {} of {} MB /tmp\n",
             archive.shown, problems == 0 ? "ok" : fmt::format("{} problem(s)", problems), target.name,
             checker.objects(), glibc, elf::version_string(target.glibc),
             checker.max_isa() > 0 ? check::isa_name(checker.max_isa()) : "not marked",
             lambda_mb(check::on_disk_bytes(archive.dir)), tmp.limit_mb());
  fmt::print(stderr, "tmpdump check: {}: {}\n", archive.shown, check::describe_pull(archive.dir, root, o.memory_mb));
}

int run_check(const CheckOptions& o) {
  const auto target = check::find_target(o.target);
  if (!target) return report_error("check", {Errc::InvalidArgument, fmt::format("unknown --target {}", o.target)});
  if (auto readable = check_apps_readable(o.apps); !readable) return report_error("check", readable.error());
  auto archive = open_archive(o.archive);
  if (!archive) return report_error("check", archive.error());

  std::vector<check::Problem> problems;
  const check::TmpSpace tmp{o.ephemeral_mb, o.snapstart};
  if (auto too_big = check::check_fits(check::on_disk_bytes(archive->dir), tmp, archive->shown)) {
    problems.push_back(std::move(*too_big));
  }
  auto scratch = extract_to_scratch(*archive);
  if (!scratch) return report_error("check", scratch.error());
  check::Checker checker((*scratch)->path(), *target);
  checker.run(o.apps);
  problems.insert(problems.end(), checker.problems().begin(), checker.problems().end());

  for (const auto& p : problems) fmt::print("{}: {}; fix: {}\n", p.where, p.what, p.fix);
  if (!o.quiet) print_summary(o, *target, *archive, checker, problems.size(), (*scratch)->path());
  return problems.empty() ? 0 : kExitProblemsFound;
}

}  // namespace

Runner setup_check(CLI::App& sub) {
  auto o = std::make_shared<CheckOptions>();
  sub.footer(
      "Prints one line per problem, each with its fix, and exits 13 when there is any.\n"
      "ARCHIVE is a path, s3://bucket/key or an https:// URL, as for pull. The archive is\n"
      "unpacked into a temporary directory under $TMPDIR, which is removed afterwards.");
  sub.add_option("ARCHIVE", o->archive, "The tmpdump archive")->required();
  sub.add_option("--app", o->apps, "The function's executable or handler .so, checked against the archive too");
  sub.add_option("--target", o->target,
                 "Lambda runtime: al2023 / provided.al2023, java21, python3.12, python3.13, nodejs20.x, nodejs22.x "
                 "(glibc 2.34); al2 / provided.al2, java17 (glibc 2.26)")
      ->check(CLI::IsMember({"al2023", "al2", "provided.al2023", "provided.al2", "java21", "java17", "python3.12",
                             "python3.13", "nodejs20.x", "nodejs22.x"}))
      ->capture_default_str();
  sub.add_option("--ephemeral-mb", o->ephemeral_mb, "The function's /tmp size in MB (512 to 10240)")
      ->check(CLI::Range(512, 10240))
      ->capture_default_str();
  sub.add_flag("--snapstart", o->snapstart, "The function uses SnapStart: /tmp is limited to 512 MB");
  sub.add_option("--memory", o->memory_mb,
                 "The function's memory in MB (128 to 10240): its CPU share, for the pull time estimate")
      ->check(CLI::Range(128, 10240))
      ->capture_default_str();
  sub.add_flag("-q,--quiet", o->quiet, "No summary line on stderr");
  return [o] { return run_check(*o); };
}

}  // namespace tmpdump::cli
