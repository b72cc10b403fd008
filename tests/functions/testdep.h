#pragma once
#include "tmpdump/api.h"
#ifdef __cplusplus
extern "C" {
#endif
/** A fixed string, proving the library was loaded. */
TMPDUMP_API const char* testdep_greeting(void);
#ifdef __cplusplus
}
#endif
