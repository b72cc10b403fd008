#include "check/checker.hpp"

#include <elf.h>

#include <algorithm>
#include <fstream>

#include <fmt/format.h>

#include "archive/cost.hpp"
#include "pack/image.hpp"
#include "util/units.hpp"

namespace tmpdump::check {

namespace {

namespace fs = std::filesystem;

// What the images give every function without a layer is pack::image_provides()
// (pack/image.hpp), the list `pack` leaves out: the glibc family and libgcc_s.
// glibc is 2.34 on AL2023 and 2.26 on AL2 (docs.aws.amazon.com/lambda/latest/dg/lambda-runtimes.html
// names each runtime's OS: java21, python3.12+, nodejs20.x+ on AL2023; java17 on AL2).
const Target kTargets[] = {
    {"provided.al2023", {2, 34, 0}, "", ""},     {"provided.al2", {2, 26, 0}, "", ""},
    {"java21", {2, 34, 0}, "java", ""},          {"java17", {2, 26, 0}, "java", ""},
    {"python3.12", {2, 34, 0}, "python", "312"}, {"python3.13", {2, 34, 0}, "python", "313"},
    {"nodejs20.x", {2, 34, 0}, "node", ""},      {"nodejs22.x", {2, 34, 0}, "node", ""},
};

// What can help a library that needs a newer glibc than a managed runtime's image.
constexpr std::string_view kManagedGlibcFix =
    "a managed runtime always starts on the image's glibc, so pack --with-libc cannot help: build it on Amazon "
    "Linux 2023 (or in the Lambda build image), or use builds made for old glibc (manylinux wheels for Python, "
    "JavaCPP's builds for Java)";

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

std::string python_version(const std::string& tag) {
  return tag.substr(0, 1) + "." + tag.substr(1);
}

// x86-64-vN in a directory name -> N.
std::optional<int> variant_level(std::string_view name) {
  if (!name.starts_with("x86-64-v") || name.size() != 9) return std::nullopt;
  const char c = name.back();
  if (c < '2' || c > '4') return std::nullopt;
  return c - '0';
}

}  // namespace

std::optional<Target> find_target(std::string_view name) {
  const std::string full = name == "al2023" || name == "al2" ? "provided." + std::string(name) : std::string(name);
  for (const auto& t : kTargets) {
    if (t.name == full) return t;
  }
  return std::nullopt;
}

std::string isa_name(int level) {
  return level <= 1 ? "baseline x86-64" : fmt::format("x86-64-v{}", level);
}

std::optional<pack::Manifest> read_manifest(const fs::path& root) {
  std::ifstream in(root / pack::kManifestPath, std::ios::binary);
  std::string text;
  for (char buf[4096]; in.read(buf, sizeof buf) || in.gcount() > 0;)
    text.append(buf, static_cast<std::size_t>(in.gcount()));
  if (text.empty()) return std::nullopt;
  auto manifest = pack::parse_manifest(text, pack::kManifestPath);
  if (!manifest) return std::nullopt;
  return std::move(*manifest);
}

std::uint64_t on_disk_bytes(const archive::CentralDirectory& dir) noexcept {
  std::uint64_t on_disk = 0;
  for (const auto& e : dir.entries)
    on_disk += (e.type == archive::EntryType::File ? (e.uncompressed_size + 4095) / 4096 : 1) * 4096;
  return on_disk;
}

std::optional<Problem> check_fits(std::uint64_t on_disk, const TmpSpace& tmp, std::string_view where) {
  const std::uint64_t limit_mb = tmp.limit_mb();
  if (on_disk <= limit_mb << 20) return std::nullopt;
  const std::uint64_t need_mb = (on_disk + (1 << 20) - 1) >> 20;
  return Problem{std::string(where),
                 fmt::format("unpacks to {} on disk, more than the {} MB of /tmp{}", lambda_mb(on_disk), limit_mb,
                             tmp.snapstart ? " a SnapStart function may use" : ""),
                 tmp.snapstart
                     ? std::string("make the archive smaller: leave out unused libraries (tmpdump pack --exclude), "
                                   "strip debug info, or split it")
                     : fmt::format("give the function at least {} MB of ephemeral storage (EphemeralStorage / "
                                   "--ephemeral-storage Size={}), or make the archive smaller",
                                   need_mb + 64, need_mb + 64)};
}

std::string describe_pull(const archive::CentralDirectory& dir, const fs::path& root, std::uint64_t memory_mb) {
  // A model from bench/cpu, using the level pack recorded in the manifest.
  std::optional<int> level;
  if (auto m = read_manifest(root); m && m->compression == "zstd") level = m->level;
  const auto estimate = archive::estimate_pull(dir, level, archive::lambda_vcpus(memory_mb));
  return archive::describe(estimate, memory_mb);
}

Checker::Checker(fs::path root, Target target) : root_(std::move(root)), target_(std::move(target)) {}

void Checker::run(const std::vector<std::string>& apps) {
  find_search_dirs();
  collect_objects();
  read_left_out();
  machine_ = majority_machine();
  check_bundled_libc();
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

// libc in the archive (pack --with-libc: lib/libc/, or lib/ before) decides the
// GLIBC_ level, not the target's -- when bootstrap starts the function.
void Checker::check_bundled_libc() {
  std::error_code ec;
  const bool in_libc_dir = fs::exists(root_ / pack::kBundledLibcDir / "libc.so.6", ec);
  bundles_libc_ = in_libc_dir || fs::exists(root_ / "lib/libc.so.6", ec);
  if (!bundles_libc_ || target_.managed.empty()) return;
  problems_.push_back({in_libc_dir ? std::string(pack::kBundledLibcDir) + "/libc.so.6" : "lib/libc.so.6",
                       fmt::format("bundles glibc (pack --with-libc), which {} never loads: only bootstrap's start "
                                   "through the bundled loader uses it",
                                   target_.name),
                       fmt::format("pack without --with-libc; for libraries that need a newer glibc than {}: {}",
                                   elf::version_string(target_.glibc), kManagedGlibcFix)});
}

// What pack left out because the traced runtime brings it (the manifest's
// left_out): found, when the target is that runtime.
void Checker::read_left_out() {
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
void Checker::check_python_tags() {
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

void Checker::find_search_dirs() {
  dirs_.push_back({"lib", 1});
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(root_ / "lib/glibc-hwcaps", ec)) {
    const auto name = e.path().filename().string();
    if (auto level = variant_level(name); level && e.is_directory())
      dirs_.push_back({fs::path("lib/glibc-hwcaps") / name, *level});
  }
  std::sort(dirs_.begin(), dirs_.end(), [](const auto& a, const auto& b) { return a.isa_level < b.isa_level; });
}

void Checker::collect_objects() {
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(root_, ec); it != fs::recursive_directory_iterator();
       it.increment(ec)) {
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

std::uint16_t Checker::majority_machine() const {
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
int Checker::isa_limit(const fs::path& rel) const {
  int limit = 1;
  for (const auto& d : dirs_) {
    if (rel.parent_path() == d.rel) limit = d.isa_level;
  }
  return limit;
}

// Directories the loader searches for a DT_NEEDED of `dir`'s objects through
// LD_LIBRARY_PATH: lib/ and, for an object in a variant directory, that
// variant and the lower ones (glibc-hwcaps order on a CPU that runs it).
std::vector<fs::path> Checker::library_path_for(const fs::path& object_dir) const {
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
std::vector<fs::path> Checker::expand(const std::vector<std::string>& entries, const fs::path& origin,
                                      bool is_app) const {
  std::vector<fs::path> out;
  for (auto e : entries) {
    for (const std::string_view token : {"${ORIGIN}", "$ORIGIN"}) {
      for (auto at = e.find(token); at != std::string::npos; at = e.find(token))
        e.replace(at, token.size(), origin.string());
    }
    if (e.find('$') != std::string::npos) continue;  // $LIB, $PLATFORM: not used by Lambda builds
    const fs::path p = fs::path(e).lexically_normal();
    const auto rel = p.lexically_relative(root_);
    const bool inside = !rel.empty() && *rel.begin() != "..";
    if (inside || is_app) out.push_back(p);
  }
  return out;
}

// The loader's order: DT_RPATH (only without DT_RUNPATH), LD_LIBRARY_PATH, DT_RUNPATH.
std::vector<fs::path> Checker::search_path(const fs::path& path, const elf::Info& info, bool is_app) const {
  std::vector<fs::path> search;
  const fs::path origin = path.parent_path();
  if (info.runpath.empty()) {
    for (auto& p : expand(info.rpath, origin, is_app)) search.push_back(std::move(p));
  }
  for (auto& p : library_path_for(origin)) search.push_back(std::move(p));
  for (auto& p : expand(info.runpath, origin, is_app)) search.push_back(std::move(p));
  return search;
}

void Checker::check_object(const std::string& where, const fs::path& path, const elf::Info& info, int isa_limit,
                           bool is_app) {
  if (info.machine != machine_) {
    problems_.push_back(
        {where, fmt::format("built for machine {} but the rest of the archive is for {}", info.machine, machine_),
         "remove it, or rebuild it for the function's architecture"});
    return;
  }
  check_closure(where, path, info, is_app);
  check_glibc(where, path, info);
  if (machine_ == EM_X86_64) check_isa(where, info, isa_limit, is_app);
}

void Checker::check_closure(const std::string& where, const fs::path& path, const elf::Info& info, bool is_app) {
  const std::vector<fs::path> search = search_path(path, info, is_app);
  for (const auto& need : info.needed) {
    if (need.find('/') != std::string::npos) continue;  // a path, not searched
    const bool found = std::any_of(search.begin(), search.end(), [&](const fs::path& d) {
      std::error_code ec;
      return fs::is_regular_file(d / need, ec);
    });
    if (found || pack::image_provides(need) || runtime_names_.contains(need)) continue;
    if (auto holder = soname_holder(need)) {
      problems_.push_back(
          {where,
           fmt::format("needs {}; {} has that soname but no file or symlink named {} exists", need, *holder, need),
           fmt::format("add the symlink {} -> {} (zip -y keeps symlinks; tmpdump pack makes them)", need,
                       fs::path(*holder).filename().string())});
    } else {
      problems_.push_back(
          {where, fmt::format("needs {}, which is neither in the archive's lib/ nor in {}", need, target_.name),
           "add it to the archive (tmpdump pack --closure, or copy it into lib/)"});
    }
  }
}

void Checker::check_glibc(const std::string& where, const fs::path& path, const elf::Info& info) {
  const auto v = elf::max_glibc_version(info.version_needs);
  if (!v) return;
  if (!max_glibc_ || *v > *max_glibc_) max_glibc_ = *v;
  // The bundled glibc itself comes with its own level; it is judged as a whole in check_bundled_libc().
  const bool bundled_glibc = bundles_libc_ && pack::image_provides(path.filename().string());
  if (*v <= target_.glibc || (bundles_libc_ && target_.managed.empty()) || bundled_glibc) return;
  std::string symbols;
  for (const auto& n : info.version_needs) {
    auto nv = elf::parse_glibc_version(n.version);
    if (nv && *nv > target_.glibc && symbols.find(n.version) == std::string::npos) {
      symbols += (symbols.empty() ? "" : ", ") + n.version;
    }
  }
  problems_.push_back({where,
                       fmt::format("needs GLIBC_{} ({}) but {} has glibc {}", elf::version_string(*v), symbols,
                                   target_.name, elf::version_string(target_.glibc)),
                       target_.managed.empty()
                           ? fmt::format("rebuild it on glibc {} or older (e.g. in the Lambda build image for {}), "
                                         "or bundle the build machine's glibc (pack --with-libc) for an "
                                         "executable handler",
                                         elf::version_string(target_.glibc), target_.name)
                           : std::string(kManagedGlibcFix)});
}

void Checker::check_isa(const std::string& where, const elf::Info& info, int isa_limit, bool is_app) {
  max_isa_ = std::max(max_isa_, info.x86_isa_level);
  if (info.x86_isa_level <= isa_limit) return;
  problems_.push_back({where,
                       fmt::format("needs {} but {} promises {}", isa_name(info.x86_isa_level),
                                   is_app ? "the app" : "its directory", isa_name(isa_limit)),
                       fmt::format("move it to lib/glibc-hwcaps/x86-64-v{}/ (tmpdump pack --variant) and put a "
                                   "baseline build in lib/",
                                   info.x86_isa_level)});
}

// The archive path of a library whose DT_SONAME is `name`, when only the soname matches.
std::optional<std::string> Checker::soname_holder(const std::string& name) const {
  for (const auto& [rel, info] : objects_) {
    if (info.soname == name) return rel;
  }
  return std::nullopt;
}

}  // namespace tmpdump::check
