#include "layer/config.hpp"

#include <unistd.h>

#include <fstream>

#include <gtest/gtest.h>

namespace tmpdump::layer {
namespace {

namespace fs = std::filesystem;

Env env_of(std::map<std::string, std::string, std::less<>> v) {
  return fixed_env(std::move(v));
}

TEST(LayerConfig, SourcesListAcceptsCommasAndSpacesWithDigests) {
  const std::string digest(64, 'a');
  auto c = load_config(
      env_of({{"LAMBDA_TASK_ROOT", "/nonexistent"},
              {"TMPDUMP_SOURCES", "s3://bkt/one.zip, https://h/two.zip#sha256=" + digest + " ./three.zip"}}));
  ASSERT_TRUE(c) << (c ? "" : c.error().message);
  ASSERT_EQ(c->sources.size(), 3u);
  EXPECT_EQ(c->sources[0].kind, pull::SourceKind::S3);
  EXPECT_EQ(c->sources[1].sha256, digest);
  EXPECT_EQ(c->sources[2].kind, pull::SourceKind::File);
  EXPECT_EQ(c->root, "/tmp");
}

TEST(LayerConfig, BucketShorthandsFollowTheJavaLayerConvention) {
  auto c = load_config(env_of({{"TMPDUMP_BUCKET", "mine"}, {"AWS_LAMBDA_FUNCTION_NAME", "fn"}}));
  ASSERT_TRUE(c);
  ASSERT_EQ(c->sources.size(), 1u);
  EXPECT_EQ(c->sources[0].location, "s3://mine/tmpdump/fn.zip");
  auto legacy = load_config(env_of({{"HUMANGRAPHICS_BUCKET", "old"}, {"AWS_LAMBDA_FUNCTION_NAME", "fn"}}));
  ASSERT_TRUE(legacy);
  EXPECT_EQ(legacy->sources[0].location, "s3://old/tmpdump/fn.zip");
  EXPECT_EQ(legacy->origin, "HUMANGRAPHICS_BUCKET");
}

TEST(LayerConfig, BadSourceNamesTheVariable) {
  auto c = load_config(env_of({{"TMPDUMP_SOURCES", "s3://"}}));
  ASSERT_FALSE(c);
  EXPECT_NE(c.error().message.find("TMPDUMP_SOURCES"), std::string::npos) << c.error().message;
}

TEST(LayerConfig, EnvironmentWinsOverFunctionConfigurationFile) {
  char tmpl[] = "/tmp/bootstrap-config-XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  const fs::path dir = tmpl;
  std::ofstream(dir / "tmpdump.json") << R"({"format":1,"sources":["s3://fbucket/file.zip"],"root":"/tmp/fromfile"})";
  auto from_file = load_config(env_of({{"LAMBDA_TASK_ROOT", dir.string()}}));
  ASSERT_TRUE(from_file) << (from_file ? "" : from_file.error().message);
  EXPECT_EQ(from_file->sources.at(0).location, "s3://fbucket/file.zip");
  EXPECT_EQ(from_file->root, "/tmp/fromfile");
  auto overridden = load_config(env_of({{"LAMBDA_TASK_ROOT", dir.string()},
                                        {"TMPDUMP_SOURCES", "s3://ebucket/env.zip"},
                                        {"TMPDUMP_ROOT", "/tmp/fromenv"}}));
  ASSERT_TRUE(overridden);
  EXPECT_EQ(overridden->sources.at(0).location, "s3://ebucket/env.zip");
  EXPECT_EQ(overridden->root, "/tmp/fromenv");
  std::ofstream(dir / "tmpdump.json") << R"({"format":2})";
  auto unknown = load_config(env_of({{"LAMBDA_TASK_ROOT", dir.string()}}));
  ASSERT_FALSE(unknown);
  EXPECT_NE(unknown.error().message.find("format"), std::string::npos);
  fs::remove_all(dir);
}

TEST(LayerConfig, SourcesListTakesAlternates) {
  const std::string digest(64, 'e');
  auto c = load_config(
      env_of({{"LAMBDA_TASK_ROOT", "/nonexistent"},
              {"TMPDUMP_SOURCES", "s3://bkt-a/one.zip|https://m/one.zip#sha256=" + digest + ", s3://bkt-a/two.zip"}}));
  ASSERT_TRUE(c) << (c ? "" : c.error().message);
  ASSERT_EQ(c->sources.size(), 2u);
  ASSERT_EQ(c->sources[0].alternates.size(), 1u);
  EXPECT_EQ(c->sources[0].alternates[0].location, "https://m/one.zip");
  EXPECT_EQ(c->sources[0].sha256, digest);
  EXPECT_TRUE(c->sources[1].alternates.empty());
  auto bad = load_config(env_of({{"LAMBDA_TASK_ROOT", "/nonexistent"}, {"TMPDUMP_SOURCES", "s3://bkt-a/one.zip|"}}));
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code, Errc::InvalidArgument);
  EXPECT_NE(bad.error().message.find("TMPDUMP_SOURCES"), std::string::npos) << bad.error().message;
}

TEST(LayerConfig, FunctionConfigurationFileTakesSourceObjectsWithAlternates) {
  char tmpl[] = "/tmp/bootstrap-config-XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  const fs::path dir = tmpl;
  const std::string digest(64, 'f');
  std::ofstream(dir / "tmpdump.json") << R"({"format":1,"sources":["s3://old/style.zip",
      {"source":"s3://bkt-a/k.zip","alternates":["s3://bkt-b/k.zip","https://m/k.zip"],"sha256":")"
                                      << digest << R"("}]})";
  auto c = load_config(env_of({{"LAMBDA_TASK_ROOT", dir.string()}}));
  ASSERT_TRUE(c) << (c ? "" : c.error().message);
  ASSERT_EQ(c->sources.size(), 2u);
  EXPECT_TRUE(c->sources[0].alternates.empty());
  EXPECT_EQ(c->sources[1].location, "s3://bkt-a/k.zip");
  ASSERT_EQ(c->sources[1].alternates.size(), 2u);
  EXPECT_EQ(c->sources[1].alternates[1].location, "https://m/k.zip");
  EXPECT_EQ(c->sources[1].sha256, digest);
  for (const char* bad :
       {R"({"format":1,"sources":[{"alternates":["s3://bkt-b/k.zip"]}]})",
        R"({"format":1,"sources":[{"source":"s3://bkt-a/k.zip","mirrors":[]}]})",
        R"({"format":1,"sources":[{"source":"s3://bkt-a/k.zip","alternates":[""]}]})",
        R"({"format":1,"sources":[{"source":"s3://bkt-a/k.zip","alternates":"s3://bkt-b/k.zip"}]})"}) {
    std::ofstream(dir / "tmpdump.json", std::ios::trunc) << bad;
    auto r = load_config(env_of({{"LAMBDA_TASK_ROOT", dir.string()}}));
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error().code, Errc::InvalidArgument) << bad;
    EXPECT_NE(r.error().message.find("tmpdump.json"), std::string::npos) << r.error().message;
  }
  fs::remove_all(dir);
}

TEST(LayerConfig, RelativeRootIsRefused) {
  EXPECT_FALSE(load_config(env_of({{"TMPDUMP_ROOT", "tmp"}})));
}

TEST(LayerHandler, ParsesBothForms) {
  auto exe = parse_handler("bin/myfn", "/var/task");
  ASSERT_TRUE(exe);
  EXPECT_EQ(exe->kind, HandlerSpec::Kind::Executable);
  EXPECT_EQ(exe->path, "/var/task/bin/myfn");
  auto lib = parse_handler("lib/libmyfn.so:my_handler", "/var/task");
  ASSERT_TRUE(lib);
  EXPECT_EQ(lib->kind, HandlerSpec::Kind::Library);
  EXPECT_EQ(lib->path, "/var/task/lib/libmyfn.so");
  EXPECT_EQ(lib->symbol, "my_handler");
  auto bare = parse_handler("libmyfn.so:h", "/var/task");
  ASSERT_TRUE(bare);
  EXPECT_EQ(bare->path, "libmyfn.so");  // searched in LD_LIBRARY_PATH
  EXPECT_FALSE(parse_handler("", "/var/task"));
  EXPECT_FALSE(parse_handler("lib/x.so:", "/var/task"));
}

}  // namespace
}  // namespace tmpdump::layer
