// The subcommands of `tmpdump`, one table (ninja's kTools[] idea); each lives
// in its own file under src/cli/.
#pragma once

#include <functional>
#include <string_view>

#include <CLI/CLI.hpp>

#include "util/error.hpp"

namespace tmpdump::cli {

/// Runs a parsed subcommand; returns the process exit code.
using Runner = std::function<int()>;

struct Command {
  std::string_view name;
  std::string_view summary;
  /// Declares the subcommand's options on `sub` and returns what runs it.
  Runner (*setup)(CLI::App& sub);
};

Runner setup_pull(CLI::App& sub);

inline constexpr Command kCommands[] = {
    {"pull", "Download tmpdump archives and unpack them into a root directory (the layer's engine)", setup_pull},
};

/// Prints "tmpdump <command>: <kind>: <message>" to stderr and returns the exit code for it.
int report_error(std::string_view command, const Error& error);

}  // namespace tmpdump::cli
