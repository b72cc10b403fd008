/* The C ABI for handlers loaded from a shared library by tmpdump's bootstrap
   (_HANDLER=lib/libmyfn.so:my_handler).

   The library is loaded with RTLD_NOW | RTLD_GLOBAL into the bootstrap process,
   which runs the Runtime API loop and calls the handler once per invocation.
   The tmpdump_* functions below are defined by the bootstrap itself: link the
   library with nothing from tmpdump (undefined symbols are resolved when it is
   loaded). See docs/runtime.md. */
#ifndef TMPDUMP_HANDLER_H
#define TMPDUMP_HANDLER_H

#include <stddef.h>
#include <stdint.h>

#include "tmpdump/api.h"

#ifdef __cplusplus
extern "C" {
#endif

/** One invocation; valid only during the handler call that receives it. */
typedef struct tmpdump_invocation tmpdump_invocation;

/** The handler named in _HANDLER. Return 0 after tmpdump_respond, tmpdump_fail
    or tmpdump_stream_write; a non-zero return with none of them is reported as
    errorType "Runtime.HandlerError". Returning 0 without a response sends an
    empty one. */
typedef int (*tmpdump_handler_fn)(tmpdump_invocation* invocation);

/** Optional: if the library exports `int tmpdump_handler_init(void)`, the
    bootstrap calls it once before the first invocation; non-zero is an init
    error (errorType "Runtime.InitError"). */
typedef int (*tmpdump_init_fn)(void);

/** Optional SnapStart hooks, exported as `int tmpdump_before_snapshot(void)`
    and `int tmpdump_after_restore(void)`; called when
    AWS_LAMBDA_INITIALIZATION_TYPE=snap-start. Non-zero fails init / restore. */
typedef int (*tmpdump_hook_fn)(void);

/** The event; *size receives its length (it is also NUL-terminated). */
TMPDUMP_API const char* tmpdump_payload(const tmpdump_invocation* invocation, size_t* size);
/** Lambda-Runtime-Aws-Request-Id. */
TMPDUMP_API const char* tmpdump_request_id(const tmpdump_invocation* invocation);
/** Lambda-Runtime-Invoked-Function-Arn. */
TMPDUMP_API const char* tmpdump_function_arn(const tmpdump_invocation* invocation);
/** Lambda-Runtime-Trace-Id ("" when absent); also in the environment as _X_AMZN_TRACE_ID. */
TMPDUMP_API const char* tmpdump_trace_id(const tmpdump_invocation* invocation);
/** Lambda-Runtime-Client-Context, a JSON document ("" when absent). */
TMPDUMP_API const char* tmpdump_client_context(const tmpdump_invocation* invocation);
/** Lambda-Runtime-Cognito-Identity, a JSON document ("" when absent). */
TMPDUMP_API const char* tmpdump_cognito_identity(const tmpdump_invocation* invocation);
/** The deadline, milliseconds since the Unix epoch. */
TMPDUMP_API int64_t tmpdump_deadline_ms(const tmpdump_invocation* invocation);
/** Milliseconds left before the deadline (negative once past it). */
TMPDUMP_API int64_t tmpdump_remaining_ms(const tmpdump_invocation* invocation);

/** Sets the buffered response (copied). content_type NULL means
    "application/json". Returns 0, or -1 once the response is already set or
    streaming. */
TMPDUMP_API int tmpdump_respond(tmpdump_invocation* invocation, const void* data, size_t size,
                                const char* content_type);
/** Reports the invocation as failed with this errorType and errorMessage.
    While streaming, the error travels in the stream's trailers. Returns 0, or
    -1 once a response was set. */
TMPDUMP_API int tmpdump_fail(tmpdump_invocation* invocation, const char* error_type, const char* error_message);
/** Sends one chunk of a streamed response right away (the first call switches
    the invocation to streaming: Lambda-Runtime-Function-Response-Mode: streaming).
    Returns 0, or -1 when the chunk could not be sent or a buffered response was set. */
TMPDUMP_API int tmpdump_stream_write(tmpdump_invocation* invocation, const void* data, size_t size);

#ifdef __cplusplus
}
#endif

#endif /* TMPDUMP_HANDLER_H */
