// The layer's bootstrap under the emulator: pulling the tmpdump, library
// paths, handler forms, and init errors.
#include <gtest/gtest.h>

#include "functions/lambda.hpp"

namespace tmpdump::testing {
namespace {

TEST(Bootstrap, ExecutableWhoseLibraryLivesOnlyInTheTmpdumpLoadsIt) {
  LambdaDirs dirs;
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
  auto r = dirs.emulate_once("lib/libecho_dep.so:echo_handler", R"("dep")",
                             {"--env", "TMPDUMP_SOURCES=" + zip.string()});
  ASSERT_EQ(r.exit_code, 0) << r.all();
  EXPECT_EQ(r.out, "hello from the tmpdump\n");
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
  write_file(dirs.tmp / "bad.zip", std::string(4096, 'z'));
  auto r = dirs.emulate_once("bin/echo_fn", "{}", {"--env", "TMPDUMP_SOURCES=" + (dirs.tmp / "bad.zip").string()});
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
             R"({"format": 1, "sources": [")" + zip.string() + R"("], "root": ")" + dirs.root.string() + "\"}");
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
  auto r = dirs.emulate_once("bin/echo_fn_dep", R"("dep")",
                             {"--name", "face-detect", "--env", std::string("HUMANGRAPHICS_BUCKET=") + S3Server::kBucket},
                             env);
  ASSERT_EQ(r.exit_code, 0) << r.all();
  EXPECT_EQ(r.out, "\"hello from the tmpdump\"\n");
  EXPECT_TRUE(contains(r.err, "from HUMANGRAPHICS_BUCKET")) << r.err;
}

}  // namespace
}  // namespace tmpdump::testing
