// S3 objects and plain URLs as ByteSources: HEAD for stat, ranged GETs for
// read, retries with full-jitter backoff, resume from the next byte.
#include <algorithm>
#include <atomic>
#include <thread>
#include <variant>
#include <vector>

#include "s3/detail.hpp"
#include "s3/s3.hpp"
#include "util/display.hpp"

namespace tmpdump::s3 {

namespace {
std::atomic<std::uint64_t> g_retries{0};
}  // namespace

std::uint64_t source_retries() noexcept {
  return g_retries.load(std::memory_order_relaxed);
}
namespace {

// Larger than any object S3 stores; a bigger size is a lying server.
constexpr std::uint64_t kMaxObjectSize = std::uint64_t{1} << 50;

/// What an S3 or HTTP object is and how to reach it.
struct Target {
  std::string url;
  std::string shown;                 ///< for messages: s3://b/k or display_source() of the URL
  std::optional<Location> location;  ///< set for S3 objects
  std::optional<Credentials> credentials;
  std::string region;
};

/// An attempt that should be tried again: why, and whether it made progress.
struct Retry {
  std::string reason;
};

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

/// The values of a query string's parameters, as sent and percent-decoded.
std::vector<std::string> query_values(std::string_view query) {
  std::vector<std::string> out;
  query = query.substr(0, query.find('#'));
  while (!query.empty()) {
    const std::string_view pair = query.substr(0, query.find('&'));
    query.remove_prefix(std::min(query.size(), pair.size() + 1));
    const auto eq = pair.find('=');
    if (eq == std::string_view::npos) continue;
    const std::string_view raw = pair.substr(eq + 1);
    out.emplace_back(raw);
    std::string decoded;
    for (std::size_t i = 0; i < raw.size(); ++i) {
      const int hi = raw[i] == '%' && i + 2 < raw.size() ? hex_digit(raw[i + 1]) : -1;
      const int lo = hi >= 0 ? hex_digit(raw[i + 2]) : -1;
      if (lo >= 0) {
        decoded += static_cast<char>(hi * 16 + lo);
        i += 2;
      } else {
        decoded += raw[i] == '+' ? ' ' : raw[i];
      }
    }
    if (decoded != raw) out.push_back(std::move(decoded));
  }
  return out;
}

/// The ETag as sent back in If-Match; empty when missing or not plain text.
std::string clean_etag(const http::Response& r) {
  auto etag = r.header("etag");
  if (!etag || etag->empty() || etag->size() > 1024) return {};
  for (char c : *etag) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u >= 0x7f) return {};
  }
  return *etag;
}

bool is_retryable_code(std::string_view code) {
  return code == "SlowDown" || code == "InternalError" || code == "ServiceUnavailable" || code == "RequestTimeout" ||
         code == "Throttling" || code == "ThrottlingException" || code == "RequestLimitExceeded";
}

class HttpSource final : public ByteSource {
 public:
  HttpSource(Target target, std::unique_ptr<http::Transport> transport, RetryPolicy retry)
      : target_(std::move(target)),
        transport_(std::move(transport)),
        retry_(std::move(retry)),
        rng_(std::random_device{}()) {
    if (!retry_.sleep) retry_.sleep = [](std::chrono::milliseconds d) { std::this_thread::sleep_for(d); };
    if (retry_.max_attempts < 1) retry_.max_attempts = 1;
  }

  Result<ObjectInfo> stat() override {
    auto info = retrying<ObjectInfo>([&] { return stat_attempt(); });
    if (info) {
      etag_ = info->etag;
      etag_pinned_ = true;
      size_ = info->size;
    }
    return scrub(std::move(info));
  }

  Result<void> read(std::uint64_t offset, std::uint64_t length, const ByteSink& sink) override {
    if (length == 0) return {};
    if (offset + length < offset) return fail(Errc::InvalidArgument, "{}: byte range overflows", target_.shown);
    std::uint64_t delivered = 0;
    auto done = retrying<std::monostate>([&] { return read_attempt(offset, length, delivered, sink); }, &delivered);
    if (!done) return scrub<void>(std::unexpected(std::move(done.error())));
    return {};
  }

  std::unique_ptr<ByteSource> clone() const override {
    auto copy = std::make_unique<HttpSource>(target_, transport_->clone(), retry_);
    copy->etag_ = etag_;
    copy->etag_pinned_ = etag_pinned_;
    copy->size_ = size_;
    return copy;
  }

  std::string describe() const override { return target_.shown; }

 private:
  template <class T>
  using Attempt = std::variant<T, Error, Retry>;

  /// Runs `attempt` until it succeeds, fails for good, or the budget is spent.
  /// `progress` (bytes delivered) resets the budget: a slow but moving
  /// download is not a failing one. A connection that keeps breaking after a
  /// little progress must still end, so failures in all are capped at twice
  /// the budget (a bound docs/configuration.md states).
  template <class T, class F>
  Result<T> retrying(F&& attempt, const std::uint64_t* progress = nullptr) {
    int failures = 0, all_failures = 0;
    std::uint64_t seen = progress != nullptr ? *progress : 0;
    for (;;) {
      Attempt<T> outcome = attempt();
      if (auto* value = std::get_if<T>(&outcome)) return std::move(*value);
      if (auto* error = std::get_if<Error>(&outcome)) return std::unexpected(std::move(*error));
      auto& why = std::get<Retry>(outcome);
      if (progress != nullptr && *progress != seen) {
        seen = *progress;
        failures = 0;
      }
      ++failures;
      ++all_failures;
      if (failures >= retry_.max_attempts || all_failures >= 2 * retry_.max_attempts) {
        return fail(Errc::Network, "{}: after {} attempts: {}", target_.shown, all_failures, why.reason);
      }
      g_retries.fetch_add(1, std::memory_order_relaxed);
      retry_.sleep(detail::backoff_delay(retry_, failures, rng_));
    }
  }

  http::Request request(std::string method) const {
    http::Request r;
    r.method = std::move(method);
    r.url = target_.url;
    if (target_.credentials) {
      r.sigv4 = detail::s3_signing(*target_.credentials, target_.region);
    } else if (!target_.location) {
      r.follow_redirects = true;
    }
    return r;
  }

  std::string origin() const {
    return target_.credentials ? target_.credentials->origin : std::string("no credentials found");
  }

  /// A non-2xx answer: retried, or the error to report.
  std::variant<Error, Retry> judge(const http::Response& r, std::string_view method) const {
    const auto code = detail::xml_element(r.error_body, "Code");
    const auto message = detail::xml_element(r.error_body, "Message");
    const auto status = r.status;
    const auto& shown = target_.shown;
    const std::string detail_text = code.empty() ? std::string() : " " + code;
    if (status == 500 || status == 502 || status == 503 || status == 504 || status == 429 || is_retryable_code(code)) {
      return Retry{fmt::format("HTTP {}{}", status, detail_text)};
    }
    if (status == 412) {
      return Error{Errc::Corrupt,
                   fmt::format("{}: the object changed during download (its ETag is no longer {})", shown, etag_)};
    }
    if (auto region = r.header("x-amz-bucket-region");
        region && target_.location && *region != target_.region &&
        (status == 301 || status == 400 || status == 403 || status == 307)) {
      if (detail::validate_region(*region, "x-amz-bucket-region")) {
        return Error{Errc::InvalidArgument, fmt::format("{}: the bucket is in region {}, not {}; set AWS_REGION={}",
                                                        shown, *region, target_.region, *region)};
      }
    }
    if (target_.location) {
      const auto& loc = *target_.location;
      if (status == 404) {
        if (code == "NoSuchBucket") {
          return Error{Errc::NotFound, fmt::format("{}: bucket '{}' not found", shown, loc.bucket)};
        }
        return Error{Errc::NotFound, fmt::format("{}: no such key '{}' in bucket '{}'", shown, loc.key, loc.bucket)};
      }
      if (status == 401 || status == 403) return Error{Errc::Forbidden, forbidden_message(code, method)};
    } else {
      if (status == 404 || status == 410) {
        return Error{Errc::NotFound, fmt::format("{}: not found (HTTP {})", shown, status)};
      }
      if (status == 401 || status == 403) {
        return Error{Errc::Forbidden, fmt::format("{}: access denied (HTTP {}{}{}{})", shown, status, detail_text,
                                                  message.empty() ? "" : ": ", message)};
      }
    }
    if (status == 416 && size_) {
      // Every range asked for lies within the size stat() saw: the object
      // shrank, on a server that ignored If-Match (S3 answers 412 instead).
      auto range = r.header("content-range");
      auto now = range ? detail::parse_unsatisfied_range(*range) : std::nullopt;
      return Error{Errc::Corrupt, fmt::format("{}: the object changed during download (HTTP 416: it had {} bytes{})",
                                              shown, *size_, now ? fmt::format(", now {}", *now) : std::string())};
    }
    if (status == 416) {
      return Error{Errc::InvalidArgument,
                   fmt::format("{}: the requested range lies beyond the end of the object (HTTP 416)", shown)};
    }
    if (status >= 400 && status < 500) {
      return Error{Errc::InvalidArgument, fmt::format("{}: {} refused with HTTP {}{}{}{}", shown, method, status,
                                                      detail_text, message.empty() ? "" : ": ", message)};
    }
    return Error{Errc::Network, fmt::format("{}: unexpected HTTP {}{} to {}", shown, status, detail_text, method)};
  }

  std::string forbidden_message(const std::string& code, std::string_view method) const {
    const auto& shown = target_.shown;
    if (!target_.credentials) {
      return fmt::format(
          "{}: access denied and no credentials were found (set AWS_ACCESS_KEY_ID and "
          "AWS_SECRET_ACCESS_KEY, AWS_PROFILE, or container credentials)",
          shown);
    }
    const auto& from = target_.credentials->origin;
    if (code == "SignatureDoesNotMatch") {
      return fmt::format("{}: the secret access key does not match the key id (credentials from {})", shown, from);
    }
    if (code == "InvalidAccessKeyId") {
      return fmt::format("{}: S3 does not know this access key id (InvalidAccessKeyId; credentials from {})", shown,
                         from);
    }
    if (code == "ExpiredToken" || code == "TokenRefreshRequired") {
      return fmt::format("{}: the session token has expired ({}; credentials from {})", shown, code, from);
    }
    if (code == "InvalidToken") {
      return fmt::format("{}: the session token is not valid (InvalidToken; credentials from {})", shown, from);
    }
    if (code.empty()) {
      return fmt::format(
          "{}: access denied (HTTP 403 to {}, no details; credentials from {}). S3 also answers 403 for a "
          "missing key when the credentials may not list the bucket",
          shown, method, from);
    }
    return fmt::format("{}: access denied ({}; credentials from {})", shown, code, from);
  }

  Attempt<ObjectInfo> stat_attempt() {
    auto r = transport_->perform(request("HEAD"), {});
    if (!r) {
      if (r.error().code == Errc::Network) return Retry{r.error().message};
      return r.error();
    }
    if (r->status >= 200 && r->status < 300) {
      auto length = r->header("content-length");
      auto size = length ? detail::parse_decimal(*length) : std::nullopt;
      if (!size || *size > kMaxObjectSize) {
        return Error{Errc::Corrupt, fmt::format("{}: the HEAD answer has no valid Content-Length", target_.shown)};
      }
      return ObjectInfo{*size, clean_etag(*r)};
    }
    // Presigned GET URLs cannot be used for HEAD: ask for the first byte instead.
    if (!target_.location && (r->status == 403 || r->status == 405)) return probe_attempt();
    // A HEAD error has no body, so no S3 error code: a GET tells
    // SignatureDoesNotMatch from AccessDenied and NoSuchBucket from NoSuchKey.
    if (target_.location && r->error_body.empty() && (r->status == 401 || r->status == 403 || r->status == 404)) {
      return probe_attempt();
    }
    auto verdict = judge(*r, "HEAD");
    if (auto* retry = std::get_if<Retry>(&verdict)) return std::move(*retry);
    return std::get<Error>(std::move(verdict));
  }

  /// GET bytes=0-0: the size from Content-Range "bytes 0-0/TOTAL". Only the
  /// response head is needed, so the transfer stops there (s3rver, for one,
  /// answers bytes=0-0 with the whole object).
  Attempt<ObjectInfo> probe_attempt() {
    auto req = request("GET");
    req.range = {{0, 1}};
    std::optional<ObjectInfo> found;
    bool malformed = false;
    req.on_headers = [&](const http::Response& head) -> Result<void> {
      if (head.status == 200) {
        auto length = head.header("content-length");
        auto size = length ? detail::parse_decimal(*length) : std::nullopt;
        if (size && *size <= kMaxObjectSize) found = ObjectInfo{*size, clean_etag(head)};
        malformed = !found;
      } else if (head.status == 206) {
        auto range = head.header("content-range");
        auto parsed = range ? detail::parse_content_range(*range) : std::nullopt;
        if (parsed && parsed->first == 0 && parsed->total && *parsed->total <= kMaxObjectSize) {
          found = ObjectInfo{*parsed->total, clean_etag(head)};
        }
        malformed = !found;
      } else {
        malformed = true;
      }
      return fail(Errc::Network, "probe done");  // stops the body; never reported
    };
    auto r = transport_->perform(req, [](std::span<const std::byte>) -> Result<void> { return {}; });
    if (found) return *found;
    if (malformed) {
      return Error{
          Errc::Corrupt,
          fmt::format("{}: the answer to bytes=0-0 has no valid Content-Range or Content-Length", target_.shown)};
    }
    if (!r) {
      if (r.error().code == Errc::Network) return Retry{r.error().message};
      return r.error();
    }
    if (r->status == 416) {
      auto range = r->header("content-range");
      if (auto total = range ? detail::parse_unsatisfied_range(*range) : std::nullopt; total && *total == 0) {
        return ObjectInfo{0, clean_etag(*r)};
      }
    }
    if (r->status >= 200 && r->status < 300) {
      return Error{Errc::Corrupt, fmt::format("{}: an empty HTTP {} answer to bytes=0-0", target_.shown, r->status)};
    }
    auto verdict = judge(*r, "GET");
    if (auto* retry = std::get_if<Retry>(&verdict)) return std::move(*retry);
    return std::get<Error>(std::move(verdict));
  }

  /// Checks the head of a ranged GET before any byte reaches the sink.
  Result<void> check_head(const http::Response& r, std::uint64_t first, std::uint64_t count) {
    const auto& shown = target_.shown;
    const auto length = r.header("content-length");
    // A sentinel instead of an optional: GCC 12 warns spuriously on optional<uint64_t> here.
    constexpr std::uint64_t kNoLength = ~std::uint64_t{0};
    std::uint64_t declared = kNoLength;
    if (length) {
      auto parsed = detail::parse_decimal(*length);
      if (!parsed || *parsed == kNoLength) {
        return fail(Errc::Corrupt, "{}: unparsable Content-Length in the answer", shown);
      }
      declared = *parsed;
    }
    const bool has_length = declared != kNoLength;
    if (r.status == 206) {
      auto header = r.header("content-range");
      auto range = header ? detail::parse_content_range(*header) : std::nullopt;
      if (!range) {
        return fail(Errc::Corrupt, "{}: a 206 answer without a valid Content-Range", shown);
      }
      if (range->first != first || range->last != first + count - 1) {
        return fail(Errc::Corrupt, "{}: asked for bytes {}-{}, the server sent {}-{}", shown, first, first + count - 1,
                    range->first, range->last);
      }
      if (has_length && declared != count) {
        return fail(Errc::Corrupt, "{}: Content-Length {} does not match the range of {} bytes", shown, declared,
                    count);
      }
      if (range->total && size_ && *range->total != *size_) {
        return fail(Errc::Corrupt, "{}: the object changed during download (its size went from {} to {})", shown,
                    *size_, *range->total);
      }
    } else if (r.status == 200) {
      const bool whole = first == 0 && has_length && declared == count && (!size_ || *size_ == count);
      if (!whole) return fail(Errc::Unsupported, "{}: the server ignores Range requests", shown);
    } else {
      return fail(Errc::Corrupt, "{}: unexpected HTTP {} to a ranged GET", shown, r.status);
    }
    const auto etag = clean_etag(r);
    if (etag_pinned_) {
      if (!etag_.empty() && !etag.empty() && etag != etag_) {
        return fail(Errc::Corrupt, "{}: the object changed during download (ETag {} became {})", shown, etag_, etag);
      }
    } else {
      etag_ = etag;
      etag_pinned_ = true;
    }
    return {};
  }

  Attempt<std::monostate> read_attempt(std::uint64_t offset, std::uint64_t length, std::uint64_t& delivered,
                                       const ByteSink& sink) {
    const std::uint64_t first = offset + delivered;
    const std::uint64_t count = length - delivered;
    auto req = request("GET");
    req.range = {{first, count}};
    // If-Match needs a strong ETag; a weak one ("W/...") never matches.
    if (etag_pinned_ && !etag_.empty() && !etag_.starts_with("W/")) req.headers.emplace_back("If-Match", etag_);
    std::optional<Error> fatal;
    bool head_checked = false;
    std::uint64_t got = 0;
    req.on_headers = [&](const http::Response& head) -> Result<void> {
      head_checked = true;
      auto ok = check_head(head, first, count);
      if (!ok) fatal = ok.error();
      return ok;
    };
    auto on_body = [&](std::span<const std::byte> bytes) -> Result<void> {
      if (bytes.size() > count - got) {
        fatal = Error{Errc::Corrupt,
                      fmt::format("{}: the server sent more than the {} bytes asked for", target_.shown, count)};
        return std::unexpected(*fatal);
      }
      got += bytes.size();
      delivered += bytes.size();
      auto ok = sink(bytes);
      if (!ok) fatal = ok.error();
      return ok;
    };
    auto r = transport_->perform(req, on_body);
    if (fatal) return std::move(*fatal);
    if (!r) {
      if (r.error().code == Errc::Network) return Retry{r.error().message};
      return r.error();
    }
    if (r->status >= 200 && r->status < 300) {
      if (!head_checked) {
        if (auto ok = check_head(*r, first, count); !ok) return ok.error();
      }
      if (got == count) return std::monostate{};
      return Retry{fmt::format("the answer ended after {} of {} bytes", got, count)};
    }
    auto verdict = judge(*r, "GET");
    if (auto* retry = std::get_if<Retry>(&verdict)) return std::move(*retry);
    return std::get<Error>(std::move(verdict));
  }

  /// Removes anything secret that could have reached a message.
  template <class T>
  Result<T> scrub(Result<T> result) const {
    if (result) return result;
    auto& text = result.error().message;
    auto redact = [&](std::string_view secret) {
      if (secret.size() < 4) return;
      for (auto pos = text.find(secret); pos != std::string::npos; pos = text.find(secret, pos)) {
        text.replace(pos, secret.size(), "***");
      }
    };
    if (target_.credentials) {
      redact(target_.credentials->secret_access_key);
      redact(target_.credentials->session_token);
    }
    if (auto q = target_.url.find('?'); q != std::string::npos) {
      const std::string_view query = std::string_view(target_.url).substr(q + 1);
      redact(query);
      // A server may echo one parameter (the signature, the credential, the
      // session token), percent-encoded or not.
      for (const auto& value : query_values(query)) {
        if (value.size() >= 8) redact(value);
      }
    }
    return result;
  }

  Target target_;
  std::unique_ptr<http::Transport> transport_;
  RetryPolicy retry_;
  std::mt19937_64 rng_;
  std::string etag_;
  bool etag_pinned_ = false;
  std::optional<std::uint64_t> size_;
};

}  // namespace

std::unique_ptr<ByteSource> make_s3_source(Location location, ClientConfig config,
                                           std::unique_ptr<http::Transport> transport, RetryPolicy retry) {
  Target target;
  target.url = object_url(config, location);
  target.shown = fmt::format("s3://{}/{}", location.bucket, location.key);
  target.credentials = std::move(config.credentials);
  target.region = config.region;
  target.location = std::move(location);
  return std::make_unique<HttpSource>(std::move(target), std::move(transport), std::move(retry));
}

std::unique_ptr<ByteSource> make_url_source(std::string url, std::unique_ptr<http::Transport> transport,
                                            RetryPolicy retry) {
  Target target;
  target.shown = display_source(url);
  target.url = std::move(url);
  return std::make_unique<HttpSource>(std::move(target), std::move(transport), std::move(retry));
}

}  // namespace tmpdump::s3
