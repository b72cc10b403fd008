#include "elf/elf.hpp"

#include <elf.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>

#include <gtest/gtest.h>

#include "elf/testing/elf_builder.hpp"

namespace tmpdump::elf {
namespace {

namespace fs = std::filesystem;

std::span<const std::byte> bytes_of(const std::string& s) {
  return std::as_bytes(std::span(s.data(), s.size()));
}

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

using testing::ElfBuilder;

// The image every parse test starts from: two needed libraries, a soname,
// a two-entry runpath and two glibc versions.
ElfBuilder sample() {
  ElfBuilder b;
  b.needed = {"libfoo.so.1", "libc.so.6"};
  b.soname = "libbar.so.2";
  b.runpath = "$ORIGIN:$ORIGIN/../lib";
  b.glibc = {"GLIBC_2.2.5", "GLIBC_2.34"};
  return b;
}

std::string built(bool is64, bool big) {
  ElfBuilder b = sample();
  b.is64 = is64;
  b.big = big;
  return b.build();
}

void expect_builder_fields(const Info& info, const ElfBuilder& b) {
  EXPECT_EQ(info.is_64, b.is64);
  EXPECT_TRUE(info.is_shared_object);
  EXPECT_EQ(info.machine, b.is64 ? EM_X86_64 : EM_386);
  EXPECT_EQ(info.needed, b.needed);
  EXPECT_EQ(info.soname, b.soname);
  EXPECT_EQ(info.runpath, (std::vector<std::string>{"$ORIGIN", "$ORIGIN/../lib"}));
  EXPECT_TRUE(info.rpath.empty());
  ASSERT_EQ(info.version_needs.size(), b.glibc.size());
  EXPECT_EQ(info.version_needs[1].file, "libc.so.6");
  EXPECT_EQ(info.version_needs[1].version, "GLIBC_2.34");
}

TEST(ElfParse, ReadsEveryFieldOfHandBuiltLittleEndian64BitImage) {
  ElfBuilder b = sample();
  b.isa_bits = 0x4;
  const auto img = b.build();
  auto info = parse(bytes_of(img));
  ASSERT_TRUE(info) << info.error().message;
  expect_builder_fields(*info, b);
  EXPECT_EQ(info->x86_isa_level, 3);
}

TEST(ElfParse, ReadsBigEndianAnd32BitImages) {
  for (bool is64 : {false, true}) {
    for (bool big : {false, true}) {
      ElfBuilder b = sample();
      b.is64 = is64;
      b.big = big;
      b.isa_bits = 0x3;
      const auto img = b.build();
      auto info = parse(bytes_of(img));
      ASSERT_TRUE(info) << "is64=" << is64 << " big=" << big << ": " << info.error().message;
      expect_builder_fields(*info, b);
      EXPECT_EQ(info->x86_isa_level, 2);
    }
  }
}

TEST(ElfParse, IsaLevelIsZeroWhenNotMarked) {
  ElfBuilder b = sample();
  const auto img = b.build();
  auto info = parse(bytes_of(img));
  ASSERT_TRUE(info);
  EXPECT_EQ(info->x86_isa_level, 0);
}

TEST(ElfParse, RefusesNonElfAsUnsupported) {
  for (std::string s : {std::string(), std::string("PK\3\4 a zip"),
                        std::string("\x7f"
                                    "EL",
                                    3)}) {
    auto info = parse(bytes_of(s));
    ASSERT_FALSE(info);
    EXPECT_EQ(info.error().code, Errc::Unsupported);
  }
}

TEST(ElfParse, ReportsStringOffsetOutsideStringTableAsCorrupt) {
  ElfBuilder b = sample();
  auto img = b.build();
  // Make DT_STRSZ tiny: every name now lies outside the table.
  const std::size_t dyn_at = img.find(std::string("\x0a\0\0\0\0\0\0\0", 8));
  ASSERT_NE(dyn_at, std::string::npos);
  img[dyn_at + 8] = '\1';
  for (int i = 1; i < 8; ++i) img[dyn_at + 8 + static_cast<std::size_t>(i)] = '\0';
  auto info = parse(bytes_of(img));
  ASSERT_FALSE(info);
  EXPECT_EQ(info.error().code, Errc::Corrupt);
  EXPECT_NE(info.error().message.find("outside the string table"), std::string::npos) << info.error().message;
}

TEST(ElfParse, ReadsRealSharedLibrary) {
  auto info = read_file("/lib/x86_64-linux-gnu/libz.so.1");
  ASSERT_TRUE(info) << info.error().message;
  EXPECT_EQ(info->machine, EM_X86_64);
  EXPECT_TRUE(info->is_shared_object);
  EXPECT_EQ(info->soname, "libz.so.1");
  EXPECT_NE(std::find(info->needed.begin(), info->needed.end(), "libc.so.6"), info->needed.end());
  auto glibc = max_glibc_version(info->version_needs);
  ASSERT_TRUE(glibc);
  EXPECT_GE(*glibc, (std::vector<int>{2, 2, 5}));
}

TEST(ElfParse, ReadsInterpreterOfRealExecutable) {
  auto info = read_file("/bin/true");
  ASSERT_TRUE(info) << info.error().message;
  EXPECT_EQ(info->interpreter, "/lib64/ld-linux-x86-64.so.2");
  EXPECT_FALSE(info->soname);
}

TEST(ElfParse, ReadsIsaLevelMarkedByTheLinker) {
  const fs::path dir = fs::temp_directory_path() / ("tmpdump-elf-test-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  { std::ofstream(dir / "f.c") << "int f(void) { return 1; }\n"; }
  const std::string cmd =
      "gcc -shared -fPIC -Wl,-z,x86-64-v3 -o " + (dir / "f.so").string() + " " + (dir / "f.c").string();
  ASSERT_EQ(std::system(cmd.c_str()), 0);
  auto info = read_file(dir / "f.so");
  fs::remove_all(dir);
  ASSERT_TRUE(info) << info.error().message;
  EXPECT_EQ(info->x86_isa_level, 3);
}

TEST(ElfParse, ReadFileNamesMissingPath) {
  auto info = read_file("/nonexistent/libnope.so");
  ASSERT_FALSE(info);
  EXPECT_EQ(info.error().code, Errc::NotFound);
  EXPECT_NE(info.error().message.find("/nonexistent/libnope.so"), std::string::npos);
}

void expect_clean(const Result<Info>& r) {
  if (!r) {
    EXPECT_TRUE(r.error().code == Errc::Corrupt || r.error().code == Errc::Unsupported) << r.error().message;
    EXPECT_FALSE(r.error().message.empty());
  }
}

TEST(ElfParse, SurvivesEveryTruncationOfRealLibraryAndHandBuiltImage) {
  for (const std::string& img : {slurp("/lib/x86_64-linux-gnu/libz.so.1"), built(true, true)}) {
    ASSERT_GT(img.size(), 500u);
    const std::size_t step = img.size() > 20000 ? 7 : 1;
    for (std::size_t n = 0; n < img.size(); n += step) {
      std::string cut = img.substr(0, n);
      expect_clean(parse(bytes_of(cut)));
    }
  }
}

TEST(ElfParse, SurvivesRandomlyMutatedCopies) {
  const std::vector<std::string> seeds{slurp("/lib/x86_64-linux-gnu/libz.so.1"), built(true, false),
                                       built(false, true)};
  std::mt19937_64 rng(42);
  for (const auto& seed : seeds) {
    // Mutations concentrate on the first 4 KiB: headers, dynamic section, notes.
    const std::size_t hot = std::min<std::size_t>(seed.size(), 4096);
    for (int round = 0; round < 3000; ++round) {
      std::string img = seed;
      const int flips = 1 + static_cast<int>(rng() % 8);
      for (int f = 0; f < flips; ++f) {
        const std::size_t at = rng() % (rng() % 4 == 0 ? img.size() : hot);
        switch (rng() % 3) {
          case 0:
            img[at] = static_cast<char>(rng());
            break;
          case 1:
            img[at] = '\xff';
            break;
          default:
            img[at] = '\0';
            break;
        }
      }
      expect_clean(parse(bytes_of(img)));
    }
  }
}

TEST(GlibcVersion, ParsesAndOrdersVersions) {
  EXPECT_EQ(parse_glibc_version("GLIBC_2.34"), (std::vector<int>{2, 34, 0}));
  EXPECT_EQ(parse_glibc_version("GLIBC_2.2.5"), (std::vector<int>{2, 2, 5}));
  EXPECT_FALSE(parse_glibc_version("GLIBC_PRIVATE"));
  EXPECT_FALSE(parse_glibc_version("GCC_3.0"));
  EXPECT_FALSE(parse_glibc_version("GLIBC_2."));
  auto best = max_glibc_version({{"libc.so.6", "GLIBC_2.2.5"},
                                 {"libc.so.6", "GLIBC_2.36"},
                                 {"libm.so.6", "GLIBC_2.29"},
                                 {"libc.so.6", "GLIBC_PRIVATE"}});
  ASSERT_TRUE(best);
  EXPECT_EQ(version_string(*best), "2.36");
  EXPECT_EQ(version_string({2, 2, 5}), "2.2.5");
  EXPECT_FALSE(max_glibc_version({{"libgcc_s.so.1", "GCC_3.0"}}));
}

}  // namespace
}  // namespace tmpdump::elf
