/* Stands in for a runtime: prints its arguments, each ended by a NUL byte,
 * then LD_LIBRARY_PATH and PYTHONPATH the same way, so a test can compare
 * bytes exactly. */
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char** argv) {
  for (int i = 0; i < argc; ++i) {
    fputs(argv[i], stdout);
    fputc('\0', stdout);
  }
  const char* names[] = {"LD_LIBRARY_PATH", "PYTHONPATH"};
  for (int i = 0; i < 2; ++i) {
    const char* v = getenv(names[i]);
    printf("%s=%s", names[i], v != NULL ? v : "<unset>");
    fputc('\0', stdout);
  }
  return 0;
}
