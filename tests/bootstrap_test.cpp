// The layer's bootstrap under the emulator: pulling the tmpdump, library
// paths, handler forms, and init errors.
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "functions/lambda.hpp"
#include "support/s3_server.hpp"
#include "util/sha256.hpp"

namespace tmpdump::testing {
namespace {

// A handler that answers with the program the kernel started (/proc/self/exe)
// and the libc.so.6 it runs on: which loader and libc the bootstrap chose.
constexpr const char* kProbeSource = R"(
#include <link.h>
#include <unistd.h>
#include <string>
#include <tmpdump/runtime.hpp>
static int find_libc(dl_phdr_info* info, size_t, void* out) {
  std::string name = info->dlpi_name;
  if (name.size() >= 9 && name.compare(name.size() - 9, 9, "libc.so.6") == 0) *static_cast<std::string*>(out) = name;
  return 0;
}
int main() {
  namespace rt = tmpdump::runtime;
  return rt::run([](const rt::Invocation&) {
    char exe[4096] = {};
    [[maybe_unused]] auto n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    std::string libc;
    dl_iterate_phdr(find_libc, &libc);
    return rt::Response::success(std::string("exe=") + exe + "\nlibc=" + libc, "text/plain");
  });
}
)";

void compile_probe(const fs::path& out) {
  const fs::path src = out.parent_path() / "probe.cpp";
  write_file(src, kProbeSource);
  compile_with_runtime(src, out);
}

TEST(Bootstrap, ExecutableWhoseLibraryLivesOnlyInTheTmpdumpLoadsIt) {
  LambdaDirs dirs;
  dirs.sandbox = "off";  // the cache in TMPDUMP_ROOT must outlive the runtime; a sandbox's /tmp does not
  const auto zip = dirs.make_tmpdump();
  auto r = dirs.emulate_once("bin/echo_fn_dep", R"("dep")", {"--env", "TMPDUMP_SOURCES=" + zip.string()});
  ASSERT_EQ(r.exit_code, 0) << r.all();
  EXPECT_EQ(r.out, "\"hello from the tmpdump\"\n");
  EXPECT_TRUE(contains(r.err, "1 archive(s) of ")) << r.err;
  EXPECT_TRUE(contains(r.err, "cache miss")) << r.err;
  EXPECT_TRUE(fs::exists(dirs.root / "lib/libtmpdump_testdep.so"));

  auto again = dirs.emulate_once("bin/echo_fn_dep", R"("dep")", {"--env", "TMPDUMP_SOURCES=" + zip.string()});
  ASSERT_EQ(again.exit_code, 0) << again.all();
  EXPECT_TRUE(contains(again.err, "cache hit")) << again.err;
}

TEST(Bootstrap, InitLineSaysWhichAlternateServed) {
  LambdaDirs dirs;
  dirs.sandbox = "off";  // local paths as the bootstrap sees them
  const auto zip = dirs.make_tmpdump();
  const std::string missing = (dirs.tmp / "nowhere/dump.zip").string();
  auto r =
      dirs.emulate_once("bin/echo_fn_dep", R"("dep")", {"--env", "TMPDUMP_SOURCES=" + missing + "|" + zip.string()});
  ASSERT_EQ(r.exit_code, 0) << r.all();
  EXPECT_EQ(r.out, "\"hello from the tmpdump\"\n");
  EXPECT_TRUE(contains(r.err, missing + " served by alternate " + zip.string())) << r.err;
  EXPECT_TRUE(contains(r.err, "passed over " + missing + ": not found:")) << r.err;
}

TEST(Bootstrap, WithoutTheTmpdumpTheSameExecutableCannotStart) {
  LambdaDirs dirs;
  auto r = dirs.emulate_once("bin/echo_fn_dep", R"("dep")");
  EXPECT_EQ(r.exit_code, 14) << r.all();  // emulate --event: the function failed
  EXPECT_TRUE(contains(r.out, "Runtime.ExitError")) << r.out;
  EXPECT_TRUE(contains(r.err, "libtmpdump_testdep.so")) << r.err;  // the loader's own message
}

TEST(Bootstrap, SharedLibraryHandlerWhoseDependencyLivesOnlyInTheTmpdumpLoadsIt) {
  LambdaDirs dirs;
  const auto zip = dirs.make_tmpdump();
  auto r =
      dirs.emulate_once("lib/libecho_dep.so:echo_handler", R"("dep")", {"--env", "TMPDUMP_SOURCES=" + dirs.seen(zip)});
  ASSERT_EQ(r.exit_code, 0) << r.all();
  EXPECT_EQ(r.out, "hello from the tmpdump\n");
}

// The lines of `text` that parse as JSON objects having `member`.
std::vector<nlohmann::json> json_lines_with(const std::string& text, const std::string& member) {
  std::vector<nlohmann::json> out;
  std::size_t at = 0;
  while (at < text.size()) {
    std::size_t end = text.find('\n', at);
    if (end == std::string::npos) end = text.size();
    auto j = nlohmann::json::parse(text.substr(at, end - at), nullptr, /*allow_exceptions=*/false);
    if (j.is_object() && j.contains(member)) out.push_back(std::move(j));
    at = end + 1;
  }
  return out;
}

TEST(Bootstrap, JsonLogFormatGivesAJsonInitLineAndAnEmfRecord) {
  LambdaDirs dirs;
  const auto zip = dirs.make_tmpdump();
  auto r =
      dirs.emulate_once("bin/echo_fn_dep", R"("dep")",
                        {"--env", "TMPDUMP_SOURCES=" + dirs.seen(zip), "--log-format", "json", "--name", "logs-fn"});
  ASSERT_EQ(r.exit_code, 0) << r.all();
  EXPECT_EQ(r.out, "\"hello from the tmpdump\"\n");
  // emulate --event puts the runtime's output (stdout and stderr) on stderr.
  const auto lines = json_lines_with(r.err, "logger");
  ASSERT_EQ(lines.size(), 1u) << r.err;
  const auto& init = lines[0];
  EXPECT_EQ(init["logger"], "tmpdump");
  EXPECT_EQ(init["level"], "INFO");
  EXPECT_TRUE(init["message"].get<std::string>().starts_with("init in ")) << init;
  EXPECT_TRUE(init["timestamp"].get<std::string>().ends_with("Z")) << init;
  EXPECT_EQ(init["cache"], "miss");
  EXPECT_EQ(init["archives"], 1);
  EXPECT_EQ(init["sources"], nlohmann::json::array({dirs.seen(zip)}));
  EXPECT_GT(init["bytesRead"].get<std::uint64_t>(), 0u);
  EXPECT_GT(init["bytesUnpacked"].get<std::uint64_t>(), 0u);
  EXPECT_EQ(init["handler"], "bin/echo_fn_dep");
  EXPECT_FALSE(contains(r.err, "tmpdump bootstrap: init in")) << r.err;  // no text line besides

  const auto emf = json_lines_with(r.err, "_aws");
  ASSERT_EQ(emf.size(), 1u) << r.err;
  EXPECT_EQ(emf[0]["_aws"]["CloudWatchMetrics"][0]["Namespace"], "tmpdump");
  EXPECT_EQ(emf[0]["FunctionName"], "logs-fn");
  EXPECT_EQ(emf[0]["Archives"], 1);
  EXPECT_EQ(emf[0]["CacheHit"], 0);
  EXPECT_EQ(emf[0]["Retries"], 0);  // nothing failed
  EXPECT_EQ(emf[0]["BytesRead"], init["bytesRead"]);
}

TEST(Bootstrap, MetricsOffWritesNoEmfRecordAndTextStaysTheDefault) {
  LambdaDirs dirs;
  const auto zip = dirs.make_tmpdump();
  auto r = dirs.emulate_once("bin/echo_fn_dep", R"("dep")",
                             {"--env", "TMPDUMP_SOURCES=" + dirs.seen(zip), "--env", "TMPDUMP_METRICS=0"});
  ASSERT_EQ(r.exit_code, 0) << r.all();
  EXPECT_TRUE(contains(r.err, "tmpdump bootstrap: init in ")) << r.err;
  EXPECT_TRUE(json_lines_with(r.err, "_aws").empty()) << r.err;
  EXPECT_TRUE(json_lines_with(r.err, "logger").empty()) << r.err;
}

TEST(Bootstrap, JsonLogFormatFailureIsAnErrorLineWithItsType) {
  LambdaDirs dirs;
  const std::string missing = (dirs.tmp / "nowhere/dump.zip").string();
  auto r = dirs.emulate_once("bin/echo_fn", "{}", {"--env", "TMPDUMP_SOURCES=" + missing, "--log-format", "json"});
  EXPECT_EQ(r.exit_code, 14) << r.all();
  const auto lines = json_lines_with(r.err, "logger");
  ASSERT_FALSE(lines.empty()) << r.err;
  EXPECT_EQ(lines.back()["level"], "ERROR");
  EXPECT_EQ(lines.back()["errorType"], "TmpDump.NotFound");
  EXPECT_TRUE(json_lines_with(r.err, "_aws").empty()) << r.err;  // no record for an init that failed
}

TEST(Bootstrap, MissingTmpdumpIsAnInitErrorWithTypeAndMessage) {
  LambdaDirs dirs;
  const std::string missing = (dirs.tmp / "nowhere/dump.zip").string();
  auto r = dirs.emulate_once("bin/echo_fn", "{}", {"--env", "TMPDUMP_SOURCES=" + missing});
  EXPECT_EQ(r.exit_code, 14) << r.all();  // emulate --event: the function failed
  EXPECT_TRUE(contains(r.out, R"("errorType":"TmpDump.NotFound")")) << r.out;
  EXPECT_TRUE(contains(r.out, missing)) << r.out;
  EXPECT_TRUE(contains(r.err, "Error Type: TmpDump.NotFound")) << r.err;
}

TEST(Bootstrap, CorruptTmpdumpIsAnInitErrorOfItsOwnType) {
  LambdaDirs dirs;
  write_file(dirs.function / "bad.zip", std::string(4096, 'z'));
  auto r = dirs.emulate_once("bin/echo_fn", "{}", {"--env", "TMPDUMP_SOURCES=" + dirs.seen(dirs.function / "bad.zip")});
  EXPECT_EQ(r.exit_code, 14) << r.all();  // emulate --event: the function failed
  EXPECT_TRUE(contains(r.out, R"("errorType":"TmpDump.Corrupt")")) << r.out;
}

TEST(Bootstrap, MissingHandlerSymbolIsHandlerNotFound) {
  LambdaDirs dirs;
  auto r = dirs.emulate_once("lib/libecho.so:no_such_function", "{}");
  EXPECT_EQ(r.exit_code, 14) << r.all();  // emulate --event: the function failed
  EXPECT_TRUE(contains(r.out, R"("errorType":"Runtime.HandlerNotFound")")) << r.out;
  EXPECT_TRUE(contains(r.out, "no_such_function")) << r.out;
}

TEST(Bootstrap, FunctionConfigurationFileNamesTheTmpdump) {
  LambdaDirs dirs;
  const auto zip = dirs.make_tmpdump();
  write_file(dirs.function / "tmpdump.json",
             R"({"format": 1, "sources": [")" + dirs.seen(zip) + R"("], "root": ")" + dirs.root.string() + "\"}");
  auto r = dirs.emulate_once("bin/echo_fn_dep", R"("dep")");
  ASSERT_EQ(r.exit_code, 0) << r.all();
  EXPECT_EQ(r.out, "\"hello from the tmpdump\"\n");
}

TEST(Bootstrap, JavaLayerBucketConventionIsHonoured) {
  S3Server s3;
  LambdaDirs dirs;
  const auto zip = dirs.make_tmpdump();
  s3.put(zip, "tmpdump/face-detect.zip");
  auto env = s3.client_env();
  auto r = dirs.emulate_once(
      "bin/echo_fn_dep", R"("dep")",
      {"--name", "face-detect", "--env", std::string("HUMANGRAPHICS_BUCKET=") + S3Server::kBucket}, env);
  ASSERT_EQ(r.exit_code, 0) << r.all();
  EXPECT_EQ(r.out, "\"hello from the tmpdump\"\n");
  EXPECT_TRUE(contains(r.err, "from HUMANGRAPHICS_BUCKET")) << r.err;
}

TEST(Bootstrap, PinnedTmpdumpInTheCacheStartsWithoutAskingS3) {
  S3Server s3;
  LambdaDirs dirs;
  dirs.sandbox = "off";  // the cache in TMPDUMP_ROOT must outlive the runtime; a sandbox's /tmp does not
  const auto zip = dirs.make_tmpdump();
  s3.put(zip, "tmpdump/fn.zip");
  auto digest = sha256_file(zip);
  ASSERT_TRUE(digest) << digest.error().message;
  const std::string source = fmt::format("s3://{}/tmpdump/fn.zip", S3Server::kBucket);
  const auto env = s3.client_env();
  const std::vector<std::string> pinned_source{"--env", "TMPDUMP_SOURCES=" + source + "#sha256=" + *digest};
  auto first = dirs.emulate_once("bin/echo_fn_dep", R"("dep")", pinned_source, env);
  ASSERT_EQ(first.exit_code, 0) << first.all();
  EXPECT_TRUE(contains(first.err, "cache miss")) << first.err;

  // Pinned: the stamp's digest, verified at extraction, proves the cache; no HEAD.
  s3.clear_log();
  auto pinned = dirs.emulate_once("bin/echo_fn_dep", R"("dep")", pinned_source, env);
  ASSERT_EQ(pinned.exit_code, 0) << pinned.all();
  EXPECT_EQ(pinned.out, "\"hello from the tmpdump\"\n");
  EXPECT_TRUE(contains(pinned.err, "cache hit")) << pinned.err;
  EXPECT_TRUE(s3.requests().empty()) << fmt::format("{}", fmt::join(s3.requests(), "\n"));

  // Unpinned, only the object's ETag can prove it: one HEAD, still a hit.
  auto unpinned = dirs.emulate_once("bin/echo_fn_dep", R"("dep")", {"--env", "TMPDUMP_SOURCES=" + source}, env);
  ASSERT_EQ(unpinned.exit_code, 0) << unpinned.all();
  EXPECT_TRUE(contains(unpinned.err, "cache hit")) << unpinned.err;
  ASSERT_EQ(s3.requests().size(), 1U) << fmt::format("{}", fmt::join(s3.requests(), "\n"));
  EXPECT_TRUE(s3.requests().front().starts_with("HEAD ")) << s3.requests().front();
}

TEST(Bootstrap, WithoutItsPullModuleACachedTmpdumpStartsAndAFetchIsAnInitError) {
  LambdaDirs dirs;
  dirs.sandbox = "off";  // the cache in TMPDUMP_ROOT must outlive the runtime; a sandbox's /tmp does not
  const auto zip = dirs.make_tmpdump();
  auto r = dirs.emulate_once("bin/echo_fn_dep", R"("dep")", {"--env", "TMPDUMP_SOURCES=" + zip.string()});
  ASSERT_EQ(r.exit_code, 0) << r.all();

  // A warm start never loads the module...
  fs::remove(dirs.layer / "libtmpdump-pull.so");
  auto cached = dirs.emulate_once("bin/echo_fn_dep", R"("dep")", {"--env", "TMPDUMP_SOURCES=" + zip.string()});
  ASSERT_EQ(cached.exit_code, 0) << cached.all();
  EXPECT_TRUE(contains(cached.err, "cache hit")) << cached.err;

  // ...a fetch needs it, and its absence says what is wrong and where it looked.
  ASSERT_EQ(dirs.make_tmpdump(), zip);  // made again: a new inode, no longer provably the same file
  auto fetch = dirs.emulate_once("bin/echo_fn_dep", R"("dep")", {"--env", "TMPDUMP_SOURCES=" + zip.string()});
  EXPECT_EQ(fetch.exit_code, 14) << fetch.all();
  EXPECT_TRUE(contains(fetch.out, R"("errorType":"TmpDump.Io")")) << fetch.out;
  EXPECT_TRUE(contains(fetch.out, "libtmpdump-pull.so")) << fetch.out;
  EXPECT_TRUE(contains(fetch.out, "reinstall the layer")) << fetch.out;
}

TEST(Bootstrap, TmpdumpCarryingItsOwnLoaderAndLibcStartsTheHandlerThroughThem) {
  LambdaDirs dirs;
  compile_probe(dirs.function / "bin/probe");
  // This machine's own loader and libc stand in for a newer distro's.
  const fs::path src = dirs.tmp / "glibc-dump";
  fs::create_directories(src / "lib");
  fs::copy_file(fs::canonical("/lib64/ld-linux-x86-64.so.2"), src / "lib/ld-linux-x86-64.so.2");
  fs::copy_file(fs::canonical("/lib/x86_64-linux-gnu/libc.so.6"), src / "lib/libc.so.6");
  const fs::path zip = dirs.function / "glibc-dump.zip";
  ASSERT_EQ(run({"zip", "-q", "-y", "-r", zip.string(), "lib"}, {.cwd = src}).exit_code, 0);

  auto r = dirs.emulate_once("bin/probe", "{}", {"--env", "TMPDUMP_SOURCES=" + dirs.seen(zip)});
  ASSERT_EQ(r.exit_code, 0) << r.all();
  // In the sandbox the root is in its own /tmp, gone by now; the name is the same.
  const fs::path lib = dirs.sandboxed() ? dirs.root / "lib" : fs::canonical(dirs.root / "lib");
  EXPECT_EQ(r.out, "exe=" + (lib / "ld-linux-x86-64.so.2").string() + "\nlibc=" + (lib / "libc.so.6").string() + "\n");

  // A tmpdump without them: the handler is exec'd and runs on the system's libc.
  auto plain = dirs.emulate_once("bin/probe", "{}", {"--env", "TMPDUMP_SOURCES=" + dirs.seen(dirs.make_tmpdump())});
  ASSERT_EQ(plain.exit_code, 0) << plain.all();
  const std::string probe =
      dirs.sandboxed() ? "/var/task/bin/probe" : fs::canonical(dirs.function / "bin/probe").string();
  EXPECT_TRUE(plain.out.starts_with("exe=" + probe + "\n")) << plain.out;
  EXPECT_FALSE(contains(plain.out, dirs.root.string())) << plain.out;
}

TEST(Bootstrap, TmpdumpWithGlibcInLibLibcStartsTheHandlerThroughThem) {
  // Today's pack --with-libc layout: lib/libc/, which no library path names.
  LambdaDirs dirs;
  compile_probe(dirs.function / "bin/probe");
  const fs::path src = dirs.tmp / "glibc-dump";
  fs::create_directories(src / "lib/libc");
  fs::copy_file(fs::canonical("/lib64/ld-linux-x86-64.so.2"), src / "lib/libc/ld-linux-x86-64.so.2");
  fs::copy_file(fs::canonical("/lib/x86_64-linux-gnu/libc.so.6"), src / "lib/libc/libc.so.6");
  const fs::path zip = dirs.function / "glibc-dump.zip";
  ASSERT_EQ(run({"zip", "-q", "-y", "-r", zip.string(), "lib"}, {.cwd = src}).exit_code, 0);

  auto r = dirs.emulate_once("bin/probe", "{}", {"--env", "TMPDUMP_SOURCES=" + dirs.seen(zip)});
  ASSERT_EQ(r.exit_code, 0) << r.all();
  const fs::path lib = dirs.sandboxed() ? dirs.root / "lib/libc" : fs::canonical(dirs.root / "lib/libc");
  EXPECT_EQ(r.out, "exe=" + (lib / "ld-linux-x86-64.so.2").string() + "\nlibc=" + (lib / "libc.so.6").string() + "\n");
}

TEST(Bootstrap, BundledLoaderThatCannotRunIsAnInitError) {
  LambdaDirs dirs;
  compile_probe(dirs.function / "bin/probe");
  const fs::path src = dirs.tmp / "broken-dump";
  fs::create_directories(src / "lib");
  write_file(src / "lib/ld-linux-x86-64.so.2", "not a loader\n");  // not executable either
  fs::copy_file(fs::canonical("/lib/x86_64-linux-gnu/libc.so.6"), src / "lib/libc.so.6");
  const fs::path zip = dirs.function / "broken-dump.zip";
  ASSERT_EQ(run({"zip", "-q", "-y", "-r", zip.string(), "lib"}, {.cwd = src}).exit_code, 0);

  auto r = dirs.emulate_once("bin/probe", "{}", {"--env", "TMPDUMP_SOURCES=" + dirs.seen(zip)});
  EXPECT_EQ(r.exit_code, 14) << r.all();
  EXPECT_TRUE(contains(r.out, R"("errorType":"Runtime.InvalidEntrypoint")")) << r.out;
  EXPECT_TRUE(contains(r.out, "ld-linux-x86-64.so.2")) << r.out;
}

}  // namespace
}  // namespace tmpdump::testing
