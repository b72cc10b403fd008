// tmpdump check ARCHIVE [--app FILE...] [--target al2023|al2|java21|python3.12|...] [--ephemeral-mb N] [--snapstart] [--memory MB]
//
// Extracts the archive into a private temporary directory (archive::extract:
// the same secure path as pull) and checks, as the dynamic loader on Lambda
// would see it: every DT_NEEDED resolves, no GLIBC_ version is newer than the
// target's, no object needs a higher x86-64 ISA level than its directory
// promises, and the unpacked tree fits in /tmp.
#include <elf.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "archive/cost.hpp"
#include "archive/extract.hpp"
#include "cli/commands.hpp"
#include "elf/elf.hpp"
#include "pack/image.hpp"
#include "pack/manifest.hpp"
#include "pull/source.hpp"
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

struct Target {
  std::string name;        ///< "provided.al2023", "python3.12"
  std::vector<int> glibc;  ///< {2, 34, 0}
  std::string managed;     ///< "java", "python", "node"; "" for provided.* (bootstrap starts the function)
  std::string cpython;     ///< the python runtimes' extension tag: "312"
};

/// The runtimes `--target` knows, by the names Lambda gives them.
std::optional<Target> find_target(std::string_view name) {
  static const Target kTargets[] = {
      {"provided.al2023", {2, 34, 0}, "", ""}, {"provided.al2", {2, 26, 0}, "", ""},
      {"java21", {2, 34, 0}, "java", ""},      {"java17", {2, 26, 0}, "java", ""},
      {"python3.12", {2, 34, 0}, "python", "312"}, {"python3.13", {2, 34, 0}, "python", "313"},
      {"nodejs20.x", {2, 34, 0}, "node", ""},  {"nodejs22.x", {2, 34, 0}, "node", ""},
  };
  const std::string full = name == "al2023" || name == "al2" ? "provided." + std::string(name) : std::string(name);
  for (const auto& t : kTargets) {
    if (t.name == full) return t;
  }
  return std::nullopt;
}

/// The CPython version an extension module's name is tagged for: "311" for
/// "x.cpython-311-x86_64-linux-gnu.so"; nullopt for untagged and abi3 modules.
std::optional<std::string> cpython_tag(std::string_view file_name) {
  const auto at = file_name.find(".cpython-");
  if (at == std::string_view::npos || !file_name.ends_with(".so")) return std::nullopt;
  std::string digits;
  for (auto i = at + 9; i < file_name.size() && file_name[i] >= '0' && file_name[i] <= '9'; ++i) digits += file_name[i];
  if (digits.size() < 2) return std::nullopt;
  return digits;
}

std::string python_version(const std::string& tag) { return tag.substr(0, 1) + "." + tag.substr(1); }

// What can help a library that needs a newer glibc than a managed runtime's image.
constexpr std::string_view kManagedGlibcFix =
    "a managed runtime always starts on the image's glibc, so pack --with-libc cannot help: build it on Amazon "
    "Linux 2023 (or in the Lambda build image), or use builds made for old glibc (manylinux wheels for Python, "
    "JavaCPP's builds for Java)";

// What the images give every function without a layer is pack::image_provides()
// (pack/image.hpp), the list `pack` leaves out: the glibc family and libgcc_s.
// glibc is 2.34 on AL2023 and 2.26 on AL2 (docs.aws.amazon.com/lambda/latest/dg/lambda-runtimes.html
// names each runtime's OS: java21, python3.12+, nodejs20.x+ on AL2023; java17 on AL2).
/// The archive's manifest (pack writes it), read from the unpacked tree;
/// nullopt when there is none or it does not parse.
std::optional<pack::Manifest> read_manifest(const fs::path& root) {
  std::ifstream in(root / pack::kManifestPath, std::ios::binary);
  std::string text;
  for (char buf[4096]; in.read(buf, sizeof buf) || in.gcount() > 0;) text.append(buf, static_cast<std::size_t>(in.gcount()));
  if (text.empty()) return std::nullopt;
  auto manifest = pack::parse_manifest(text, pack::kManifestPath);
  if (!manifest) return std::nullopt;
  return std::move(*manifest);
}

struct Problem {
  std::string where;  ///< archive path or app path
  std::string what;
  std::string fix;
};

std::string mib(std::uint64_t bytes) { return fmt::format("{:.1f} MB", static_cast<double>(bytes) / (1 << 20)); }

// A directory of the archive the loader searches and the ISA level its objects may need.
struct SearchDir {
  fs::path rel;  ///< "lib" or "lib/glibc-hwcaps/x86-64-v3"
  int isa_level = 1;
};

// x86-64-vN in a directory name -> N.
std::optional<int> variant_level(std::string_view name) {
  if (!name.starts_with("x86-64-v") || name.size() != 9) return std::nullopt;
  const char c = name.back();
  if (c < '2' || c > '4') return std::nullopt;
  return c - '0';
}

std::string isa_name(int level) { return level <= 1 ? "baseline x86-64" : fmt::format("x86-64-v{}", level); }

class Checker {
 public:
  Checker(fs::path root, Target target) : root_(std::move(root)), target_(std::move(target)) {}

  void run(const std::vector<std::string>& apps) {
    find_search_dirs();
    collect_objects();
    read_left_out();
    machine_ = majority_machine();
    // libc in the archive (pack --with-libc: lib/libc/, or lib/ before) decides the
    // GLIBC_ level, not the target's -- when bootstrap starts the function.
    std::error_code ec;
    bundles_libc_ = fs::exists(root_ / pack::kBundledLibcDir / "libc.so.6", ec) || fs::exists(root_ / "lib/libc.so.6", ec);
    if (bundles_libc_ && !target_.managed.empty()) {
      problems_.push_back({fs::exists(root_ / pack::kBundledLibcDir / "libc.so.6", ec) ? std::string(pack::kBundledLibcDir) + "/libc.so.6" : "lib/libc.so.6",
                           fmt::format("bundles glibc (pack --with-libc), which {} never loads: only bootstrap's start "
                                       "through the bundled loader uses it", target_.name),
                           fmt::format("pack without --with-libc; for libraries that need a newer glibc than {}: {}",
                                       elf::version_string(target_.glibc), kManagedGlibcFix)});
    }
    for (const auto& [rel, info] : objects_) check_object(rel, root_ / rel, info, isa_limit(rel), false);
    if (!target_.cpython.empty()) check_python_tags();
    for (const auto& app : apps) {
      auto info = elf::read_file(app);
      if (!info) {
        problems_.push_back({app, info.error().message, "pass the function's executable or handler .so"});
        continue;
      }
      check_object(app, fs::absolute(app), *info, 1, true);
    }
  }

  [[nodiscard]] const std::vector<Problem>& problems() const { return problems_; }
  [[nodiscard]] std::size_t objects() const { return objects_.size(); }
  [[nodiscard]] const std::optional<std::vector<int>>& max_glibc() const { return max_glibc_; }
  [[nodiscard]] int max_isa() const { return max_isa_; }
  [[nodiscard]] bool bundles_libc() const { return bundles_libc_ && target_.managed.empty(); }

 private:
  // What pack left out because the traced runtime brings it (the manifest's
  // left_out): found, when the target is that runtime.
  void read_left_out() {
    if (target_.managed.empty()) return;
    auto manifest = read_manifest(root_);
    if (!manifest) return;
    for (const auto& l : manifest->left_out) {
      if (l.provided_by != target_.managed) continue;
      runtime_names_.insert(fs::path(l.path).filename().string());
      runtime_names_.insert(l.names.begin(), l.names.end());
    }
  }

  // An extension module tagged for another CPython does not import.
  void check_python_tags() {
    for (const auto& [rel, info] : objects_) {
      const auto tag = cpython_tag(fs::path(rel).filename().string());
      if (!tag || *tag == target_.cpython) continue;
      problems_.push_back(
          {rel,
           fmt::format("is an extension module for CPython {} (cpython-{}) but {} runs CPython {}; it will not import",
                       python_version(*tag), *tag, target_.name, python_version(target_.cpython)),
           fmt::format("install the package for Python {0}: pip install --target DIR --python-version {0} "
                       "--only-binary=:all: --platform manylinux2014_x86_64 PACKAGE (wheels tagged cp{1}), then pack DIR "
                       "with --add DIR=python",
                       python_version(target_.cpython), target_.cpython)});
    }
  }

  void find_search_dirs() {
    dirs_.push_back({"lib", 1});
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(root_ / "lib/glibc-hwcaps", ec)) {
      const auto name = e.path().filename().string();
      if (auto level = variant_level(name); level && e.is_directory()) dirs_.push_back({fs::path("lib/glibc-hwcaps") / name, *level});
    }
    std::sort(dirs_.begin(), dirs_.end(), [](const auto& a, const auto& b) { return a.isa_level < b.isa_level; });
  }

  void collect_objects() {
    std::error_code ec;
    for (auto it = fs::recursive_directory_iterator(root_, ec); it != fs::recursive_directory_iterator(); it.increment(ec)) {
      if (ec) break;
      if (!it->is_regular_file() || it->is_symlink()) continue;
      const fs::path rel = fs::relative(it->path(), root_);
      if (rel.begin()->string() == ".tmpdump") continue;
      auto info = elf::read_file(it->path());
      if (info) {
        objects_.emplace(rel.string(), std::move(*info));
      } else if (info.error().code != Errc::Unsupported) {
        problems_.push_back({rel.string(), "not a valid ELF file: " + info.error().message,
                             "rebuild or re-copy it; a truncated copy cannot be loaded"});
      }
    }
  }

  std::uint16_t majority_machine() const {
    std::map<std::uint16_t, int> count;
    for (const auto& [rel, info] : objects_) ++count[info.machine];
    std::uint16_t best = EM_X86_64;
    int n = 0;
    for (auto [m, c] : count) {
      if (c > n) best = m, n = c;
    }
    return best;
  }

  // The ISA level a directory promises: its variant's level, else baseline.
  int isa_limit(const fs::path& rel) const {
    int limit = 1;
    for (const auto& d : dirs_) {
      if (rel.parent_path() == d.rel) limit = d.isa_level;
    }
    return limit;
  }

  // Directories the loader searches for a DT_NEEDED of `dir`'s objects through
  // LD_LIBRARY_PATH: lib/ and, for an object in a variant directory, that
  // variant and the lower ones (glibc-hwcaps order on a CPU that runs it).
  std::vector<fs::path> library_path_for(const fs::path& object_dir) const {
    int level = 1;
    for (const auto& d : dirs_) {
      if (object_dir == root_ / d.rel) level = d.isa_level;
    }
    std::vector<fs::path> out;
    for (auto it = dirs_.rbegin(); it != dirs_.rend(); ++it) {
      if (it->isa_level <= level) out.push_back(root_ / it->rel);
    }
    return out;
  }

  // RPATH/RUNPATH entries with $ORIGIN expanded; entries outside the archive
  // (absolute paths of the build machine) do not exist on Lambda and are dropped,
  // except for the app, whose $ORIGIN is its own directory here.
  std::vector<fs::path> expand(const std::vector<std::string>& entries, const fs::path& origin, bool is_app) const {
    std::vector<fs::path> out;
    for (auto e : entries) {
      for (const std::string_view token : {"${ORIGIN}", "$ORIGIN"}) {
        for (auto at = e.find(token); at != std::string::npos; at = e.find(token)) e.replace(at, token.size(), origin.string());
      }
      if (e.find('$') != std::string::npos) continue;  // $LIB, $PLATFORM: not used by Lambda builds
      const fs::path p = fs::path(e).lexically_normal();
      const auto rel = p.lexically_relative(root_);
      const bool inside = !rel.empty() && *rel.begin() != "..";
      if (inside || is_app) out.push_back(p);
    }
    return out;
  }

  void check_object(const std::string& where, const fs::path& path, const elf::Info& info, int isa_limit, bool is_app) {
    if (info.machine != machine_) {
      problems_.push_back({where, fmt::format("built for machine {} but the rest of the archive is for {}", info.machine, machine_),
                           "remove it, or rebuild it for the function's architecture"});
      return;
    }
    // Closure.
    std::vector<fs::path> search;
    const fs::path origin = path.parent_path();
    if (info.runpath.empty()) {
      for (auto& p : expand(info.rpath, origin, is_app)) search.push_back(std::move(p));
    }
    for (auto& p : library_path_for(origin)) search.push_back(std::move(p));
    for (auto& p : expand(info.runpath, origin, is_app)) search.push_back(std::move(p));
    for (const auto& need : info.needed) {
      if (need.find('/') != std::string::npos) continue;  // a path, not searched
      const bool found = std::any_of(search.begin(), search.end(), [&](const fs::path& d) {
        std::error_code ec;
        return fs::is_regular_file(d / need, ec);
      });
      if (found || pack::image_provides(need) || runtime_names_.contains(need)) continue;
      if (auto holder = soname_holder(need)) {
        problems_.push_back({where, fmt::format("needs {}; {} has that soname but no file or symlink named {} exists", need,
                                                *holder, need),
                             fmt::format("add the symlink {} -> {} (zip -y keeps symlinks; tmpdump pack makes them)", need,
                                         fs::path(*holder).filename().string())});
      } else {
        problems_.push_back({where, fmt::format("needs {}, which is neither in the archive's lib/ nor in {}", need, target_.name),
                             "add it to the archive (tmpdump pack --closure, or copy it into lib/)"});
      }
    }
    // glibc level.
    if (auto v = elf::max_glibc_version(info.version_needs)) {
      if (!max_glibc_ || *v > *max_glibc_) max_glibc_ = *v;
      // The bundled glibc itself comes with its own level; it is judged as a whole above.
      const bool bundled_glibc = bundles_libc_ && pack::image_provides(path.filename().string());
      if (*v > target_.glibc && (!bundles_libc_ || !target_.managed.empty()) && !bundled_glibc) {
        std::string symbols;
        for (const auto& n : info.version_needs) {
          auto nv = elf::parse_glibc_version(n.version);
          if (nv && *nv > target_.glibc && symbols.find(n.version) == std::string::npos) {
            symbols += (symbols.empty() ? "" : ", ") + n.version;
          }
        }
        problems_.push_back({where, fmt::format("needs GLIBC_{} ({}) but {} has glibc {}", elf::version_string(*v), symbols,
                                                target_.name, elf::version_string(target_.glibc)),
                             target_.managed.empty()
                                 ? fmt::format("rebuild it on glibc {} or older (e.g. in the Lambda build image for {}), "
                                               "or bundle the build machine's glibc (pack --with-libc) for an "
                                               "executable handler",
                                               elf::version_string(target_.glibc), target_.name)
                                 : std::string(kManagedGlibcFix)});
      }
    }
    // ISA level (x86-64 only).
    if (machine_ == EM_X86_64) {
      max_isa_ = std::max(max_isa_, info.x86_isa_level);
      if (info.x86_isa_level > isa_limit) {
        problems_.push_back({where, fmt::format("needs {} but {} promises {}", isa_name(info.x86_isa_level),
                                                is_app ? "the app" : "its directory", isa_name(isa_limit)),
                             fmt::format("move it to lib/glibc-hwcaps/x86-64-v{}/ (tmpdump pack --variant) and put a "
                                         "baseline build in lib/",
                                         info.x86_isa_level)});
      }
    }
  }

  // The archive path of a library whose DT_SONAME is `name`, when only the soname matches.
  std::optional<std::string> soname_holder(const std::string& name) const {
    for (const auto& [rel, info] : objects_) {
      if (info.soname == name) return rel;
    }
    return std::nullopt;
  }

  fs::path root_;
  Target target_;
  std::vector<SearchDir> dirs_;
  std::map<std::string, elf::Info> objects_;
  std::vector<Problem> problems_;
  std::uint16_t machine_ = EM_X86_64;
  std::optional<std::vector<int>> max_glibc_;
  int max_isa_ = 0;
  bool bundles_libc_ = false;
  std::set<std::string, std::less<>> runtime_names_;  ///< left out by pack, brought by the target runtime
};

// A private directory, removed with everything in it.
struct ScratchDir {
  fs::path path;
  ~ScratchDir() {
    std::error_code ec;
    if (!path.empty()) fs::remove_all(path, ec);
  }
};

int run_check(const CheckOptions& o) {
  const auto found_target = find_target(o.target);
  if (!found_target) return report_error("check", {Errc::InvalidArgument, fmt::format("unknown --target {}", o.target)});
  const Target& target = *found_target;
  for (const auto& app : o.apps) {
    auto opened = open_input_file(app);
    if (!opened) return report_error("check", with_context(opened.error(), "--app"));
  }
  auto spec = pull::parse_source(o.archive);
  if (!spec) return report_error("check", spec.error());
  const std::string shown = display_name(*spec);
  auto source = pull::open_source(*spec, process_env());
  if (!source) return report_error("check", source.error());
  auto info = (*source)->stat();
  if (!info) return report_error("check", info.error());
  auto dir = archive::read_central_directory(**source, *info);
  if (!dir) return report_error("check", dir.error());

  std::vector<Problem> problems;
  // Size: what the tree takes on disk, each file rounded up to 4 KiB blocks.
  const std::uint64_t limit_mb = o.snapstart ? 512 : o.ephemeral_mb;
  std::uint64_t on_disk = 0;
  for (const auto& e : dir->entries) on_disk += (e.type == archive::EntryType::File ? (e.uncompressed_size + 4095) / 4096 : 1) * 4096;
  const std::uint64_t limit = limit_mb << 20;
  if (on_disk > limit) {
    const std::uint64_t need_mb = (on_disk + (1 << 20) - 1) >> 20;
    problems.push_back(
        {shown,
         fmt::format("unpacks to {} on disk, more than the {} MB of /tmp{}", mib(on_disk), limit_mb,
                     o.snapstart ? " a SnapStart function may use" : ""),
         o.snapstart ? std::string("make the archive smaller: leave out unused libraries (tmpdump pack --exclude), "
                                   "strip debug info, or split it")
                     : fmt::format("give the function at least {} MB of ephemeral storage (EphemeralStorage / "
                                   "--ephemeral-storage Size={}), or make the archive smaller",
                                   need_mb + 64, need_mb + 64)});
  }

  std::string tmpl = (fs::temp_directory_path() / "tmpdump-check-XXXXXX").string();
  if (::mkdtemp(tmpl.data()) == nullptr) return report_error("check", sys_error(errno, "creating a temporary directory"));
  ScratchDir scratch{tmpl};
  const archive::ArchiveInput input{source->get(), &*dir, std::nullopt};
  auto extracted = archive::extract(std::span(&input, 1), scratch.path);
  if (!extracted) return report_error("check", extracted.error());

  Checker checker(scratch.path, target);
  checker.run(o.apps);
  for (const auto& p : checker.problems()) problems.push_back(p);

  for (const auto& p : problems) fmt::print("{}: {}; fix: {}\n", p.where, p.what, p.fix);
  if (!o.quiet) {
    const std::string glibc = checker.bundles_libc() ? "bundled"
                              : checker.max_glibc() ? elf::version_string(*checker.max_glibc())
                                                    : "none";
    fmt::print(stderr, "tmpdump check: {}: {} on {}: {} ELF objects, needs glibc {} (has {}), ISA {}, {} of {} MB /tmp\n",
               shown, problems.empty() ? "ok" : fmt::format("{} problem(s)", problems.size()), target.name,
               checker.objects(), glibc, elf::version_string(target.glibc),
               checker.max_isa() > 0 ? isa_name(checker.max_isa()) : "not marked", mib(on_disk), limit_mb);
    // How long the pull takes at this memory size (its CPU share): a model
    // from bench/cpu, using the level pack recorded in the manifest.
    std::optional<int> level;
    if (auto m = read_manifest(scratch.path); m && m->compression == "zstd") level = m->level;
    const auto estimate = archive::estimate_pull(*dir, level, archive::lambda_vcpus(o.memory_mb));
    fmt::print(stderr, "tmpdump check: {}: {}\n", shown, archive::describe(estimate, o.memory_mb));
  }
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
