// `tmpdump emulate` confines the runtime as Lambda does: Lambda's user, the
// function read-only at /var/task, layers read-only at /opt, a fresh tmpfs
// /tmp of the ephemeral size, and memory and CPU cgroups. Needs root (the
// sandbox is built with mounts and cgroups); skipped with the reason otherwise.
#include <signal.h>
#include <unistd.h>

#include <fstream>
#include <optional>
#include <thread>

#include <gtest/gtest.h>

#include "functions/lambda.hpp"
#include "support/s3_server.hpp"

namespace tmpdump::testing {
namespace {

const std::vector<std::string> kRequired{"--sandbox", "required"};

std::vector<std::string> with(std::vector<std::string> a, const std::vector<std::string>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

// Every cgroup directory this machine's hierarchies hold whose name starts with `prefix`.
std::vector<fs::path> cgroups_named(const std::string& prefix) {
  std::vector<fs::path> found;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator("/sys/fs/cgroup", fs::directory_options::skip_permission_denied, ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (it->is_directory(ec) && it->path().filename().string().starts_with(prefix)) found.push_back(it->path());
    if (it.depth() > 4) it.disable_recursion_pending();
  }
  return found;
}

// For report_outcome: the response is what tells, not the bootstrap's log.
RunResult response_only(RunResult r) {
  r.err.clear();
  return r;
}

class Sandbox : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0)
      GTEST_SKIP() << "the sandbox needs root (mounts, Lambda's uid, cgroups); this runs as uid " << ::geteuid();
  }
};

TEST_F(Sandbox, RuntimeRunsAsLambdasUserAndGroupInTheTaskRoot) {
  LambdaDirs dirs;
  auto r = dirs.emulate_once("bin/echo_fn", R"("whoami")", kRequired);
  ASSERT_EQ(r.exit_code, 0) << r.all();
  EXPECT_EQ(r.out, "{\"uid\":993,\"gid\":990,\"euid\":993,\"cwd\":\"/var/task\"}\n");
  report_outcome("emulate sandbox", "the runtime's user and group", response_only(r));
}

TEST_F(Sandbox, TaskRootAndOptAreReadOnlyAndTmpIsWritable) {
  LambdaDirs dirs;
  for (const auto& [path, expected] : std::vector<std::pair<std::string, std::string>>{
           {"/var/task/x", R"({"written":false,"errno":"EROFS"})"},
           {"/opt/x", R"({"written":false,"errno":"EROFS"})"},
           {"/etc/x", R"({"written":false,"errno":"EROFS"})"},
           {"/x", R"({"written":false,"errno":"EROFS"})"},
           {"/tmp/x", R"({"written":true})"},
       }) {
    auto r = dirs.emulate_once("bin/echo_fn", "\"write " + path + "\"", kRequired);
    ASSERT_EQ(r.exit_code, 0) << r.all();
    EXPECT_EQ(r.out, expected + "\n") << path;
    if (path == "/var/task/x") report_outcome("emulate sandbox", "a handler writes /var/task", response_only(r));
  }
  EXPECT_FALSE(fs::exists(dirs.function / "x"));
  EXPECT_FALSE(fs::exists(dirs.layer / "x"));
}

TEST_F(Sandbox, TmpIsATmpfsOfTheEphemeralSizeKeptWhileWarmAndFreshAfterAColdStart) {
  LambdaDirs dirs;
  EmulatorProcess emu(dirs, "bin/echo_fn", with(kRequired, {"--ephemeral-storage", "600", "--memory", "256"}));
  auto first = invoke(emu.port(), R"("tmpfs")");
  EXPECT_EQ(first.body, R"({"tmpfs":true,"size_mb":600,"marked":false})");
  auto warm = invoke(emu.port(), R"("tmpfs")");
  EXPECT_EQ(warm.body, R"({"tmpfs":true,"size_mb":600,"marked":true})");
  // Over the memory limit: killed, so the next invocation starts a new sandbox.
  auto killed = invoke(emu.port(), R"("alloc 400")");
  EXPECT_EQ(killed.headers.get("X-Amz-Function-Error").value_or(""), "Unhandled");
  auto cold = invoke(emu.port(), R"("tmpfs")");
  EXPECT_EQ(cold.body, R"({"tmpfs":true,"size_mb":600,"marked":false})");
}

TEST_F(Sandbox, OverTheMemoryLimitTheRuntimeIsKilledAsLambdaReportsItAndTheNextInvokeColdStarts) {
  LambdaDirs dirs;
  // A full core and a long timeout: at 128 MB's 0.07 of a core, touching 200 MB
  // (under ASan, on a busy machine) can outlast the 3 s default timeout before
  // it reaches the limit. The limit is what is tested, not the CPU share.
  const std::vector<std::string> small{"--memory", "128", "--cpus", "1", "--timeout", "60"};
  EmulatorProcess emu(dirs, "bin/echo_fn", with(kRequired, small));
  auto fits = invoke(emu.port(), R"("alloc 32")");
  EXPECT_EQ(fits.body, R"({"allocated":1})");
  ASSERT_TRUE(emu.log_line("REPORT RequestId: "));
  auto over = invoke(emu.port(), R"("alloc 200")");
  EXPECT_EQ(over.status, 200);
  EXPECT_EQ(over.headers.get("X-Amz-Function-Error").value_or(""), "Unhandled");
  EXPECT_TRUE(contains(over.body, R"("errorType":"Runtime.ExitError")")) << over.body;
  EXPECT_TRUE(contains(over.body, " Error: Runtime exited with error: signal: killed\"")) << over.body;
  EXPECT_TRUE(contains(over.body, R"({"errorMessage":"RequestId: )")) << over.body;
  auto report = emu.log_line("REPORT RequestId: ");
  ASSERT_TRUE(report);
  EXPECT_TRUE(contains(*report, "\tMemory Size: 128 MB\tMax Memory Used: 128 MB")) << *report;
  EXPECT_TRUE(contains(*report, "Status: error\tError Type: Runtime.ExitError")) << *report;
  EXPECT_FALSE(contains(*report, "Init Duration")) << *report;  // it was warm

  // The same with --event: exit 14, the error document on stdout.
  auto once = dirs.emulate_once("bin/echo_fn", R"("alloc 200")", with(kRequired, small));
  EXPECT_EQ(once.exit_code, 14) << once.all();
  EXPECT_TRUE(contains(once.out, "Runtime exited with error: signal: killed")) << once.out;
  report_outcome("emulate sandbox", "a handler allocates 200 MB with --memory 128", response_only(once));

  auto next = invoke(emu.port(), R"("whoami")");
  EXPECT_EQ(next.body, R"({"uid":993,"gid":990,"euid":993,"cwd":"/var/task"})");
  auto cold = emu.log_line("REPORT RequestId: ");
  ASSERT_TRUE(cold);
  EXPECT_TRUE(contains(*cold, "\tInit Duration: ")) << *cold;
}

TEST_F(Sandbox, ATmpdumpLargerThanTmpIsTheNoSpaceInitError) {
  S3Server s3;
  LambdaDirs dirs;
  // 600 MiB of zeros: a small zip that unpacks to more than the 512 MB /tmp.
  const fs::path src = dirs.tmp / "big";
  fs::create_directories(src / "lib");
  { std::ofstream f(src / "lib/zeros.bin", std::ios::binary); }
  fs::resize_file(src / "lib/zeros.bin", 600ULL << 20);
  ASSERT_EQ(run({"zip", "-q", "-r", (dirs.tmp / "big.zip").string(), "lib"},
                {.cwd = src, .timeout = std::chrono::seconds(120)})
                .exit_code,
            0);
  fs::remove_all(src);
  s3.put(dirs.tmp / "big.zip", "tmpdump/big.zip");
  auto r = dirs.emulate_once(
      "bin/echo_fn", "{}",
      with(kRequired, {"--env", "TMPDUMP_SOURCES=s3://" + std::string(S3Server::kBucket) + "/tmpdump/big.zip", "--env",
                       "TMPDUMP_ROOT=/tmp"}),
      s3.client_env());
  EXPECT_EQ(r.exit_code, 14) << r.all();  // emulate --event: the function failed
  EXPECT_TRUE(contains(r.out, R"("errorType":"TmpDump.NoSpace")")) << r.all();
  EXPECT_TRUE(contains(r.err, "INIT_REPORT Init Duration: ")) << r.err;
  EXPECT_TRUE(contains(r.err, "Error Type: TmpDump.NoSpace")) << r.err;
  report_outcome("emulate sandbox", "a tmpdump larger than the 512 MB /tmp", r);
}

class SandboxLayerZip : public Sandbox {
 protected:
  void SetUp() override {
    Sandbox::SetUp();
    if (IsSkipped()) return;
#if defined(__SANITIZE_ADDRESS__)
    GTEST_SKIP() << "the layer is made of unsanitized programs only (packaging/CMakeLists.txt)";
#endif
    zip_ = build_dir() / "layer.zip";
    ASSERT_TRUE(fs::exists(zip_)) << zip_ << " is missing: cmake --build <build> --target layer";
  }
  RunResult echo_through(const std::string& layer) {
    write_file(dirs_.tmp / "event.json", R"("whoami")");
    return run({tmpdump_binary().string(), "emulate", "--function", dirs_.function.string(), "--layer", layer,
                "--handler", "bin/echo_fn", "--event", (dirs_.tmp / "event.json").string(), "--sandbox", "required"},
               {.timeout = std::chrono::seconds(60)});
  }
  LambdaDirs dirs_;
  fs::path zip_;
};

TEST_F(SandboxLayerZip, TheShippedLayerUnzippedRunsUnchangedAtOpt) {
  // As a new user would: unzip layer.zip, pass the directory.
  ASSERT_EQ(run({"unzip", "-q", zip_.string(), "-d", (dirs_.tmp / "ulayer").string()}).exit_code, 0);
  auto r = echo_through((dirs_.tmp / "ulayer").string());
  ASSERT_EQ(r.exit_code, 0) << r.all();
  EXPECT_EQ(r.out, "{\"uid\":993,\"gid\":990,\"euid\":993,\"cwd\":\"/var/task\"}\n");
  EXPECT_TRUE(contains(r.err, "tmpdump bootstrap: init in ")) << r.err;
}

TEST_F(SandboxLayerZip, TheShippedLayerZipItselfIsALayer) {
  auto r = echo_through(zip_.string());
  ASSERT_EQ(r.exit_code, 0) << r.all();
  EXPECT_EQ(r.out, "{\"uid\":993,\"gid\":990,\"euid\":993,\"cwd\":\"/var/task\"}\n");
}

TEST_F(SandboxLayerZip, ALaterLayerOverridesTheShippedOne) {
  // A second layer whose bootstrap replaces the shipped one, as Lambda merges /opt.
  const fs::path over = dirs_.tmp / "over";
  write_file(over / "bootstrap", "#!/bin/sh\necho 'the later layer won' >&2\nexit 3\n");
  fs::permissions(over / "bootstrap", fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                                          fs::perms::others_read | fs::perms::others_exec);
  write_file(dirs_.tmp / "event.json", "{}");
  auto r = run({tmpdump_binary().string(), "emulate", "--function", dirs_.function.string(), "--layer", zip_.string(),
                "--layer", over.string(), "--handler", "bin/echo_fn", "--event", (dirs_.tmp / "event.json").string(),
                "--sandbox", "required"},
               {.timeout = std::chrono::seconds(60)});
  EXPECT_EQ(r.exit_code, 14) << r.all();
  EXPECT_TRUE(contains(r.err, "the later layer won")) << r.err;
  EXPECT_TRUE(contains(r.out, "Runtime exited with error: exit status 3")) << r.out;
}

TEST_F(Sandbox, OffRunsTheRuntimeUnconfinedWithHostPaths) {
  LambdaDirs dirs;
  auto r = dirs.emulate_once("bin/echo_fn", R"("whoami")", {"--sandbox", "off"});
  ASSERT_EQ(r.exit_code, 0) << r.all();
  EXPECT_EQ(r.out, "{\"uid\":0,\"gid\":0,\"euid\":0,\"cwd\":\"" + fs::canonical(dirs.function).string() + "\"}\n");
  EXPECT_FALSE(contains(r.err, "sandbox")) << r.err;
}

// Without root: the same emulator, run as nobody through setpriv.
class SandboxWithoutRoot : public Sandbox {
 protected:
  RunResult emulate_as_nobody(const std::string& mode) {
    // The test's TempDir is 0700: nobody must reach the function, layer and event.
    fs::permissions(dirs_.tmp.path(), fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                                          fs::perms::others_read | fs::perms::others_exec);
    write_file(dirs_.tmp / "event.json", R"("whoami")");
    fs::permissions(dirs_.tmp / "event.json",
                    fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read | fs::perms::others_read);
    return run({"setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", tmpdump_binary().string(), "emulate",
                "--function", dirs_.function.string(), "--layer", dirs_.layer.string(), "--handler", "bin/echo_fn",
                "--event", (dirs_.tmp / "event.json").string(), "--sandbox", mode},
               {.timeout = std::chrono::seconds(60)});
  }
  LambdaDirs dirs_;
};

TEST_F(SandboxWithoutRoot, AutoSaysInOneLineWhatItCannotConfineAndRunsUnconfined) {
  auto r = emulate_as_nobody("auto");
  ASSERT_EQ(r.exit_code, 0) << r.all();
  EXPECT_EQ(r.out, "{\"uid\":65534,\"gid\":65534,\"euid\":65534,\"cwd\":\"" + dirs_.function.string() + "\"}\n");
  EXPECT_TRUE(r.err.starts_with("tmpdump emulate: sandbox: not running as root: the runtime runs unconfined")) << r.err;
  std::size_t lines = 0;
  for (std::size_t at = 0; (at = r.err.find("sandbox", at)) != std::string::npos; ++at) ++lines;
  EXPECT_EQ(lines, 1U) << r.err;
}

TEST_F(SandboxWithoutRoot, RequiredIsAnErrorBeforeAnythingRuns) {
  auto r = emulate_as_nobody("required");
  EXPECT_EQ(r.exit_code, 2) << r.all();
  EXPECT_TRUE(r.out.empty()) << r.out;
  EXPECT_TRUE(contains(r.err, "tmpdump emulate: ")) << r.err;
  EXPECT_TRUE(contains(r.err, "--sandbox=required: not running as root")) << r.err;
  EXPECT_FALSE(contains(r.err, "START RequestId")) << r.err;
  report_outcome("emulate sandbox", "--sandbox=required without root", r);
}

TEST(SandboxArguments, AMissingFunctionDirectoryIsNotFoundBeforeAnythingStarts) {
  LambdaDirs dirs;
  fs::remove_all(dirs.function);
  auto r = dirs.emulate_once("bin/echo_fn", "{}");
  EXPECT_EQ(r.exit_code, 3) << r.all();
  EXPECT_EQ(r.err,
            "tmpdump emulate: not found: the function directory " + dirs.function.string() + " does not exist\n");
}

TEST_F(Sandbox, OutOfRangeSizesAreRefusedBeforeAnythingStarts) {
  LambdaDirs dirs;
  for (const auto& args : std::vector<std::vector<std::string>>{{"--memory", "64"},
                                                                {"--memory", "10241"},
                                                                {"--ephemeral-storage", "256"},
                                                                {"--ephemeral-storage", "20000"},
                                                                {"--sandbox", "sometimes"},
                                                                {"--cpus", "0"}}) {
    auto r = dirs.emulate_once("bin/echo_fn", "{}", args);
    EXPECT_EQ(r.exit_code, 2) << args[0] << " " << args[1] << ": " << r.all();
    EXPECT_TRUE(contains(r.err, "tmpdump emulate: ")) << r.err;
    EXPECT_TRUE(r.out.empty()) << r.out;
  }
}

// The limits as the kernel holds them, read from the emulator's cgroups while
// its runtime runs (v1: cpu.cfs_quota_us, memory.limit_in_bytes; v2: cpu.max,
// memory.max). No timing: the busy-loop measurement belongs in a benchmark.
std::string limit_of(const std::vector<fs::path>& groups, const std::string& v1, const std::string& v2) {
  for (const auto& g : groups) {
    for (const auto& file : {g / v1, g / v2}) {
      if (fs::exists(file)) {
        std::string text = read_file(file);
        while (!text.empty() && text.back() == '\n') text.pop_back();
        return text;
      }
    }
  }
  return "(no " + v1 + " or " + v2 + ")";
}

// The CFS quota per 100 ms of the v1 cpu cgroup this test runs in, when it has
// one (a CPU-starved run of the suite): the emulator's groups get at most that.
std::optional<long> own_cpu_quota_us() {
  std::ifstream in("/proc/self/cgroup");
  for (std::string line; std::getline(in, line);) {
    const auto at = line.find(":cpu:");
    const auto alt = line.find(":cpu,");
    if (at == std::string::npos && alt == std::string::npos) continue;
    const fs::path dir = fs::path("/sys/fs/cgroup/cpu") / line.substr(line.rfind(':') + 2);
    if (!fs::exists(dir / "cpu.cfs_quota_us")) return std::nullopt;
    const long quota = std::stol(read_file(dir / "cpu.cfs_quota_us"));
    const long period = std::stol(read_file(dir / "cpu.cfs_period_us"));
    if (quota <= 0 || period <= 0) return std::nullopt;
    return quota * 100000 / period;
  }
  return std::nullopt;
}

TEST_F(Sandbox, CpuIsMemoryOver1769OfACoreUnlessCpusSaysOtherwiseAndMemoryIsTheLimit) {
  struct Case {
    std::vector<std::string> args;
    long quota_us;
    unsigned long long memory;
  };
  const long cores = static_cast<long>(std::thread::hardware_concurrency());
  for (const auto& c : std::vector<Case>{{{"--memory", "1024"}, 57886, 1024ULL << 20},
                                         {{"--memory", "128"}, 7236, 128ULL << 20},
                                         {{"--memory", "10240"}, std::min(cores * 100000, 578863L), 10240ULL << 20},
                                         {{"--memory", "512", "--cpus", "1"}, 100000, 512ULL << 20}}) {
    LambdaDirs dirs;
    EmulatorProcess emu(dirs, "bin/echo_fn", with(kRequired, c.args));
    EXPECT_EQ(invoke(emu.port(), R"("whoami")").status, 200);
    const auto groups = cgroups_named("tmpdump-emulate-" + std::to_string(emu.pid()) + "-");
    const std::string cpu = limit_of(groups, "cpu.cfs_quota_us", "cpu.max");
    const long quota = std::min(c.quota_us, own_cpu_quota_us().value_or(c.quota_us));
    EXPECT_TRUE(cpu == std::to_string(quota) || cpu == std::to_string(c.quota_us) + " 100000")
        << c.args[1] << ": " << cpu;
    EXPECT_EQ(limit_of(groups, "memory.limit_in_bytes", "memory.max"), std::to_string(c.memory)) << c.args[1];
  }
}

TEST_F(Sandbox, CgroupsAreRemovedWhenTheEmulatorIsStoppedBySignal) {
  LambdaDirs dirs;
  for (int sig : {SIGTERM, SIGINT}) {
    auto emu = std::make_unique<EmulatorProcess>(dirs, "bin/echo_fn", kRequired);
    EXPECT_EQ(invoke(emu->port(), R"("whoami")").status, 200);
    const std::string prefix = "tmpdump-emulate-" + std::to_string(emu->pid()) + "-";
    EXPECT_FALSE(cgroups_named(prefix).empty()) << "no cgroup while the runtime runs";
    ASSERT_EQ(::kill(emu->pid(), sig), 0);
    // It exits once it has removed them; the fixture reaps it afterwards.
    for (int i = 0; i < 500 && !cgroups_named(prefix).empty(); ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    EXPECT_TRUE(cgroups_named(prefix).empty()) << "left behind after signal " << sig;
    emu.reset();
  }
}

}  // namespace
}  // namespace tmpdump::testing
