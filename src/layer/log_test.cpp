#include "layer/log.hpp"

#include <set>

#include <gtest/gtest.h>

namespace tmpdump::layer {
namespace {

using nlohmann::json;
using namespace std::chrono;

Env env_of(std::map<std::string, std::string, std::less<>> v) {
  return fixed_env(std::move(v));
}

const Logger::Clock::time_point kNoon{milliseconds(1764678600123)};  // 2025-12-02T12:30:00.123Z

Logger json_logger(std::string level = "") {
  std::map<std::string, std::string, std::less<>> v{{"AWS_LAMBDA_LOG_FORMAT", "JSON"}};
  if (!level.empty()) v["AWS_LAMBDA_LOG_LEVEL"] = level;
  return Logger("tmpdump bootstrap", LogSettings::from_env(env_of(v)));
}

/// The rules of the CloudWatch Embedded Metric Format specification
/// (https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html)
/// that a record must meet; returns the first broken one, or "".
std::string emf_violation(const json& r) {
  static const std::set<std::string> kUnits{
      "Seconds",          "Microseconds",     "Milliseconds", "Bytes",           "Kilobytes",        "Megabytes",
      "Gigabytes",        "Terabytes",        "Bits",         "Kilobits",        "Megabits",         "Gigabits",
      "Terabits",         "Percent",          "Count",        "Bytes/Second",    "Kilobytes/Second", "Megabytes/Second",
      "Gigabytes/Second", "Terabytes/Second", "Bits/Second",  "Kilobits/Second", "Megabits/Second",  "Gigabits/Second",
      "Terabits/Second",  "Count/Second",     "None"};
  if (!r.is_object()) return "root is not an object";
  if (!r.contains("_aws") || !r["_aws"].is_object()) return "no _aws object";
  const json& aws = r["_aws"];
  if (!aws.contains("Timestamp") || !aws["Timestamp"].is_number_integer()) return "Timestamp is not an integer";
  if (aws["Timestamp"].get<std::int64_t>() < 1'000'000'000'000) return "Timestamp is not in milliseconds";
  if (!aws.contains("CloudWatchMetrics") || !aws["CloudWatchMetrics"].is_array()) return "no CloudWatchMetrics array";
  for (const json& d : aws["CloudWatchMetrics"]) {
    if (!d.is_object()) return "a MetricDirective is not an object";
    if (!d.contains("Namespace") || !d["Namespace"].is_string()) return "no Namespace string";
    const auto ns = d["Namespace"].get<std::string>();
    if (ns.empty() || ns.size() > 255) return "Namespace length out of 1..255";
    if (!d.contains("Dimensions") || !d["Dimensions"].is_array()) return "no Dimensions array";
    for (const json& set : d["Dimensions"]) {
      if (!set.is_array()) return "a DimensionSet is not an array";
      if (set.size() > 30) return "a DimensionSet has more than 30 keys";
      for (const json& key : set) {
        if (!key.is_string()) return "a dimension key is not a string";
        const auto k = key.get<std::string>();
        if (!r.contains(k) || !r[k].is_string()) return "dimension " + k + " is not a top-level string member";
      }
    }
    if (!d.contains("Metrics") || !d["Metrics"].is_array() || d["Metrics"].empty()) return "no Metrics array";
    if (d["Metrics"].size() > 100) return "more than 100 metrics";
    for (const json& m : d["Metrics"]) {
      if (!m.is_object() || !m.contains("Name") || !m["Name"].is_string()) return "a MetricDefinition has no Name";
      const auto name = m["Name"].get<std::string>();
      if (name.empty() || name.size() > 1024) return "metric name length out of 1..1024";
      if (m.contains("Unit") && (!m["Unit"].is_string() || !kUnits.contains(m["Unit"].get<std::string>()))) {
        return "metric " + name + " has a Unit outside the allowed list";
      }
      if (!r.contains(name) || !r[name].is_number()) return "metric " + name + " is not a top-level number member";
    }
  }
  return "";
}

TEST(LayerLog, TextIsTheDefaultAndUnchanged) {
  Logger log("tmpdump bootstrap", LogSettings::from_env(env_of({})));
  EXPECT_EQ(log.format(LogLevel::Info, "init in 0.212 s: x", {{"bytes", 1}}), "tmpdump bootstrap: init in 0.212 s: x");
  // Lambda filters by level only for JSON; a text line is always written.
  Logger quiet("tmpdump bootstrap", LogSettings::from_env(env_of({{"AWS_LAMBDA_LOG_LEVEL", "ERROR"}})));
  EXPECT_TRUE(quiet.format(LogLevel::Info, "x").has_value());
}

TEST(LayerLog, JsonLineIsOneObjectWithLambdasFields) {
  auto line = json_logger().format(LogLevel::Info, "init in 0.212 s", {{"bytes", 14400000}, {"cache", "miss"}}, kNoon);
  ASSERT_TRUE(line);
  EXPECT_EQ(line->find('\n'), std::string::npos);
  const json j = json::parse(*line);
  EXPECT_EQ(j["timestamp"], "2025-12-02T12:30:00.123Z");
  EXPECT_EQ(j["level"], "INFO");
  EXPECT_EQ(j["message"], "init in 0.212 s");
  EXPECT_EQ(j["logger"], "tmpdump");
  EXPECT_EQ(j["bytes"], 14400000);
  EXPECT_EQ(j["cache"], "miss");
}

TEST(LayerLog, FieldsNeverReplaceTheFixedOnes) {
  const json j = json::parse(*json_logger().format(LogLevel::Error, "m", {{"level", "INFO"}, {"logger", "x"}}));
  EXPECT_EQ(j["level"], "ERROR");
  EXPECT_EQ(j["logger"], "tmpdump");
}

TEST(LayerLog, JsonHonoursTheLogLevel) {
  EXPECT_FALSE(json_logger().format(LogLevel::Debug, "d"));
  EXPECT_TRUE(json_logger("debug").format(LogLevel::Debug, "d"));
  EXPECT_FALSE(json_logger("WARN").format(LogLevel::Info, "init"));
  EXPECT_TRUE(json_logger("WARN").format(LogLevel::Error, "failure"));
  EXPECT_FALSE(json_logger("ERROR").format(LogLevel::Warn, "w"));
  EXPECT_TRUE(json_logger("ERROR").format(LogLevel::Error, "failure"));
  EXPECT_TRUE(json_logger("nonsense").format(LogLevel::Info, "init"));  // unknown: INFO
}

TEST(LayerLog, FormatValueIsCaseInsensitiveAndTextOtherwise) {
  EXPECT_EQ(LogSettings::from_env(env_of({{"AWS_LAMBDA_LOG_FORMAT", "json"}})).format, LogFormat::Json);
  EXPECT_EQ(LogSettings::from_env(env_of({{"AWS_LAMBDA_LOG_FORMAT", "Text"}})).format, LogFormat::Text);
}

TEST(LayerLog, InitFieldsNeverCarryAPresignedQuery) {
  Config c;
  c.sources.push_back({.kind = pull::SourceKind::Url,
                       .location = "https://b.s3.amazonaws.com/f.zip?X-Amz-Signature=deadbeef&X-Amz-Security-Token=tok",
                       .sha256 = std::nullopt,
                       .alternates = {}});
  c.origin = "TMPDUMP_SOURCES";
  const PullOutcome p{
      .installed = true, .summary = "s", .cached = false, .archive_bytes = 10, .bytes_read = 10, .bytes_unpacked = 30};
  const auto line = *json_logger().format(LogLevel::Info, "init", init_fields(c, p, 0.5));
  EXPECT_EQ(line.find("deadbeef"), std::string::npos) << line;
  EXPECT_EQ(line.find("tok"), std::string::npos) << line;
  const json j = json::parse(line);
  EXPECT_EQ(j["sources"][0], "https://b.s3.amazonaws.com/f.zip?…");
  EXPECT_EQ(j["cache"], "miss");
  EXPECT_EQ(j["bytesRead"], 10);
  EXPECT_EQ(j["bytesUnpacked"], 30);
  EXPECT_EQ(j["archives"], 1);
}

TEST(LayerLog, ErrorLineCarriesItsErrorType) {
  const json j = json::parse(
      *json_logger().format(LogLevel::Error, "TmpDump.NotFound: no such key", {{"errorType", "TmpDump.NotFound"}}));
  EXPECT_EQ(j["level"], "ERROR");
  EXPECT_EQ(j["errorType"], "TmpDump.NotFound");
}

TEST(LayerMetrics, RecordMeetsTheEmbeddedMetricFormatSpec) {
  const InitStats s{.seconds = 0.25,
                    .archives = 2,
                    .archive_bytes = 100,
                    .bytes_read = 100,
                    .bytes_unpacked = 300,
                    .cache_hit = false,
                    .retries = 3};
  const json r = json::parse(emf_record(s, env_of({{"AWS_LAMBDA_FUNCTION_NAME", "fn"}}), kNoon));
  EXPECT_EQ(emf_violation(r), "");
  EXPECT_EQ(r["_aws"]["Timestamp"], 1764678600123);
  EXPECT_EQ(r["_aws"]["CloudWatchMetrics"][0]["Namespace"], "tmpdump");
  EXPECT_EQ(r["_aws"]["CloudWatchMetrics"][0]["Dimensions"], json::parse(R"([["FunctionName"]])"));
  EXPECT_EQ(r["FunctionName"], "fn");
  EXPECT_EQ(r["PullSeconds"], 0.25);
  EXPECT_EQ(r["BytesRead"], 100);
  EXPECT_EQ(r["BytesUnpacked"], 300);
  EXPECT_EQ(r["Archives"], 2);
  EXPECT_EQ(r["CacheHit"], 0);
  EXPECT_EQ(r["Retries"], 3);
}

TEST(LayerMetrics, NamespaceOverrideAndNoFunctionName) {
  const json r = json::parse(emf_record({.cache_hit = true}, env_of({{"TMPDUMP_METRICS_NAMESPACE", "team/x"}})));
  EXPECT_EQ(emf_violation(r), "");
  EXPECT_EQ(r["_aws"]["CloudWatchMetrics"][0]["Namespace"], "team/x");
  EXPECT_FALSE(r.contains("FunctionName"));
  EXPECT_EQ(r["CacheHit"], 1);
}

TEST(LayerMetrics, ValidatorRejectsBrokenRecords) {
  json r = json::parse(emf_record({}, env_of({{"AWS_LAMBDA_FUNCTION_NAME", "fn"}})));
  json no_dim = r;
  no_dim.erase("FunctionName");
  EXPECT_NE(emf_violation(no_dim), "");
  json bad_unit = r;
  bad_unit["_aws"]["CloudWatchMetrics"][0]["Metrics"][0]["Unit"] = "Secs";
  EXPECT_NE(emf_violation(bad_unit), "");
  json seconds_ts = r;
  seconds_ts["_aws"]["Timestamp"] = 1764678600;
  EXPECT_NE(emf_violation(seconds_ts), "");
}

TEST(LayerMetrics, OnInAFunctionOffWithTmpdumpMetricsZeroOrOutsideOne) {
  EXPECT_TRUE(metrics_enabled(env_of({{"AWS_LAMBDA_FUNCTION_NAME", "fn"}})));
  EXPECT_TRUE(metrics_enabled(env_of({{"AWS_LAMBDA_FUNCTION_NAME", "fn"}, {"TMPDUMP_METRICS", "1"}})));
  EXPECT_FALSE(metrics_enabled(env_of({{"AWS_LAMBDA_FUNCTION_NAME", "fn"}, {"TMPDUMP_METRICS", "0"}})));
  // Run by hand (no function): stdout stays the program's.
  EXPECT_FALSE(metrics_enabled(env_of({})));
  EXPECT_FALSE(metrics_enabled(env_of({{"AWS_LAMBDA_FUNCTION_NAME", ""}})));
}

}  // namespace
}  // namespace tmpdump::layer
