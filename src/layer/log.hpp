// The output lines of `bootstrap` and `tmpdump-exec-wrapper`: text by
// default ("tmpdump bootstrap: init in ..."), one JSON object a line when
// Lambda's advanced logging controls ask for it (AWS_LAMBDA_LOG_FORMAT=JSON,
// filtered by AWS_LAMBDA_LOG_LEVEL), and the init's CloudWatch Embedded
// Metric Format record (docs/configuration.md, "Logs and metrics").
#pragma once

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "layer/config.hpp"
#include "layer/pull.hpp"
#include "util/env.hpp"

namespace tmpdump::layer {

enum class LogLevel { Trace, Debug, Info, Warn, Error, Fatal };
enum class LogFormat { Text, Json };

/// What the environment asks for: AWS_LAMBDA_LOG_FORMAT=JSON (any case)
/// selects JSON, anything else text; AWS_LAMBDA_LOG_LEVEL (TRACE, DEBUG,
/// INFO, WARN, ERROR, FATAL, any case; default and unknown: INFO) is the
/// least severe level written. As in Lambda, the level filters JSON lines
/// only: a text line is always written.
struct LogSettings {
  LogFormat format = LogFormat::Text;
  LogLevel level = LogLevel::Info;
  [[nodiscard]] static LogSettings from_env(const Env& env);
};

/// "INFO", "ERROR", ... as Lambda spells them.
[[nodiscard]] std::string_view level_name(LogLevel level);

/// Formats the lines of one program ("tmpdump bootstrap", "tmpdump-exec-wrapper").
class Logger {
 public:
  using Clock = std::chrono::system_clock;
  Logger(std::string prefix, LogSettings settings) : prefix_(std::move(prefix)), settings_(settings) {}

  /// The line for `message` (no trailing newline), or nullopt when the level
  /// filters it out. Text: "<prefix>: <message>", `fields` unused. JSON:
  /// {"timestamp": RFC 3339 UTC with milliseconds, "level", "message",
  /// "logger": "tmpdump", then `fields` (an object; its members never replace
  /// those four)}. Callers pass sources through display_source() themselves.
  [[nodiscard]] std::optional<std::string> format(LogLevel level, std::string_view message,
                                                  const nlohmann::json& fields = nlohmann::json::object(),
                                                  Clock::time_point now = Clock::now()) const;

  /// Writes format(...) and a newline to `out` (stderr by default) and flushes.
  void write(LogLevel level, std::string_view message, const nlohmann::json& fields = nlohmann::json::object(),
             std::FILE* out = stderr) const;

  [[nodiscard]] const LogSettings& settings() const { return settings_; }

 private:
  std::string prefix_;
  LogSettings settings_;
};

/// `t` as RFC 3339 in UTC with milliseconds: "2026-12-02T08:30:00.123Z".
[[nodiscard]] std::string rfc3339_ms(Logger::Clock::time_point t);

/// One init's numbers, for the JSON init line and the EMF record.
struct InitStats {
  double seconds = 0;
  std::uint64_t archives = 0;
  std::uint64_t archive_bytes = 0;
  std::uint64_t bytes_read = 0;      ///< archive bytes transferred (0 on a cache hit)
  std::uint64_t bytes_unpacked = 0;  ///< bytes written into the root (0 on a cache hit)
  bool cache_hit = false;
  std::uint64_t retries = 0;  ///< requests the pull tried again
};

/// The numbers of an init that took `seconds` whose pull ended in `pull`.
[[nodiscard]] InitStats init_stats(const Config& config, const PullOutcome& pull, double seconds);

/// The JSON init line's fields: seconds, sources (each through
/// display_source(): never a presigned query), origin, root, archives,
/// bytes (the archives' size), bytesRead, bytesUnpacked and cache ("hit" or
/// "miss"; absent when no tmpdump is configured).
[[nodiscard]] nlohmann::json init_fields(const Config& config, const PullOutcome& pull, double seconds);

/// Whether the EMF record is written: in a function (AWS_LAMBDA_FUNCTION_NAME
/// set), unless TMPDUMP_METRICS=0.
[[nodiscard]] bool metrics_enabled(const Env& env);

/// The init's CloudWatch Embedded Metric Format record (one JSON object, no
/// newline): namespace TMPDUMP_METRICS_NAMESPACE (default "tmpdump"),
/// dimension FunctionName (AWS_LAMBDA_FUNCTION_NAME; no dimension when
/// unset), metrics PullSeconds (Seconds), BytesRead, BytesUnpacked (Bytes),
/// Archives, CacheHit (Count, 0 or 1).
[[nodiscard]] std::string emf_record(const InitStats& stats, const Env& env,
                                     Logger::Clock::time_point now = Logger::Clock::now());

/// Writes emf_record() and a newline to stdout and flushes, when
/// metrics_enabled(). EMF is read from stdout only; call it before the
/// handler owns stdout (before exec).
void write_emf(const InitStats& stats, const Env& env);

}  // namespace tmpdump::layer
