// tmpdump inspect end to end: archives from zip -y and from archive::ZipWriter
// (with a manifest), local and through the S3-API server.
#include <filesystem>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "archive/zip_writer.hpp"
#include "support/process.hpp"
#include "support/s3_server.hpp"

namespace tmpdump::testing {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

constexpr const char* kManifest = R"({"format": 1, "created_by": "tmpdump 0.1.0", "compression": "zstd", "level": 19,
  "files": [{"path": "lib/libfoo.so.1.2", "size": 5000, "sha256": "00", "soname": "libfoo.so.1",
             "needs_glibc": "2.34", "x86_isa_level": 1}],
  "symlinks": [{"path": "lib/libfoo.so.1", "target": "libfoo.so.1.2"}],
  "variants": {"x86-64-v3": "lib/glibc-hwcaps/x86-64-v3"},
  "requirements": {"glibc": "2.34", "x86_isa_level": 3}, "unpacked_bytes": 10000})";

class InspectTest : public ::testing::Test {
 protected:
  RunResult inspect(std::vector<std::string> args, EnvChanges env = {}) {
    std::vector<std::string> argv{tmpdump_binary().string(), "inspect"};
    argv.insert(argv.end(), args.begin(), args.end());
    return run(argv, {.env = env, .timeout = std::chrono::seconds(60)});
  }

  fs::path packed_archive(const std::string& manifest = kManifest) {
    const fs::path zip = work_ / "packed.zip";
    auto w = archive::ZipWriter::to_file(zip);
    EXPECT_TRUE(w);
    EXPECT_TRUE(w->add_file("lib/libfoo.so.1.2", std::string(5000, 'a'), 0755, {archive::Method::Zstd, 3}));
    EXPECT_TRUE(w->add_symlink("lib/libfoo.so.1", "libfoo.so.1.2"));
    EXPECT_TRUE(w->add_file("lib/glibc-hwcaps/x86-64-v3/libfoo.so.1", std::string(5000, 'b'), 0755));
    EXPECT_TRUE(w->add_file(".tmpdump/manifest.json", manifest));
    EXPECT_TRUE(w->finish());
    return zip;
  }

  TempDir work_;
};

TEST_F(InspectTest, ListsZipYArchiveWithSymlinksAndSaysRequirementsAreUnknown) {
  const fs::path tree = work_ / "tree";
  write_file(tree / "lib/libbar.so.2.0", std::string(100000, 'x'));
  fs::create_symlink("libbar.so.2.0", tree / "lib/libbar.so.2");
  ASSERT_EQ(run({"zip", "-q", "-y", "-r", (work_ / "old.zip").string(), "lib"}, {.cwd = tree}).exit_code, 0);

  auto r = inspect({(work_ / "old.zip").string()});
  ASSERT_EQ(r.exit_code, 0) << r.all();
  EXPECT_NE(r.out.find("3 entries (1 files, 1 symlinks, 1 directories)"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("lib/libbar.so.2 -> libbar.so.2.0"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("100000"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("deflate"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("requirements: unknown: no .tmpdump/manifest.json"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("variants: none"), std::string::npos) << r.out;
}

TEST_F(InspectTest, ShowsManifestRequirementsAndVariants) {
  auto r = inspect({packed_archive().string()});
  ASSERT_EQ(r.exit_code, 0) << r.all();
  EXPECT_NE(r.out.find("requirements: glibc 2.34, x86-64 ISA level 3 (manifest by tmpdump 0.1.0)"), std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("variant: x86-64-v3 in lib/glibc-hwcaps/x86-64-v3/"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("lib/libfoo.so.1 -> libfoo.so.1.2"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("zstd"), std::string::npos) << r.out;
}

TEST_F(InspectTest, JsonHasEntriesSizesRatioAndRequirements) {
  auto r = inspect({packed_archive().string(), "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.all();
  const json doc = json::parse(r.out);
  EXPECT_EQ(doc["files"], 3);
  EXPECT_EQ(doc["symlinks"], 1);
  EXPECT_EQ(doc["manifest"], true);
  EXPECT_EQ(doc["requirements"]["glibc"], "2.34");
  EXPECT_EQ(doc["requirements"]["x86_isa_level"], 3);
  EXPECT_EQ(doc["variants"]["x86-64-v3"], "lib/glibc-hwcaps/x86-64-v3");
  EXPECT_GT(doc["ratio"].get<double>(), 1.0);
  bool saw_link = false;
  for (const auto& e : doc["entries"]) {
    if (e["path"] == "lib/libfoo.so.1") {
      saw_link = true;
      EXPECT_EQ(e["type"], "symlink");
      EXPECT_EQ(e["target"], "libfoo.so.1.2");
    }
    if (e["path"] == "lib/libfoo.so.1.2") {
      EXPECT_EQ(e["size"], 5000);
      EXPECT_EQ(e["method"], "zstd");
      EXPECT_EQ(e["mode"], "0755");
    }
  }
  EXPECT_TRUE(saw_link);
}

TEST_F(InspectTest, RefusesManifestOfUnknownFormat) {
  auto r = inspect({packed_archive(R"({"format": 7})").string()});
  EXPECT_EQ(r.exit_code, 11) << r.all();
  EXPECT_NE(r.err.find(".tmpdump/manifest.json has format 7"), std::string::npos) << r.err;
}

TEST_F(InspectTest, ReportsNonZipAsCorrupt) {
  write_file(work_ / "not.zip", std::string(1000, 'z'));
  auto r = inspect({(work_ / "not.zip").string()});
  EXPECT_EQ(r.exit_code, 5) << r.all();
}

TEST_F(InspectTest, ReadsArchiveFromS3) {
  S3Server server;
  server.put(packed_archive(), "tmpdump/fn.zip");
  auto r = inspect({"s3://dumps/tmpdump/fn.zip"}, server.client_env());
  ASSERT_EQ(r.exit_code, 0) << r.all();
  EXPECT_NE(r.out.find("s3://dumps/tmpdump/fn.zip: 4 entries"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("requirements: glibc 2.34"), std::string::npos) << r.out;
}

}  // namespace
}  // namespace tmpdump::testing
