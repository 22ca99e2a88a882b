/* A plain C program doing the runner's ops as a C programmer would write them by hand: one
 * noinline function per strategy and touch mode (no dispatch inside an op), the pointer
 * escaping through an empty asm, a loop calling the function directly, CLOCK_MONOTONIC
 * around each batch.  It checks the runner's figures (see interleave.py beside it).  Each
 * batch also says how often it was preempted (involuntary context switches), so that a
 * comparison on a busy machine can leave those batches out as the runner retakes them.
 *
 *   plain_ops STRATEGY TOUCH SIZE ITERATIONS REPEATS
 * STRATEGY: baseline (with TOUCH none), alloca, vla or malloc; TOUCH: none, first, pages or
 * full.  Prints one line per batch, after one discarded warm-up batch: the mean ns per op and
 * the involuntary context switches during the batch. */
#define _GNU_SOURCE
#include <alloca.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#define ESCAPE(p) __asm__ volatile("" : : "r"(p) : "memory")
#define STRIDE 4096

#define TOUCH_none(p, size)
#define TOUCH_first(p, size) (p)[0] = 1
#define TOUCH_pages(p, size) for (size_t i = 0; i < (size); i += STRIDE) (p)[i] = 1
#define TOUCH_full(p, size) memset((p), 0xA5, (size))

/* The baseline: the same call, no allocation, no touch. */
__attribute__((noinline)) static int baseline_none(size_t size)
{
    char local;
    (void)size;
    ESCAPE(&local);
    return 0;
}

#define OPS(touch)                                                                             \
    __attribute__((noinline)) static int alloca_##touch(size_t size)                           \
    {                                                                                          \
        char *p = alloca(size);                                                                \
        TOUCH_##touch(p, size);                                                                \
        ESCAPE(p);                                                                             \
        return 0;                                                                              \
    }                                                                                          \
    __attribute__((noinline)) static int vla_##touch(size_t size)                              \
    {                                                                                          \
        char p[size];                                                                          \
        TOUCH_##touch(p, size);                                                                \
        ESCAPE(p);                                                                             \
        return 0;                                                                              \
    }                                                                                          \
    __attribute__((noinline)) static int malloc_##touch(size_t size)                           \
    {                                                                                          \
        char *p = malloc(size);                                                                \
        if (p == NULL)                                                                         \
            return 1;                                                                          \
        TOUCH_##touch(p, size);                                                                \
        ESCAPE(p);                                                                             \
        free(p);                                                                               \
        return 0;                                                                              \
    }

OPS(none)
OPS(first)
OPS(pages)
OPS(full)

/* Each (strategy, touch) gets its own loop calling its function directly, as a hand-written
 * benchmark would. */
#define LOOP(strategy, touch)                                                                 \
    if (strcmp(argv[1], #strategy) == 0 && strcmp(argv[2], #touch) == 0) {                    \
        for (int r = -1; r < repeats; r++) {                                                  \
            struct rusage ru0, ru1;                                                           \
            struct timespec t0, t1;                                                           \
            getrusage(RUSAGE_THREAD, &ru0);                                                   \
            clock_gettime(CLOCK_MONOTONIC, &t0);                                              \
            for (unsigned long long i = 0; i < n; i++)                                        \
                if (strategy##_##touch(size) != 0)                                            \
                    return 1;                                                                 \
            clock_gettime(CLOCK_MONOTONIC, &t1);                                              \
            getrusage(RUSAGE_THREAD, &ru1);                                                   \
            if (r >= 0)                                                                       \
                printf("%.4f %ld\n", ((double)(t1.tv_sec - t0.tv_sec) * 1e9                   \
                                      + (double)(t1.tv_nsec - t0.tv_nsec)) / (double)n,       \
                       ru1.ru_nivcsw - ru0.ru_nivcsw);                                        \
        }                                                                                     \
        return 0;                                                                             \
    }
#define LOOPS(strategy) LOOP(strategy, none) LOOP(strategy, first) LOOP(strategy, pages)       \
    LOOP(strategy, full)

int main(int argc, char **argv)
{
    if (argc != 6) {
        fprintf(stderr, "usage: %s STRATEGY TOUCH SIZE ITERATIONS REPEATS\n", argv[0]);
        return 2;
    }
    size_t size = strtoull(argv[3], NULL, 10);
    unsigned long long n = strtoull(argv[4], NULL, 10);
    int repeats = atoi(argv[5]);
    LOOP(baseline, none)
    LOOPS(alloca)
    LOOPS(vla)
    LOOPS(malloc)
    fprintf(stderr, "unknown strategy or touch: %s %s\n", argv[1], argv[2]);
    return 2;
}
