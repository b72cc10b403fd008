// The Lambda-like sandbox `tmpdump emulate` starts the runtime in: a private
// mount namespace with a new root (the function read-only at /var/task, the
// layers read-only at /opt, a fresh tmpfs /tmp, the host's /usr and /etc
// read-only), Lambda's unprivileged user, and memory and CPU cgroups.
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "util/error.hpp"

namespace tmpdump::emulator {

/// --sandbox: off (never confine), auto (confine what can be, say what cannot),
/// required (fail when anything cannot be confined).
enum class SandboxMode { Off, Auto, Required };

/// Parses "off", "auto" or "required".
[[nodiscard]] Result<SandboxMode> parse_sandbox_mode(std::string_view text);

inline constexpr long kMinMemoryMb = 128, kMaxMemoryMb = 10240;
inline constexpr long kMinEphemeralMb = 512, kMaxEphemeralMb = 10240;
/// Lambda's sandbox user and group.
inline constexpr uid_t kSandboxUid = 993;
inline constexpr gid_t kSandboxGid = 990;

/// --memory: Lambda's 128..10,240 MB, or InvalidArgument saying so.
[[nodiscard]] Result<unsigned> check_memory_mb(long mb);
/// --ephemeral-storage: Lambda's 512..10,240 MB, or InvalidArgument saying so.
[[nodiscard]] Result<unsigned> check_ephemeral_mb(long mb);
/// Lambda's CPU share: memory / 1,769 MB of a core, at most `cores`.
[[nodiscard]] double lambda_cpus(unsigned memory_mb, unsigned cores);
/// --cpus: more than 0 and at most `cores`, or InvalidArgument saying so.
[[nodiscard]] Result<double> check_cpus(double cpus, unsigned cores);

/// A CFS bandwidth limit: `quota_us` of CPU time per `period_us`.
struct CfsQuota {
  long quota_us = 0;
  long period_us = 100000;
};
/// The quota for `cpus` cores over a 100 ms period (at least the kernel's 1 ms).
[[nodiscard]] CfsQuota cfs_quota(double cpus);

/// Merges layers, each a directory or a zip, into the empty directory `dest`
/// in order, a later layer's file replacing an earlier one's, as Lambda
/// stacks layers in /opt. Zips are extracted with tmpdump's own extractor
/// (no path may leave `dest`).
[[nodiscard]] Result<void> merge_layers(std::span<const std::filesystem::path> layers,
                                        const std::filesystem::path& dest);

struct SandboxSpec {
  std::filesystem::path function_dir;  ///< host directory mounted at /var/task
  std::filesystem::path opt_dir;       ///< host directory mounted at /opt (empty: an empty /opt)
  std::filesystem::path runtime_dir;   ///< host directory mounted at /var/runtime (empty: none)
  std::filesystem::path lang_dir;      ///< host directory mounted at /var/lang (empty: none)
  unsigned memory_mb = 128;
  unsigned ephemeral_mb = 512;
  double cpus = 0;  ///< 0: lambda_cpus(memory_mb, cores)
};

/// One sandbox definition, started anew for every cold start. Owns the
/// cgroups it creates and removes them when destroyed.
class Sandbox {
 public:
  /// Probes what this process can confine. In Auto mode what cannot be
  /// confined is described in *notice (one line) and left out; in Required
  /// mode it is an error. Returns nullptr (and a notice) when nothing at all
  /// can be confined.
  [[nodiscard]] static Result<std::unique_ptr<Sandbox>> create(const SandboxSpec& spec, SandboxMode mode,
                                                               std::string* notice);
  ~Sandbox();
  Sandbox(const Sandbox&) = delete;
  Sandbox& operator=(const Sandbox&) = delete;

  /// Whether memory and CPU are limited with cgroups.
  [[nodiscard]] bool limits_resources() const;
  /// The CPU share the cgroup allows.
  [[nodiscard]] double cpus() const;

  /// Before a cold start (in the parent): kills what is left of the previous
  /// sandbox, removes its cgroups, creates fresh ones.
  [[nodiscard]] Result<void> prepare();
  /// In the child after fork(), before execve(): joins the cgroups, builds the
  /// mount namespace and root, drops to the sandbox user. Only system calls,
  /// no allocation. On failure writes one line to fd 2 and returns false.
  [[nodiscard]] bool enter() const noexcept;
  /// Kills every process in the current cgroups (the runtime's strays too).
  void kill_all() noexcept;
  /// The current cgroup's peak memory use in KiB, when limits_resources().
  [[nodiscard]] std::optional<unsigned long> peak_kib() const;

  struct Impl;

 private:
  explicit Sandbox(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace tmpdump::emulator
