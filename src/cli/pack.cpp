// tmpdump pack [TRACE] -o OUT [--add DIR[=PREFIX]] [--variant NAME=DIR] [--closure [FILE...]] ...

#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "cli/commands.hpp"
#include "pack/write.hpp"
#include "util/display.hpp"
#include "util/env.hpp"
#include "util/fs_at.hpp"

namespace tmpdump::cli {

namespace {

struct PackCliOptions {
  std::string trace;
  std::string output;
  std::vector<std::string> closure;
  std::vector<std::string> library_path;
  std::vector<std::string> add;
  std::vector<std::string> exclude;
  std::vector<std::string> variants;
  std::string compress = "zstd";
  int level = 0;
  bool with_libc = false;
  bool include_runtime = false;
  unsigned jobs = 0;
  std::string function_config;
  std::string source;
  std::string function_root = "/tmp";
  bool quiet = false;
  bool verbose = false;
  bool closure_flag = false;
};

Result<void> write_function_config(const PackCliOptions& o, const std::string& sha256) {
  if (o.source.rfind("s3://", 0) != 0 && o.source.rfind("https://", 0) != 0) {
    return fail(Errc::InvalidArgument, "--source '{}' must be an s3:// or https:// location", display_source(o.source));
  }
  std::string source = o.source;
  if (source.find('#') == std::string::npos) source += "#sha256=" + sha256;
  nlohmann::ordered_json config;
  config["format"] = 1;
  config["sources"] = nlohmann::ordered_json::array({source});
  config["root"] = o.function_root;
  const std::filesystem::path path(o.function_config);
  // A fresh O_EXCL temporary beside it, renamed over it: never written through a planted link.
  if (auto w = write_file_atomically(path, config.dump(2) + "\n"); !w) {
    return fail(Errc::Io, "cannot write {}: {}", path.string(), w.error().message);
  }
  return {};
}

// --add DIR[=PREFIX]: the prefix stays inside the archive.
Result<pack::AddTree> parse_add(const std::string& a) {
  const auto eq = a.find('=');
  pack::AddTree tree;
  tree.dir = a.substr(0, eq);
  if (eq == std::string::npos) return tree;
  tree.prefix = a.substr(eq + 1);
  while (!tree.prefix.empty() && tree.prefix.back() == '/') tree.prefix.pop_back();
  if (tree.prefix.starts_with('/') || tree.prefix.find("..") != std::string::npos) {
    return fail(Errc::InvalidArgument, "--add {}: the prefix must be a relative path inside the archive", a);
  }
  return tree;
}

// What to pack: the trace, the closure's roots, --add trees and --variant trees.
Result<void> set_inputs(const PackCliOptions& o, pack::PackOptions& p) {
  if (!o.trace.empty()) p.trace = o.trace;
  p.closure = o.closure_flag;
  for (const auto& f : o.closure) {
    if (!f.empty()) p.closure_roots.emplace_back(f);
  }
  for (const auto& d : o.library_path) p.library_path.emplace_back(d);
  for (const auto& a : o.add) {
    auto tree = parse_add(a);
    if (!tree) return std::unexpected(tree.error());
    p.add.push_back(std::move(*tree));
  }
  p.exclude = o.exclude;
  for (const auto& v : o.variants) {
    const auto eq = v.find('=');
    if (eq == std::string::npos) {
      return fail(Errc::InvalidArgument, "--variant {}: expected NAME=DIR, e.g. x86-64-v3=build-avx2/lib", v);
    }
    p.variants.emplace_back(v.substr(0, eq), v.substr(eq + 1));
  }
  if (!p.trace && p.add.empty() && p.variants.empty() && p.closure_roots.empty()) {
    return fail(Errc::InvalidArgument, "nothing to pack: give a trace file, --add, --variant or --closure FILE");
  }
  return {};
}

Result<pack::PackOptions> pack_options(const PackCliOptions& o) {
  pack::PackOptions p;
  if (auto inputs = set_inputs(o, p); !inputs) return std::unexpected(inputs.error());
  if (!o.function_config.empty() && o.source.empty()) {
    return fail(Errc::InvalidArgument,
                "--function-config needs --source s3://bucket/key (where the archive will be pushed)");
  }
  p.method = o.compress == "deflate" ? archive::Method::Deflate : archive::Method::Zstd;
  p.level = o.level != 0 ? o.level : (p.method == archive::Method::Zstd ? pack::kDefaultZstdLevel : 9);
  p.with_libc = o.with_libc;
  p.include_runtime = o.include_runtime;
  p.jobs = o.jobs;
  auto mtime = pack::reproducible_mtime(process_env()("SOURCE_DATE_EPOCH"));
  if (!mtime) return std::unexpected(mtime.error());
  p.mtime = *mtime;
  p.created_by = "tmpdump " TMPDUMP_VERSION;
  p.notice = [verbose = o.verbose](std::string_view msg) {
    if (verbose) fmt::print(stderr, "tmpdump pack: {}\n", msg);
  };
  return p;
}

void print_report(const PackCliOptions& o, const pack::PackOptions& p, const pack::PackReport& report) {
  const double secs = report.elapsed.count();
  fmt::print("tmpdump pack: {}: {} files, {} symlinks, {} -> {} ({} {}, {:.2f}x) in {:.1f} s\n", o.output, report.files,
             report.symlinks, mb(report.unpacked_bytes), mb(report.archive_bytes), o.compress, p.level,
             report.archive_bytes > 0
                 ? static_cast<double>(report.unpacked_bytes) / static_cast<double>(report.archive_bytes)
                 : 0.0,
             secs);
  fmt::print("tmpdump pack: needs glibc >= {}, x86-64 level {}{}\n", report.glibc.value_or("(none)"),
             report.x86_isa_level > 0 ? std::to_string(report.x86_isa_level) : std::string("1 (unmarked)"),
             p.variants.empty() ? "" : " (variants not counted)");
  if (!report.added_by_closure.empty()) {
    fmt::print("tmpdump pack: the closure added {} entries: {}\n", report.added_by_closure.size(),
               fmt::join(report.added_by_closure, " "));
  }
  if (!report.left_out.empty()) {
    fmt::print(
        "tmpdump pack: left out {} librar{} the {} runtime brings itself (-v lists them; --include-runtime "
        "packs them)\n",
        report.left_out.size(), report.left_out.size() == 1 ? "y" : "ies", report.left_out.front().provided_by);
  }
  fmt::print("tmpdump pack: sha256 {}\n", report.sha256);
  if (!o.function_config.empty()) fmt::print("tmpdump pack: wrote {}\n", o.function_config);
}

int run_pack(const PackCliOptions& o) {
  auto p = pack_options(o);
  if (!p) return report_error("pack", p.error());
  auto report = pack::pack(*p, o.output);
  if (!report) return report_error("pack", report.error());
  if (!o.function_config.empty()) {
    if (auto r = write_function_config(o, report->sha256); !r) return report_error("pack", r.error());
  }
  if (!o.quiet) print_report(o, *p, *report);
  return 0;
}

}  // namespace

Runner setup_pack(CLI::App& sub) {
  auto o = std::make_shared<PackCliOptions>();
  sub.footer(
      "Libraries from TRACE (written by `tmpdump trace`) go under lib/ by their real file names, with a\n"
      "relative symlink for each other name they were loaded by. The archive is reproducible: entries\n"
      "sorted, times fixed (SOURCE_DATE_EPOCH, else 1980-01-01), modes 0644/0755. Its last entry is\n"
      ".tmpdump/manifest.json (docs/formats.md).");
  sub.add_option("TRACE", o->trace, "Trace file from `tmpdump trace -o`");
  sub.add_option("-o,--output", o->output, "Archive to write (replaced atomically)")->required();
  auto* closure = sub.add_option("--closure", o->closure,
                                 "Add the missing DT_NEEDED dependencies of the archive's libraries and of FILEs")
                      ->expected(0, -1);
  sub.add_option("--library-path", o->library_path, "Directories searched for --closure before the system's");
  sub.add_option("--add", o->add, "Add a directory tree as is, under lib/ or under PREFIX (DIR=PREFIX)");
  sub.add_option("--exclude", o->exclude, "Leave out archive paths matching GLOB (** for any depth)");
  sub.add_option("--variant", o->variants, "A CPU variant tree, e.g. x86-64-v3=DIR -> lib/glibc-hwcaps/x86-64-v3/");
  sub.add_option("--compress", o->compress, "Compression: zstd (default) or deflate")
      ->check(CLI::IsMember({"zstd", "deflate"}));
  sub.add_option("--level", o->level, "Compression level: zstd 1-19 (default 12), deflate 1-9 (default 9)");
  sub.add_flag("--with-libc", o->with_libc,
               "Bundle glibc, its loader and libgcc_s in lib/libc/, for bootstrap's start through that loader");
  sub.add_flag("--include-runtime", o->include_runtime,
               "Also pack what the trace marks as brought by the runtime (the JDK, Python's, Node's own libraries)");
  sub.add_option("-j,--jobs", o->jobs, "Compression threads (default: all cores)");
  sub.add_option("--function-config", o->function_config, "Also write a tmpdump.json for the function here");
  sub.add_option("--source", o->source, "Where the archive will be pushed (for --function-config)");
  sub.add_option("--function-root", o->function_root, "Root in tmpdump.json")->capture_default_str();
  sub.add_flag("-q,--quiet", o->quiet, "Print nothing but errors");
  sub.add_flag("-v,--verbose", o->verbose, "Say what is excluded, left out, dropped and added by the closure");
  return [o, closure] {
    o->closure_flag = closure->count() > 0;
    return run_pack(*o);
  };
}

}  // namespace tmpdump::cli
