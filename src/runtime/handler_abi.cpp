// The C ABI of include/tmpdump/handler.h, over the same loop as the C++ API.
#include <cstring>
#include <stdexcept>
#include <string>

#include "runtime/c_handler.hpp"
#include "runtime/loop.hpp"
#include "tmpdump/handler.h"

struct tmpdump_invocation {
  const tmpdump::runtime::Invocation* invocation;
  tmpdump::runtime::detail::Exchange* exchange;
};

namespace tmpdump::runtime {

int run_c_handler(tmpdump_handler_fn handler, tmpdump_hook_fn before_snapshot, tmpdump_hook_fn after_restore) {
  Options options;
  if (before_snapshot != nullptr) {
    options.before_snapshot.emplace_back([before_snapshot] {
      if (int rc = before_snapshot(); rc != 0) {
        throw std::runtime_error("tmpdump_before_snapshot returned " + std::to_string(rc));
      }
    });
  }
  if (after_restore != nullptr) {
    options.after_restore.emplace_back([after_restore] {
      if (int rc = after_restore(); rc != 0) {
        throw std::runtime_error("tmpdump_after_restore returned " + std::to_string(rc));
      }
    });
  }
  return detail::run_loop(
      [handler](const Invocation& inv, detail::Exchange& exchange) {
        tmpdump_invocation c{&inv, &exchange};
        const int rc = handler(&c);
        if (rc != 0 && !exchange.answered()) {
          exchange.respond(Response::failure("Runtime.HandlerError", "the handler returned " + std::to_string(rc)));
        }
      },
      options, Response::success(""));
}

}  // namespace tmpdump::runtime

extern "C" {

const char* tmpdump_payload(const tmpdump_invocation* i, size_t* size) {
  if (size != nullptr) *size = i->invocation->payload.size();
  return i->invocation->payload.c_str();
}
const char* tmpdump_request_id(const tmpdump_invocation* i) {
  return i->invocation->request_id.c_str();
}
const char* tmpdump_function_arn(const tmpdump_invocation* i) {
  return i->invocation->function_arn.c_str();
}
const char* tmpdump_trace_id(const tmpdump_invocation* i) {
  return i->invocation->trace_id.c_str();
}
const char* tmpdump_client_context(const tmpdump_invocation* i) {
  return i->invocation->client_context.c_str();
}
const char* tmpdump_cognito_identity(const tmpdump_invocation* i) {
  return i->invocation->cognito_identity.c_str();
}
int64_t tmpdump_deadline_ms(const tmpdump_invocation* i) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(i->invocation->deadline.time_since_epoch()).count();
}
int64_t tmpdump_remaining_ms(const tmpdump_invocation* i) {
  return i->invocation->remaining_time().count();
}

int tmpdump_respond(tmpdump_invocation* i, const void* data, size_t size, const char* content_type) {
  std::string body(static_cast<const char*>(data), size);
  return i->exchange->respond(tmpdump::runtime::Response::success(
             std::move(body), content_type != nullptr ? content_type : "application/json"))
             ? 0
             : -1;
}

int tmpdump_fail(tmpdump_invocation* i, const char* error_type, const char* error_message) {
  const char* type = error_type != nullptr ? error_type : "Runtime.HandlerError";
  const char* message = error_message != nullptr ? error_message : "";
  if (i->exchange->streaming()) {
    i->exchange->fail(type, message);
    return 0;
  }
  return i->exchange->respond(tmpdump::runtime::Response::failure(type, message)) ? 0 : -1;
}

int tmpdump_stream_write(tmpdump_invocation* i, const void* data, size_t size) {
  return i->exchange->write(std::string_view(static_cast<const char*>(data), size)) ? 0 : -1;
}

}  // extern "C"
