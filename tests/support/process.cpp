#include "support/process.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

#include <fmt/format.h>
#include <gtest/gtest.h>

extern char** environ;

namespace tmpdump::testing {

namespace fs = std::filesystem;

namespace {

std::vector<std::string> merged_env(const EnvChanges& changes) {
  std::map<std::string, std::string> env;
  for (char** e = environ; *e != nullptr; ++e) {
    std::string kv(*e);
    auto eq = kv.find('=');
    if (eq != std::string::npos) env[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  for (const auto& [k, v] : changes) {
    if (v)
      env[k] = *v;
    else
      env.erase(k);
  }
  std::vector<std::string> out;
  for (const auto& [k, v] : env) out.push_back(k + "=" + v);
  return out;
}

pid_t spawn(const std::vector<std::string>& argv, const EnvChanges& env, const fs::path& cwd, int out_fd, int err_fd,
            int in_fd) {
  std::vector<std::string> envs = merged_env(env);
  std::vector<char*> cargv, cenv;
  for (const auto& a : argv) cargv.push_back(const_cast<char*>(a.c_str()));
  cargv.push_back(nullptr);
  for (const auto& e : envs) cenv.push_back(const_cast<char*>(e.c_str()));
  cenv.push_back(nullptr);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, in_fd, 0);
  posix_spawn_file_actions_adddup2(&fa, out_fd, 1);
  posix_spawn_file_actions_adddup2(&fa, err_fd, 2);
  if (!cwd.empty()) posix_spawn_file_actions_addchdir_np(&fa, cwd.c_str());
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);
  posix_spawnattr_setpgroup(&attr, 0);
  pid_t pid = -1;
  int rc = posix_spawnp(&pid, cargv[0], &fa, &attr, cargv.data(), cenv.data());
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&attr);
  if (rc != 0) throw std::runtime_error(fmt::format("cannot start {}: {}", argv[0], std::strerror(rc)));
  return pid;
}

int devnull_in() {
  return ::open("/dev/null", O_RDONLY | O_CLOEXEC);
}

}  // namespace

RunResult run(const std::vector<std::string>& argv, const RunOptions& options) {
  int out[2], err[2];
  if (::pipe2(out, O_CLOEXEC) != 0 || ::pipe2(err, O_CLOEXEC) != 0) throw std::runtime_error("pipe failed");
  int in = devnull_in();
  pid_t pid = spawn(argv, options.env, options.cwd, out[1], err[1], in);
  ::close(out[1]);
  ::close(err[1]);
  ::close(in);
  RunResult r;
  const auto deadline = std::chrono::steady_clock::now() + options.timeout;
  pollfd fds[2] = {{out[0], POLLIN, 0}, {err[0], POLLIN, 0}};
  int open_fds = 2;
  char buf[65536];
  while (open_fds > 0) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      r.timed_out = true;
      ::kill(-pid, SIGKILL);
      break;
    }
    if (::poll(fds, 2, static_cast<int>(std::min<long>(left.count(), 1000))) < 0 && errno != EINTR) break;
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || (fds[i].revents & (POLLIN | POLLHUP | POLLERR)) == 0) continue;
      ssize_t n = ::read(fds[i].fd, buf, sizeof buf);
      if (n > 0) {
        (i == 0 ? r.out : r.err).append(buf, static_cast<std::size_t>(n));
      } else if (n == 0 || errno != EINTR) {
        ::close(fds[i].fd);
        fds[i].fd = -1;
        --open_fds;
      }
    }
  }
  for (auto& f : fds) {
    if (f.fd >= 0) ::close(f.fd);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

Background::Background(const std::vector<std::string>& argv, const EnvChanges& env) {
  int out[2];
  if (::pipe2(out, O_CLOEXEC) != 0) throw std::runtime_error("pipe failed");
  int in = devnull_in();
  pid_ = spawn(argv, env, {}, out[1], 2, in);
  ::close(out[1]);
  ::close(in);
  out_fd_ = out[0];
}

Background::~Background() {
  if (pid_ > 0) {
    ::kill(-pid_, SIGTERM);
    int status = 0;
    for (int i = 0; i < 40; ++i) {
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    if (pid_ > 0) {
      ::kill(-pid_, SIGKILL);
      ::waitpid(pid_, &status, 0);
    }
  }
  if (out_fd_ >= 0) ::close(out_fd_);
}

std::optional<std::string> Background::wait_for_line(const std::string& prefix, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  char buf[4096];
  for (;;) {
    for (auto nl = buffered_.find('\n'); nl != std::string::npos; nl = buffered_.find('\n')) {
      std::string line = buffered_.substr(0, nl);
      buffered_.erase(0, nl + 1);
      if (line.starts_with(prefix)) return line;
    }
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return std::nullopt;
    pollfd p{out_fd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
    ssize_t n = ::read(out_fd_, buf, sizeof buf);
    if (n <= 0) return std::nullopt;
    buffered_.append(buf, static_cast<std::size_t>(n));
  }
}

void compile(const std::vector<std::string>& args) {
  std::vector<std::string> argv{"gcc"};
  argv.insert(argv.end(), args.begin(), args.end());
  auto r = run(argv, {.timeout = std::chrono::seconds(60)});
  EXPECT_EQ(r.exit_code, 0) << r.all();
}

TempDir::TempDir() {
  const char* base = std::getenv("TMPDIR");
  std::string tmpl = (fs::path(base != nullptr && *base != '\0' ? base : "/tmp") / "tmpdump-test-XXXXXX").string();
  if (::mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
  path_ = tmpl;
}

TempDir::~TempDir() {
  std::error_code ec;
  // Make read-only directories writable so everything can go.
  for (auto it = fs::recursive_directory_iterator(path_, ec); !ec && it != fs::recursive_directory_iterator();
       it.increment(ec)) {
    if (it->is_directory(ec) && !it->is_symlink(ec))
      fs::permissions(it->path(), fs::perms::owner_all, fs::perm_options::add, ec);
  }
  fs::remove_all(path_, ec);
}

void write_file(const fs::path& path, const std::string& bytes) {
  fs::create_directories(path.parent_path());
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << bytes;
  if (!out) throw std::runtime_error("cannot write " + path.string());
}

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace tmpdump::testing

namespace tmpdump::testing {

void report_outcome(std::string_view kind, std::string_view input, const RunResult& result, double seconds) {
  const char* path = std::getenv("TMPDUMP_SECURITY_REPORT");
  if (path == nullptr || *path == '\0') return;
  // The first line of the error: "tmpdump pull: <kind>: <message>".
  std::string said = result.err.substr(0, result.err.find('\n'));
  if (said.empty()) said = result.out.substr(0, result.out.find('\n'));
  for (auto& c : said) {
    if (c == '|') c = '/';
  }
  std::ofstream out(path, std::ios::app);
  out << fmt::format("| {} | {} | exit {}{} | {} |\n", kind, input, result.exit_code,
                     seconds >= 0 ? fmt::format(", {:.1f} s", seconds) : "", said);
}

int listen_loopback(int port, int backlog, std::string_view who) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(fd, backlog) != 0) {
    const std::string why = std::strerror(errno);
    if (fd >= 0) ::close(fd);
    throw std::runtime_error(fmt::format("{}: cannot listen on 127.0.0.1:{}: {}", who, port, why));
  }
  return fd;
}

int bound_port(int fd) {
  sockaddr_in addr{};
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  return ntohs(addr.sin_port);
}

void compile_with_runtime(const std::filesystem::path& source, const std::filesystem::path& out) {
  std::vector<std::string> args = {"-std=c++20",
                                   "-O1",
                                   "-x",
                                   "c++",
                                   "-I",
                                   std::string(TMPDUMP_SOURCE_DIR) + "/include",
                                   source.string(),
                                   "-x",
                                   "none",
                                   std::string(TMPDUMP_BUILD_DIR) + "/src/runtime/libtmpdump-runtime.a",
                                   "-lstdc++",
                                   "-lm",
                                   "-o",
                                   out.string()};
  // A sanitized libtmpdump-runtime.a needs the sanitizer runtimes at link time.
  if (TMPDUMP_SANITIZED) args.insert(args.begin(), "-fsanitize=address,undefined");
  compile(args);
}

}  // namespace tmpdump::testing
