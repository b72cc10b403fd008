// layer::prepare() without the network: what both layer programs do before
// they start anything, when nothing is to be pulled or the pull cannot start.
#include "layer/prepare.hpp"

#include <unistd.h>

#include <filesystem>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace tmpdump::layer {
namespace {

namespace fs = std::filesystem;

Env env_of(std::map<std::string, std::string, std::less<>> v) {
  return fixed_env(std::move(v));
}

TEST(LayerPrepare, NothingConfiguredPullsNothingAndAddsOnlyTheTaskLibraries) {
  std::vector<std::string> notices;
  int checked = 0;
  auto p = prepare(env_of({{"LAMBDA_TASK_ROOT", "/nonexistent/task"}, {"LD_LIBRARY_PATH", "/var/lang/lib:/lib64"}}),
                   {.notice = [&](std::string_view n) { notices.emplace_back(n); },
                    .before_pull =
                        [&](const Config& c) {
                          ++checked;
                          EXPECT_TRUE(c.sources.empty());
                        }});
  ASSERT_TRUE(p) << p.error().message;
  EXPECT_EQ(checked, 1);
  EXPECT_FALSE(p->pull.installed);
  EXPECT_EQ(p->pull.summary, "no tmpdump configured");
  EXPECT_EQ(p->pull.archive_bytes, 0u);
  EXPECT_EQ(p->inherited_library_path, "/var/lang/lib:/lib64");
  // Nothing under the root (/tmp) is named: no tmpdump is installed there.
  EXPECT_EQ(p->library_path, "/nonexistent/task/lib:/var/lang/lib:/lib64");
  EXPECT_TRUE(notices.empty());
}

TEST(LayerPrepare, UnsetLibraryPathStaysDistinguishableFromAnEmptyOne) {
  auto p = prepare(env_of({{"LAMBDA_TASK_ROOT", "/nonexistent/task"}}));
  ASSERT_TRUE(p) << p.error().message;
  EXPECT_EQ(p->inherited_library_path, std::nullopt);
  EXPECT_EQ(p->library_path, "/nonexistent/task/lib");
}

TEST(LayerPrepare, BadSettingFailsWithLoadConfigsErrorBeforeThePull) {
  const std::vector<Env> bad{
      env_of({{"LAMBDA_TASK_ROOT", "/nonexistent/task"}, {"TMPDUMP_ROOT", "relative/root"}}),
      env_of({{"LAMBDA_TASK_ROOT", "/nonexistent/task"}, {"TMPDUMP_SOURCES", "s3://"}}),
      env_of({{"LAMBDA_TASK_ROOT", "/nonexistent/task"}, {"TMPDUMP_BUCKET", "b"}}),  // no function name
  };
  for (const auto& env : bad) {
    bool checked = false;
    auto p = prepare(env, {.notice = {}, .before_pull = [&](const Config&) { checked = true; }});
    ASSERT_FALSE(p);
    const auto direct = load_config(env);
    ASSERT_FALSE(direct);
    EXPECT_EQ(p.error().code, Errc::InvalidArgument);
    EXPECT_EQ(p.error().code, direct.error().code);
    EXPECT_EQ(p.error().message, direct.error().message);
    EXPECT_FALSE(checked) << "a bad configuration is reported before anything else";
  }
  auto relative = prepare(bad[0]);
  ASSERT_FALSE(relative);
  EXPECT_EQ(relative.error().message, "TMPDUMP_ROOT must be an absolute path, not 'relative/root'");
}

TEST(LayerPrepare, SourceNotProvablyInstalledNeedsThePullModuleAndNamesWhereItLooked) {
  // The unit test's directory holds no libtmpdump-pull.so (it is built next
  // to bootstrap), so the network half of the pull cannot start.
  char tmpl[] = "/tmp/layer-prepare-XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  const fs::path root = tmpl;
  bool checked = false;
  auto p = prepare(env_of({{"LAMBDA_TASK_ROOT", "/nonexistent/task"},
                           {"TMPDUMP_ROOT", root.string()},
                           {"TMPDUMP_SOURCES", "/nonexistent/fn.zip"}}),
                   {.notice = {}, .before_pull = [&](const Config& c) {
                      checked = true;
                      EXPECT_EQ(c.sources.size(), 1u);
                    }});
  EXPECT_TRUE(checked);
  ASSERT_FALSE(p);
  EXPECT_EQ(p.error().code, Errc::Io);
  const fs::path here = fs::read_symlink("/proc/self/exe").parent_path();
  EXPECT_NE(p.error().message.find("cannot load its pull module libtmpdump-pull.so (tried " +
                                   (here / "tmpdump/lib/libtmpdump-pull.so").string() + " (missing), " +
                                   (here / "libtmpdump-pull.so").string() + " (missing))"),
            std::string::npos)
      << p.error().message;
  EXPECT_TRUE(fs::is_empty(root)) << "nothing is made in the root before the pull starts";
  fs::remove_all(root);
}

}  // namespace
}  // namespace tmpdump::layer
