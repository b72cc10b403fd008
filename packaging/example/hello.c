/* The example function of packaging/template.yaml: a C ABI handler the
 * layer's bootstrap loads (_HANDLER=lib/libhello.so:hello). It links nothing:
 * the tmpdump_* functions come from the bootstrap that loads it, so it builds
 * with any C compiler and the layer's headers alone. It answers with the
 * event and the library path the bootstrap set up, i.e. where the tmpdump went. */
#include <stdio.h>
#include <stdlib.h>

#include <tmpdump/handler.h>

TMPDUMP_API int hello(tmpdump_invocation* inv) {
  size_t size = 0;
  const char* payload = tmpdump_payload(inv, &size);
  const char* path = getenv("LD_LIBRARY_PATH");
  char out[4096];
  int n = snprintf(out, sizeof out, "{\"event\":%.*s,\"ld_library_path\":\"%s\"}", (int)(size > 2048 ? 0 : size),
                   size > 2048 ? "" : payload, path != NULL ? path : "");
  if (n < 0 || (size_t)n >= sizeof out) return tmpdump_fail(inv, "Hello.TooLong", "the answer does not fit");
  return tmpdump_respond(inv, out, (size_t)n, NULL);
}
