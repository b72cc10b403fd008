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

#include <fmt/ranges.h>

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

// The DESTINATIONs, or the one --bucket and --name make.
Result<std::vector<std::string>> destination_uris(const PushOptions& o) {
  if (!o.destinations.empty()) {
    if (!o.bucket.empty() || !o.name.empty()) {
      return fail(Errc::InvalidArgument, "give either s3://bucket/key or --bucket/--name, not both");
    }
    return o.destinations;
  }
  if (o.bucket.empty() || o.name.empty()) {
    return fail(Errc::InvalidArgument, "give s3://bucket/key, or --bucket B and --name N (for s3://B/tmpdump/N.zip)");
  }
  return std::vector<std::string>{fmt::format("s3://{}/tmpdump/{}.zip", o.bucket, o.name)};
}

// Every destination is checked before anything is uploaded.
Result<std::vector<s3::Location>> parse_destinations(const std::vector<std::string>& uris) {
  std::vector<s3::Location> locations;
  for (const auto& uri : uris) {
    auto location = s3::parse_s3_uri(uri);
    if (!location) return std::unexpected(location.error());
    if (uri.find(pull::kAlternateSeparator) != std::string::npos) {
      return fail(Errc::InvalidArgument, "{}: a destination cannot hold '{}', which separates alternates in a source",
                  uri, pull::kAlternateSeparator);
    }
    locations.push_back(std::move(*location));
  }
  return locations;
}

Result<std::uint64_t> file_size(const std::string& file) {
  std::error_code ec;
  const auto size = std::filesystem::file_size(file, ec);
  if (ec) {
    return std::unexpected(Error{ec == std::errc::no_such_file_or_directory ? Errc::NotFound : Errc::Io,
                                 fmt::format("{}: {}", file, ec.message())});
  }
  return size;
}

// What one upload did and how long it took.
struct Pushed {
  s3::UploadResult result;
  double seconds = 0;
};

// Uploads the file to one destination, with a progress line on a terminal.
Result<Pushed> upload(const PushOptions& o, const s3::Location& location, std::uint64_t size,
                      const s3::ClientConfig& config, const http::Transport& transport) {
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
        const std::uint64_t done = sent.load();
        return fmt::format("uploading {}  {}", mb_progress(done, size), mb_per_s(done, secs));
      },
      !o.quiet && !o.no_progress && progress_wanted());
  auto result = s3::upload_file(o.file, location, config, transport, uo);
  line.stop();
  if (!result) return std::unexpected(result.error());
  return Pushed{std::move(*result), std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count()};
}

void print_pushed(const PushOptions& o, const std::string& uri, const Pushed& pushed) {
  const s3::UploadResult& result = pushed.result;
  if (result.skipped) {
    fmt::print("tmpdump push: {}: already there ({}, same sha256); nothing uploaded\n", uri, mb(result.bytes));
  } else {
    fmt::print("tmpdump push: {} -> {}: {}{} in {:.2f} s ({})\n", o.file, uri, mb(result.bytes),
               result.parts > 0 ? fmt::format(" in {} parts", result.parts) : std::string(), pushed.seconds,
               mb_per_s(result.bytes, pushed.seconds, 0));
  }
  fmt::print("tmpdump push: source for tmpdump.json / TMPDUMP_SOURCES: {}#sha256={}\n", uri, result.sha256);
}

int run_push(const PushOptions& o) {
  auto uris = destination_uris(o);
  if (!uris) return report_error("push", uris.error());
  auto locations = parse_destinations(*uris);
  if (!locations) return report_error("push", locations.error());
  if (o.part_size_mb < 5 || o.part_size_mb > 5120) {
    return report_error("push", {Errc::InvalidArgument, "--part-size-mb must be 5-5120 (S3's limits)"});
  }
  if (auto opened = open_input_file(o.file); !opened) return report_error("push", opened.error());
  auto transport = http::make_curl_transport();
  auto config = s3::config_from_env(process_env(), *transport);
  if (!config) return report_error("push", config.error());
  auto size = file_size(o.file);
  if (!size) return report_error("push", size.error());

  std::string sha256;
  for (std::size_t d = 0; d < uris->size(); ++d) {
    auto pushed = upload(o, (*locations)[d], *size, *config, *transport);
    if (!pushed) {
      // The destinations before this one hold the archive (their lines were printed); the rest were not tried.
      return report_error("push", uris->size() == 1 ? pushed.error()
                                                    : with_context(pushed.error(), fmt::format("destination {} of {}",
                                                                                               d + 1, uris->size())));
    }
    if (!o.quiet) print_pushed(o, (*uris)[d], *pushed);
    if (!sha256.empty() && sha256 != pushed->result.sha256) {
      return report_error("push", {Errc::Io, fmt::format("{} changed while it was being pushed", o.file)});
    }
    sha256 = pushed->result.sha256;
  }
  if (!o.quiet && uris->size() > 1) {
    fmt::print("tmpdump push: alternates for tmpdump.json / TMPDUMP_SOURCES: {}#sha256={}\n", fmt::join(*uris, "|"),
               sha256);
  }
  return 0;
}

}  // namespace

Runner setup_push(CLI::App& sub) {
  auto o = std::make_shared<PushOptions>();
  sub.footer(
      "Stores the archive's sha256 as object metadata (x-amz-meta-tmpdump-sha256) and first asks S3\n"
      "(one HEAD) whether the key already holds it: then nothing is uploaded. Files of 32 MiB and more\n"
      "go multipart (twice the part size and more), parts in parallel. Credentials, region and endpoint: the usual AWS "
      "variables.");
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
