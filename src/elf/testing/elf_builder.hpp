// Writes small dynamic ELF images by hand for unit tests (never built into the product).
#pragma once

#include <elf.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace tmpdump::elf::testing {

/// A minimal dynamic ELF image, in either class and byte order: one PT_LOAD
/// covering the file at vaddr 0x10000 + offset, PT_DYNAMIC, a GNU property
/// note with the x86 ISA level, a string table and one version need on
/// libc.so.6. No section headers, as in a stripped file.
struct ElfBuilder {
  bool is64 = true;                               ///< ELFCLASS64 for x86-64, else ELFCLASS32 for i386
  bool big = false;                               ///< ELFDATA2MSB instead of ELFDATA2LSB
  std::uint32_t isa_bits = 0;                     ///< GNU_PROPERTY_X86_ISA_1_NEEDED: 0x4 is x86-64-v3
  std::vector<std::string> needed;                ///< DT_NEEDED entries, in order
  std::string soname;                             ///< DT_SONAME; no entry when empty
  std::string runpath;                            ///< DT_RUNPATH; no entry when empty
  std::vector<std::string> glibc{"GLIBC_2.2.5"};  ///< versions the one Elf_Verneed asks of libc.so.6

  /// The image's bytes; the same fields always give the same bytes.
  [[nodiscard]] std::string build() const;
};

namespace detail {

inline constexpr std::uint64_t kBase = 0x10000;
inline constexpr std::uint32_t kX86IsaNeeded = 0xc0008002;  // GNU_PROPERTY_X86_ISA_1_NEEDED

inline std::size_t align8(std::size_t n) {
  return (n + 7) & ~std::size_t{7};
}

// The names the dynamic section and the version need point at.
struct Strings {
  std::string table = std::string(1, '\0');
  std::vector<std::size_t> needed_at, glibc_at;
  std::size_t soname_at = 0, runpath_at = 0, libc_at = 0;

  std::size_t add(const std::string& s) {
    const auto at = table.size();
    table += s;
    table.push_back('\0');
    return at;
  }
};

inline Strings string_table(const ElfBuilder& b) {
  Strings s;
  for (const auto& n : b.needed) s.needed_at.push_back(s.add(n));
  if (!b.soname.empty()) s.soname_at = s.add(b.soname);
  if (!b.runpath.empty()) s.runpath_at = s.add(b.runpath);
  s.libc_at = s.add("libc.so.6");
  for (const auto& g : b.glibc) s.glibc_at.push_back(s.add(g));
  return s;
}

// Where each part sits in the file.
struct Layout {
  unsigned ehsize, phentsize, word, phnum;
  std::size_t ph_at, note_at, note_size, dyn_at, dyn_count, strtab_at, verneed_at, total;
};

inline Layout lay_out(const ElfBuilder& b, const Strings& s) {
  Layout l{};
  l.ehsize = b.is64 ? 64 : 52;
  l.phentsize = b.is64 ? 56 : 32;
  l.word = b.is64 ? 8 : 4;
  l.phnum = 3;
  l.note_size = 16 + 16;  // header + "GNU\0", then one 16-byte property
  l.ph_at = l.ehsize;
  l.note_at = l.ph_at + l.phnum * l.phentsize;
  l.dyn_at = align8(l.note_at + l.note_size);
  // DT_STRTAB, DT_STRSZ, DT_VERNEED, DT_VERNEEDNUM and DT_NULL are always there.
  l.dyn_count = b.needed.size() + (b.soname.empty() ? 0 : 1) + (b.runpath.empty() ? 0 : 1) + 5;
  l.strtab_at = l.dyn_at + l.dyn_count * 2 * l.word;
  l.verneed_at = align8(l.strtab_at + s.table.size());
  l.total = l.verneed_at + 16 + 16 * b.glibc.size();
  return l;
}

// Appends fields in the builder's byte order and class.
class Writer {
 public:
  Writer(const ElfBuilder& b, const Strings& s, const Layout& l) : b_(b), s_(s), l_(l) {}

  std::string write() {
    header();
    program_headers();
    property_note();
    pad_to(l_.dyn_at);
    dynamic_section();
    out_ += s_.table;
    pad_to(l_.verneed_at);
    verneed();
    EXPECT_EQ(out_.size(), l_.total);
    return std::move(out_);
  }

 private:
  void put(std::uint64_t v, unsigned width) {
    for (unsigned i = 0; i < width; ++i) {
      const unsigned shift = 8 * (b_.big ? width - 1 - i : i);
      out_.push_back(static_cast<char>((v >> shift) & 0xff));
    }
  }
  void word(std::uint64_t v) { put(v, l_.word); }
  void pad_to(std::size_t n) { out_.resize(n, '\0'); }

  void header() {
    out_ = std::string(
        "\x7f"
        "ELF",
        4);
    out_.push_back(static_cast<char>(b_.is64 ? ELFCLASS64 : ELFCLASS32));
    out_.push_back(static_cast<char>(b_.big ? ELFDATA2MSB : ELFDATA2LSB));
    out_.push_back(EV_CURRENT);
    pad_to(EI_NIDENT);
    put(ET_DYN, 2);
    put(b_.is64 ? EM_X86_64 : EM_386, 2);
    put(EV_CURRENT, 4);
    word(0);         // entry
    word(l_.ph_at);  // phoff
    word(0);         // shoff
    put(0, 4);       // flags
    put(l_.ehsize, 2);
    put(l_.phentsize, 2);
    put(l_.phnum, 2);
    put(0, 2);  // shentsize, shnum, shstrndx
    put(0, 2);
    put(0, 2);
  }

  void phdr(std::uint32_t type, std::uint64_t off, std::uint64_t size, std::uint64_t align) {
    put(type, 4);
    if (b_.is64) put(PF_R, 4);  // Elf64_Phdr has p_flags second, Elf32_Phdr second to last
    word(off);
    word(kBase + off);
    word(kBase + off);
    word(size);
    word(size);
    if (!b_.is64) put(PF_R, 4);
    word(align);
  }

  void program_headers() {
    phdr(PT_LOAD, 0, l_.total, 0x1000);
    phdr(PT_DYNAMIC, l_.dyn_at, l_.dyn_count * 2 * l_.word, l_.word);
    phdr(PT_NOTE, l_.note_at, l_.note_size, l_.word);
  }

  void property_note() {
    put(4, 4);   // n_namesz
    put(16, 4);  // n_descsz
    put(NT_GNU_PROPERTY_TYPE_0, 4);
    out_.append("GNU\0", 4);
    put(kX86IsaNeeded, 4);
    put(4, 4);  // pr_datasz
    put(b_.isa_bits, 4);
    put(0, 4);  // padding to 8 bytes, also in 32-bit files
  }

  void dynamic_section() {
    auto entry = [&](std::uint64_t tag, std::uint64_t value) {
      word(tag);
      word(value);
    };
    for (auto at : s_.needed_at) entry(DT_NEEDED, at);
    if (!b_.soname.empty()) entry(DT_SONAME, s_.soname_at);
    if (!b_.runpath.empty()) entry(DT_RUNPATH, s_.runpath_at);
    entry(DT_STRTAB, kBase + l_.strtab_at);
    entry(DT_STRSZ, s_.table.size());
    entry(DT_VERNEED, kBase + l_.verneed_at);
    entry(DT_VERNEEDNUM, 1);
    entry(DT_NULL, 0);
  }

  // One Elf_Verneed for libc.so.6, then its Elf_Vernaux chain.
  void verneed() {
    put(1, 2);  // vn_version
    put(b_.glibc.size(), 2);
    put(s_.libc_at, 4);
    put(16, 4);  // vn_aux
    put(0, 4);   // vn_next
    for (std::size_t i = 0; i < b_.glibc.size(); ++i) {
      put(0, 4);  // vna_hash
      put(0, 2);  // vna_flags
      put(i + 2, 2);
      put(s_.glibc_at[i], 4);
      put(i + 1 < b_.glibc.size() ? 16 : 0, 4);
    }
  }

  const ElfBuilder& b_;
  const Strings& s_;
  const Layout& l_;
  std::string out_;
};

}  // namespace detail

inline std::string ElfBuilder::build() const {
  const auto strings = detail::string_table(*this);
  const auto layout = detail::lay_out(*this, strings);
  return detail::Writer(*this, strings, layout).write();
}

}  // namespace tmpdump::elf::testing
