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
                                                  "(credentials from {})", shown_, origin)};
      }
      return Error{Errc::Forbidden, fmt::format("{}: {} denied ({}; credentials from {})", shown_, what,
                                                code.empty() ? "HTTP " + std::to_string(r.status) : code, origin)};
    }
    return Error{Errc::InvalidArgument, fmt::format("{}: {} refused with HTTP {}{}{}{}{}", shown_, what, r.status,
                                                    code.empty() ? "" : " ", code, message.empty() ? "" : ": ",
                                                    message)};
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

class File {
 public:
  explicit File(int fd) : fd_(fd) {}
  ~File() {
    if (fd_ >= 0) ::close(fd_);
  }
  File(const File&) = delete;
  File& operator=(const File&) = delete;
  [[nodiscard]] int get() const { return fd_; }

 private:
  int fd_;
};

Result<std::string> read_range(int fd, std::uint64_t offset, std::uint64_t size, const std::string& shown) {
  std::string out(static_cast<std::size_t>(size), '\0');
  std::size_t done = 0;
  while (done < out.size()) {
    const ssize_t n = ::pread(fd, out.data() + done, out.size() - done, static_cast<off_t>(offset + done));
    if (n < 0) {
      if (errno == EINTR) continue;
      return std::unexpected(sys_error(errno, "reading " + shown));
    }
    if (n == 0) return fail(Errc::Io, "{} shrank while it was being uploaded", shown);
    done += static_cast<std::size_t>(n);
  }
  return out;
}

}  // namespace


Result<UploadResult> upload_file(const fs::path& file, const Location& location, const ClientConfig& config,
                                 const http::Transport& prototype, const UploadOptions& o) {
  const std::string local = file.string();
  auto opened = open_input_file(file);
  if (!opened) return std::unexpected(opened.error());
  File fd(opened->release());
  struct stat st{};
  if (::fstat(fd.get(), &st) != 0) return std::unexpected(sys_error(errno, "reading " + local));
  const auto size = static_cast<std::uint64_t>(st.st_size);

  UploadResult result;
  result.bytes = size;
  if (o.sha256.empty()) {
    auto digest = sha256_file(file);
    if (!digest) return std::unexpected(digest.error());
    result.sha256 = std::move(*digest);
  } else {
    if (!is_sha256_hex(o.sha256)) return fail(Errc::InvalidArgument, "'{}' is not a sha256", o.sha256);
    result.sha256 = o.sha256;
    for (auto& c : result.sha256) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }

  Requests requests(location, config, o.retry);
  auto transport = prototype.clone();
  if (!o.force) {
    auto head = requests.send(*transport, requests.make("HEAD"), "HEAD",
                              [](long s) { return s == 404 || s == 403; });
    if (!head) return std::unexpected(head.error());
    if (head->response.status == 200) {
      const auto there = head->response.header(kSha256Metadata);
      const auto length = head->response.header("content-length");
      if (there && *there == result.sha256 && length && detail::parse_decimal(*length) == size) {
        result.skipped = true;
        result.etag = head->response.header("etag").value_or("");
        return result;
      }
    }
  }

  auto with_metadata = [&](http::Request r) {
    r.headers.emplace_back(kSha256Metadata, result.sha256);
    r.headers.emplace_back("Content-Type", o.content_type);
    return r;
  };

  if (size < std::max(o.multipart_threshold, kMinPart)) {
    auto body = read_range(fd.get(), 0, size, local);
    if (!body) return std::unexpected(body.error());
    auto req = with_metadata(requests.make("PUT"));
    req.body = std::move(*body);
    auto answer = requests.send(*transport, req, "PUT");
    if (!answer) return std::unexpected(answer.error());
    result.etag = answer->response.header("etag").value_or("");
    if (o.progress != nullptr) o.progress->fetch_add(size);
    return result;
  }

  std::uint64_t part = std::max(o.part_bytes, kMinPart);
  if ((size + part - 1) / part > kMaxParts) part = (size + kMaxParts - 1) / kMaxParts;
  const std::uint64_t count = (size + part - 1) / part;

  auto created = requests.send(*transport, with_metadata(requests.make("POST", "uploads=")), "CreateMultipartUpload");
  if (!created) return std::unexpected(created.error());
  const std::string upload_id = detail::xml_element(created->body, "UploadId");
  if (upload_id.empty()) {
    return fail(Errc::Network, "{}: CreateMultipartUpload answered without an UploadId", requests.shown());
  }
  const std::string id_query = "uploadId=" + encode_query(upload_id);

  std::vector<std::string> etags(count);
  std::atomic<std::uint64_t> next{0};
  std::mutex mu;
  std::optional<Error> failure;
  auto worker = [&](std::unique_ptr<http::Transport> t) {
    Requests mine(requests);
    for (;;) {
      {
        std::lock_guard lk(mu);
        if (failure) return;
      }
      const std::uint64_t index = next.fetch_add(1);
      if (index >= count) return;
      const std::uint64_t offset = index * part;
      const std::uint64_t length = std::min(part, size - offset);
      auto body = read_range(fd.get(), offset, length, local);
      Result<Answer> answer = body ? Result<Answer>(Answer{}) : std::unexpected(body.error());
      if (body) {
        auto req = mine.make("PUT", fmt::format("partNumber={}&{}", index + 1, id_query));
        req.body = std::move(*body);
        answer = mine.send(*t, req, fmt::format("UploadPart {}", index + 1));
      }
      if (answer && !answer->response.header("etag")) {
        answer = fail(Errc::Network, "{}: part {} was stored without an ETag", mine.shown(), index + 1);
      }
      if (!answer) {
        std::lock_guard lk(mu);
        if (!failure) failure = answer.error();
        return;
      }
      etags[index] = *answer->response.header("etag");
      if (o.progress != nullptr) o.progress->fetch_add(length);
    }
  };
  {
    std::vector<std::jthread> threads;
    const auto n = static_cast<unsigned>(std::min<std::uint64_t>(std::max(o.jobs, 1u), count));
    for (unsigned i = 0; i < n; ++i) threads.emplace_back(worker, prototype.clone());
  }

  auto abort_upload = [&](Error e) -> Result<UploadResult> {
    // Best effort: parts of an unfinished upload are billed until aborted.
    (void)requests.send(*transport, requests.make("DELETE", id_query), "AbortMultipartUpload");
    return std::unexpected(std::move(e));
  };
  if (failure) return abort_upload(*failure);

  std::string xml = "<CompleteMultipartUpload>";
  for (std::uint64_t i = 0; i < count; ++i) {
    xml += fmt::format("<Part><PartNumber>{}</PartNumber><ETag>{}</ETag></Part>", i + 1, etags[i]);
  }
  xml += "</CompleteMultipartUpload>";
  auto complete = requests.make("POST", id_query);
  complete.body = std::move(xml);
  complete.headers.emplace_back("Content-Type", "application/xml");
  auto done = requests.send(*transport, complete, "CompleteMultipartUpload");
  if (!done) return abort_upload(done.error());
  result.parts = static_cast<unsigned>(count);
  result.etag = detail::xml_element(done->body, "ETag");
  return result;
}

}  // namespace tmpdump::s3
