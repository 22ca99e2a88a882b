/* Internal: helpers that run.c (built into both the extension and the runner) shares with the
 * runner's own files, so that each has one home.  Not part of the public API. */
#ifndef AB_UTIL_H
#define AB_UTIL_H

#include <time.h>

/* Nanoseconds from clock reading *a to clock reading *b (negative when *b is the earlier). */
static inline double ab_ns_between(const struct timespec *a, const struct timespec *b)
{
    return (double)(b->tv_sec - a->tv_sec) * 1e9 + (double)(b->tv_nsec - a->tv_nsec);
}

#endif /* AB_UTIL_H */
