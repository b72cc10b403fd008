// The libcurl Transport: one easy handle per instance, reused so that
// consecutive requests to the same host keep their connection.
#include <strings.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <chrono>
#include <cstdlib>
#include <mutex>

#include <curl/curl.h>
#include <fmt/format.h>

#include "http/transport.hpp"
#include "util/display.hpp"
#include "util/sha256.hpp"

namespace tmpdump::http {
namespace {

constexpr std::size_t kMaxErrorBody = std::size_t{64} * 1024;
constexpr long kBufferSize = long{512} * 1024;

void global_init_once() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

/// Replaces every occurrence of `secret` in `text` (secrets must never be shown).
void redact(std::string& text, std::string_view secret) {
  if (secret.size() < 4) return;
  for (auto pos = text.find(secret); pos != std::string::npos; pos = text.find(secret, pos)) {
    text.replace(pos, secret.size(), "***");
    pos += 3;
  }
}

std::string trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '\n'))
    s.remove_suffix(1);
  return std::string(s);
}

bool has_line_break(std::string_view s) {
  return s.find_first_of("\r\n") != std::string_view::npos;
}

struct Transfer {
  const Request* request = nullptr;
  const BodyHandler* on_body = nullptr;
  Response response;
  bool headers_checked = false;
  std::optional<Error> callback_error;  // from on_headers / on_body: returned as is
  // Stall detection: curl's low-speed check averages over ~5 s, so after a
  // burst it notices a dead connection 4-6 s late (measured with
  // tests/faults_test.cpp); "no byte for stall_limit" is exact. Time spent in
  // our own callbacks counts as activity, so a consumer that pauses (the
  // extractor's hash window) is never mistaken for a stalled server.
  std::chrono::steady_clock::time_point last_activity = std::chrono::steady_clock::now();
  std::chrono::steady_clock::duration stall_limit{};
  bool stalled = false;
};

int on_progress(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  auto* t = static_cast<Transfer*>(user);
  if (std::chrono::steady_clock::now() - t->last_activity > t->stall_limit) {
    t->stalled = true;
    return 1;  // aborts: CURLE_ABORTED_BY_CALLBACK
  }
  return 0;
}

std::size_t on_header_line(char* data, std::size_t size, std::size_t count, void* user) {
  auto* t = static_cast<Transfer*>(user);
  t->last_activity = std::chrono::steady_clock::now();
  std::string_view line(data, size * count);
  if (line.starts_with("HTTP/")) {
    // A new response (after 100-continue or a redirect): only the last one counts.
    t->response.headers.clear();
    t->response.status = 0;
    auto sp = line.find(' ');
    if (sp != std::string_view::npos) {
      auto code = line.substr(sp + 1, 3);
      long status = 0;
      auto [ptr, ec] = std::from_chars(code.data(), code.data() + code.size(), status);
      if (ec == std::errc{} && ptr == code.data() + code.size()) t->response.status = status;
    }
    return size * count;
  }
  auto colon = line.find(':');
  if (colon == std::string_view::npos || colon == 0) return size * count;
  std::string name(line.substr(0, colon));
  std::transform(name.begin(), name.end(), name.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  t->response.headers.emplace_back(std::move(name), trim(line.substr(colon + 1)));
  return size * count;
}

std::size_t on_body_bytes(char* data, std::size_t size, std::size_t count, void* user) {
  auto* t = static_cast<Transfer*>(user);
  const std::size_t n = size * count;
  const long status = t->response.status;
  if (status >= 200 && status < 300) {
    if (!t->headers_checked) {
      t->headers_checked = true;
      if (t->request->on_headers) {
        if (auto ok = t->request->on_headers(t->response); !ok) {
          t->callback_error = std::move(ok.error());
          return 0;  // aborts the transfer: CURLE_WRITE_ERROR
        }
      }
    }
    if (*t->on_body) {
      auto ok = (*t->on_body)(std::span<const std::byte>(reinterpret_cast<const std::byte*>(data), n));
      if (!ok) {
        t->callback_error = std::move(ok.error());
        return 0;
      }
    }
    t->last_activity = std::chrono::steady_clock::now();
    return n;
  }
  auto room = kMaxErrorBody - std::min(kMaxErrorBody, t->response.error_body.size());
  t->response.error_body.append(data, std::min(room, n));
  return n;  // read the rest too, so the connection stays usable
}

class CurlTransport final : public Transport {
 public:
  explicit CurlTransport(TransportOptions options) : options_(std::move(options)) {
    global_init_once();
    if (options_.ca_bundle.empty()) {
      options_.ca_bundle = find_ca_bundle(
          [](std::string_view name) -> std::optional<std::string> {
            const char* v = std::getenv(std::string(name).c_str());
            if (v == nullptr) return std::nullopt;
            return std::string(v);
          },
          [](const std::string& path) { return ::access(path.c_str(), R_OK) == 0; });
    }
    curl_ = curl_easy_init();
  }
  ~CurlTransport() override {
    if (curl_ != nullptr) curl_easy_cleanup(curl_);
  }
  CurlTransport(const CurlTransport&) = delete;
  CurlTransport& operator=(const CurlTransport&) = delete;

  Result<Response> perform(const Request& request, const BodyHandler& on_body) override {
    if (curl_ == nullptr) return fail(Errc::Network, "cannot initialise libcurl");
    const std::string shown = request.method + " " + display_source(request.url);
    if (auto valid = check_request(request, shown); !valid) return std::unexpected(valid.error());
    // reset keeps the connection cache and DNS cache, drops every option.
    curl_easy_reset(curl_);
    Transfer transfer;
    transfer.request = &request;
    transfer.on_body = &on_body;
    transfer.stall_limit = options_.low_speed_time;
    char errbuf[CURL_ERROR_SIZE] = {};
    HeaderList headers;
    bool ok = set_transfer_options(request, transfer, errbuf);
    const std::string payload_hash = set_method(request, headers, ok);
    if (request.sigv4) set_signing(*request.sigv4, payload_hash, headers, ok);
    if (request.range) {
      const auto [first, length] = *request.range;
      if (length == 0 || first + length < first) {
        return fail(Errc::InvalidArgument, "{}: empty or overflowing byte range", shown);
      }
      headers.append(fmt::format("Range: bytes={}-{}", first, first + length - 1));
    }
    for (const auto& [name, value] : request.headers) headers.append(fmt::format("{}: {}", name, value));
    if (headers.get() != nullptr) ok &= set(CURLOPT_HTTPHEADER, headers.get());
    if (!ok) return fail(Errc::Network, "{}: libcurl rejected an option (built without http/https?)", shown);

    const CURLcode rc = curl_easy_perform(curl_);
    // Credentials must not outlive the request in the handle.
    curl_easy_setopt(curl_, CURLOPT_PASSWORD, "");
    if (transfer.callback_error) return std::unexpected(std::move(*transfer.callback_error));
    if (rc != CURLE_OK) return fail(Errc::Network, "{}: {}", shown, failure_reason(request, transfer, rc, errbuf));
    long status = 0;
    curl_easy_getinfo(curl_, CURLINFO_RESPONSE_CODE, &status);
    if (status != 0) transfer.response.status = status;
    return std::move(transfer.response);
  }

  std::unique_ptr<Transport> clone() const override { return std::make_unique<CurlTransport>(options_); }

 private:
  /// The extra header lines of one request, freed with the list.
  class HeaderList {
   public:
    HeaderList() = default;
    HeaderList(const HeaderList&) = delete;
    HeaderList& operator=(const HeaderList&) = delete;
    ~HeaderList() { curl_slist_free_all(list_); }
    void append(const std::string& line) { list_ = curl_slist_append(list_, line.c_str()); }
    [[nodiscard]] curl_slist* get() const { return list_; }

   private:
    curl_slist* list_ = nullptr;
  };

  template <class Value>
  bool set(CURLoption option, Value value) {
    return curl_easy_setopt(curl_, option, value) == CURLE_OK;
  }

  /// Refuses what must never reach the wire: header injection, malformed
  /// signing parameters, https with no CA bundle.
  Result<void> check_request(const Request& request, const std::string& shown) const {
    for (const auto& [name, value] : request.headers) {
      if (has_line_break(name) || has_line_break(value)) {
        return fail(Errc::InvalidArgument, "{}: header '{}' contains a line break", shown,
                    has_line_break(name) ? std::string("?") : name);
      }
    }
    if (request.sigv4 &&
        (has_line_break(request.sigv4->session_token) || request.sigv4->region.find(':') != std::string::npos ||
         request.sigv4->service.find(':') != std::string::npos)) {
      return fail(Errc::InvalidArgument, "{}: malformed signing parameters", shown);
    }
    if (options_.ca_bundle.empty() && request.url.starts_with("https://")) {
      // Not transient: retrying cannot make a certificate bundle appear.
      return fail(Errc::InvalidArgument,
                  "{}: no CA certificate bundle found (looked at ${}, {}); set SSL_CERT_FILE to a PEM bundle", shown,
                  fmt::join(kCaBundleVariables, ", $"), fmt::join(kCaBundlePaths, ", "));
    }
    return {};
  }

  /// The URL, timeouts, stall detection, TLS, redirects and callbacks; false
  /// when libcurl rejected one.
  bool set_transfer_options(const Request& request, Transfer& transfer, char* errbuf) {
    bool ok = true;
    ok &= set(CURLOPT_URL, request.url.c_str());
    ok &= set(CURLOPT_NOSIGNAL, 1L);
    ok &= set(CURLOPT_ERRORBUFFER, errbuf);
    ok &= set(CURLOPT_BUFFERSIZE, kBufferSize);
    ok &= set(CURLOPT_PROTOCOLS_STR, "http,https");
    ok &= set(CURLOPT_PATH_AS_IS, 1L);  // S3 keys may contain "/../"; never squash them
    ok &= set(CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(options_.connect_timeout.count()));
    // The low-speed average still catches a server that trickles a byte now and then.
    ok &= set(CURLOPT_LOW_SPEED_LIMIT, options_.low_speed_bytes);
    ok &= set(CURLOPT_LOW_SPEED_TIME, static_cast<long>(options_.low_speed_time.count()));
    ok &= set(CURLOPT_XFERINFOFUNCTION, &on_progress);
    ok &= set(CURLOPT_XFERINFODATA, static_cast<void*>(&transfer));
    ok &= set(CURLOPT_NOPROGRESS, 0L);
    ok &= set(CURLOPT_TCP_KEEPALIVE, 1L);
    if (!options_.ca_bundle.empty()) ok &= set(CURLOPT_CAINFO, options_.ca_bundle.c_str());
    ok &= set(CURLOPT_HEADERFUNCTION, &on_header_line);
    ok &= set(CURLOPT_HEADERDATA, static_cast<void*>(&transfer));
    ok &= set(CURLOPT_WRITEFUNCTION, &on_body_bytes);
    ok &= set(CURLOPT_WRITEDATA, static_cast<void*>(&transfer));
    if (request.follow_redirects && !request.sigv4) {
      ok &= set(CURLOPT_FOLLOWLOCATION, 1L);
      ok &= set(CURLOPT_MAXREDIRS, 5L);
      ok &= set(CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    }
    return ok;
  }

  /// The method and its body; the payload hash to sign. `ok` turns false when
  /// libcurl rejected an option.
  std::string set_method(const Request& request, HeaderList& headers, bool& ok) {
    if (request.method == "HEAD") {
      ok &= set(CURLOPT_NOBODY, 1L);
      return "UNSIGNED-PAYLOAD";
    }
    if (request.method == "GET") {
      ok &= set(CURLOPT_HTTPGET, 1L);
      return "UNSIGNED-PAYLOAD";
    }
    ok &= set(CURLOPT_POSTFIELDS, request.body.c_str());
    ok &= set(CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(request.body.size()));
    if (request.method != "POST") ok &= set(CURLOPT_CUSTOMREQUEST, request.method.c_str());
    if (request.sigv4) {
      // libcurl 7.88 signs a removed header ("Expect:", "Content-Type:") as if it were sent
      // empty, so the server's signature differs: keep curl's own Expect (added after
      // signing) and just do not wait for its 100 Continue.
      ok &= set(CURLOPT_EXPECT_100_TIMEOUT_MS, 0L);
    } else {
      headers.append("Expect:");
      bool has_type = std::any_of(request.headers.begin(), request.headers.end(), [](const auto& h) {
        return h.first.size() == 12 && strncasecmp(h.first.c_str(), "content-type", 12) == 0;
      });
      if (!has_type) headers.append("Content-Type:");
    }
    return sha256_hex(request.body);
  }

  /// SigV4 signing by libcurl, with the headers S3 requires beside it.
  void set_signing(const SigV4& sigv4, const std::string& payload_hash, HeaderList& headers, bool& ok) {
    const std::string param = "aws:amz:" + sigv4.region + ":" + sigv4.service;
    ok &= set(CURLOPT_AWS_SIGV4, param.c_str());
    ok &= set(CURLOPT_USERNAME, sigv4.access_key_id.c_str());
    ok &= set(CURLOPT_PASSWORD, sigv4.secret_access_key.c_str());
    // libcurl 7.88 does not add this itself, and S3 requires it on signed requests.
    headers.append("x-amz-content-sha256: " + payload_hash);
    if (!sigv4.session_token.empty()) headers.append("x-amz-security-token: " + sigv4.session_token);
  }

  /// Why a transfer failed, with no presigned query string or secret in it.
  std::string failure_reason(const Request& request, const Transfer& transfer, CURLcode rc, const char* errbuf) const {
    std::string reason = transfer.stalled
                             ? fmt::format("no data for {} s (TMPDUMP_STALL_SECONDS)", options_.low_speed_time.count())
                         : errbuf[0] != '\0' ? std::string(errbuf)
                                             : std::string(curl_easy_strerror(rc));
    while (!reason.empty() && (reason.back() == '\n' || reason.back() == '\r')) reason.pop_back();
    auto query = request.url.find('?');
    if (query != std::string::npos) redact(reason, std::string_view(request.url).substr(query));
    if (request.sigv4) {
      redact(reason, request.sigv4->secret_access_key);
      redact(reason, request.sigv4->session_token);
    }
    return reason;
  }

  TransportOptions options_;
  CURL* curl_ = nullptr;
};

}  // namespace

std::unique_ptr<Transport> make_curl_transport(const TransportOptions& options) {
  return std::make_unique<CurlTransport>(options);
}

}  // namespace tmpdump::http
