// What is wrong with an unpacked tmpdump for a Lambda runtime, as the dynamic
// loader on Lambda would see it: every DT_NEEDED resolves, no GLIBC_ version is
// newer than the target's, no object needs a higher x86-64 ISA level than its
// directory promises, Python extensions match the runtime's CPython, and the
// tree fits in /tmp. `tmpdump check` unpacks the archive and prints these.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "archive/zip.hpp"
#include "elf/elf.hpp"
#include "pack/manifest.hpp"

namespace tmpdump::check {

/// A Lambda runtime, as far as loading native code on it goes.
struct Target {
  std::string name;        ///< "provided.al2023", "python3.12"
  std::vector<int> glibc;  ///< {2, 34, 0}
  std::string managed;     ///< "java", "python", "node"; "" for provided.* (bootstrap starts the function)
  std::string cpython;     ///< the python runtimes' extension tag: "312"
};

/// The runtimes `--target` knows, by the names Lambda gives them ("al2023" and
/// "al2" short for provided.*); nullopt for any other name.
[[nodiscard]] std::optional<Target> find_target(std::string_view name);

/// One thing that will not work on the target, and what fixes it.
struct Problem {
  std::string where;  ///< archive path or app path
  std::string what;
  std::string fix;
};

/// "baseline x86-64" for level 1 (and below), else "x86-64-vN".
[[nodiscard]] std::string isa_name(int level);

/// The archive's manifest (pack writes it), read from the unpacked tree at
/// `root`; nullopt when there is none or it does not parse.
[[nodiscard]] std::optional<pack::Manifest> read_manifest(const std::filesystem::path& root);

/// What the unpacked tree takes on disk: each file rounded up to 4 KiB
/// blocks, every other entry one block.
[[nodiscard]] std::uint64_t on_disk_bytes(const archive::CentralDirectory& dir) noexcept;

/// The function's /tmp: --ephemeral-mb, or 512 MB with SnapStart whatever that says.
struct TmpSpace {
  std::uint64_t ephemeral_mb = 512;
  bool snapstart = false;
  /// The usable size in Lambda's MB (2^20 bytes, as Lambda counts ephemeral storage).
  [[nodiscard]] std::uint64_t limit_mb() const noexcept { return snapstart ? 512 : ephemeral_mb; }
};

/// A problem for `where` (the archive's name) when `on_disk` bytes do not fit in `tmp`.
[[nodiscard]] std::optional<Problem> check_fits(std::uint64_t on_disk, const TmpSpace& tmp, std::string_view where);

/// How long the pull of `dir` takes at `memory_mb` (its CPU share), using the
/// zstd level recorded in the manifest of the tree unpacked at `root`:
/// "the pull takes about 0.0 s at 512 MB (0.29 vCPU): ...".
[[nodiscard]] std::string describe_pull(const archive::CentralDirectory& dir, const std::filesystem::path& root,
                                        std::uint64_t memory_mb);

/// Checks the tree unpacked at `root` (and the function's own executables)
/// against one target. Reads the files; changes nothing.
class Checker {
 public:
  Checker(std::filesystem::path root, Target target);

  /// Runs every check once; `apps` are the function's executables or handler
  /// .so files outside the archive, checked against it.
  void run(const std::vector<std::string>& apps);

  /// Each problem found, in the order found.
  [[nodiscard]] const std::vector<Problem>& problems() const { return problems_; }
  /// How many ELF objects the archive holds.
  [[nodiscard]] std::size_t objects() const { return objects_.size(); }
  /// The highest GLIBC_ version any object needs; nullopt when none needs one.
  [[nodiscard]] const std::optional<std::vector<int>>& max_glibc() const { return max_glibc_; }
  /// The highest x86-64 ISA level any object is marked with; 0 when none is marked.
  [[nodiscard]] int max_isa() const { return max_isa_; }
  /// True when the archive brings its own glibc and the target starts the function through it.
  [[nodiscard]] bool bundles_libc() const { return bundles_libc_ && target_.managed.empty(); }

 private:
  /// A directory of the archive the loader searches and the ISA level its objects may need.
  struct SearchDir {
    std::filesystem::path rel;  ///< "lib" or "lib/glibc-hwcaps/x86-64-v3"
    int isa_level = 1;
  };

  void find_search_dirs();
  void collect_objects();
  void read_left_out();
  void check_bundled_libc();
  void check_python_tags();
  void check_object(const std::string& where, const std::filesystem::path& path, const elf::Info& info, int isa_limit,
                    bool is_app);
  void check_closure(const std::string& where, const std::filesystem::path& path, const elf::Info& info, bool is_app);
  void check_glibc(const std::string& where, const std::filesystem::path& path, const elf::Info& info);
  void check_isa(const std::string& where, const elf::Info& info, int isa_limit, bool is_app);
  [[nodiscard]] std::uint16_t majority_machine() const;
  [[nodiscard]] int isa_limit(const std::filesystem::path& rel) const;
  [[nodiscard]] std::vector<std::filesystem::path> library_path_for(const std::filesystem::path& object_dir) const;
  [[nodiscard]] std::vector<std::filesystem::path> search_path(const std::filesystem::path& path, const elf::Info& info,
                                                               bool is_app) const;
  [[nodiscard]] std::vector<std::filesystem::path> expand(const std::vector<std::string>& entries,
                                                          const std::filesystem::path& origin, bool is_app) const;
  [[nodiscard]] std::optional<std::string> soname_holder(const std::string& name) const;

  std::filesystem::path root_;
  Target target_;
  std::vector<SearchDir> dirs_;
  std::map<std::string, elf::Info> objects_;
  std::vector<Problem> problems_;
  std::uint16_t machine_ = 0;  ///< the machine most objects are built for; set by run()
  std::optional<std::vector<int>> max_glibc_;
  int max_isa_ = 0;
  bool bundles_libc_ = false;
  std::set<std::string, std::less<>> runtime_names_;  ///< left out by pack, brought by the target runtime
};

}  // namespace tmpdump::check
