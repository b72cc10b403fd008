// Running real processes from tests: bounded in time, output captured, no
// process left behind.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace tmpdump::testing {

/// Environment changes for a child: a value sets, nullopt unsets.
using EnvChanges = std::map<std::string, std::optional<std::string>>;

struct RunResult {
  int exit_code = -1;  ///< -1 when killed by a signal or timed out
  bool timed_out = false;
  std::string out, err;
  /// stdout and stderr together, for "never prints X" assertions.
  [[nodiscard]] std::string all() const { return out + err; }
};

struct RunOptions {
  EnvChanges env;
  std::filesystem::path cwd;
  std::chrono::milliseconds timeout{std::chrono::seconds(120)};
};

/// Runs argv[0] (searched in PATH) to completion or timeout (then SIGKILLs its
/// process group).
RunResult run(const std::vector<std::string>& argv, const RunOptions& options = {});

/// A long-running child (a server). Started in its own process group; the
/// destructor sends SIGTERM, then SIGKILL after two seconds.
class Background {
 public:
  Background(const std::vector<std::string>& argv, const EnvChanges& env = {});
  ~Background();
  Background(const Background&) = delete;
  Background& operator=(const Background&) = delete;

  /// Reads stdout until a line starting with `prefix` arrives; returns that line.
  std::optional<std::string> wait_for_line(const std::string& prefix, std::chrono::milliseconds timeout);
  [[nodiscard]] pid_t pid() const { return pid_; }

 private:
  pid_t pid_ = -1;
  int out_fd_ = -1;
  std::string buffered_;
};

/// Runs gcc with `args` (60 s at most); failing to compile fails the calling test.
void compile(const std::vector<std::string>& args);

/// Compiles the C++ program `source` into `out`, linked with the build's
/// libtmpdump-runtime.a (and the sanitizers when the build has them).
void compile_with_runtime(const std::filesystem::path& source, const std::filesystem::path& out);

/// A fresh directory under $TMPDIR, removed with everything in it on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  [[nodiscard]] const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(const std::string& rel) const { return path_ / rel; }

 private:
  std::filesystem::path path_;
};

/// Writes `bytes` to `path`, creating parent directories.
void write_file(const std::filesystem::path& path, const std::string& bytes);
/// Reads a whole file.
std::string read_file(const std::filesystem::path& path);

}  // namespace tmpdump::testing

namespace tmpdump::testing {

/// A listening TCP socket on 127.0.0.1:`port` (0: any free port), close-on-exec;
/// throws naming `who` when it cannot listen. bound_port() tells the port.
int listen_loopback(int port, int backlog, std::string_view who);
int bound_port(int fd);

/// When $TMPDUMP_SECURITY_REPORT names a file, appends a row of the
/// docs/security.md table to it: what was tried and what tmpdump did.
/// scripts/security-table runs the tests with it set and updates the doc.
void report_outcome(std::string_view kind, std::string_view input, const RunResult& result, double seconds = -1);

}  // namespace tmpdump::testing
