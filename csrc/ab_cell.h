/* Internal to the runner: a plan cell, as its "cell ..." line sets it (runner.h describes the
 * plan; patterns.h the team fields).  Types only: every unit of the runner may include it. */
#ifndef AB_CELL_H
#define AB_CELL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "user_kernel.h"

#define AB_PATH_MAX 1024
/* The least stack_size= of a cell (bytes; 0 keeps the main thread): the thread also runs the
 * cell's own code (serve(), its JSON records on the stack), which overflows a smaller stack.
 * Python refuses less (measuring.validate); the runner floors hand-written plans to it. */
#define AB_MIN_STACK_SIZE (64u << 10)

enum { AB_PATTERN_SAME = 0, AB_PATTERN_CROSS = 1, AB_PATTERN_HOLD = 2 };
enum { AB_DIST_NONE = 0, AB_DIST_UNIFORM = 1, AB_DIST_LOGUNIFORM = 2 };

struct ab_team_spec {
    uint32_t threads;  /* 0: the cell runs through ab_run() on one thread, as without threads= */
    int pattern;       /* AB_PATTERN_* */
    uint32_t window;   /* live blocks per thread of pattern=hold */
    int dist;          /* AB_DIST_*: per-op sizes from `low` to the cell's size */
    size_t low;
    uint64_t seed;
};

enum ab_heap { AB_HEAP_FRESH = 0, AB_HEAP_AGED = 1 };

struct ab_cell {
    uint32_t id;
    int strategy, touch;
    size_t size;
    uint64_t iterations;   /* 0: calibrate */
    int heap;              /* enum ab_heap */
    uint32_t warmup;       /* discarded batches before the first timed one */
    double target_ns;      /* calibration target per batch */
    size_t stack_size;     /* > 0: run on one worker thread with this stack */
    uint64_t timeout_ms;   /* a cell silent this long (plus 20 x its longest answer) hangs */
    char expect[AB_PATH_MAX];   /* library that must serve malloc ("" = no check) */
    char preload[AB_PATH_MAX];  /* LD_PRELOAD of the cell's process ("" = none) */
    char tunables[AB_PATH_MAX]; /* GLIBC_TUNABLES of the cell's process ("" = none) */
    struct ab_team_spec team;   /* threads=, pattern=, dist=: see patterns.h */
    struct ab_kernel_spec kernel; /* kernel=, function=: see user_kernel.h */
    uint64_t report_stack; /* 1: the CELL record says the main thread's stack mapping before
                              the first op (stack_start) and after the warm-up (stack) */
    /* parent-side state */
    int fd;                /* socket to the cell's process, -1 when not running */
    pid_t pid;
    double longest_ms;     /* its longest answer so far */
    uint32_t answers;      /* records it has answered with so far */
};

#endif /* AB_CELL_H */
