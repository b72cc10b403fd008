#include "emulator/sandbox.hpp"

#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

#include <fmt/format.h>

#include "archive/extract.hpp"
#include "archive/zip.hpp"
#include "util/file_source.hpp"
#include "util/unique_fd.hpp"

namespace tmpdump::emulator {

namespace fs = std::filesystem;

Result<SandboxMode> parse_sandbox_mode(std::string_view text) {
  if (text == "off") return SandboxMode::Off;
  if (text == "auto") return SandboxMode::Auto;
  if (text == "required") return SandboxMode::Required;
  return fail(Errc::InvalidArgument, "--sandbox must be off, auto or required, not '{}'", text);
}

Result<unsigned> check_memory_mb(long mb) {
  if (mb < kMinMemoryMb || mb > kMaxMemoryMb) {
    return fail(Errc::InvalidArgument, "--memory must be {} to {} MB (Lambda's range), not {}", kMinMemoryMb,
                kMaxMemoryMb, mb);
  }
  return static_cast<unsigned>(mb);
}

Result<unsigned> check_ephemeral_mb(long mb) {
  if (mb < kMinEphemeralMb || mb > kMaxEphemeralMb) {
    return fail(Errc::InvalidArgument, "--ephemeral-storage must be {} to {} MB (Lambda's range), not {}",
                kMinEphemeralMb, kMaxEphemeralMb, mb);
  }
  return static_cast<unsigned>(mb);
}

double lambda_cpus(unsigned memory_mb, unsigned cores) {
  return std::min(static_cast<double>(memory_mb) / 1769.0, static_cast<double>(std::max(cores, 1U)));
}

Result<double> check_cpus(double cpus, unsigned cores) {
  if (!(cpus > 0) || cpus > static_cast<double>(cores)) {
    return fail(Errc::InvalidArgument, "--cpus must be more than 0 and at most this machine's {} cores, not {}", cores,
                cpus);
  }
  return cpus;
}

CfsQuota cfs_quota(double cpus) {
  CfsQuota q;
  q.quota_us = std::max(1000L, std::lround(cpus * static_cast<double>(q.period_us)));
  return q;
}

namespace {

Result<void> copy_tree_over(const fs::path& from, const fs::path& to) {
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(from, ec); !ec && it != fs::recursive_directory_iterator();
       it.increment(ec)) {
    const fs::path rel = fs::relative(it->path(), from);
    const fs::path target = to / rel;
    const auto st = it->symlink_status();
    const auto existing = fs::symlink_status(target, ec);
    ec.clear();
    if (fs::is_directory(st)) {
      if (fs::exists(existing) && !fs::is_directory(existing)) fs::remove(target, ec);
      fs::create_directory(target, ec);
      fs::permissions(target, st.permissions(), ec);
      if (ec) break;
      continue;
    }
    // A later layer's file or symlink replaces whatever an earlier one had there.
    if (fs::exists(existing) || fs::is_symlink(existing)) fs::remove_all(target, ec);
    if (fs::is_symlink(st)) {
      fs::copy_symlink(it->path(), target, ec);
    } else if (fs::is_regular_file(st)) {
      fs::copy_file(it->path(), target, ec);
    }
    if (ec) break;
  }
  if (ec) return fail(Errc::Io, "merging the layer {} into {}: {}", from.string(), to.string(), ec.message());
  return {};
}

Result<void> extract_zip(const fs::path& zip, const fs::path& dest) {
  auto source = open_file_source(zip);
  if (!source) return std::unexpected(source.error());
  auto info = (*source)->stat();
  if (!info) return std::unexpected(info.error());
  auto dir = archive::read_central_directory(**source, *info);
  if (!dir) return std::unexpected(Error{dir.error().code, zip.string() + ": " + dir.error().message});
  archive::ArchiveInput input{source->get(), &*dir, std::nullopt};
  auto stats = archive::extract(std::span(&input, 1), dest, {.jobs = 2});
  if (!stats) return std::unexpected(Error{stats.error().code, zip.string() + ": " + stats.error().message});
  return {};
}

}  // namespace

Result<void> merge_layers(std::span<const fs::path> layers, const fs::path& dest) {
  std::size_t n = 0;
  for (const auto& layer : layers) {
    std::error_code ec;
    if (fs::is_directory(layer, ec)) {
      if (auto r = copy_tree_over(layer, dest); !r) return r;
    } else if (fs::is_regular_file(layer, ec)) {
      // Extracted apart first: the extractor wants an empty directory.
      const fs::path part = dest.parent_path() / fmt::format(".{}-layer-{}", dest.filename().string(), n++);
      fs::remove_all(part, ec);
      fs::create_directories(part, ec);
      if (ec) return fail(Errc::Io, "creating {}: {}", part.string(), ec.message());
      auto extracted = extract_zip(layer, part);
      auto merged = extracted ? copy_tree_over(part, dest) : extracted;
      fs::remove_all(part, ec);
      if (!merged) return merged;
    } else {
      return fail(Errc::NotFound, "the layer {} is neither a directory nor a zip file", layer.string());
    }
  }
  std::error_code ec;
  fs::permissions(dest,
                  fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec | fs::perms::others_read |
                      fs::perms::others_exec,
                  ec);
  return {};
}

// ---------------------------------------------------------------------------

namespace {

bool write_text(const fs::path& p, std::string_view text) {
  const UniqueFd fd(::open(p.c_str(), O_WRONLY | O_CLOEXEC));
  if (!fd) return false;
  return ::write(fd.get(), text.data(), text.size()) == static_cast<ssize_t>(text.size());
}

std::optional<std::string> read_text(const fs::path& p) {
  std::ifstream in(p);
  if (!in) return std::nullopt;
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// This process's cgroup in the v1 hierarchy of `controller` ("/" if unknown).
std::string own_v1_cgroup(std::string_view controller) {
  std::ifstream in("/proc/self/cgroup");
  std::string line;
  while (std::getline(in, line)) {
    // id:controller[,controller]:path
    auto a = line.find(':');
    auto b = line.find(':', a + 1);
    if (a == std::string::npos || b == std::string::npos) continue;
    std::string_view list = std::string_view(line).substr(a + 1, b - a - 1);
    while (!list.empty()) {
      auto comma = list.find(',');
      if (list.substr(0, comma) == controller) return line.substr(b + 1);
      if (comma == std::string_view::npos) break;
      list.remove_prefix(comma + 1);
    }
  }
  return "/";
}

std::atomic<unsigned> g_cgroup_serial{0};

// Removes what an emulator killed with SIGKILL left in `dir`: entries named
// "<prefix><pid>-..." whose process is gone. A cgroup still holding
// processes refuses rmdir, so only empty ones go.
void sweep_stale(const fs::path& dir, std::string_view prefix, bool cgroup) {
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    const std::string name = e.path().filename().string();
    if (!name.starts_with(prefix)) continue;
    const long pid = std::strtol(name.c_str() + prefix.size(), nullptr, 10);
    if (pid <= 0 || pid == ::getpid() || ::kill(static_cast<pid_t>(pid), 0) == 0 || errno != ESRCH) continue;
    if (cgroup) {
      ::rmdir(e.path().c_str());
    } else {
      std::error_code ignored;
      fs::remove_all(e.path(), ignored);
    }
  }
}

// One operation of the child's mount plan. Paths are absolute, under the new root.
struct MountOp {
  enum Kind { Mkdir, Symlink, BindRo, BindRw, Tmpfs, Proc, Touch } kind;
  std::string a, b, data;  // Mkdir: a; Symlink: a -> b; Bind: a (source) at b; Tmpfs: at a with data
};

}  // namespace

struct Sandbox::Impl {
  SandboxSpec spec;
  bool cgroups = false;
  bool v2 = false;
  double cpus = 0;
  fs::path staging;  // holds the new root's mount point
  fs::path root;
  std::vector<MountOp> plan;
  std::vector<std::string> messages;  // per op, for the child's error line
  // The current cold start's cgroups and their cgroup.procs files.
  std::vector<fs::path> groups;
  std::vector<std::string> procs_files;
  std::string join_failed = "tmpdump emulate: sandbox: cannot join the cgroup: ";

  void build_plan();
  void kill_members() const noexcept;
  void remove_groups() noexcept;
  Result<void> make_groups();
};

void Sandbox::Impl::build_plan() {
  plan.clear();
  const std::string r = root.string();
  auto add = [&](MountOp op) { plan.push_back(std::move(op)); };
  // The host's system directories, read-only; merged-/usr links stay links.
  for (const char* top : {"usr", "etc", "bin", "sbin", "lib", "lib32", "lib64", "libx32"}) {
    const fs::path host = fs::path("/") / top;
    std::error_code ec;
    const auto st = fs::symlink_status(host, ec);
    if (fs::is_symlink(st)) {
      add({MountOp::Symlink, r + "/" + top, fs::read_symlink(host, ec).string(), {}});
    } else if (fs::is_directory(st)) {
      add({MountOp::Mkdir, r + "/" + top, {}, {}});
      add({MountOp::BindRo, host.string(), r + "/" + top, {}});
    }
  }
  add({MountOp::Mkdir, r + "/var", {}, {}});
  add({MountOp::Mkdir, r + "/var/task", {}, {}});
  add({MountOp::BindRo, fs::absolute(spec.function_dir).string(), r + "/var/task", {}});
  // A managed runtime's interface client and interpreter (--runtime-dir, --lang-dir).
  for (const auto& [host, at] :
       {std::pair{&spec.runtime_dir, "/var/runtime"}, std::pair{&spec.lang_dir, "/var/lang"}}) {
    if (host->empty()) continue;
    add({MountOp::Mkdir, r + at, {}, {}});
    add({MountOp::BindRo, fs::absolute(*host).string(), r + at, {}});
  }
  add({MountOp::Mkdir, r + "/opt", {}, {}});
  if (!spec.opt_dir.empty()) add({MountOp::BindRo, fs::absolute(spec.opt_dir).string(), r + "/opt", {}});
  add({MountOp::Mkdir, r + "/tmp", {}, {}});
  add({MountOp::Tmpfs, r + "/tmp", {}, fmt::format("size={}m,mode=1777", spec.ephemeral_mb)});
  add({MountOp::Mkdir, r + "/proc", {}, {}});
  add({MountOp::Proc, r + "/proc", {}, {}});
  add({MountOp::Mkdir, r + "/sys", {}, {}});
  add({MountOp::BindRo, "/sys", r + "/sys", {}});
  // A minimal /dev: the character devices a runtime uses, no /dev/shm (Lambda has none).
  add({MountOp::Mkdir, r + "/dev", {}, {}});
  add({MountOp::Tmpfs, r + "/dev", {}, "size=64k,mode=0755"});
  for (const char* dev : {"null", "zero", "full", "random", "urandom"}) {
    add({MountOp::Touch, r + "/dev/" + dev, {}, {}});
    add({MountOp::BindRw, std::string("/dev/") + dev, r + "/dev/" + dev, {}});
  }
  add({MountOp::Symlink, r + "/dev/fd", "/proc/self/fd", {}});
  add({MountOp::Symlink, r + "/dev/stdin", "/proc/self/fd/0", {}});
  add({MountOp::Symlink, r + "/dev/stdout", "/proc/self/fd/1", {}});
  add({MountOp::Symlink, r + "/dev/stderr", "/proc/self/fd/2", {}});
  messages.clear();
  for (const auto& op : plan) {
    static constexpr const char* kNames[] = {"mkdir", "symlink", "bind read-only", "bind", "tmpfs", "proc", "touch"};
    messages.push_back(fmt::format("tmpdump emulate: sandbox: {} {}{} failed: ", kNames[op.kind],
                                   op.kind == MountOp::BindRo || op.kind == MountOp::BindRw ? op.a + " at " : "",
                                   op.kind == MountOp::BindRo || op.kind == MountOp::BindRw ? op.b : op.a));
  }
}

void Sandbox::Impl::kill_members() const noexcept {
  for (const auto& g : groups) {
    // cgroup.kill (v2) or one SIGKILL per member (v1); members leave once reaped.
    if (v2 && write_text(g / "cgroup.kill", "1")) {
    } else if (auto procs = read_text(g / "cgroup.procs")) {
      std::istringstream in(*procs);
      pid_t p = 0;
      while (in >> p) ::kill(p, SIGKILL);
    }
  }
}

void Sandbox::Impl::remove_groups() noexcept {
  kill_members();
  for (const auto& g : groups) {
    for (int i = 0; i < 200; ++i) {
      if (::rmdir(g.c_str()) == 0 || errno == ENOENT) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }
  groups.clear();
  procs_files.clear();
}

Result<void> Sandbox::Impl::make_groups() {
  const std::string name = fmt::format("tmpdump-emulate-{}-{}", ::getpid(), g_cgroup_serial++);
  const auto q = cfs_quota(cpus);
  const unsigned long long bytes = static_cast<unsigned long long>(spec.memory_mb) << 20;
  auto made = [&](const fs::path& g) -> Result<void> {
    if (::mkdir(g.c_str(), 0755) != 0)
      return fail(Errc::Io, "cannot create the cgroup {}: {}", g.string(), errno_text(errno));
    groups.push_back(g);
    procs_files.push_back((g / "cgroup.procs").string());
    return {};
  };
  auto set = [&](const fs::path& file, const std::string& value, bool optional = false) -> Result<void> {
    if (write_text(file, value) || (optional && !fs::exists(file))) return {};
    return fail(Errc::Io, "cannot write {} to {}: {}", value, file.string(), errno_text(errno));
  };
  if (v2) {
    const fs::path g = fs::path("/sys/fs/cgroup") / name;
    if (auto r = made(g); !r) return r;
    if (auto r = set(g / "memory.max", std::to_string(bytes)); !r) return r;
    if (auto r = set(g / "memory.swap.max", "0", true); !r) return r;
    return set(g / "cpu.max", fmt::format("{} {}", q.quota_us, q.period_us));
  }
  const fs::path mem = fs::path("/sys/fs/cgroup/memory") / own_v1_cgroup("memory").substr(1) / name;
  const fs::path cpu = fs::path("/sys/fs/cgroup/cpu") / own_v1_cgroup("cpu").substr(1) / name;
  if (auto r = made(mem); !r) return r;
  if (auto r = set(mem / "memory.limit_in_bytes", std::to_string(bytes)); !r) return r;
  // Lambda has no swap: memory+swap gets the same limit (when swap accounting is on).
  if (auto r = set(mem / "memory.memsw.limit_in_bytes", std::to_string(bytes), true); !r) return r;
  if (auto r = made(cpu); !r) return r;
  // v1 refuses a child more CPU than its parent (EINVAL): an emulator that
  // itself runs under a quota (a CI container, say) gives the runtime at most
  // that much, which is all the runtime could get anyway.
  long quota = q.quota_us;
  const auto parent_quota = read_text(cpu.parent_path() / "cpu.cfs_quota_us");
  const auto parent_period = read_text(cpu.parent_path() / "cpu.cfs_period_us");
  if (parent_quota && parent_period) {
    const long pq = std::strtol(parent_quota->c_str(), nullptr, 10);
    const long pp = std::strtol(parent_period->c_str(), nullptr, 10);
    if (pq > 0 && pp > 0) quota = std::min(quota, static_cast<long>(static_cast<long long>(pq) * q.period_us / pp));
  }
  if (auto r = set(cpu / "cpu.cfs_period_us", std::to_string(q.period_us)); !r) return r;
  return set(cpu / "cpu.cfs_quota_us", std::to_string(quota));
}

Sandbox::Sandbox(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Sandbox::~Sandbox() {
  impl_->remove_groups();
  std::error_code ec;
  if (!impl_->staging.empty()) fs::remove_all(impl_->staging, ec);
}

Result<std::unique_ptr<Sandbox>> Sandbox::create(const SandboxSpec& spec, SandboxMode mode, std::string* notice) {
  notice->clear();
  if (mode == SandboxMode::Off) return nullptr;
  const unsigned cores = std::max(1U, std::thread::hardware_concurrency());
  if (::geteuid() != 0) {
    // Mounting, changing to Lambda's ids and cgroups all need root here;
    // user namespaces could do the first two, but are not used yet.
    std::string why =
        "not running as root: the runtime runs unconfined (as this user, host paths, no /tmp, memory "
        "or CPU limits)";
    if (mode == SandboxMode::Required) return fail(Errc::InvalidArgument, "--sandbox=required: {}", why);
    *notice = "tmpdump emulate: sandbox: " + why;
    return nullptr;
  }
  auto impl = std::make_unique<Impl>();
  impl->spec = spec;
  impl->cpus = spec.cpus > 0 ? spec.cpus : lambda_cpus(spec.memory_mb, cores);
  sweep_stale(fs::temp_directory_path(), "tmpdump-emulate-", false);
  std::string tmpl = (fs::temp_directory_path() / fmt::format("tmpdump-emulate-{}-XXXXXX", ::getpid())).string();
  if (::mkdtemp(tmpl.data()) == nullptr) return fail(Errc::Io, "creating {}: {}", tmpl, errno_text(errno));
  impl->staging = tmpl;
  impl->root = impl->staging / "root";
  std::error_code ec;
  fs::create_directory(impl->root, ec);
  if (ec) return fail(Errc::Io, "creating {}: {}", impl->root.string(), ec.message());
  impl->build_plan();

  // Cgroups: v2 when the unified hierarchy is mounted at /sys/fs/cgroup, else
  // the v1 memory and cpu hierarchies. A trial group proves they are writable.
  impl->v2 = fs::exists("/sys/fs/cgroup/cgroup.controllers", ec);
  if (impl->v2) {
    // The root's children get the controllers only when its subtree_control names them.
    write_text("/sys/fs/cgroup/cgroup.subtree_control", "+memory +cpu");
  }
  if (impl->v2) {
    sweep_stale("/sys/fs/cgroup", "tmpdump-emulate-", true);
  } else {
    sweep_stale(fs::path("/sys/fs/cgroup/memory") / own_v1_cgroup("memory").substr(1), "tmpdump-emulate-", true);
    sweep_stale(fs::path("/sys/fs/cgroup/cpu") / own_v1_cgroup("cpu").substr(1), "tmpdump-emulate-", true);
  }
  auto trial = impl->make_groups();
  impl->remove_groups();
  std::unique_ptr<Sandbox> sandbox(new Sandbox(std::move(impl)));
  if (!trial) {
    std::string why = "memory and CPU are not limited (" + trial.error().message + ")";
    if (mode == SandboxMode::Required) return fail(Errc::InvalidArgument, "--sandbox=required: {}", why);
    *notice = "tmpdump emulate: sandbox: " + why;
  } else {
    sandbox->impl_->cgroups = true;
  }
  return sandbox;
}

bool Sandbox::limits_resources() const {
  return impl_->cgroups;
}
double Sandbox::cpus() const {
  return impl_->cpus;
}

Result<void> Sandbox::prepare() {
  impl_->remove_groups();
  if (!impl_->cgroups) return {};
  auto r = impl_->make_groups();
  if (!r) impl_->remove_groups();
  return r;
}

void Sandbox::kill_all() noexcept {
  impl_->kill_members();
}

std::optional<unsigned long> Sandbox::peak_kib() const {
  if (!impl_->cgroups || impl_->groups.empty()) return std::nullopt;
  auto text = read_text(impl_->groups.front() / (impl_->v2 ? "memory.peak" : "memory.max_usage_in_bytes"));
  if (!text) return std::nullopt;
  return std::strtoull(text->c_str(), nullptr, 10) / 1024;
}

namespace {

constexpr std::string_view kSteps[] = {
    "tmpdump emulate: sandbox: unshare(CLONE_NEWNS) failed: ",
    "tmpdump emulate: sandbox: making the mounts private failed: ",
    "tmpdump emulate: sandbox: mounting the new root failed: ",
    "tmpdump emulate: sandbox: pivot_root failed: ",
    "tmpdump emulate: sandbox: dropping to uid 993, gid 990 failed: ",
};

// Writes `prefix` and errno `n`'s description to fd 2: usable between fork
// and exec (strerrordesc_np neither allocates nor depends on the locale).
void child_error(std::string_view prefix, int n) noexcept {
  const char* desc = ::strerrordesc_np(n);
  if (desc == nullptr) desc = "unknown error";
  [[maybe_unused]] auto a = ::write(2, prefix.data(), prefix.size());
  [[maybe_unused]] auto b = ::write(2, desc, std::strlen(desc));
  [[maybe_unused]] auto c = ::write(2, "\n", 1);
}

bool run_op(const MountOp& op) noexcept {
  constexpr unsigned long kRo = MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV;
  switch (op.kind) {
    case MountOp::Mkdir:
      return ::mkdir(op.a.c_str(), 0755) == 0 || errno == EEXIST;
    case MountOp::Symlink:
      return ::symlink(op.b.c_str(), op.a.c_str()) == 0;
    case MountOp::Touch: {
      const UniqueFd fd(::open(op.a.c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0644));
      return fd.valid();
    }
    case MountOp::BindRo:
      return ::mount(op.a.c_str(), op.b.c_str(), nullptr, MS_BIND | MS_REC, nullptr) == 0 &&
             ::mount(nullptr, op.b.c_str(), nullptr, kRo, nullptr) == 0;
    case MountOp::BindRw:
      return ::mount(op.a.c_str(), op.b.c_str(), nullptr, MS_BIND, nullptr) == 0;
    case MountOp::Tmpfs:
      return ::mount("tmpfs", op.a.c_str(), "tmpfs", MS_NOSUID | MS_NODEV, op.data.c_str()) == 0;
    case MountOp::Proc:
      return ::mount("proc", op.a.c_str(), "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr) == 0;
  }
  return false;
}

}  // namespace

bool Sandbox::enter() const noexcept {
  const Impl& s = *impl_;
  for (const auto& procs : s.procs_files) {
    const UniqueFd fd(::open(procs.c_str(), O_WRONLY | O_CLOEXEC));
    // "0" is the writing process itself.
    if (!fd || ::write(fd.get(), "0", 1) != 1) {
      child_error(s.join_failed, errno);
      return false;
    }
  }
  if (::unshare(CLONE_NEWNS) != 0) return child_error(kSteps[0], errno), false;
  if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) return child_error(kSteps[1], errno), false;
  if (::mount("tmpfs", s.root.c_str(), "tmpfs", MS_NOSUID | MS_NODEV, "size=1m,mode=0755") != 0) {
    return child_error(kSteps[2], errno), false;
  }
  for (std::size_t i = 0; i < s.plan.size(); ++i) {
    if (!run_op(s.plan[i])) return child_error(s.messages[i], errno), false;
  }
  if (::chdir(s.root.c_str()) != 0 || ::syscall(SYS_pivot_root, ".", ".") != 0 || ::umount2(".", MNT_DETACH) != 0 ||
      ::chdir("/") != 0) {
    return child_error(kSteps[3], errno), false;
  }
  // Nothing but /tmp stays writable.
  if (::mount(nullptr, "/", nullptr, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV, nullptr) != 0) {
    return child_error(kSteps[2], errno), false;
  }
  const gid_t groups[] = {kSandboxGid};
  if (::setgroups(1, groups) != 0 || ::setresgid(kSandboxGid, kSandboxGid, kSandboxGid) != 0 ||
      ::setresuid(kSandboxUid, kSandboxUid, kSandboxUid) != 0 || ::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
    return child_error(kSteps[4], errno), false;
  }
  return true;
}

}  // namespace tmpdump::emulator
