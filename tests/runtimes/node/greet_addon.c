/* A native Node.js addon (N-API) that exists only in the tmpdump and needs
 * libtmpdump_testdep.so from its lib/. */
#include <node_api.h>

#include "testdep.h"

static napi_value greeting(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value s;
  napi_create_string_utf8(env, testdep_greeting(), NAPI_AUTO_LENGTH, &s);
  return s;
}

NAPI_MODULE_INIT() {
  napi_value fn;
  napi_create_function(env, "greeting", NAPI_AUTO_LENGTH, greeting, NULL, &fn);
  napi_set_named_property(env, exports, "greeting", fn);
  return exports;
}
