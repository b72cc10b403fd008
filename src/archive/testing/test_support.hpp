// Internal: helpers shared by the archive module's tests (testing/ holds test
// helpers only; no product target includes it).
#pragma once

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <sstream>
#include <string>

#include "archive/extract.hpp"
#include "archive/zip.hpp"
#include "archive/zip_writer.hpp"
#include "support/process.hpp"
#include "util/file_source.hpp"
#include "util/sha256.hpp"

namespace tmpdump::archive::testing {

namespace fs = std::filesystem;

/// A fresh directory, removed (made writable first) at scope exit: the
/// integration tests' own (tests/support, linked into archive_test).
using tmpdump::testing::TempDir;

inline int run(const std::string& cmd) {
  return std::system(cmd.c_str());
}

inline std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

inline void write_file(const fs::path& p, std::string_view bytes) {
  fs::create_directories(p.parent_path());
  std::ofstream(p, std::ios::binary) << bytes;
}

/// What a tree holds, for comparing two extractions: type, mode, content or target.
inline std::map<std::string, std::string> snapshot(const fs::path& root) {
  std::map<std::string, std::string> out;
  for (auto it = fs::recursive_directory_iterator(root); it != fs::recursive_directory_iterator(); ++it) {
    struct stat st {};
    ::lstat(it->path().c_str(), &st);
    const auto rel = fs::relative(it->path(), root).string();
    std::string desc = fmt::format("mode={:o} ", st.st_mode);
    if (S_ISLNK(st.st_mode))
      desc += "-> " + fs::read_symlink(it->path()).string();
    else if (S_ISREG(st.st_mode))
      desc += "size=" + std::to_string(st.st_size) + " sha=" + sha256_hex(slurp(it->path()));
    out[rel] = desc;
  }
  return out;
}

/// Reads the central directory of `zip` and extracts it into `dest`.
inline Result<ExtractStats> extract_zip(const std::string& zip, const fs::path& dest, ExtractOptions options = {},
                                        std::optional<std::string> sha = std::nullopt, std::size_t piece = 64 << 10,
                                        const std::string& name = "test.zip") {
  auto source = make_memory_source(zip, name, piece);
  auto info = source->stat();
  if (!info) return std::unexpected(info.error());
  auto dir = read_central_directory(*source, *info, options.limits);
  if (!dir) return std::unexpected(dir.error());
  ArchiveInput input{source.get(), &*dir, std::move(sha)};
  return extract(std::span(&input, 1), dest, options);
}

/// Bytes that compress about 3:1 and are not repetitive at any short period.
inline std::string compressible(std::size_t n, unsigned seed = 1) {
  std::mt19937 rng(seed);
  std::string words[64];
  for (auto& w : words) {
    const std::size_t len = 3 + rng() % 9;
    for (std::size_t i = 0; i < len; ++i) w += static_cast<char>('a' + rng() % 26);
  }
  std::string out;
  out.reserve(n + 16);
  while (out.size() < n) {
    out += words[rng() % 64];
    out += (rng() % 7 == 0) ? static_cast<char>(rng() % 256) : ' ';
  }
  out.resize(n);
  return out;
}

}  // namespace tmpdump::archive::testing
