// Bad local paths given to every subcommand: a FIFO, a character device, a
// socket or a directory where a file is read is refused at once with one line
// naming it (exit 2); a missing path is "not found" (exit 3), in the same one
// line from every subcommand. Nothing ever waits on a FIFO: each run has a
// short timeout, so a regression fails instead of hanging.
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "archive/zip_writer.hpp"
#include "support/process.hpp"
#include "support/s3_server.hpp"

namespace tmpdump::testing {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

/// One way a subcommand reads a local file; "{}" stands for the path under test.
struct Use {
  std::string command;             ///< the subcommand, as its messages name it
  std::vector<std::string> argv;   ///< after `tmpdump`
  bool directory_is_fine = false;  ///< --add takes a directory
};

std::vector<Use> uses() {
  return {
      {"pull", {"pull", "{}", "--root", "root"}},
      {"inspect", {"inspect", "{}"}},
      {"check", {"check", "{}"}},
      {"check", {"check", "good.zip", "--app", "{}"}},
      {"prune", {"prune", "{}"}},
      {"pack", {"pack", "{}", "-o", "out.zip"}},
      {"pack", {"pack", "--closure", "{}", "-o", "out.zip"}},
      {"pack", {"pack", "--add", "{}", "-o", "out.zip"}, true},
      {"push", {"push", "{}", "s3://bucket/key"}},
  };
}

std::string shown(const Use& u) {
  std::string s = "tmpdump";
  for (const auto& a : u.argv) s += " " + (a == "{}" ? std::string("PATH") : a);
  return s;
}

class InputsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(::mkfifo((work_ / "fifo").c_str(), 0600), 0);
    fs::create_directories(work_ / "dir");
    // A listening UNIX socket, named by a path relative to the work directory.
    sock_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ASSERT_GE(sock_, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    const std::string path = (work_ / "sock").string();
    ASSERT_LT(path.size(), sizeof addr.sun_path);
    std::copy(path.begin(), path.end(), addr.sun_path);
    ASSERT_EQ(::bind(sock_, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    ASSERT_EQ(::listen(sock_, 1), 0);
    auto w = archive::ZipWriter::to_file(work_ / "good.zip");
    ASSERT_TRUE(w);
    ASSERT_TRUE(w->add_file("lib/hello.txt", "hello\n"));
    ASSERT_TRUE(w->finish());
  }
  void TearDown() override {
    if (sock_ >= 0) ::close(sock_);
  }

  /// Runs `use` with `path` in the work directory, bounded to 10 s (a FIFO waited on would hold each of the
  /// uses below that long: the whole test stays within ctest's timeout).
  RunResult run_with(const Use& use, const std::string& path, double* seconds) {
    std::vector<std::string> argv{tmpdump_binary().string()};
    for (auto a : use.argv) {
      if (auto at = a.find("{}"); at != std::string::npos) a.replace(at, 2, path);
      argv.push_back(a);
    }
    const auto t0 = Clock::now();
    // Placeholder credentials and a dead loopback endpoint: refusing a path needs no network.
    auto r = run(argv, {.env = {{"AWS_ACCESS_KEY_ID", "AKIDEXAMPLE"},
                                {"AWS_SECRET_ACCESS_KEY", "secret"},
                                {"AWS_REGION", "us-east-1"},
                                {"AWS_ENDPOINT_URL", "http://127.0.0.1:9"}},
                        .cwd = work_.path(),
                        .timeout = std::chrono::seconds(10)});
    *seconds = std::chrono::duration<double>(Clock::now() - t0).count();
    return r;
  }

  static long lines(const std::string& s) { return std::count(s.begin(), s.end(), '\n'); }

  TempDir work_;
  int sock_ = -1;
};

TEST_F(InputsTest, FifoDeviceSocketOrDirectoryIsRefusedAtOnceWithOneLine) {
  struct Kind {
    std::string path, says;
  };
  const std::vector<Kind> kinds = {{"fifo", "a FIFO"},
                                   {"/dev/zero", "a character device"},
                                   {"/dev/null", "a character device"},
                                   {"sock", "a socket"},
                                   {"dir", "a directory"}};
  for (const auto& use : uses()) {
    for (const auto& k : kinds) {
      if (use.directory_is_fine && k.path == "dir") continue;
      SCOPED_TRACE(shown(use) + " with " + k.path);
      double seconds = 0;
      auto r = run_with(use, k.path, &seconds);
      if (k.path == "fifo" || (use.command == "pull" && k.path != "/dev/null")) {
        report_outcome("local input", fmt::format("{} as PATH: `{}`", k.says, shown(use)), r);
      }
      EXPECT_FALSE(r.timed_out) << "waited on " << k.path;
      EXPECT_EQ(r.exit_code, 2) << r.all();
      EXPECT_EQ(lines(r.err), 1) << r.err;
      EXPECT_TRUE(r.err.starts_with("tmpdump " + use.command + ": invalid argument: ")) << r.err;
      EXPECT_NE(r.err.find(k.path), std::string::npos) << r.err;
      const std::string says = use.directory_is_fine ? "not a directory" : k.says + ", not a regular file";
      EXPECT_NE(r.err.find(says), std::string::npos) << r.err;
      EXPECT_LT(seconds, 5.0);
      EXPECT_FALSE(fs::exists(work_ / "out.zip"));
      EXPECT_FALSE(fs::exists(work_ / "root/lib"));
    }
  }
}

TEST_F(InputsTest, MissingPathIsNotFoundInOneLineFromEverySubcommand) {
  std::vector<Use> all = uses();
  all.push_back({"pack", {"pack", "--variant", "x86-64-v3={}", "-o", "out.zip"}, true});
  all.push_back({"emulate", {"emulate", "--function", "dir", "--handler", "bin/fn", "--event", "{}"}});
  all.push_back({"emulate", {"emulate", "--function", "{}", "--handler", "bin/fn", "--event", "good.zip"}});
  all.push_back({"trace", {"trace", "--", "{}"}});
  for (const auto& use : all) {
    SCOPED_TRACE(shown(use));
    double seconds = 0;
    auto r = run_with(use, "no-such-file", &seconds);
    EXPECT_EQ(r.exit_code, 3) << r.all();
    EXPECT_EQ(lines(r.err), 1) << r.err;
    EXPECT_TRUE(r.err.starts_with("tmpdump " + use.command + ": not found: ")) << r.err;
    EXPECT_NE(r.err.find("no-such-file"), std::string::npos) << r.err;
  }
}

}  // namespace
}  // namespace tmpdump::testing
