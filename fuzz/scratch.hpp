// A scratch directory per fuzzing process ($TMPDIR or /tmp), created on first
// use and removed when the process exits. Shared by the targets that need
// files on disk (zip extraction, tmpdump.json).
#pragma once

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <string>

namespace tmpdump::fuzz {

inline std::filesystem::path scratch_path(const std::string& name) {
  const char* tmp = std::getenv("TMPDIR");
  return std::filesystem::path(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") /
         ("tmpdump-" + name + "-fuzz-" + std::to_string(::getpid()));
}

/// The directory for target `name`; the same path on every call.
inline const std::filesystem::path& scratch_dir(const std::string& name) {
  static const std::filesystem::path dir = [&name] {
    std::filesystem::create_directories(scratch_path(name));
    static const std::string kept = name;
    std::atexit([] {
      std::error_code ec;
      std::filesystem::remove_all(scratch_path(kept), ec);
    });
    return scratch_path(name);
  }();
  return dir;
}

}  // namespace tmpdump::fuzz
