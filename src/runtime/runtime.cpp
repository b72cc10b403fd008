#include "tmpdump/runtime.hpp"

#include <cxxabi.h>

#include <cstdio>
#include <cstdlib>
#include <exception>
#include <memory>
#include <typeinfo>

#include "runtime/client.hpp"
#include "runtime/loop.hpp"

namespace tmpdump::runtime {

std::chrono::milliseconds Invocation::remaining_time() const {
  return std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::system_clock::now());
}

Response Response::success(std::string payload, std::string content_type) {
  return Response(true, std::move(payload), std::move(content_type));
}

Response Response::failure(std::string error_type, std::string error_message) {
  return Response(false, std::move(error_message), std::move(error_type));
}

namespace {

void log_line(const std::string& line) {
  std::fprintf(stderr, "tmpdump runtime: %s\n", line.c_str());
}

std::optional<Client> client_from_env(std::string* why) {
  const char* api = std::getenv("AWS_LAMBDA_RUNTIME_API");
  if (api == nullptr || *api == '\0') {
    *why = "AWS_LAMBDA_RUNTIME_API is not set: this program runs under Lambda or `tmpdump emulate`";
    return std::nullopt;
  }
  auto client = Client::create(api);
  if (!client) *why = std::string("AWS_LAMBDA_RUNTIME_API is not host:port: ") + api;
  return client;
}

// Runs the hooks in order; returns the first exception's type and message.
std::optional<std::pair<std::string, std::string>> run_hooks(const std::vector<std::function<void()>>& hooks) {
  for (const auto& hook : hooks) {
    try {
      if (hook) hook();
    } catch (...) {
      return std::pair{detail::current_exception_type(), detail::current_exception_message()};
    }
  }
  return std::nullopt;
}

}  // namespace

namespace detail {

std::string current_exception_type() {
  std::type_info* t = abi::__cxa_current_exception_type();
  if (t == nullptr) return "Unknown";
  int status = 0;
  std::unique_ptr<char, void (*)(void*)> name(abi::__cxa_demangle(t->name(), nullptr, nullptr, &status), std::free);
  return status == 0 && name ? std::string(name.get()) : std::string(t->name());
}

std::string current_exception_message() {
  try {
    throw;
  } catch (const std::exception& e) {
    return e.what();
  } catch (...) {
    return "a non-standard exception was thrown";
  }
}

bool Exchange::respond(Response response) {
  if (answered()) return false;
  buffered_ = std::move(response);
  return true;
}

void Exchange::set_content_type(std::string_view content_type) {
  if (!streaming_) content_type_ = content_type;
}

bool Exchange::start_stream() {
  if (streaming_) return !stream_failed_;
  if (buffered_) return false;
  streaming_ = true;
  if (!client_.stream_begin(invocation_.request_id, content_type_)) stream_failed_ = true;
  return !stream_failed_;
}

bool Exchange::write(std::string_view data) {
  if (stream_ended_ || !start_stream()) return false;
  if (!client_.stream_write(data)) stream_failed_ = true;
  return !stream_failed_;
}

void Exchange::fail(std::string_view error_type, std::string_view error_message) {
  if (stream_ended_) return;
  if (!streaming_) {
    if (!buffered_) buffered_ = Response::failure(std::string(error_type), std::string(error_message));
    return;
  }
  stream_ended_ = true;
  if (!stream_failed_) client_.stream_end(error_type, error_message);
}

void Exchange::finish(const Response& fallback) {
  if (streaming_) {
    if (!stream_ended_ && !stream_failed_) {
      stream_ended_ = true;
      const int status = client_.stream_end({}, {});
      if (status != 202 && status != 200) log_line("the Runtime API refused the streamed response");
    }
    return;
  }
  const Response& r = buffered_ ? *buffered_ : fallback;
  if (!r.ok()) {
    client_.fail(invocation_.request_id, r.type(), r.payload());
    return;
  }
  if (r.payload().size() > kMaxBufferedResponse) {
    client_.fail(invocation_.request_id, "Function.ResponseSizeTooLarge",
                 response_too_large_message(r.payload().size()));
    return;
  }
  const int status = client_.respond(invocation_.request_id, r.payload(), r.type());
  if (status == 413) {
    client_.fail(invocation_.request_id, "Function.ResponseSizeTooLarge",
                 "the Runtime API refused the response as too large (HTTP 413)");
  } else if (status != 202 && status != 200) {
    log_line("the Runtime API answered the response with HTTP " + std::to_string(status));
  }
}

void Exchange::finish_with_exception(std::string_view type, std::string_view message) {
  if (streaming_) {
    fail(type, message);
    return;
  }
  client_.fail(invocation_.request_id, type, message);
}

int run_loop(const CoreHandler& handler, const Options& options, const Response& default_response) {
  std::string why;
  auto client = client_from_env(&why);
  if (!client) {
    log_line(why);
    return 1;
  }
  const char* init_type = std::getenv("AWS_LAMBDA_INITIALIZATION_TYPE");
  if (init_type != nullptr && std::string_view(init_type) == "snap-start") {
    if (auto err = run_hooks(options.before_snapshot)) {
      client->init_error("Runtime.BeforeSnapshotError", err->first + ": " + err->second);
      return 1;
    }
    const int status = client->restore_next();
    if (status != 200) {
      log_line("the Runtime API answered /restore/next with HTTP " + std::to_string(status));
      return 1;
    }
    if (auto err = run_hooks(options.after_restore)) {
      client->restore_error("Runtime.AfterRestoreError", err->first + ": " + err->second);
      return 1;
    }
  }
  for (;;) {
    auto invocation = client->next(&why);
    if (!invocation) {
      log_line(why);
      return 1;
    }
    // Lambda's own clients set this variable between invocations too; a
    // handler thread still reading it from the last one is the handler's race.
    // NOLINTBEGIN(concurrency-mt-unsafe)
    if (invocation->trace_id.empty()) {
      ::unsetenv("_X_AMZN_TRACE_ID");
    } else {
      ::setenv("_X_AMZN_TRACE_ID", invocation->trace_id.c_str(), 1);
    }
    // NOLINTEND(concurrency-mt-unsafe)
    Exchange exchange(*client, *invocation);
    bool threw = false;
    std::string type, message;
    try {
      handler(*invocation, exchange);
    } catch (...) {
      threw = true;
      type = current_exception_type();
      message = current_exception_message();
    }
    if (threw) {
      exchange.finish_with_exception(type, message);
    } else {
      exchange.finish(default_response);
    }
  }
}

}  // namespace detail

int run(const Handler& handler, const Options& options) {
  return detail::run_loop(
      [&handler](const Invocation& inv, detail::Exchange& exchange) { exchange.respond(handler(inv)); }, options,
      Response::success(""));
}

int run_streaming(const StreamingHandler& handler, const Options& options) {
  return detail::run_loop([&handler](const Invocation& inv, detail::Exchange& exchange) { handler(inv, exchange); },
                          options, Response::success(""));
}

bool report_init_error(std::string_view error_type, std::string_view error_message) {
  std::string why;
  auto client = client_from_env(&why);
  if (!client) return false;
  const int status = client->init_error(error_type, error_message);
  return status == 202 || status == 200;
}

}  // namespace tmpdump::runtime
