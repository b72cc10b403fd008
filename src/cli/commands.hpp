// The subcommands of `tmpdump`, one table (ninja's kTools[] idea); each lives
// in its own file under src/cli/.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include <CLI/CLI.hpp>

#include "util/error.hpp"
#include "util/units.hpp"

namespace tmpdump::cli {

/// Runs a parsed subcommand; returns the process exit code.
using Runner = std::function<int()>;

struct Command {
  std::string_view name;
  std::string_view summary;
  /// Declares the subcommand's options on `sub` and returns what runs it.
  Runner (*setup)(CLI::App& sub);
};

Runner setup_trace(CLI::App& sub);
Runner setup_pack(CLI::App& sub);
Runner setup_push(CLI::App& sub);
Runner setup_pull(CLI::App& sub);
Runner setup_inspect(CLI::App& sub);
Runner setup_check(CLI::App& sub);
Runner setup_prune(CLI::App& sub);
Runner setup_emulate(CLI::App& sub);

inline constexpr Command kCommands[] = {
    {"trace", "Run a command and record every shared library it loads", setup_trace},
    {"pack", "Zip libraries into a reproducible tmpdump archive with a manifest", setup_pack},
    {"push", "Upload a tmpdump archive to S3 (multipart, skipped when unchanged)", setup_push},
    {"pull", "Download tmpdump archives and unpack them into a root directory (the layer's engine)", setup_pull},
    {"inspect", "List an archive's entries, sizes, symlinks, variants and requirements", setup_inspect},
    {"check", "Check that an archive will load on Lambda: closure, glibc, ISA level, size", setup_check},
    {"prune", "Remove native libraries and other entries from a jar or zip, atomically", setup_prune},
    {"emulate", "Run a function locally the way Lambda runs it", setup_emulate},
};

/// Prints "tmpdump <command>: <kind>: <message>" to stderr and returns the exit code for it.
int report_error(std::string_view command, const Error& error);

}  // namespace tmpdump::cli
