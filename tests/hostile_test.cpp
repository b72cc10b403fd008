// Hostile archives through the whole path: uploaded to the S3-API server,
// pulled by the real tmpdump binary. Each must fail with its exit code, name
// the entry, and leave nothing anywhere: not outside the root, not inside it.
#include <sys/stat.h>

#include <algorithm>
#include <filesystem>
#include <functional>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "archive/zip_writer.hpp"
#include "support/process.hpp"
#include "support/s3_server.hpp"
#include "support/trees.hpp"

namespace tmpdump::testing {
namespace {

namespace fs = std::filesystem;
using archive::Compression;
using archive::Method;
using archive::RawEntry;
using archive::ZipWriter;

constexpr std::uint32_t kFifo = 0010644, kCharDevice = 0020644, kSetuid = 0104755;

struct HostileCase {
  std::string name;
  int exit_code;
  std::string must_mention;  ///< the entry or reason the message must name
  std::function<void(ZipWriter&)> build;
};

void ok(const Result<void>& r) {
  if (!r) throw std::runtime_error(r.error().message);
}

RawEntry raw(const std::string& name, const std::string& data, std::uint32_t mode = 0100644) {
  auto r = ZipWriter::make_raw(name, data, mode & 0777, Compression{Method::Stored, 0});
  if (!r) throw std::runtime_error(r.error().message);
  r->external_attributes = mode << 16;
  return *r;
}

std::vector<HostileCase> cases() {
  return {
      {"dotdot", 6, "../evil", [](ZipWriter& w) { ok(w.add_raw(raw("../evil", "x"))); }},
      {"absolute", 6, "/tmp/tmpdump-evil-abs", [](ZipWriter& w) { ok(w.add_raw(raw("/tmp/tmpdump-evil-abs", "x"))); }},
      {"nested-dotdot", 6, "lib/../../evil", [](ZipWriter& w) { ok(w.add_raw(raw("lib/../../evil", "x"))); }},
      {"backslash", 6, "evil", [](ZipWriter& w) { ok(w.add_raw(raw("..\\..\\evil", "x"))); }},
      {"symlink-escape", 6, "lib/evil-link", [](ZipWriter& w) { ok(w.add_symlink("lib/evil-link", "../../evil")); }},
      {"symlink-absolute", 6, "lib/evil-passwd",
       [](ZipWriter& w) { ok(w.add_symlink("lib/evil-passwd", "/etc/passwd")); }},
      {"symlink-chain-escape", 6, "lib/evil-x",
       [](ZipWriter& w) {
         ok(w.add_symlink("lib/sub", ".."));
         ok(w.add_symlink("lib/evil-x", "sub/../.."));
       }},
      {"write-through-symlink", 6, "lib/l/evil",
       [](ZipWriter& w) {
         ok(w.add_symlink("lib/l", "."));
         ok(w.add_file("lib/l/evil", "x"));
       }},
      {"duplicate", 6, "lib/evil-dup",
       [](ZipWriter& w) {
         ok(w.add_file("lib/evil-dup", "1"));
         ok(w.add_file("lib//evil-dup", "2"));
       }},
      {"fifo", 6, "lib/evil-fifo", [](ZipWriter& w) { ok(w.add_raw(raw("lib/evil-fifo", "", kFifo))); }},
      {"device", 6, "lib/evil-dev", [](ZipWriter& w) { ok(w.add_raw(raw("lib/evil-dev", "", kCharDevice))); }},
      {"bomb", 6, "lib/evil-bomb",
       [](ZipWriter& w) {
         auto r =
             ZipWriter::make_raw("lib/evil-bomb", std::string(1 << 20, 'z'), 0644, Compression{Method::Deflate, 9});
         ok(r ? Result<void>{} : std::unexpected(r.error()));
         r->uncompressed_size = 1000;  // decodes to 1 MiB
         ok(w.add_raw(*r));
       }},
      {"crc", 5, "lib/evil-crc",
       [](ZipWriter& w) {
         auto r = raw("lib/evil-crc", "payload");
         r.crc32 ^= 0xffu;
         ok(w.add_raw(r));
       }},
      {"overlap", 6, "lib/evil-b",
       [](ZipWriter& w) {
         ok(w.add_file("lib/evil-a", std::string(4096, 'a')));
         auto r = raw("lib/evil-b", "b");
         r.cd_local_header_offset = 0;
         ok(w.add_raw(r));
       }},
      {"encrypted", 11, "lib/evil-enc",
       [](ZipWriter& w) {
         auto r = raw("lib/evil-enc", "secret");
         r.flags |= 1;
         ok(w.add_raw(r));
       }},
      {"unknown-method", 11, "99",
       [](ZipWriter& w) {
         auto r = raw("lib/evil-method", "data");
         r.method = 99;
         ok(w.add_raw(r));
       }},
  };
}

class HostileTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    server_ = new S3Server();
    corpus_ = new TempDir();
    fs::create_directories(*corpus_ / "upload");
    for (const auto& c : cases()) {
      auto w = ZipWriter::to_file(*corpus_ / "upload" / (c.name + ".zip"));
      ASSERT_TRUE(w);
      c.build(*w);
      ASSERT_TRUE(w->finish());
    }
    // Not zips at all.
    write_file(*corpus_ / "upload/garbage.zip", std::string(5000, '\x42'));
    std::string whole = read_file(*corpus_ / "upload/duplicate.zip");
    write_file(*corpus_ / "upload/truncated.zip", whole.substr(0, whole.size() - 30));
    auto r = run({"aws", "--endpoint-url", server_->endpoint(), "s3", "cp", "--recursive", "--only-show-errors",
                  (*corpus_ / "upload").string(), "s3://dumps/hostile/"},
                 {.env = server_->client_env()});
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  static void TearDownTestSuite() {
    delete corpus_;
    delete server_;
  }

  RunResult pull(const std::string& key, const fs::path& root) {
    return run({tmpdump_binary().string(), "pull", "s3://dumps/hostile/" + key, "--root", root.string()},
               {.env = server_->client_env(), .timeout = std::chrono::seconds(60)});
  }

  /// Paths under `dir` whose name contains "evil", outside the corpus.
  static std::vector<std::string> evil_paths(const fs::path& dir) {
    std::vector<std::string> found;
    for (const auto& e : fs::recursive_directory_iterator(dir)) {
      if (e.path().filename().string().find("evil") != std::string::npos) found.push_back(e.path().string());
    }
    return found;
  }

  static S3Server* server_;
  static TempDir* corpus_;
};

S3Server* HostileTest::server_ = nullptr;
TempDir* HostileTest::corpus_ = nullptr;

TEST_F(HostileTest, EveryHostileArchiveIsRefusedAndLeavesNothing) {
  for (const auto& c : cases()) {
    SCOPED_TRACE(c.name);
    TempDir work;
    const fs::path root = work / "a/b/root";
    auto r = pull(c.name + ".zip", root);
    report_outcome("hostile archive", c.name, r);
    EXPECT_EQ(r.exit_code, c.exit_code) << r.all();
    EXPECT_NE(r.err.find(c.must_mention), std::string::npos) << r.err;
    EXPECT_TRUE(evil_paths(work.path()).empty()) << fmt::format("{}", fmt::join(evil_paths(work.path()), ", "));
    EXPECT_FALSE(fs::exists(root / "lib")) << describe_tree(root);
    EXPECT_FALSE(has_staging_debris(root));
  }
  EXPECT_FALSE(fs::exists("/tmp/tmpdump-evil-abs"));
}

TEST_F(HostileTest, NotAZipAndTruncatedAreCorrupt) {
  for (const std::string key : {"garbage.zip", "truncated.zip"}) {
    SCOPED_TRACE(key);
    TempDir work;
    auto r = pull(key, work / "root");
    report_outcome("hostile archive", key, r);
    EXPECT_EQ(r.exit_code, 5) << r.all();
    EXPECT_FALSE(has_staging_debris(work / "root"));
  }
}

TEST_F(HostileTest, PruneRefusesWhatPullRefusesAndLeavesTheFileAlone) {
  for (const auto& c : cases()) {
    // prune copies entry data as it is stored, without decoding it: a CRC or a
    // size that only decoding shows is pull's to catch (docs/cli.md, prune).
    if (c.name == "crc" || c.name == "bomb") continue;
    SCOPED_TRACE(c.name);
    TempDir work;
    const std::string original = read_file(*corpus_ / "upload" / (c.name + ".zip"));
    write_file(work / "in.zip", original);
    // Patterns that match every entry: nothing in a hostile archive may pass for prunable.
    auto r = run({tmpdump_binary().string(), "prune", "in.zip", "--pattern", "*"},
                 {.cwd = work.path(), .timeout = std::chrono::seconds(60)});
    report_outcome("hostile archive", "prune " + c.name, r);
    EXPECT_EQ(r.exit_code, c.exit_code) << r.all();
    EXPECT_NE(r.err.find(c.must_mention), std::string::npos) << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
    EXPECT_EQ(read_file(work / "in.zip"), original);
    std::vector<std::string> left;
    for (const auto& e : fs::directory_iterator(work.path())) left.push_back(e.path().filename().string());
    EXPECT_EQ(left, std::vector<std::string>{"in.zip"});
  }
}

TEST_F(HostileTest, SetuidAndSetgidBitsAreStripped) {
  TempDir work;
  auto w = ZipWriter::to_file(work / "suid.zip");
  ASSERT_TRUE(w);
  ASSERT_TRUE(w->add_raw(raw("lib/tool", "#!/bin/sh\n", kSetuid | 02000)));
  ASSERT_TRUE(w->finish());
  auto r = run({tmpdump_binary().string(), "pull", (work / "suid.zip").string(), "--root", (work / "root").string()});
  report_outcome("hostile archive", "setuid + setgid file (installed as 0755)", r);
  ASSERT_EQ(r.exit_code, 0) << r.all();
  struct stat st {};
  ASSERT_EQ(::stat((work / "root/lib/tool").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0755u);
}

}  // namespace
}  // namespace tmpdump::testing
