// The Runtime API the runtime calls (/2018-06-01/runtime/...), with RIE's
// answers for calls its state does not allow, and the routing of every request.
#include <limits>

#include <fmt/format.h>

#include "emulator/state.hpp"
#include "runtime/client.hpp"
#include "runtime/http.hpp"

namespace tmpdump::emulator {

namespace http = runtime::http;

namespace {

constexpr std::string_view kRuntimePrefix = "/2018-06-01/runtime";
// POST /2015-03-31/functions/NAME/invocations[?Qualifier=Q], Lambda's Invoke.
constexpr std::string_view kFunctionsPrefix = "/2015-03-31/functions/";
constexpr std::string_view kInvocationsSuffix = "/invocations";
constexpr std::size_t kMaxResponse = runtime::kMaxBufferedResponse;
constexpr std::size_t kMaxStream = 200u << 20;  // Lambda's streamed-response limit

// The Runtime API's error body, as the runtime interface emulator renders it
// (internal/lambda/rapi/model/errorresponse.go: no stackTrace).
std::string rapi_error(std::string_view type, std::string_view message) {
  return "{\"errorMessage\":" + http::json_quote(message) + ",\"errorType\":" + http::json_quote(type) + "}";
}

// RIE's 403 for a call the runtime's state does not allow
// (rapi/handler/constants.go StateTransitionFailedForRuntimeMessageFormat, core.ErrNotAllowed).
std::string invalid_transition(std::string_view from, std::string_view to) {
  return rapi_error("InvalidStateTransition", fmt::format("State transition from {} to {} failed for runtime. "
                                                          "Error: State transition is not allowed",
                                                          from, to));
}

}  // namespace

// The runtime's state as RIE names it (core/runtime_state_names.go), for
// its InvalidStateTransition messages; called with `mutex` held.
std::string_view Emulator::State::runtime_state_locked() const {
  if (!ready) return "Started";
  if (current && current->delivered && current->phase == Invocation::Phase::Streaming) return "InvocationResponse";
  if (current && current->delivered && current->phase == Invocation::Phase::Pending) return "Running";
  if (!answered_id.empty()) return "RuntimeResponseSentState";
  return "Ready";
}

void Emulator::State::handle_next(Exchange& ex) {
  std::unique_lock lock(mutex);
  const auto gen = generation;
  answered_id.clear();
  if (!ready) {
    ready = true;
    if (restore_started) {
      restore_ms = ms_between(*restore_started, Clock::now());
    } else if (!init_ms) {
      init_ms = ms_between(init_started, Clock::now());
    }
    cv.notify_all();
  }
  cv.wait(lock, [&] { return stopping || gen != generation || (current && !current->delivered); });
  if (stopping || gen != generation) {
    ex.close_after();
    lock.unlock();
    ex.respond(500, "", runtime::error_json("Emulator.Stopped", "the runtime was stopped"));
    return;
  }
  auto inv = current;
  inv->delivered = true;
  lock.unlock();
  std::string headers = "Content-Type: application/json\r\nLambda-Runtime-Aws-Request-Id: " + inv->id +
                        "\r\nLambda-Runtime-Deadline-Ms: " + std::to_string(inv->deadline_ms) +
                        "\r\nLambda-Runtime-Invoked-Function-Arn: " + inv->arn +
                        "\r\nLambda-Runtime-Trace-Id: " + inv->trace_id + "\r\n";
  if (!inv->client_context.empty() && fits_one_header(inv->client_context)) {
    headers += "Lambda-Runtime-Client-Context: " + inv->client_context + "\r\n";
  }
  if (!inv->cognito_identity.empty() && fits_one_header(inv->cognito_identity)) {
    headers += "Lambda-Runtime-Cognito-Identity: " + inv->cognito_identity + "\r\n";
  }
  ex.respond(200, headers, inv->payload);
}

void Emulator::State::handle_invocation_post(Exchange& ex, std::string_view id, std::string_view what) {
  auto inv = claim_answer(ex, id, what);
  if (!inv) return;
  const auto& h = ex.head().headers;
  if (what == "error") {
    auto body = read_buffered_answer(ex, *inv);
    if (!body) return;
    std::string type(h.get("Lambda-Runtime-Function-Error-Type").value_or("Unhandled"));
    finish(*inv, true, !body->empty() ? *body : runtime::error_json(type, ""), "application/json");
  } else if (h.get("Lambda-Runtime-Function-Response-Mode").value_or("") == "streaming") {
    receive_stream(ex, *inv, std::string(h.get("Content-Type").value_or("application/json")));
  } else {
    const std::string content_type(h.get("Content-Type").value_or("application/json"));
    auto body = read_buffered_answer(ex, *inv);
    if (!body) return;
    finish(*inv, false, std::move(*body), content_type);
  }
  ex.respond(202, "Content-Type: application/json\r\n", "{\"status\":\"OK\"}");
}

std::shared_ptr<Invocation> Emulator::State::claim_answer(Exchange& ex, std::string_view id, std::string_view what) {
  std::shared_ptr<Invocation> inv;
  std::string refusal;
  {
    std::lock_guard lock(mutex);
    const bool is_current = current && current->id == id && current->delivered;
    if (is_current && current->phase == Invocation::Phase::Pending) {
      inv = current;
    } else if (is_current || (!answered_id.empty() && answered_id == id)) {
      // Answered already (or being streamed): RIE's 403 (rapi/router_test.go TestInvokeResponseTwice).
      refusal = invalid_transition(runtime_state_locked(),
                                   what == "error" ? "InvocationErrorResponse" : "InvocationResponse");
    }
  }
  if (!refusal.empty()) {
    ex.respond(403, "Content-Type: application/json\r\n", refusal);
    return nullptr;
  }
  if (!inv) {
    // RIE's answer to an id that is not the current invocation's (rendering.RenderInvalidRequestID).
    ex.respond(400, "Content-Type: application/json\r\n", rapi_error("InvalidRequestID", "Invalid request ID"));
  }
  return inv;
}

void Emulator::State::finish(Invocation& inv, bool error, std::string body, std::string content_type) {
  std::lock_guard lock(mutex);
  inv.error = error;
  inv.body = std::move(body);
  inv.content_type = std::move(content_type);
  inv.phase = Invocation::Phase::Done;
  answered_id = inv.id;
  cv.notify_all();
}

// A buffered response or error body over the limit is answered alike, as
// Lambda does: Function.ResponseSizeTooLarge instead of the payload.
std::optional<std::string> Emulator::State::read_buffered_answer(Exchange& ex, Invocation& inv) {
  auto framing = http::body_framing(ex.head().headers, std::numeric_limits<std::size_t>::max());
  if (framing && !framing->chunked && framing->length > kMaxResponse) {
    const std::string msg = runtime::response_too_large_message(framing->length);
    finish(inv, true, runtime::error_json("Function.ResponseSizeTooLarge", msg), "application/json");
    ex.close_after();  // the body is not read
    ex.respond(413, "Content-Type: application/json\r\n", runtime::error_json("RequestEntityTooLarge", msg));
    return std::nullopt;
  }
  auto body = ex.read_all(kMaxResponse);
  if (!body) {
    finish(inv, true,
           runtime::error_json("Function.ResponseSizeTooLarge",
                               fmt::format("the response is malformed or larger than {} bytes", kMaxResponse)),
           "application/json");
    ex.respond(413, "Content-Type: application/json\r\n", runtime::error_json("RequestEntityTooLarge", "too large"));
  }
  return body;
}

void Emulator::State::receive_stream(Exchange& ex, Invocation& inv, const std::string& content_type) {
  {
    std::lock_guard lock(mutex);
    inv.phase = Invocation::Phase::Streaming;
    inv.content_type = content_type;
  }
  http::Headers trailers;
  const bool ok = ex.read_body(
      kMaxStream,
      [&](std::string_view piece) {
        std::lock_guard lock(mutex);
        inv.chunks.emplace_back(piece);
        cv.notify_all();
        return true;
      },
      &trailers);
  if (auto type = trailers.get("Lambda-Runtime-Function-Error-Type")) {
    std::string body = runtime::error_json(*type, "");
    if (auto b64 = trailers.get("Lambda-Runtime-Function-Error-Body")) {
      if (auto decoded = http::base64_decode(*b64)) body = *decoded;
    }
    finish(inv, true, std::move(body), content_type);
  } else if (!ok) {
    finish(inv, true, runtime::error_json("Runtime.TruncatedResponse", "the streamed response broke off"),
           content_type);
  } else {
    finish(inv, false, {}, content_type);
  }
}

void Emulator::State::handle(Exchange& ex) {
  const auto& method = ex.head().method;
  std::string_view target = ex.head().target;
  if (method == "POST" && target.starts_with(kFunctionsPrefix)) {
    const auto question = target.find('?');
    std::string_view path = target.substr(0, question);
    const std::string_view query = question == std::string_view::npos ? "" : target.substr(question + 1);
    if (path.ends_with(kInvocationsSuffix)) {
      path.remove_prefix(kFunctionsPrefix.size());
      path.remove_suffix(kInvocationsSuffix.size());
      if (!path.empty() && path.find('/') == std::string_view::npos) return handle_invoke_endpoint(ex, path, query);
    }
  }
  if (!target.starts_with(kRuntimePrefix)) {
    ex.respond(404, "Content-Type: application/json\r\n", runtime::error_json("NotFound", std::string(target)));
    return;
  }
  target.remove_prefix(kRuntimePrefix.size());
  if (method == "GET" && target == "/invocation/next") return handle_next(ex);
  if (method == "POST" && target.starts_with("/invocation/")) {
    std::string_view rest = target.substr(12);
    auto slash = rest.find('/');
    if (slash != std::string_view::npos) {
      std::string_view what = rest.substr(slash + 1);
      if (what == "response" || what == "error") return handle_invocation_post(ex, rest.substr(0, slash), what);
    }
  }
  if (method == "POST" && (target == "/init/error" || target == "/restore/error")) {
    return handle_init_error(ex, target == "/init/error");
  }
  if (method == "GET" && target == "/restore/next") return handle_restore_next(ex);
  ex.respond(404, "Content-Type: application/json\r\n",
             runtime::error_json("NotFound", method + " " + std::string(ex.head().target)));
}

void Emulator::State::handle_init_error(Exchange& ex, bool during_init) {
  {
    // Once the runtime has reached /next its init is over: RIE refuses
    // (rapi/handler/initerror.go).
    std::lock_guard lock(mutex);
    if (ready) {
      ex.respond(403, "Content-Type: application/json\r\n",
                 invalid_transition(runtime_state_locked(), during_init ? "InitError" : "RuntimeRestoreErrorState"));
      return;
    }
  }
  auto body = ex.read_all(kMaxResponse);
  std::lock_guard lock(mutex);
  InitError err;
  err.type = ex.head().headers.get("Lambda-Runtime-Function-Error-Type").value_or("Unknown");
  err.body = body.value_or("");
  err.phase = during_init ? "init" : "restore";
  init_error = std::move(err);
  cv.notify_all();
  ex.respond(202, "Content-Type: application/json\r\n", "{\"status\":\"OK\"}");
}

void Emulator::State::handle_restore_next(Exchange& ex) {
  if (!options.snap_start) {
    ex.respond(403, "Content-Type: application/json\r\n",
               runtime::error_json("InvalidStateTransition", "/restore/next outside a snap-start init"));
    return;
  }
  {
    std::lock_guard lock(mutex);
    init_ms = ms_between(init_started, Clock::now());
    restore_started = Clock::now();
  }
  log(
      fmt::format("INIT_REPORT Init Duration: {:.2f} ms\tPhase: init\tStatus: success (snapshot emulated; "
                  "restoring at once)",
                  *init_ms));
  ex.respond(200, "Content-Type: application/json\r\n", "");
}

}  // namespace tmpdump::emulator
