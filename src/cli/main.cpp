#include <cstdio>
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

}  // namespace tmpdump::cli

int main(int argc, char** argv) {
  using namespace tmpdump::cli;
  CLI::App app{"tmpdump: native libraries for AWS Lambda, kept in S3 and unpacked into /tmp at init.\n"
               "Exit codes: 0 ok, 1 unexpected, 2 usage or configuration, 3 not found, 4 forbidden,\n"
               "5 corrupt archive, 6 unsafe archive, 7 checksum mismatch, 8 no space, 9 network,\n"
               "10 i/o, 11 unsupported, 12 conflict, 13 check found problems, 14 the emulated function failed.\n"
               "See docs/cli.md."};
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
