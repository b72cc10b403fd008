// The rtld-audit library `tmpdump trace` puts into LD_AUDIT (see rtld-audit(7)).
// It appends one record per loader event to the file named by
// TMPDUMP_TRACE_EVENTS; the runner (trace.cpp) turns them into the trace.
//
// Plain C with no dependency but libc: it is loaded into every traced process,
// including JVMs and programs built with other toolchains, in its own link
// namespace, before the program's own libraries.
//
// Records, each written with one write() to an O_APPEND file so that records of
// concurrent processes never interleave; fields end in NUL:
//   B<pid>                      a process image started (or the audit library loaded)
//   S<pid> name realpath        the loader searches for `name` (a DT_NEEDED
//                               name, a dlopen argument); realpath only when
//                               name holds a '/' and exists, else empty
//   C<pid> realpath             a candidate file the search tries that exists
//   O<pid> l_name realpath      an object was mapped (realpath empty if none, e.g. the vDSO)
#define _GNU_SOURCE
#include <fcntl.h>
#include <limits.h>
#include <link.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define EXPORT __attribute__((visibility("default")))

static int events_fd = -1;

// Longer records than this are dropped rather than split.
#define RECORD_MAX (3 * PATH_MAX + 64)

static void emit(char kind, const char* a, const char* b, int fields) {
  if (events_fd < 0) return;
  char buf[RECORD_MAX];
  int n = snprintf(buf, sizeof buf, "%c%ld", kind, (long)getpid());
  if (n < 0 || (size_t)n + 1 >= sizeof buf) return;
  size_t len = (size_t)n + 1;  // keep the NUL
  const char* parts[2] = {a, b};
  for (int i = 0; i < fields; ++i) {
    const char* p = parts[i] != NULL ? parts[i] : "";
    size_t plen = strlen(p);
    if (len + plen + 1 > sizeof buf) return;
    memcpy(buf + len, p, plen + 1);
    len += plen + 1;
  }
  const char* at = buf;
  while (len > 0) {
    ssize_t w = write(events_fd, at, len);
    if (w <= 0) return;
    at += w;
    len -= (size_t)w;
  }
}

EXPORT unsigned int la_version(unsigned int version) {
  const char* path = getenv("TMPDUMP_TRACE_EVENTS");
  if (path != NULL && path[0] != '\0' && events_fd < 0) {
    // The file tmpdump trace made with mkstemp: never a link put in its place.
    events_fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC | O_NOFOLLOW);
  }
  emit('B', NULL, NULL, 0);
  // Returning the loader's own version accepts it; 0 would disable auditing.
  return version < LAV_CURRENT ? version : LAV_CURRENT;
}

EXPORT char* la_objsearch(const char* name, uintptr_t* cookie, unsigned int flag) {
  (void)cookie;
  char real[PATH_MAX];
  if (flag == LA_SER_ORIG) {
    const int has_slash = strchr(name, '/') != NULL;
    emit('S', name, has_slash && realpath(name, real) != NULL ? real : "", 2);
  } else if (realpath(name, real) != NULL) {
    emit('C', real, NULL, 1);
  }
  // Returning the name unchanged lets the search go on as without us.
  return (char*)name;
}

EXPORT unsigned int la_objopen(struct link_map* map, Lmid_t lmid, uintptr_t* cookie) {
  (void)lmid;
  (void)cookie;
  if (map->l_name != NULL && map->l_name[0] != '\0') {
    char real[PATH_MAX];
    emit('O', map->l_name, realpath(map->l_name, real) != NULL ? real : "", 2);
  }
  // No LA_FLG_BINDTO/BINDFROM: symbol binding is not audited, so the traced
  // program runs at full speed.
  return 0;
}
