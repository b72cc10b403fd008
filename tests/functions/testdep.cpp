// A library that exists only inside the test tmpdump: handlers linked with it
// start only when the bootstrap has put the tmpdump's lib/ on the library path.
#include "testdep.h"

extern "C" const char* testdep_greeting(void) {
  return "hello from the tmpdump";
}
