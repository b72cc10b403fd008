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

// Writes a minimal dynamic ELF image by hand, in either class and byte order:
// one PT_LOAD covering the file at vaddr 0x10000 + offset, PT_DYNAMIC, a GNU
// property note, a string table and one version need. No section headers, as
// in a stripped file.
struct ElfBuilder {
  bool is64 = true;
  bool big = false;
  std::uint32_t isa_bits = 0;
  std::vector<std::string> needed{"libfoo.so.1", "libc.so.6"};
  std::string soname = "libbar.so.2";
  std::string runpath = "$ORIGIN:$ORIGIN/../lib";
  std::vector<std::string> glibc{"GLIBC_2.2.5", "GLIBC_2.34"};

  std::string out;
  void put(std::uint64_t v, unsigned width) {
    for (unsigned i = 0; i < width; ++i) {
      const unsigned shift = 8 * (big ? width - 1 - i : i);
      out.push_back(static_cast<char>((v >> shift) & 0xff));
    }
  }
  void word(std::uint64_t v) { put(v, is64 ? 8 : 4); }
  void pad_to(std::size_t n) { out.resize(n, '\0'); }

  std::string build() {
    constexpr std::uint64_t base = 0x10000;
    const unsigned ehsize = is64 ? 64 : 52, phentsize = is64 ? 56 : 32, w = is64 ? 8 : 4;
    const unsigned phnum = 3;
    // String table.
    std::string strtab(1, '\0');
    auto add = [&](const std::string& s) {
      const auto at = strtab.size();
      strtab += s;
      strtab.push_back('\0');
      return at;
    };
    std::vector<std::size_t> needed_at;
    for (const auto& n : needed) needed_at.push_back(add(n));
    const auto soname_at = add(soname), runpath_at = add(runpath), libc_at = add("libc.so.6");
    std::vector<std::size_t> glibc_at;
    for (const auto& g : glibc) glibc_at.push_back(add(g));

    const std::size_t ph_at = ehsize;
    const std::size_t note_at = ph_at + phnum * phentsize;
    const std::size_t note_size = 16 + 16;  // header + "GNU\0", then one 16-byte property (64-bit padding)
    const std::size_t dyn_at = (note_at + note_size + 7) & ~std::size_t{7};
    const std::size_t dyn_count = needed.size() + 7;
    const std::size_t strtab_at = dyn_at + dyn_count * 2 * w;
    const std::size_t verneed_at = (strtab_at + strtab.size() + 7) & ~std::size_t{7};
    const std::size_t total = verneed_at + 16 + 16 * glibc.size();

    // ELF header.
    out = std::string(
        "\x7f"
        "ELF",
        4);
    out.push_back(static_cast<char>(is64 ? ELFCLASS64 : ELFCLASS32));
    out.push_back(static_cast<char>(big ? ELFDATA2MSB : ELFDATA2LSB));
    out.push_back(EV_CURRENT);
    pad_to(EI_NIDENT);
    put(ET_DYN, 2);
    put(is64 ? EM_X86_64 : EM_386, 2);
    put(EV_CURRENT, 4);
    word(0);      // entry
    word(ph_at);  // phoff
    word(0);      // shoff
    put(0, 4);    // flags
    put(ehsize, 2);
    put(phentsize, 2);
    put(phnum, 2);
    put(0, 2);
    put(0, 2);
    put(0, 2);
    // Program headers: PT_LOAD, PT_DYNAMIC, PT_NOTE.
    auto phdr = [&](std::uint32_t type, std::uint64_t off, std::uint64_t size, std::uint64_t align) {
      if (is64) {
        put(type, 4);
        put(PF_R, 4);
        word(off);
        word(base + off);
        word(base + off);
        word(size);
        word(size);
        word(align);
      } else {
        put(type, 4);
        word(off);
        word(base + off);
        word(base + off);
        word(size);
        word(size);
        put(PF_R, 4);
        word(align);
      }
    };
    phdr(PT_LOAD, 0, total, 0x1000);
    phdr(PT_DYNAMIC, dyn_at, dyn_count * 2 * w, w);
    phdr(PT_NOTE, note_at, note_size, is64 ? 8 : 4);
    // GNU property note with the ISA level.
    put(4, 4);
    put(16, 4);
    put(NT_GNU_PROPERTY_TYPE_0, 4);
    out.append("GNU\0", 4);
    put(0xc0008002, 4);
    put(4, 4);
    put(isa_bits, 4);
    put(0, 4);
    pad_to(dyn_at);
    // Dynamic section.
    for (auto at : needed_at) {
      word(DT_NEEDED);
      word(at);
    }
    word(DT_SONAME), word(soname_at);
    word(DT_RUNPATH), word(runpath_at);
    word(DT_STRTAB), word(base + strtab_at);
    word(DT_STRSZ), word(strtab.size());
    word(DT_VERNEED), word(base + verneed_at);
    word(DT_VERNEEDNUM), word(1);
    word(DT_NULL), word(0);
    out += strtab;
    pad_to(verneed_at);
    // One Elf_Verneed for libc.so.6, then its Elf_Vernaux chain.
    put(1, 2);
    put(glibc.size(), 2);
    put(libc_at, 4);
    put(16, 4);
    put(0, 4);
    for (std::size_t i = 0; i < glibc.size(); ++i) {
      put(0, 4);
      put(0, 2);
      put(i + 2, 2);
      put(glibc_at[i], 4);
      put(i + 1 < glibc.size() ? 16 : 0, 4);
    }
    EXPECT_EQ(out.size(), total);
    return out;
  }
};

std::string built(bool is64, bool big) {
  ElfBuilder b;
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
  ElfBuilder b;
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
      ElfBuilder b;
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
  ElfBuilder b;
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
  ElfBuilder b;
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
