/* alloca_bench: the C API.  Every exported name starts with ab_ or AB_.
 *
 * One "op" gets `size` bytes from a strategy, touches them and gives them back (alloca and VLA:
 * by returning from the noinline function that made them).  Timing happens here, in C, around
 * whole batches of ops; Python only calls ab_run() once per batch set. */
#ifndef ALLOCA_BENCH_H
#define ALLOCA_BENCH_H

#include <stddef.h>
#include <stdint.h>

/* Status codes: 0 is success, every failure is negative.  ab_strerror() names each one. */
enum {
    AB_OK = 0,
    AB_EBADSTRATEGY = -1,  /* strategy number out of range */
    AB_EBADTOUCH = -2,     /* touch mode out of range */
    AB_EBADSIZE = -3,      /* size is 0 */
    AB_EBADCOUNT = -4,     /* iterations or repeats is 0 */
    AB_ESTACK = -5,        /* size + AB_STACK_MARGIN exceeds the stack headroom: no allocation */
    AB_ENOMEM = -6,        /* malloc/calloc/mmap returned no memory */
    AB_EUNAVAILABLE = -7,  /* this build cannot make the strategy (e.g. no stack-clash probing) */
    AB_ESYS = -8,          /* a system call (clock, getrusage, pthread) failed */
    AB_ETHREAD = -9,       /* no worker thread with the requested stack could be created */
    AB_EINTR = -10,        /* stopped by ab_abort(): the batches before the stop are kept */
    AB_EKERNEL = -11,      /* touch mode kernel, but no user kernel loaded (or it did not load) */
};

/* Strategies, in the order ab_strategy_name() lists them. */
enum {
    AB_BASELINE = 0,       /* the same call with no allocation and no touch */
    AB_FIXED,              /* one buffer allocated before timing: only the touch is timed */
    AB_ALLOCA,
    AB_VLA,
    AB_MALLOC,             /* malloc + free */
    AB_CALLOC,             /* calloc + free */
    AB_MMAP,               /* mmap + munmap, anonymous private */
    AB_ALLOCA_PROBED,      /* alloca compiled with -fstack-clash-protection */
    AB_VLA_PROBED,         /* VLA compiled with -fstack-clash-protection */
    AB_N_STRATEGIES
};

/* Touch modes: what each op writes into its buffer. */
enum {
    AB_TOUCH_NONE = 0,     /* nothing: the pointer only escapes */
    AB_TOUCH_FIRST,        /* one byte at offset 0 */
    AB_TOUCH_PAGES,        /* one byte every AB_TOUCH_STRIDE bytes */
    AB_TOUCH_FULL,         /* memset of the whole buffer with a non-zero byte */
    AB_TOUCH_KERNEL,       /* the user's work(buf, size), loaded into a runner cell's process */
    AB_N_TOUCHES
};

#define AB_TOUCH_STRIDE 4096
/* Bytes kept free below an alloca/VLA for the kernel's own frame, memset and signal handlers. */
#define AB_STACK_MARGIN (256 * 1024)

/* Name of a strategy ("alloca", ...), or NULL when out of range. */
const char *ab_strategy_name(int strategy);
/* Name of a touch mode ("pages", ...), or NULL when out of range. */
const char *ab_touch_name(int touch);
/* 1 when this build can run the strategy, 0 when not (see AB_EUNAVAILABLE). */
int ab_strategy_available(int strategy);
/* 1 for strategies that allocate on the stack and so go through the stack guard. */
int ab_strategy_uses_stack(int strategy);

/* Bytes between the caller's stack pointer and the lowest usable address of the stack of the
 * thread it runs on (a worker thread with `stack_size` bytes of stack when stack_size > 0).
 * Writes *headroom and returns AB_OK, or a negative status. */
int ab_stack_headroom(size_t stack_size, size_t *headroom);

/* Bytes of stack that `count` buffers of `size` bytes take when `strategy` allocates them in
 * one frame: AB_ALLOCA keeps all `count` (ab_stack_loop), every other strategy one at a time
 * (a VLA in a loop body; each op of ab_run, where count is 1).  Each buffer counts what this
 * build's compiler really reserves for it (size rounded for alignment, plus its bookkeeping),
 * measured once from the stack pointer's movement in a loop of allocas, never assumed.
 * SIZE_MAX when the product overflows.  The stack guard compares this plus AB_STACK_MARGIN
 * with the headroom. */
size_t ab_stack_need(int strategy, size_t size, uint32_t count);

/* The largest size whose ab_stack_need(strategy, size, count) + AB_STACK_MARGIN fits in
 * `headroom` bytes, so that the guard lets it through; 0 when no size fits. */
size_t ab_stack_largest(int strategy, uint32_t count, size_t headroom);

/* Ask every ab_run() of a watching thread to stop at its next look at the flag (about every
 * millisecond of ops, never inside the op loop).  Async-signal-safe and thread-safe: a SIGINT
 * handler or another thread may call it. */
void ab_abort(void);

/* on != 0: the ab_run() calls of the calling thread (and of the worker threads they start)
 * stop when ab_abort() is called; on == 0: they run to the end.  Either way the flag is
 * cleared, so an abort requested before this call does not stop the next run. */
void ab_abort_watch(int on);

/* What one timed batch measured, per op: wall time, page faults and the measuring thread's
 * CPU time, and whether another task took its CPU meanwhile. */
struct ab_batch {
    double ns_per_op;       /* wall time (CLOCK_MONOTONIC around the batch) per op, in ns */
    double minflt_per_op;   /* minor page faults per op (getrusage(RUSAGE_THREAD)) */
    double majflt_per_op;   /* major page faults per op */
    double cpu_ns_per_op;   /* the thread's CPU time (user + system) per op, in ns: below
                             * ns_per_op when the thread waited, or its vCPU was stolen */
    uint32_t switches;      /* involuntary context switches of the thread during the batch:
                             * 0 unless it was preempted */
    uint32_t retakes;       /* earlier attempts of this batch thrown away as preempted */
};

/* The retakes a warm batch gets: a batch whose thread was preempted (an involuntary context
 * switch) is run again, at most this many times; the last attempt is kept, with its switches,
 * whatever they are. */
#define AB_MAX_RETAKES 3

/* Run `repeats` batches of `iterations` ops and write each one's figures to batches[0..repeats)
 * (getrusage(RUSAGE_THREAD) read outside the timed window).  A preempted batch is run again, at
 * most `max_retakes` times (AB_MAX_RETAKES; 0 where a batch is cold, e.g. the first of a
 * fresh process without warm-up: its retake would be warm).  With stack_size > 0 the batches
 * run on a new thread with that much stack.
 * Stack strategies first check size + AB_STACK_MARGIN against the headroom and return
 * AB_ESTACK instead of allocating (see ab_stack_need).  Returns AB_OK or a negative status;
 * on AB_EINTR (ab_abort() while watching) the batches completed before the stop hold their
 * figures and the others NaN (ns_per_op); on any other failure the outputs are undefined. */
int ab_run(int strategy, int touch, size_t size, uint64_t iterations, uint32_t repeats,
           size_t stack_size, uint32_t max_retakes, struct ab_batch *batches);

/* One timed batch of `n` ops for ab_calibrate(): its ns per op into *ns_per_op.  Returns AB_OK
 * or a status, which stops the calibration. */
typedef int (*ab_batch_fn)(void *ctx, uint64_t n, double *ns_per_op);

/* Ops per batch so that one batch(ctx, n, ...) lasts about target_ns (the rule of both the
 * runner and the in-process path): one op run and thrown away (it may be cold: fresh pages, a
 * first mmap), a trial batch grown (x2 to x100 at a time) until it lasts a tenth of the target,
 * and the scaled count checked once more at a quarter of the target (a warm-up batch's
 * length).  The count stays within 1..max and is written to *out.  Returns AB_OK or the first
 * status other than AB_OK that batch returned. */
int ab_calibrate(ab_batch_fn batch, void *ctx, double target_ns, uint64_t max, uint64_t *out);

/* Allocate `count` buffers of `size` bytes one after another in a loop inside one call, as a
 * loop body would, writing the first byte of each, and write to *span the bytes of stack the
 * buffers covered together.  With AB_ALLOCA every buffer lives until the function returns, so
 * the span grows with count; with AB_VLA the buffer is released at the end of each iteration,
 * so the span stays about `size`.  Guarded like ab_run (ab_stack_need must fit) and run
 * on a worker thread with `stack_size` bytes when stack_size > 0.  Returns AB_OK or a status. */
int ab_stack_loop(int strategy, size_t size, uint32_t count, size_t stack_size, size_t *span);

/* The version the allocator library `path`, already loaded in this process, reports about
 * itself, into out (outlen bytes, NUL-terminated): jemalloc's mallctl("version"), gperftools'
 * tc_version(), mimalloc's mi_version() (209 is "2.0.9"), glibc's gnu_get_libc_version().
 * Only symbols `path` defines itself count, not its dependencies'.  A library not loaded is
 * never loaded (RTLD_NOLOAD).  Returns 1, or 0 with out empty when it reports none. */
int ab_library_version(const char *path, char *out, size_t outlen);

/* Does nothing: the cost of calling it from Python is the FFI overhead. */
int ab_noop(void);

/* A static message for a status code. */
const char *ab_strerror(int status);

/* A static JSON object: package version, compiler, flags and a hash of csrc/ of this build. */
const char *ab_build_info(void);

#endif /* ALLOCA_BENCH_H */
