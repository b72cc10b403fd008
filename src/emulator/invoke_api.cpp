// Lambda's Invoke endpoint (POST /2015-03-31/functions/NAME/invocations):
// Lambda's answers for a wrong function, qualifier or payload, then invoke().
#include <algorithm>
#include <cctype>
#include <charconv>
#include <limits>

#include <fmt/format.h>

#include "emulator/state.hpp"
#include "runtime/http.hpp"

namespace tmpdump::emulator {

namespace http = runtime::http;

namespace {

// %XX-decoding of a path segment or query value; nullopt when malformed.
std::optional<std::string> percent_decode(std::string_view in) {
  std::string out;
  for (std::size_t i = 0; i < in.size(); ++i) {
    if (in[i] != '%') {
      out += in[i];
      continue;
    }
    if (i + 2 >= in.size()) return std::nullopt;
    unsigned v = 0;
    auto [p, ec] = std::from_chars(in.data() + i + 1, in.data() + i + 3, v, 16);
    if (ec != std::errc() || p != in.data() + i + 3) return std::nullopt;
    out += static_cast<char>(v);
    i += 2;
  }
  return out;
}

// Lambda's Qualifier: a version, $LATEST or an alias, 1-128 of [a-zA-Z0-9$_-].
bool valid_qualifier(std::string_view q) {
  return !q.empty() && q.size() <= 128 && std::ranges::all_of(q, [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '$' || c == '_' || c == '-';
  });
}

// Lambda's errors for the Invoke API: a JSON body with Type, a message, and
// the error's name in X-Amzn-ErrorType.
void refuse_invoke(Exchange& ex, int status, std::string_view type, std::string_view body) {
  ex.respond(status, "Content-Type: application/json\r\nX-Amzn-ErrorType: " + std::string(type) + "\r\n", body);
}

// The trace id, client context and (our own) Cognito identity of an Invoke call.
void take_context_headers(const http::Headers& headers, InvokeRequest& req) {
  if (auto trace = headers.get("X-Amzn-Trace-Id"); trace && fits_one_header(*trace)) req.trace_id = *trace;
  if (auto cc = headers.get("X-Amz-Client-Context")) {
    if (auto decoded = http::base64_decode(*cc)) req.client_context = *decoded;
  }
  // Lambda's Invoke API carries no identity header; this one is ours, so a
  // local test can give a handler the identity a mobile SDK call would.
  if (auto ci = headers.get("X-Amz-Cognito-Identity")) {
    if (ci->starts_with('{')) {
      req.cognito_identity = *ci;
    } else if (auto decoded = http::base64_decode(*ci)) {
      req.cognito_identity = *decoded;
    }
  }
}

// Reads the payload into req; refuses (413) one over Lambda's limit, judged
// by its Content-Length before it is read: a client that sent
// Expect: 100-continue gets this instead of 100 Continue.
bool read_invoke_payload(Exchange& ex, InvokeRequest& req) {
  const std::string too_large = "{\"Type\":\"User\",\"message\":" + http::json_quote(request_too_large_message()) + "}";
  auto framing = http::body_framing(ex.head().headers, std::numeric_limits<std::size_t>::max());
  if (framing && !framing->chunked && framing->length > kMaxInvokePayload) {
    ex.close_after();
    refuse_invoke(ex, 413, "RequestEntityTooLargeException", too_large);
    return false;
  }
  auto body = ex.read_all(kMaxInvokePayload);
  if (!body) {
    ex.close_after();
    refuse_invoke(ex, 413, "RequestEntityTooLargeException", too_large);
    return false;
  }
  req.payload = std::move(*body);
  return true;
}

}  // namespace

void Emulator::State::handle_invoke_endpoint(Exchange& ex, std::string_view name, std::string_view query) {
  InvokeRequest req;
  if (!resolve_function(ex, name, query, req)) return;
  if (!read_invoke_payload(ex, req)) return;
  take_context_headers(ex.head().headers, req);
  bool started = false, ok = true;
  auto result = invoke(req, [&](std::string_view content_type, std::string_view chunk) {
    if (!ok) return;
    if (!started) {
      started = true;
      ok = ex.begin_chunked(200, "Content-Type: " + std::string(content_type) + "\r\n");
    }
    if (ok) ok = ex.write_chunk(chunk);
  });
  if (started) {
    if (result.function_error && ok) ex.write_chunk(result.body);
    if (ok) ex.end_chunked();
    if (!ok) ex.close_after();
    return;
  }
  std::string headers = "Content-Type: " + result.content_type + "\r\n";
  if (result.function_error) headers += "X-Amz-Function-Error: Unhandled\r\n";
  ex.respond(200, headers, result.body);
}

bool Emulator::State::resolve_function(Exchange& ex, std::string_view name, std::string_view query,
                                       InvokeRequest& req) {
  // NAME is the RIE's `function` or --name, either with `:QUALIFIER`, as
  // Lambda's FunctionName may be; ?Qualifier= names the version or alias too.
  auto decoded_name = percent_decode(name);
  std::string function = decoded_name.value_or(std::string(name));
  if (auto colon = function.find(':'); colon != std::string::npos) {
    req.qualifier = function.substr(colon + 1);
    function.resize(colon);
  }
  for (std::string_view rest = query; !rest.empty();) {
    const auto amp = rest.find('&');
    const std::string_view param = rest.substr(0, amp);
    rest = amp == std::string_view::npos ? std::string_view() : rest.substr(amp + 1);
    if (!param.starts_with("Qualifier=")) continue;
    const std::string value = percent_decode(param.substr(10)).value_or(std::string(param.substr(10)));
    if (!req.qualifier.empty() && req.qualifier != value) {
      refuse_invoke(
          ex, 400, "InvalidParameterValueException",
          R"({"Type":"User","message":"The derived qualifier from the function name does not match the specified qualifier."})");
      return false;
    }
    req.qualifier = value;
  }
  if (!req.qualifier.empty() && !valid_qualifier(req.qualifier)) {
    const std::string message = "1 validation error detected: Value '" + req.qualifier +
                                "' at 'qualifier' failed to satisfy constraint: Member must satisfy regular "
                                "expression pattern: (|[a-zA-Z0-9$_-]+)";
    refuse_invoke(ex, 400, "ValidationException", "{\"message\":" + http::json_quote(message) + "}");
    return false;
  }
  if (!decoded_name || (function != "function" && function != options.function_name)) {
    std::string arn = "arn:aws:lambda:" + region + ":000000000000:function:" + function;
    if (!req.qualifier.empty()) arn += ":" + req.qualifier;
    refuse_invoke(ex, 404, "ResourceNotFoundException",
                  "{\"Message\":" + http::json_quote("Function not found: " + arn) + ",\"Type\":\"User\"}");
    return false;
  }
  return true;
}

std::string request_too_large_message() {
  // Lambda's words for it (RequestEntityTooLargeException, 413).
  return fmt::format("Request must be smaller than {} bytes for the InvokeFunction operation", kMaxInvokePayload);
}

}  // namespace tmpdump::emulator
