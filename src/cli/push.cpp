// tmpdump push FILE s3://bucket/key [s3://...] | tmpdump push FILE --bucket B --name N
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "cli/commands.hpp"
#include "cli/progress.hpp"
#include "pull/spec.hpp"
#include "s3/upload.hpp"
#include "util/env.hpp"
#include "util/file_source.hpp"

namespace tmpdump::cli {

namespace {

struct PushOptions {
  std::string file;
  std::vector<std::string> destinations;
  std::string bucket;
  std::string name;
  unsigned jobs = 4;
  std::uint64_t part_size_mb = 16;
  bool force = false;
  bool quiet = false;
  bool no_progress = false;
};


int run_push(const PushOptions& o) {
  std::vector<std::string> uris = o.destinations;
  if (uris.empty()) {
    if (o.bucket.empty() || o.name.empty()) {
      return report_error("push", {Errc::InvalidArgument, "give s3://bucket/key, or --bucket B and --name N "
                                                          "(for s3://B/tmpdump/N.zip)"});
    }
    uris.push_back(fmt::format("s3://{}/tmpdump/{}.zip", o.bucket, o.name));
  } else if (!o.bucket.empty() || !o.name.empty()) {
    return report_error("push", {Errc::InvalidArgument, "give either s3://bucket/key or --bucket/--name, not both"});
  }
  // Every destination is checked before anything is uploaded.
  std::vector<s3::Location> locations;
  for (const auto& uri : uris) {
    auto location = s3::parse_s3_uri(uri);
    if (!location) return report_error("push", location.error());
    if (uri.find(pull::kAlternateSeparator) != std::string::npos) {
      return report_error("push", {Errc::InvalidArgument, fmt::format("{}: a destination cannot hold '{}', which "
                                                                      "separates alternates in a source",
                                                                      uri, pull::kAlternateSeparator)});
    }
    locations.push_back(std::move(*location));
  }
  if (o.part_size_mb < 5 || o.part_size_mb > 5120) {
    return report_error("push", {Errc::InvalidArgument, "--part-size-mb must be 5-5120 (S3's limits)"});
  }

  auto opened = open_input_file(o.file);
  if (!opened) return report_error("push", opened.error());

  auto transport = http::make_curl_transport();
  auto config = s3::config_from_env(process_env(), *transport);
  if (!config) return report_error("push", config.error());

  std::error_code ec;
  const auto size = std::filesystem::file_size(o.file, ec);
  if (ec) {
    return report_error("push", {ec == std::errc::no_such_file_or_directory ? Errc::NotFound : Errc::Io,
                                 fmt::format("{}: {}", o.file, ec.message())});
  }
  std::string sha256;
  for (std::size_t d = 0; d < uris.size(); ++d) {
    const std::string& uri = uris[d];
    std::atomic<std::uint64_t> sent{0};
    s3::UploadOptions uo;
    uo.jobs = std::max(1u, o.jobs);
    uo.part_bytes = o.part_size_mb << 20;
    uo.multipart_threshold = 2 * uo.part_bytes;
    uo.force = o.force;
    uo.progress = &sent;
    const auto start = std::chrono::steady_clock::now();
    ProgressLine line(
        [&sent, size](double secs) {
          const double mb_sent = static_cast<double>(sent.load()) / 1e6;
          return fmt::format("uploading {:.1f}/{:.1f} MB  {:.1f} MB/s", mb_sent, static_cast<double>(size) / 1e6,
                             secs > 0 ? mb_sent / secs : 0.0);
        },
        !o.quiet && !o.no_progress && progress_wanted());
    auto result = s3::upload_file(o.file, locations[d], *config, *transport, uo);
    line.stop();
    if (!result) {
      // The destinations before this one hold the archive (their lines were printed); the rest were not tried.
      return report_error("push", uris.size() == 1 ? result.error()
                                                   : with_context(result.error(), fmt::format("destination {} of {}",
                                                                                              d + 1, uris.size())));
    }
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (!o.quiet) {
      if (result->skipped) {
        fmt::print("tmpdump push: {}: already there ({}, same sha256); nothing uploaded\n", uri, mb(result->bytes));
      } else {
        fmt::print("tmpdump push: {} -> {}: {}{} in {:.2f} s ({:.0f} MB/s)\n", o.file, uri, mb(result->bytes),
                   result->parts > 0 ? fmt::format(" in {} parts", result->parts) : std::string(), secs,
                   secs > 0 ? static_cast<double>(result->bytes) / 1e6 / secs : 0.0);
      }
      fmt::print("tmpdump push: source for tmpdump.json / TMPDUMP_SOURCES: {}#sha256={}\n", uri, result->sha256);
    }
    if (!sha256.empty() && sha256 != result->sha256) {
      return report_error("push", {Errc::Io, fmt::format("{} changed while it was being pushed", o.file)});
    }
    sha256 = result->sha256;
  }
  if (!o.quiet && uris.size() > 1) {
    std::string joined;
    for (const auto& uri : uris) joined += (joined.empty() ? "" : "|") + uri;
    fmt::print("tmpdump push: alternates for tmpdump.json / TMPDUMP_SOURCES: {}#sha256={}\n", joined, sha256);
  }
  return 0;
}

}  // namespace

Runner setup_push(CLI::App& sub) {
  auto o = std::make_shared<PushOptions>();
  sub.footer(
      "Stores the archive's sha256 as object metadata (x-amz-meta-tmpdump-sha256) and first asks S3\n"
      "(one HEAD) whether the key already holds it: then nothing is uploaded. Files of 32 MiB and more\n"
      "go multipart (twice the part size and more), parts in parallel. Credentials, region and endpoint: the usual AWS variables.");
  sub.add_option("FILE", o->file, "Archive to upload")->required();
  sub.add_option("DESTINATION", o->destinations,
                 "s3://bucket/key; several upload the same file to each, in order, and print them as alternates");
  sub.add_option("--bucket", o->bucket, "Bucket (with --name: key tmpdump/NAME.zip)");
  sub.add_option("--name", o->name, "Archive name (with --bucket)");
  sub.add_option("-j,--jobs", o->jobs, "Parts uploaded at once")->capture_default_str();
  sub.add_option("--part-size-mb", o->part_size_mb, "Multipart part size in MiB (5-5120)")->capture_default_str();
  sub.add_flag("--force", o->force, "Upload even when the key already holds the same bytes");
  sub.add_flag("-q,--quiet", o->quiet, "Print nothing but errors");
  sub.add_flag("--no-progress", o->no_progress, "No progress line, even on a terminal");
  return [o] { return run_push(*o); };
}

}  // namespace tmpdump::cli
