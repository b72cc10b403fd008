// The ELF reader. Every offset, size and count read from the image is checked
// against the image before use: this parses hostile input (fuzz/elf_fuzz.cpp).
#include "elf/elf.hpp"

#include <elf.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <string_view>

namespace tmpdump::elf {

namespace {

// Bytes of strings one parse may return in total: a hostile image can point
// thousands of DT_NEEDED / vernaux entries at one long string.
constexpr std::uint64_t kMaxOutputBytes = 16ull << 20;
// Version requirements one parse may return; real libraries have a few dozen.
constexpr std::size_t kMaxVersionNeeds = 65536;

constexpr std::uint32_t kIsaNeeded = 0xc0008002;  // GNU_PROPERTY_X86_ISA_1_NEEDED

struct Segment {
  std::uint32_t type = 0;
  std::uint64_t offset = 0, vaddr = 0, filesz = 0, align = 0;
};

class Image {
 public:
  Image(std::span<const std::byte> bytes, bool big_endian) : bytes_(bytes), big_(big_endian) {}

  [[nodiscard]] std::uint64_t size() const { return bytes_.size(); }

  [[nodiscard]] bool has(std::uint64_t off, std::uint64_t len) const {
    return off <= bytes_.size() && len <= bytes_.size() - off;
  }

  // Callers check has() first; an unchecked read still cannot leave the image.
  [[nodiscard]] std::uint64_t load(std::uint64_t off, unsigned width) const {
    if (!has(off, width)) return 0;
    std::uint64_t v = 0;
    for (unsigned i = 0; i < width; ++i) {
      const auto b = static_cast<std::uint64_t>(bytes_[static_cast<std::size_t>(off) + (big_ ? i : width - 1 - i)]);
      v = (v << 8) | b;
    }
    return v;
  }
  [[nodiscard]] std::uint16_t u16(std::uint64_t off) const { return static_cast<std::uint16_t>(load(off, 2)); }
  [[nodiscard]] std::uint32_t u32(std::uint64_t off) const { return static_cast<std::uint32_t>(load(off, 4)); }
  [[nodiscard]] std::uint64_t u64(std::uint64_t off) const { return load(off, 8); }

  [[nodiscard]] std::string_view text(std::uint64_t off, std::uint64_t len) const {
    if (!has(off, len)) return {};
    return {reinterpret_cast<const char*>(bytes_.data()) + off, static_cast<std::size_t>(len)};
  }

 private:
  std::span<const std::byte> bytes_;
  bool big_;
};

class Parser {
 public:
  Parser(std::span<const std::byte> bytes, bool big_endian, bool is_64)
      : img_(bytes, big_endian), is64_(is_64), word_(is_64 ? 8u : 4u) {}

  Result<Info> run() {
    Info info;
    info.is_64 = is64_;
    if (auto r = header(info); !r) return std::unexpected(r.error());
    if (auto r = program_headers(); !r) return std::unexpected(r.error());
    for (const auto& s : segments_) {
      if (s.type == PT_INTERP) {
        if (!img_.has(s.offset, s.filesz)) return fail(Errc::Corrupt, "PT_INTERP lies outside the file");
        std::string_view path = img_.text(s.offset, s.filesz);
        if (const auto nul = path.find('\0'); nul != std::string_view::npos) path = path.substr(0, nul);
        if (auto r = charge(path.size()); !r) return std::unexpected(r.error());
        info.interpreter = std::string(path);
      }
    }
    if (auto r = dynamic(info); !r) return std::unexpected(r.error());
    if (auto r = properties(info); !r) return std::unexpected(r.error());
    return info;
  }

 private:
  Result<void> header(Info& info) {
    const std::uint64_t ehsize = is64_ ? sizeof(Elf64_Ehdr) : sizeof(Elf32_Ehdr);
    if (!img_.has(0, ehsize)) return fail(Errc::Corrupt, "truncated ELF header ({} bytes)", img_.size());
    if (img_.load(EI_VERSION, 1) != EV_CURRENT)
      return fail(Errc::Corrupt, "unknown ELF version {}", img_.load(EI_VERSION, 1));
    const std::uint16_t type = img_.u16(16);
    info.machine = img_.u16(18);
    info.is_shared_object = type == ET_DYN;
    if (is64_) {
      phoff_ = img_.u64(32);
      shoff_ = img_.u64(40);
      phentsize_ = img_.u16(54);
      phnum_ = img_.u16(56);
    } else {
      phoff_ = img_.u32(28);
      shoff_ = img_.u32(32);
      phentsize_ = img_.u16(42);
      phnum_ = img_.u16(44);
    }
    if (phnum_ == PN_XNUM) {
      // More program headers than fit in e_phnum: the real count is section 0's sh_info.
      const std::uint64_t shsize = is64_ ? sizeof(Elf64_Shdr) : sizeof(Elf32_Shdr);
      if (!img_.has(shoff_, shsize))
        return fail(Errc::Corrupt, "e_phnum is PN_XNUM but section header 0 is outside the file");
      phnum_ = img_.u32(shoff_ + (is64_ ? 44 : 28));
    }
    return {};
  }

  Result<void> program_headers() {
    if (phnum_ == 0) return {};
    const std::uint64_t min = is64_ ? sizeof(Elf64_Phdr) : sizeof(Elf32_Phdr);
    if (phentsize_ < min)
      return fail(Errc::Corrupt, "program header entry size {} is smaller than {}", phentsize_, min);
    if (phnum_ > img_.size() / phentsize_ || !img_.has(phoff_, phnum_ * phentsize_)) {
      return fail(Errc::Corrupt, "{} program headers at offset {} run past the end of the file ({} bytes)", phnum_,
                  phoff_, img_.size());
    }
    segments_.reserve(static_cast<std::size_t>(phnum_));
    for (std::uint64_t i = 0; i < phnum_; ++i) {
      const std::uint64_t p = phoff_ + i * phentsize_;
      Segment s;
      s.type = img_.u32(p);
      if (is64_) {
        s.offset = img_.u64(p + 8);
        s.vaddr = img_.u64(p + 16);
        s.filesz = img_.u64(p + 32);
        s.align = img_.u64(p + 48);
      } else {
        s.offset = img_.u32(p + 4);
        s.vaddr = img_.u32(p + 8);
        s.filesz = img_.u32(p + 16);
        s.align = img_.u32(p + 28);
      }
      segments_.push_back(s);
    }
    return {};
  }

  // The file offset holding virtual address `addr`, through the PT_LOAD
  // segments, as the loader maps them. Section headers are not used: they may
  // be stripped or lie.
  [[nodiscard]] std::optional<std::uint64_t> file_offset(std::uint64_t addr) const {
    for (const auto& s : segments_) {
      if (s.type != PT_LOAD) continue;
      if (addr >= s.vaddr && addr - s.vaddr < s.filesz) {
        const std::uint64_t delta = addr - s.vaddr;
        if (s.offset > UINT64_MAX - delta) return std::nullopt;
        const std::uint64_t off = s.offset + delta;
        if (off >= img_.size()) return std::nullopt;
        return off;
      }
    }
    return std::nullopt;
  }

  Result<void> charge(std::uint64_t bytes) {
    if (bytes > kMaxOutputBytes - spent_) {
      return fail(Errc::Corrupt, "dynamic strings add up to more than {} MiB", kMaxOutputBytes >> 20);
    }
    spent_ += bytes;
    return {};
  }

  // A NUL-terminated string at `index` in the dynamic string table.
  Result<std::string> str(std::uint64_t index, std::string_view what) {
    if (!strtab_) return fail(Errc::Corrupt, "{} refers to a string but there is no DT_STRTAB", what);
    if (index >= strtab_->size()) {
      return fail(Errc::Corrupt, "{} string offset {} is outside the string table ({} bytes)", what, index,
                  strtab_->size());
    }
    const std::string_view rest = strtab_->substr(static_cast<std::size_t>(index));
    const auto nul = rest.find('\0');
    if (nul == std::string_view::npos)
      return fail(Errc::Corrupt, "{} string at offset {} is not terminated", what, index);
    if (auto r = charge(nul); !r) return std::unexpected(r.error());
    return std::string(rest.substr(0, nul));
  }

  // The values of the dynamic section's tags that name libraries and paths.
  struct DynamicTags {
    std::vector<std::uint64_t> needed, rpath, runpath;
    std::optional<std::uint64_t> soname, strtab, strsz, verneed, verneednum;
  };

  Result<void> dynamic(Info& info) {
    const Segment* dyn = nullptr;
    for (const auto& s : segments_) {
      if (s.type == PT_DYNAMIC) {
        dyn = &s;
        break;
      }
    }
    if (dyn == nullptr) return {};  // a static executable
    if (!img_.has(dyn->offset, dyn->filesz)) {
      return fail(Errc::Corrupt, "PT_DYNAMIC (offset {}, {} bytes) runs past the end of the file ({} bytes)",
                  dyn->offset, dyn->filesz, img_.size());
    }
    const DynamicTags tags = dynamic_tags(*dyn);
    if (auto r = load_strtab(tags); !r) return r;
    if (auto r = dynamic_names(tags, info); !r) return r;
    if (tags.verneed && tags.verneednum && *tags.verneednum > 0)
      return version_needs(*tags.verneed, *tags.verneednum, info);
    return {};
  }

  DynamicTags dynamic_tags(const Segment& dyn) const {
    const std::uint64_t entsize = 2ull * word_;
    DynamicTags t;
    for (std::uint64_t p = dyn.offset; p + entsize <= dyn.offset + dyn.filesz; p += entsize) {
      const std::uint64_t tag = img_.load(p, word_);
      const std::uint64_t val = img_.load(p + word_, word_);
      if (tag == DT_NULL) break;
      switch (tag) {
        case DT_NEEDED:
          t.needed.push_back(val);
          break;
        case DT_SONAME:
          t.soname = val;
          break;
        case DT_RPATH:
          t.rpath.push_back(val);
          break;
        case DT_RUNPATH:
          t.runpath.push_back(val);
          break;
        case DT_STRTAB:
          t.strtab = val;
          break;
        case DT_STRSZ:
          t.strsz = val;
          break;
        case DT_VERNEED:
          t.verneed = val;
          break;
        case DT_VERNEEDNUM:
          t.verneednum = val;
          break;
        default:
          break;
      }
    }
    return t;
  }

  // Points strtab_ at DT_STRTAB, bounded by DT_STRSZ or else by the file.
  Result<void> load_strtab(const DynamicTags& t) {
    if (!t.strtab) return {};
    const auto off = file_offset(*t.strtab);
    if (!off) return fail(Errc::Corrupt, "DT_STRTAB address {:#x} is not in any PT_LOAD segment", *t.strtab);
    std::uint64_t len = img_.size() - *off;
    if (t.strsz) {
      if (*t.strsz > len) {
        return fail(Errc::Corrupt, "string table at offset {} ({} bytes) runs past the end of the file", *off,
                    *t.strsz);
      }
      len = *t.strsz;
    }
    strtab_ = img_.text(*off, len);
    return {};
  }

  // DT_NEEDED, DT_SONAME and the colon-separated DT_RPATH/DT_RUNPATH lists.
  Result<void> dynamic_names(const DynamicTags& t, Info& info) {
    for (auto v : t.needed) {
      auto s = str(v, "DT_NEEDED");
      if (!s) return std::unexpected(s.error());
      info.needed.push_back(std::move(*s));
    }
    if (t.soname) {
      auto s = str(*t.soname, "DT_SONAME");
      if (!s) return std::unexpected(s.error());
      info.soname = std::move(*s);
    }
    for (auto [list, out, what] :
         {std::tuple{&t.rpath, &info.rpath, "DT_RPATH"}, {&t.runpath, &info.runpath, "DT_RUNPATH"}}) {
      for (auto v : *list) {
        auto s = str(v, what);
        if (!s) return std::unexpected(s.error());
        std::string_view rest = *s;
        while (!rest.empty()) {
          const auto colon = rest.find(':');
          const std::string_view part = rest.substr(0, colon);
          if (!part.empty()) out->emplace_back(part);
          if (colon == std::string_view::npos) break;
          rest.remove_prefix(colon + 1);
        }
      }
    }
    return {};
  }

  // .gnu.version_r: a chain of Elf_Verneed, each with a chain of Elf_Vernaux.
  // Both structures have the same 16-byte layout in ELF32 and ELF64. Every
  // `next` is a forward offset, so a chain cannot loop; the count and output
  // budget bound the rest.
  Result<void> version_needs(std::uint64_t addr, std::uint64_t count, Info& info) {
    const auto start = file_offset(addr);
    if (!start) return fail(Errc::Corrupt, "DT_VERNEED address {:#x} is not in any PT_LOAD segment", addr);
    std::uint64_t vn = *start;
    for (std::uint64_t i = 0; i < count; ++i) {
      if (!img_.has(vn, 16)) return fail(Errc::Corrupt, "version need {} at offset {} is outside the file", i, vn);
      const std::uint16_t cnt = img_.u16(vn + 2);
      const std::uint32_t file_index = img_.u32(vn + 4);
      const std::uint32_t aux_off = img_.u32(vn + 8);
      const std::uint32_t next = img_.u32(vn + 12);
      auto file = str(file_index, "version need file");
      if (!file) return std::unexpected(file.error());
      std::uint64_t aux = vn + aux_off;
      for (std::uint16_t j = 0; j < cnt; ++j) {
        if (!img_.has(aux, 16)) return fail(Errc::Corrupt, "version need aux {} of {} is outside the file", j, *file);
        auto name = str(img_.u32(aux + 8), "version need name");
        if (!name) return std::unexpected(name.error());
        if (info.version_needs.size() >= kMaxVersionNeeds) {
          return fail(Errc::Corrupt, "more than {} version requirements", kMaxVersionNeeds);
        }
        if (auto r = charge(file->size()); !r) return std::unexpected(r.error());
        info.version_needs.push_back({*file, std::move(*name)});
        const std::uint32_t aux_next = img_.u32(aux + 12);
        if (aux_next == 0) break;
        aux += aux_next;
      }
      if (next == 0) break;
      vn += next;
    }
    return {};
  }

  // GNU property notes (PT_GNU_PROPERTY, or PT_NOTE on older linkers) for the
  // x86 ISA level the object needs.
  Result<void> properties(Info& info) {
    for (const auto& s : segments_) {
      if (s.type != PT_GNU_PROPERTY && s.type != PT_NOTE) continue;
      if (!img_.has(s.offset, s.filesz)) {
        return fail(Errc::Corrupt, "note segment (offset {}, {} bytes) runs past the end of the file", s.offset,
                    s.filesz);
      }
      const std::uint64_t align = s.align == 8 ? 8 : 4;
      const std::uint64_t end = s.offset + s.filesz;
      std::uint64_t p = s.offset;
      while (p + 12 <= end) {
        const std::uint64_t namesz = img_.u32(p), descsz = img_.u32(p + 4);
        const std::uint32_t type = img_.u32(p + 8);
        const std::uint64_t name_at = p + 12;
        // Padding aligns offsets within the segment (glibc's ELF_NOTE_NEXT_OFFSET).
        const std::uint64_t desc_at = s.offset + round_up(name_at - s.offset + namesz, align);
        const std::uint64_t next = s.offset + round_up(desc_at - s.offset + descsz, align);
        if (desc_at > end || descsz > end - desc_at) break;  // a malformed note ends the walk
        if (type == NT_GNU_PROPERTY_TYPE_0 && namesz == 4 && img_.text(name_at, 4) == std::string_view("GNU\0", 4)) {
          isa_from_properties(desc_at, descsz, info);
        }
        if (next <= p) break;
        p = next;
      }
    }
    return {};
  }

  void isa_from_properties(std::uint64_t at, std::uint64_t size, Info& info) const {
    const std::uint64_t end = at + size;
    std::uint64_t p = at;
    while (p + 8 <= end) {
      const std::uint32_t type = img_.u32(p);
      const std::uint64_t datasz = img_.u32(p + 4);
      if (datasz > end - (p + 8)) return;
      if (type == kIsaNeeded && datasz >= 4) {
        const std::uint32_t bits = img_.u32(p + 8);
        int level = 0;
        for (int b = 0; b < 4; ++b) {
          if ((bits & (1u << b)) != 0) level = b + 1;
        }
        info.x86_isa_level = std::max(info.x86_isa_level, level);
      }
      p += 8 + round_up(datasz, word_);
    }
  }

  static std::uint64_t round_up(std::uint64_t v, std::uint64_t align) {
    // Values come from 32-bit fields, so this cannot overflow 64 bits.
    return (v + align - 1) & ~(align - 1);
  }

  Image img_;
  bool is64_;
  unsigned word_;
  std::uint64_t phoff_ = 0, shoff_ = 0, phentsize_ = 0, phnum_ = 0;
  std::vector<Segment> segments_;
  std::optional<std::string_view> strtab_;
  std::uint64_t spent_ = 0;
};

}  // namespace

Result<Info> parse(std::span<const std::byte> image) {
  const auto byte = [&](std::size_t i) { return std::to_integer<unsigned char>(image[i]); };
  if (image.size() < 4 || byte(0) != ELFMAG0 || byte(1) != ELFMAG1 || byte(2) != ELFMAG2 || byte(3) != ELFMAG3) {
    return fail(Errc::Unsupported, "not an ELF file");
  }
  if (image.size() < EI_NIDENT) return fail(Errc::Corrupt, "truncated ELF identification ({} bytes)", image.size());
  const unsigned cls = byte(EI_CLASS), data = byte(EI_DATA);
  if (cls != ELFCLASS32 && cls != ELFCLASS64) return fail(Errc::Corrupt, "unknown ELF class {}", cls);
  if (data != ELFDATA2LSB && data != ELFDATA2MSB) return fail(Errc::Corrupt, "unknown ELF data encoding {}", data);
  return Parser(image, data == ELFDATA2MSB, cls == ELFCLASS64).run();
}

Result<Info> read_file(const std::filesystem::path& path) {
  // Non-blocking: a FIFO must be refused below, not waited on.
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) return std::unexpected(sys_error(errno, path.string()));
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    const int err = errno;
    ::close(fd);
    return std::unexpected(sys_error(err, path.string()));
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    return fail(Errc::Unsupported, "{}: not a regular file", path.string());
  }
  const auto size = static_cast<std::size_t>(st.st_size);
  Result<Info> result;
  if (size == 0) {
    result = parse({});
  } else {
    void* map = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (map == MAP_FAILED) {
      const int err = errno;
      ::close(fd);
      return std::unexpected(sys_error(err, "mapping " + path.string()));
    }
    result = parse({static_cast<const std::byte*>(map), size});
    ::munmap(map, size);
  }
  ::close(fd);
  if (!result) return std::unexpected(with_context(result.error(), path.string()));
  return result;
}

std::optional<std::vector<int>> parse_glibc_version(std::string_view version) {
  constexpr std::string_view prefix = "GLIBC_";
  if (!version.starts_with(prefix)) return std::nullopt;
  version.remove_prefix(prefix.size());
  std::vector<int> parts;
  while (true) {
    int n = 0;
    const auto [ptr, ec] = std::from_chars(version.data(), version.data() + version.size(), n);
    if (ec != std::errc{} || n < 0) return std::nullopt;
    parts.push_back(n);
    version.remove_prefix(static_cast<std::size_t>(ptr - version.data()));
    if (version.empty()) break;
    if (version.front() != '.' || parts.size() == 3) return std::nullopt;
    version.remove_prefix(1);
  }
  parts.resize(3, 0);
  return parts;
}

std::optional<std::vector<int>> max_glibc_version(const std::vector<VersionNeed>& needs) {
  std::optional<std::vector<int>> best;
  for (const auto& n : needs) {
    auto v = parse_glibc_version(n.version);
    if (v && (!best || *v > *best)) best = std::move(v);
  }
  return best;
}

std::string version_string(const std::vector<int>& version) {
  std::string out;
  for (std::size_t i = 0; i < version.size(); ++i) {
    if (i >= 2 && version[i] == 0 && i + 1 == version.size()) break;
    if (!out.empty()) out += '.';
    out += std::to_string(version[i]);
  }
  return out;
}

}  // namespace tmpdump::elf
