#include "layer/log.hpp"

#include <ctime>

#include <fmt/format.h>

#include "util/display.hpp"

namespace tmpdump::layer {

namespace {

std::string upper(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  }
  return out;
}

}  // namespace

LogSettings LogSettings::from_env(const Env& env) {
  LogSettings s;
  if (upper(env("AWS_LAMBDA_LOG_FORMAT").value_or("")) == "JSON") s.format = LogFormat::Json;
  const std::string level = upper(env("AWS_LAMBDA_LOG_LEVEL").value_or(""));
  if (level == "TRACE")
    s.level = LogLevel::Trace;
  else if (level == "DEBUG")
    s.level = LogLevel::Debug;
  else if (level == "WARN")
    s.level = LogLevel::Warn;
  else if (level == "ERROR")
    s.level = LogLevel::Error;
  else if (level == "FATAL")
    s.level = LogLevel::Fatal;
  return s;
}

std::string_view level_name(LogLevel level) {
  switch (level) {
    case LogLevel::Trace:
      return "TRACE";
    case LogLevel::Debug:
      return "DEBUG";
    case LogLevel::Info:
      return "INFO";
    case LogLevel::Warn:
      return "WARN";
    case LogLevel::Error:
      return "ERROR";
    case LogLevel::Fatal:
      return "FATAL";
  }
  return "INFO";
}

std::string rfc3339_ms(Logger::Clock::time_point t) {
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
  const std::time_t secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  ::gmtime_r(&secs, &tm);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                     tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(ms % 1000));
}

std::optional<std::string> Logger::format(LogLevel level, std::string_view message, const nlohmann::json& fields,
                                          Clock::time_point now) const {
  if (settings_.format == LogFormat::Text) return fmt::format("{}: {}", prefix_, message);
  if (level < settings_.level) return std::nullopt;
  nlohmann::ordered_json line = {
      {"timestamp", rfc3339_ms(now)}, {"level", level_name(level)}, {"message", message}, {"logger", "tmpdump"}};
  if (fields.is_object()) {
    for (const auto& [k, v] : fields.items()) {
      if (!line.contains(k)) line[k] = v;  // never replaces the four above
    }
  }
  // Replace invalid UTF-8 (a path is bytes) rather than throw.
  return line.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

void Logger::write(LogLevel level, std::string_view message, const nlohmann::json& fields, std::FILE* out) const {
  if (auto line = format(level, message, fields)) {
    fmt::print(out, "{}\n", *line);
    std::fflush(out);
  }
}

InitStats init_stats(const Config& config, const PullOutcome& pull, double seconds) {
  return InitStats{.seconds = seconds,
                   .archives = pull.installed ? config.sources.size() : 0,
                   .archive_bytes = pull.archive_bytes,
                   .bytes_read = pull.bytes_read,
                   .bytes_unpacked = pull.bytes_unpacked,
                   .cache_hit = pull.installed && pull.cached,
                   .retries = pull.retries};
}

nlohmann::json init_fields(const Config& config, const PullOutcome& pull, double seconds) {
  const InitStats s = init_stats(config, pull, seconds);
  nlohmann::json sources = nlohmann::json::array();
  for (const auto& spec : config.sources) sources.push_back(display_source(spec.location));
  nlohmann::json f = {{"seconds", s.seconds},      {"sources", sources},
                      {"origin", config.origin},   {"root", config.root.string()},
                      {"archives", s.archives},    {"bytes", s.archive_bytes},
                      {"bytesRead", s.bytes_read}, {"bytesUnpacked", s.bytes_unpacked}};
  if (pull.installed) f["cache"] = s.cache_hit ? "hit" : "miss";
  return f;
}

bool metrics_enabled(const Env& env) {
  // Only in a function (Lambda and `tmpdump emulate` set its name): run by
  // hand, the wrapper's stdout is the program's own and stays clean, and a
  // record without its FunctionName dimension would be of no use.
  const auto function = env("AWS_LAMBDA_FUNCTION_NAME");
  return function && !function->empty() && env("TMPDUMP_METRICS").value_or("") != "0";
}

std::string emf_record(const InitStats& stats, const Env& env, Logger::Clock::time_point now) {
  // https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html
  std::string ns = env("TMPDUMP_METRICS_NAMESPACE").value_or("");
  if (ns.empty()) ns = "tmpdump";
  const auto function = env("AWS_LAMBDA_FUNCTION_NAME");
  nlohmann::json dims = nlohmann::json::array();
  if (function && !function->empty()) dims.push_back("FunctionName");
  const auto metric = [](std::string_view name, std::string_view unit) {
    return nlohmann::ordered_json{{"Name", name}, {"Unit", unit}};
  };
  nlohmann::ordered_json record = {
      {"_aws",
       {{"Timestamp", std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count()},
        {"CloudWatchMetrics", nlohmann::ordered_json::array(
                                  {{{"Namespace", ns},
                                    {"Dimensions", nlohmann::ordered_json::array({dims})},
                                    {"Metrics", nlohmann::ordered_json::array(
                                                    {metric("PullSeconds", "Seconds"), metric("BytesRead", "Bytes"),
                                                     metric("BytesUnpacked", "Bytes"), metric("Archives", "Count"),
                                                     metric("CacheHit", "Count"), metric("Retries", "Count")})}}})}}},
      {"PullSeconds", stats.seconds},
      {"BytesRead", stats.bytes_read},
      {"BytesUnpacked", stats.bytes_unpacked},
      {"Archives", stats.archives},
      {"CacheHit", stats.cache_hit ? 1 : 0},
      {"Retries", stats.retries}};
  if (!dims.empty()) record["FunctionName"] = *function;
  return record.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

void write_emf(const InitStats& stats, const Env& env) {
  if (!metrics_enabled(env)) return;
  std::fflush(stdout);
  fmt::print(stdout, "{}\n", emf_record(stats, env));
  std::fflush(stdout);
}

}  // namespace tmpdump::layer
