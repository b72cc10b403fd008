// tmpdump trace [-o FILE] [--] COMMAND [ARGS...]
#include "trace/trace.hpp"

#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "cli/commands.hpp"
#include "util/fs_at.hpp"

namespace tmpdump::cli {

namespace {

struct TraceOptions {
  std::string output;
  bool quiet = false;
};

int run_trace(const TraceOptions& o, std::vector<std::string> command) {
  if (!command.empty() && command.front() == "--") command.erase(command.begin());
  if (!command.empty() && command.front().starts_with("-")) {
    return report_error(
        "trace", {Errc::InvalidArgument, fmt::format("unknown option {}; put the command after --", command.front())});
  }
  if (command.empty())
    return report_error(
        "trace", {Errc::InvalidArgument, "no COMMAND given; usage: tmpdump trace [-o FILE] -- COMMAND [ARGS...]"});
  auto audit = trace::find_audit_library(process_env());
  if (!audit) return report_error("trace", audit.error());
  auto outcome = trace::run({.command = command, .audit_library = *audit});
  if (!outcome) return report_error("trace", outcome.error());

  const std::string text = trace::to_json(outcome->trace);
  if (o.output.empty() || o.output == "-") {
    std::fwrite(text.data(), 1, text.size(), stdout);
    std::fflush(stdout);
  } else if (auto w = write_file_atomically(o.output, text); !w) {
    return report_error("trace", w.error());
  }
  if (!o.quiet) {
    std::map<std::string, std::size_t> runtime;
    for (const auto& l : outcome->trace.libraries) {
      if (!l.provided_by.empty()) ++runtime[l.provided_by];
    }
    std::string theirs;
    for (const auto& [name, n] : runtime) theirs += fmt::format(", {} the {} runtime's own", n, name);
    fmt::print(stderr, "tmpdump trace: {} libraries loaded by {}{}{}{}\n", outcome->trace.libraries.size(), command[0],
               theirs, o.output.empty() || o.output == "-" ? "" : ", written to " + o.output,
               outcome->exit_status == 0 ? "" : fmt::format(" (the command exited with {})", outcome->exit_status));
  }
  // Like time(1) and strace(1): the command's own status, so scripts see its failures.
  return outcome->exit_status;
}

}  // namespace

Runner setup_trace(CLI::App& sub) {
  auto o = std::make_shared<TraceOptions>();
  sub.footer(
      "Runs COMMAND with the dynamic loader's audit interface (LD_AUDIT) and records every\n"
      "shared library it loads: linked, dlopen'ed, loaded by child processes or by a JVM\n"
      "(System.load/loadLibrary). Output: JSON (docs/formats.md, \"Trace file\") for\n"
      "`tmpdump pack FILE -o ARCHIVE`. Exits with COMMAND's exit status.\n"
      "Example: tmpdump trace -o trace.json -- java -jar app.jar --warmup");
  sub.add_option("-o,--output", o->output, "Write the trace to FILE (default: stdout, after the command ends)");
  sub.add_flag("-q,--quiet", o->quiet, "No summary line on stderr");
  // Everything from COMMAND on belongs to the command, its options included:
  // a prefix command. The positional below is never filled (its check refuses
  // every value); it only keeps CLI11 from handing "--" back to the main parser.
  static std::vector<std::string> never_filled;
  sub.add_option("COMMAND", never_filled, "The command to run and its arguments")
      ->check(CLI::Validator([](std::string&) { return std::string("taken verbatim"); }, "COMMAND [ARGS...]"));
  sub.validate_positionals();
  sub.prefix_command();
  CLI::App* app = &sub;
  return [o, app] { return run_trace(*o, app->remaining()); };
}

}  // namespace tmpdump::cli
