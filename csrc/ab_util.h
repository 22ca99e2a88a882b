/* Internal: helpers that run.c (built into both the extension and the runner) shares with the
 * runner's own files, so that each has one home.  Not part of the public API. */
#ifndef AB_UTIL_H
#define AB_UTIL_H

#include <pthread.h>
#include <stddef.h>
#include <time.h>

#include "alloca_bench.h"

/* Nanoseconds from clock reading *a to clock reading *b (negative when *b is the earlier). */
static inline double ab_ns_between(const struct timespec *a, const struct timespec *b)
{
    return (double)(b->tv_sec - a->tv_sec) * 1e9 + (double)(b->tv_nsec - a->tv_nsec);
}

/* The stack guard's test: 1 when `need` bytes of stack (ab_stack_need) leave at least
 * AB_STACK_MARGIN of `headroom` free, else 0. */
static inline int ab_stack_fits(size_t need, size_t headroom)
{
    return need <= headroom && headroom - need >= AB_STACK_MARGIN;
}

/* The stack_guard_gap= pages of kernel command line `cmdline`, parsed as the kernel does: base
 * 10, a value that does not parse whole is ignored, the last one counts, nothing after "--"
 * (init's arguments); `default_pages` when none counts. */
unsigned long ab_guard_gap_pages(const char *cmdline, unsigned long default_pages);

/* The file of the object (executable or shared library) that holds `address`, or NULL
 * (library.c). */
const char *ab_library_of(const void *address);
/* 1 when paths `a` and `b` (either may be NULL) name the same existing file, else 0. */
int ab_same_file(const char *a, const char *b);

/* Initialise *attr for threads with `stack_size` bytes of stack, raised to PTHREAD_STACK_MIN
 * (below it pthread_attr_setstacksize fails with EINVAL) and rounded up to whole pages (some
 * systems refuse other sizes); 0 keeps the default stack.  Returns AB_OK, or AB_ETHREAD with
 * nothing left to destroy. */
int ab_thread_attr(pthread_attr_t *attr, size_t stack_size);

/* Run fn(arg) on a new thread with the stack of ab_thread_attr(stack_size) and wait for its end.
 * Returns AB_OK, or AB_ETHREAD when the thread could not be created (EAGAIN: no resources or
 * RLIMIT_NPROC; ENOMEM: no room for the stack) or joined. */
int ab_thread_run(size_t stack_size, void *(*fn)(void *), void *arg);

#endif /* AB_UTIL_H */
