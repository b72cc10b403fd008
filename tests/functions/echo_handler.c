/* A C ABI handler library for the integration tests (see echo_fn.cpp). */
#include <stdio.h>
#include <string.h>

#include <tmpdump/handler.h>

#ifdef WITH_TESTDEP
#include "testdep.h"
#endif

static char hook_log[64];

TMPDUMP_API int tmpdump_before_snapshot(void) {
  strcat(hook_log, "before ");
  return 0;
}

TMPDUMP_API int tmpdump_after_restore(void) {
  strcat(hook_log, "after");
  return 0;
}

TMPDUMP_API int echo_handler(tmpdump_invocation* inv) {
  size_t size = 0;
  const char* payload = tmpdump_payload(inv, &size);
  if (strstr(payload, "fail") != NULL) return tmpdump_fail(inv, "Test.Failure", "the C handler failed on purpose");
  if (strstr(payload, "hooks") != NULL) return tmpdump_respond(inv, hook_log, strlen(hook_log), "text/plain");
#ifdef WITH_TESTDEP
  if (strstr(payload, "dep") != NULL) {
    const char* g = testdep_greeting();
    return tmpdump_respond(inv, g, strlen(g), "text/plain");
  }
#endif
  char out[512];
  int n =
      snprintf(out, sizeof out, "{\"c_echo\":%.*s,\"request_id\":\"%s\"}", (int)size, payload, tmpdump_request_id(inv));
  return tmpdump_respond(inv, out, (size_t)n, NULL);
}
