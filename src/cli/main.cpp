#include <cstdio>
#include <iterator>
#include <memory>
#include <string>

#include <CLI/CLI.hpp>

#include "cli/commands.hpp"
#include "util/error.hpp"

namespace tmpdump::cli {

int report_error(std::string_view command, const Error& error) {
  fmt::print(stderr, "tmpdump {}: {}: {}\n", command, describe(error.code), error.message);
  return exit_code(error.code);
}

namespace {

// "Exit codes: 0 ok, 1 unexpected, ...\n": the table of util/error.hpp, five codes a line.
std::string exit_codes_help() {
  constexpr std::size_t kPerLine = 5;
  std::string text = "Exit codes: ";
  const std::size_t rows = std::size(tmpdump::kExitCodes);
  for (std::size_t i = 0; i < rows; ++i) {
    const auto& row = tmpdump::kExitCodes[i];
    const bool last = i + 1 == rows;
    text += fmt::format("{} {}{}", row.code, row.meaning, last ? ".\n" : (i + 1) % kPerLine == 0 ? ",\n" : ", ");
  }
  return text;
}

}  // namespace

}  // namespace tmpdump::cli

int main(int argc, char** argv) {
  using namespace tmpdump::cli;
  CLI::App app{"tmpdump: native libraries for AWS Lambda, kept in S3 and unpacked into /tmp at init.\n" +
               exit_codes_help() + "See docs/cli.md."};
  app.set_version_flag("--version", std::string("tmpdump ") + TMPDUMP_VERSION);
  app.require_subcommand(1);
  Runner run;
  for (const auto& cmd : kCommands) {
    CLI::App* sub = app.add_subcommand(std::string(cmd.name), std::string(cmd.summary));
    Runner r = cmd.setup(*sub);
    sub->final_callback([&run, r] { run = r; });
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return 2;
  }
  try {
    return run ? run() : 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "tmpdump: unexpected error: %s\n", e.what());
    return 1;
  }
}
