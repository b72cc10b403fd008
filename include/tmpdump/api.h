/* Visibility of tmpdump's public symbols: the project builds with
   -fvisibility=hidden, so only what is marked TMPDUMP_API is exported. */
#ifndef TMPDUMP_API_H
#define TMPDUMP_API_H

#if defined(__GNUC__)
#define TMPDUMP_API __attribute__((visibility("default")))
#else
#define TMPDUMP_API
#endif

#endif /* TMPDUMP_API_H */
