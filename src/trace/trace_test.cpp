#include "trace/trace.hpp"

#include <filesystem>
#include <string>

#include <gtest/gtest.h>

namespace tmpdump::trace {
namespace {

namespace fs = std::filesystem;

std::string rec(std::initializer_list<std::string> fields) {
  std::string out;
  for (const auto& f : fields) {
    out += f;
    out.push_back('\0');
  }
  return out;
}

const std::string kZlibLink = "/lib/x86_64-linux-gnu/libz.so.1";

TEST(LibrariesFromEvents, NamesSearchedAndOpenedPathsAndSoname) {
  const std::string real = fs::canonical(kZlibLink).string();
  const std::string events =
      rec({"B10"}) + rec({"S10", "libz.so.1", ""}) + rec({"C10", real}) + rec({"O10", kZlibLink, real});
  auto libs = libraries_from_events(events, "/nonexistent/audit.so");
  ASSERT_EQ(libs.size(), 1u);
  EXPECT_EQ(libs[0].path, real);
  EXPECT_EQ(libs[0].names, (std::vector<std::string>{"libz.so.1", kZlibLink}));
}

TEST(LibrariesFromEvents, SearchFindingAnAlreadyLoadedFileAddsItsName) {
  const std::string real = fs::canonical(kZlibLink).string();
  // Process 11 loads zlib; later dlopen("libz-alias.so") finds the same file: no new object is mapped.
  const std::string events = rec({"S11", "libz.so.1", ""}) + rec({"O11", kZlibLink, real}) +
                             rec({"S11", "libz-alias.so", ""}) + rec({"C11", "/nowhere/else"}) + rec({"C11", real}) +
                             rec({"S11", "libmissing.so", ""});
  auto libs = libraries_from_events(events, "/nonexistent/audit.so");
  ASSERT_EQ(libs.size(), 1u);
  EXPECT_EQ(libs[0].names, (std::vector<std::string>{"libz.so.1", kZlibLink, "libz-alias.so"}));
}

TEST(LibrariesFromEvents, InterleavedProcessesKeepTheirOwnSearches) {
  const std::string real = fs::canonical(kZlibLink).string();
  const std::string events =
      rec({"S1", "libz.so.1", ""}) + rec({"S2", "libother.so", ""}) + rec({"O1", kZlibLink, real});
  auto libs = libraries_from_events(events, "/nonexistent/audit.so");
  ASSERT_EQ(libs.size(), 1u);
  EXPECT_EQ(libs[0].names, (std::vector<std::string>{"libz.so.1", kZlibLink}));
}

TEST(LibrariesFromEvents, LeavesOutLoaderVdsoAndAuditLibraryAndStopsAtTruncatedRecord) {
  const std::string zlib = fs::canonical(kZlibLink).string();
  const std::string loader = fs::canonical("/lib64/ld-linux-x86-64.so.2").string();
  std::string events = rec({"O5", "/lib64/ld-linux-x86-64.so.2", loader}) + rec({"O5", "linux-vdso.so.1", ""}) +
                       rec({"O5", kZlibLink, zlib}) + std::string("O5\0/lib/x86", 11);
  auto libs = libraries_from_events(events, zlib);
  EXPECT_TRUE(libs.empty());
}

TEST(TraceJson, RoundTripsAndRefusesUnknownFormat) {
  Trace t{{"java", "-jar", "app.jar"}, {{"/usr/lib/libx.so.1.2", {"libx.so.1", "/usr/lib/libx.so.1"}, {}, {}}}};
  auto back = parse_json(to_json(t), "t.json");
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_EQ(back->command, t.command);
  ASSERT_EQ(back->libraries.size(), 1u);
  EXPECT_EQ(back->libraries[0].path, "/usr/lib/libx.so.1.2");
  EXPECT_EQ(back->libraries[0].names, t.libraries[0].names);
  auto v2 = parse_json(R"({"format": 2, "libraries": []})", "t.json");
  ASSERT_FALSE(v2);
  EXPECT_EQ(v2.error().code, Errc::Unsupported);
  EXPECT_NE(v2.error().message.find("t.json"), std::string::npos);
  EXPECT_EQ(parse_json("[1]", "t.json").error().code, Errc::Corrupt);
}

TEST(FindAuditLibrary, HonoursEnvironmentAndNamesIt) {
  auto missing = find_audit_library(fixed_env({{"TMPDUMP_AUDIT_LIB", "/nonexistent/a.so"}}));
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, Errc::NotFound);
  EXPECT_NE(missing.error().message.find("/nonexistent/a.so"), std::string::npos);
  auto found = find_audit_library(fixed_env({}));  // the build tree's
  ASSERT_TRUE(found) << found.error().message;
  EXPECT_EQ(found->filename(), "libtmpdump-audit.so");
}

}  // namespace
}  // namespace tmpdump::trace
