// PUT and multipart uploads with the same retry rules as the reading side
// (source.cpp): 5xx, 429, throttling codes and connection errors are retried
// with full-jitter backoff; everything else is reported with S3's own code.
#include "s3/upload.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <mutex>
#include <random>
#include <thread>
#include <variant>

#include "s3/detail.hpp"
#include "util/file_source.hpp"
#include "util/io.hpp"
#include "util/sha256.hpp"

namespace tmpdump::s3 {

namespace fs = std::filesystem;

namespace {

constexpr std::uint64_t kMinPart = 5ull << 20;
constexpr std::uint64_t kMaxParts = 10000;
constexpr std::size_t kMaxAnswerBytes = 1 << 20;

bool retryable_code(std::string_view code) {
  return code == "SlowDown" || code == "InternalError" || code == "ServiceUnavailable" || code == "RequestTimeout" ||
         code == "Throttling" || code == "ThrottlingException" || code == "RequestLimitExceeded";
}

/// Percent-encodes a query value as SigV4 wants it (unreserved characters kept).
std::string encode_query(std::string_view v) {
  std::string out;
  for (char c : v) {
    const auto u = static_cast<unsigned char>(c);
    if (std::isalnum(u) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += c;
    } else {
      out += fmt::format("%{:02X}", u);
    }
  }
  return out;
}

struct Answer {
  http::Response response;
  std::string body;
};

/// One object's requests, signed, with retries.
class Requests {
 public:
  Requests(const Location& location, const ClientConfig& config, RetryPolicy retry)
      : location_(location), config_(config), retry_(std::move(retry)), rng_(std::random_device{}()) {
    url_ = object_url(config_, location_);
    shown_ = fmt::format("s3://{}/{}", location_.bucket, location_.key);
    if (!retry_.sleep) retry_.sleep = [](std::chrono::milliseconds d) { std::this_thread::sleep_for(d); };
    if (retry_.max_attempts < 1) retry_.max_attempts = 1;
  }
  Requests(const Requests& other) : Requests(other.location_, other.config_, other.retry_) {}

  http::Request make(std::string method, std::string_view query = {}) const {
    http::Request r;
    r.method = std::move(method);
    r.url = query.empty() ? url_ : url_ + "?" + std::string(query);
    if (config_.credentials) r.sigv4 = detail::s3_signing(*config_.credentials, config_.region);
    return r;
  }

  /// Sends `request` until a 2xx answer, a final error, or the budget is spent.
  /// `accept` may take a non-2xx status as an answer (HEAD's 404).
  Result<Answer> send(http::Transport& transport, const http::Request& request, std::string_view what,
                      const std::function<bool(long)>& accept = {}) {
    std::string reason;
    for (int attempt = 1;; ++attempt) {
      Answer answer;
      auto r = transport.perform(request, [&answer](std::span<const std::byte> bytes) -> Result<void> {
        if (answer.body.size() + bytes.size() > kMaxAnswerBytes) return fail(Errc::Corrupt, "answer too large");
        answer.body.append(reinterpret_cast<const char*>(bytes.data()), bytes.size());
        return {};
      });
      if (!r) {
        if (r.error().code != Errc::Network) return std::unexpected(scrub(r.error()));
        reason = r.error().message;
      } else {
        answer.response = std::move(*r);
        const long status = answer.response.status;
        const std::string& error_text = status >= 200 && status < 300 ? answer.body : answer.response.error_body;
        const auto code = detail::xml_element(error_text, "Code");
        // CompleteMultipartUpload may fail after a 200 with an <Error> body.
        const bool error_in_200 = status == 200 && answer.body.find("<Error>") != std::string::npos;
        if ((status >= 200 && status < 300 && !error_in_200) || (accept && accept(status))) return answer;
        if (status >= 500 || status == 429 || retryable_code(code) || error_in_200) {
          reason = fmt::format("HTTP {}{}{}", status, code.empty() ? "" : " ", code);
        } else {
          return std::unexpected(judge(answer.response, code, what));
        }
      }
      if (attempt >= retry_.max_attempts) {
        return fail(Errc::Network, "{}: {} failed after {} attempts: {}", shown_, what, attempt, reason);
      }
      retry_.sleep(detail::backoff_delay(retry_, attempt, rng_));
    }
  }

  [[nodiscard]] const std::string& shown() const { return shown_; }

 private:
  Error judge(const http::Response& r, const std::string& code, std::string_view what) const {
    const auto message = detail::xml_element(r.error_body, "Message");
    const std::string origin = config_.credentials ? config_.credentials->origin : "no credentials found";
    if (r.status == 404) {
      if (code == "NoSuchBucket" || code.empty()) {
        return Error{Errc::NotFound, fmt::format("{}: bucket '{}' not found ({})", shown_, location_.bucket, what)};
      }
      return Error{Errc::NotFound, fmt::format("{}: {} answered 404 {}", shown_, what, code)};
    }
    if (r.status == 401 || r.status == 403) {
      if (!config_.credentials) {
        return Error{Errc::Forbidden,
                     fmt::format("{}: {} denied and no credentials were found (set AWS_ACCESS_KEY_ID and "
                                 "AWS_SECRET_ACCESS_KEY, AWS_PROFILE, or container credentials)",
                                 shown_, what)};
      }
      if (code == "SignatureDoesNotMatch") {
        return Error{Errc::Forbidden, fmt::format("{}: the secret access key does not match the key id "
                                                  "(credentials from {})",
                                                  shown_, origin)};
      }
      return Error{Errc::Forbidden, fmt::format("{}: {} denied ({}; credentials from {})", shown_, what,
                                                code.empty() ? "HTTP " + std::to_string(r.status) : code, origin)};
    }
    return Error{Errc::InvalidArgument,
                 fmt::format("{}: {} refused with HTTP {}{}{}{}{}", shown_, what, r.status, code.empty() ? "" : " ",
                             code, message.empty() ? "" : ": ", message)};
  }

  Error scrub(Error e) const {
    if (config_.credentials) {
      for (const auto& secret : {config_.credentials->secret_access_key, config_.credentials->session_token}) {
        if (secret.size() < 4) continue;
        for (auto p = e.message.find(secret); p != std::string::npos; p = e.message.find(secret, p)) {
          e.message.replace(p, secret.size(), "***");
        }
      }
    }
    return e;
  }

  Location location_;
  ClientConfig config_;
  RetryPolicy retry_;
  std::mt19937_64 rng_;
  std::string url_, shown_;
};

Result<std::string> read_range(int fd, std::uint64_t offset, std::uint64_t size, const std::string& shown) {
  std::string out(static_cast<std::size_t>(size), '\0');
  auto n = pread_full(fd, std::as_writable_bytes(std::span(out.data(), out.size())), offset);
  if (!n) return std::unexpected(sys_error(n.error(), "reading " + shown));
  if (*n < out.size()) return fail(Errc::Io, "{} shrank while it was being uploaded", shown);
  return out;
}

/// The sha256 the caller declared (lower-cased), or the file's own.
Result<std::string> content_sha256(const fs::path& file, const std::string& declared) {
  if (declared.empty()) return sha256_file(file);
  if (!is_sha256_hex(declared)) return fail(Errc::InvalidArgument, "'{}' is not a sha256", declared);
  std::string sha256 = declared;
  for (auto& c : sha256) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return sha256;
}

/// The ETag of the object at the key when it already holds these bytes (same
/// sha256 metadata and size), nullopt when it must be uploaded.
Result<std::optional<std::string>> etag_if_already_stored(Requests& requests, http::Transport& transport,
                                                          const UploadResult& upload) {
  auto head = requests.send(transport, requests.make("HEAD"), "HEAD", [](long s) { return s == 404 || s == 403; });
  if (!head) return std::unexpected(head.error());
  if (head->response.status != 200) return std::nullopt;
  const auto there = head->response.header(kSha256Metadata);
  const auto length = head->response.header("content-length");
  if (!there || *there != upload.sha256 || !length || detail::parse_decimal(*length) != upload.bytes) {
    return std::nullopt;
  }
  return head->response.header("etag").value_or("");
}

http::Request with_metadata(http::Request r, const std::string& sha256, const UploadOptions& o) {
  r.headers.emplace_back(kSha256Metadata, sha256);
  r.headers.emplace_back("Content-Type", o.content_type);
  return r;
}

/// The local file being uploaded.
struct Source {
  int fd;
  const std::string& shown;
  std::uint64_t size;
};

/// One PUT of the whole file; its ETag.
Result<std::string> put_whole(Requests& requests, http::Transport& transport, const Source& source,
                              const std::string& sha256, const UploadOptions& o) {
  auto body = read_range(source.fd, 0, source.size, source.shown);
  if (!body) return std::unexpected(body.error());
  auto req = with_metadata(requests.make("PUT"), sha256, o);
  req.body = std::move(*body);
  auto answer = requests.send(transport, req, "PUT");
  if (!answer) return std::unexpected(answer.error());
  if (o.progress != nullptr) o.progress->fetch_add(source.size);
  return answer->response.header("etag").value_or("");
}

/// How a file is cut into parts: at least S3's minimum part size, and no more
/// than S3's 10,000 parts.
struct PartPlan {
  std::uint64_t part_bytes;
  std::uint64_t count;
};

PartPlan plan_parts(std::uint64_t size, std::uint64_t wanted_part_bytes) {
  std::uint64_t part = std::max(wanted_part_bytes, kMinPart);
  if ((size + part - 1) / part > kMaxParts) part = (size + kMaxParts - 1) / kMaxParts;
  return PartPlan{.part_bytes = part, .count = (size + part - 1) / part};
}

/// Uploads the parts of a multipart upload on `jobs` threads, each with its
/// own connection; the first failure stops them all.
class PartUploader {
 public:
  PartUploader(const Requests& requests, const Source& source, const PartPlan& plan, const std::string& id_query,
               const UploadOptions& o)
      : requests_(requests), source_(source), plan_(plan), id_query_(id_query), options_(o), etags_(plan.count) {}

  /// The ETags of the parts in order, or the first failure.
  Result<std::vector<std::string>> run(const http::Transport& prototype) {
    {
      std::vector<std::jthread> threads;
      const auto n = static_cast<unsigned>(std::min<std::uint64_t>(std::max(options_.jobs, 1u), plan_.count));
      for (unsigned i = 0; i < n; ++i) {
        threads.emplace_back([this](std::unique_ptr<http::Transport> t) { work(*t); }, prototype.clone());
      }
    }
    if (failure_) return std::unexpected(*failure_);
    return std::move(etags_);
  }

 private:
  void work(http::Transport& transport) {
    Requests mine(requests_);
    while (!failed()) {
      const std::uint64_t index = next_.fetch_add(1);
      if (index >= plan_.count) return;
      auto etag = upload_part(mine, transport, index);
      if (!etag) {
        std::lock_guard lk(mu_);
        if (!failure_) failure_ = etag.error();
        return;
      }
      etags_[index] = std::move(*etag);
    }
  }

  Result<std::string> upload_part(Requests& mine, http::Transport& transport, std::uint64_t index) {
    const std::uint64_t offset = index * plan_.part_bytes;
    const std::uint64_t length = std::min(plan_.part_bytes, source_.size - offset);
    auto body = read_range(source_.fd, offset, length, source_.shown);
    if (!body) return std::unexpected(body.error());
    auto req = mine.make("PUT", fmt::format("partNumber={}&{}", index + 1, id_query_));
    req.body = std::move(*body);
    auto answer = mine.send(transport, req, fmt::format("UploadPart {}", index + 1));
    if (!answer) return std::unexpected(answer.error());
    auto etag = answer->response.header("etag");
    if (!etag) return fail(Errc::Network, "{}: part {} was stored without an ETag", mine.shown(), index + 1);
    if (options_.progress != nullptr) options_.progress->fetch_add(length);
    return std::string(*etag);
  }

  bool failed() {
    std::lock_guard lk(mu_);
    return failure_.has_value();
  }

  const Requests& requests_;
  const Source& source_;
  const PartPlan& plan_;
  const std::string& id_query_;
  const UploadOptions& options_;
  std::vector<std::string> etags_;
  std::atomic<std::uint64_t> next_{0};
  std::mutex mu_;
  std::optional<Error> failure_;
};

/// CreateMultipartUpload; the upload's id as a query ("uploadId=...").
Result<std::string> create_multipart_upload(Requests& requests, http::Transport& transport, const std::string& sha256,
                                            const UploadOptions& o) {
  auto created =
      requests.send(transport, with_metadata(requests.make("POST", "uploads="), sha256, o), "CreateMultipartUpload");
  if (!created) return std::unexpected(created.error());
  const std::string upload_id = detail::xml_element(created->body, "UploadId");
  if (upload_id.empty()) {
    return fail(Errc::Network, "{}: CreateMultipartUpload answered without an UploadId", requests.shown());
  }
  return "uploadId=" + encode_query(upload_id);
}

/// CompleteMultipartUpload with the parts' ETags; the object's ETag.
Result<std::string> complete_multipart_upload(Requests& requests, http::Transport& transport,
                                              const std::string& id_query, const std::vector<std::string>& etags) {
  std::string xml = "<CompleteMultipartUpload>";
  for (std::size_t i = 0; i < etags.size(); ++i) {
    xml += fmt::format("<Part><PartNumber>{}</PartNumber><ETag>{}</ETag></Part>", i + 1, etags[i]);
  }
  xml += "</CompleteMultipartUpload>";
  auto complete = requests.make("POST", id_query);
  complete.body = std::move(xml);
  complete.headers.emplace_back("Content-Type", "application/xml");
  auto done = requests.send(transport, complete, "CompleteMultipartUpload");
  if (!done) return std::unexpected(done.error());
  return detail::xml_element(done->body, "ETag");
}

/// A multipart upload, aborted when any step after its creation fails; the
/// object's ETag.
Result<std::string> put_in_parts(Requests& requests, http::Transport& transport, const http::Transport& prototype,
                                 const Source& source, const PartPlan& plan, const std::string& sha256,
                                 const UploadOptions& o) {
  auto id_query = create_multipart_upload(requests, transport, sha256, o);
  if (!id_query) return std::unexpected(id_query.error());
  auto abort_upload = [&](Error e) -> Result<std::string> {
    // Best effort: parts of an unfinished upload are billed until aborted.
    (void)requests.send(transport, requests.make("DELETE", *id_query), "AbortMultipartUpload");
    return std::unexpected(std::move(e));
  };
  auto etags = PartUploader(requests, source, plan, *id_query, o).run(prototype);
  if (!etags) return abort_upload(etags.error());
  auto etag = complete_multipart_upload(requests, transport, *id_query, *etags);
  if (!etag) return abort_upload(etag.error());
  return etag;
}

}  // namespace

Result<UploadResult> upload_file(const fs::path& file, const Location& location, const ClientConfig& config,
                                 const http::Transport& prototype, const UploadOptions& o) {
  const std::string local = file.string();
  auto fd = open_input_file(file);
  if (!fd) return std::unexpected(fd.error());
  struct stat st {};
  if (::fstat(fd->get(), &st) != 0) return std::unexpected(sys_error(errno, "reading " + local));
  const Source source{.fd = fd->get(), .shown = local, .size = static_cast<std::uint64_t>(st.st_size)};

  UploadResult result;
  result.bytes = source.size;
  auto sha256 = content_sha256(file, o.sha256);
  if (!sha256) return std::unexpected(sha256.error());
  result.sha256 = std::move(*sha256);

  Requests requests(location, config, o.retry);
  auto transport = prototype.clone();
  if (!o.force) {
    auto stored = etag_if_already_stored(requests, *transport, result);
    if (!stored) return std::unexpected(stored.error());
    if (*stored) {
      result.skipped = true;
      result.etag = std::move(**stored);
      return result;
    }
  }

  if (source.size < std::max(o.multipart_threshold, kMinPart)) {
    auto etag = put_whole(requests, *transport, source, result.sha256, o);
    if (!etag) return std::unexpected(etag.error());
    result.etag = std::move(*etag);
    return result;
  }
  const PartPlan plan = plan_parts(source.size, o.part_bytes);
  auto etag = put_in_parts(requests, *transport, prototype, source, plan, result.sha256, o);
  if (!etag) return std::unexpected(etag.error());
  result.parts = static_cast<unsigned>(plan.count);
  result.etag = std::move(*etag);
  return result;
}

}  // namespace tmpdump::s3
