/* Timing, page-fault counting, the stack guard and the worker thread. */
#define _GNU_SOURCE
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "ab_compat.h"
#include "ab_touch.h"
#include "ab_util.h"
#include "kernels.h"

/* The kernel refuses to grow the main stack within stack_guard_gap pages of the mapping below
 * it (256 unless the kernel command line says otherwise); glibc's bounds do not count it. */
#define AB_KERNEL_GUARD_GAP_PAGES 256UL

static const char *const strategy_names[AB_N_STRATEGIES] = {
    "baseline", "fixed", "alloca", "vla", "malloc", "calloc", "mmap", "alloca_probed", "vla_probed",
};
static const char *const touch_names[AB_N_TOUCHES] = {
    "none", "first", "pages", "full", "kernel",
};

const char *ab_strategy_name(int strategy)
{
    return (strategy >= 0 && strategy < AB_N_STRATEGIES) ? strategy_names[strategy] : NULL;
}

const char *ab_touch_name(int touch)
{
    return (touch >= 0 && touch < AB_N_TOUCHES) ? touch_names[touch] : NULL;
}

int ab_strategy_available(int strategy)
{
    return strategy >= 0 && strategy < AB_N_STRATEGIES
        && ab_ops[strategy][AB_TOUCH_NONE] != NULL;
}

int ab_strategy_uses_stack(int strategy)
{
    return strategy == AB_ALLOCA || strategy == AB_VLA || strategy == AB_ALLOCA_PROBED
        || strategy == AB_VLA_PROBED;
}

int ab_noop(void)
{
    return 0;
}

const char *ab_strerror(int status)
{
    switch (status) {
    case AB_OK: return "success";
    case AB_EBADSTRATEGY: return "unknown strategy";
    case AB_EBADTOUCH: return "unknown touch mode";
    case AB_EBADSIZE: return "size must be at least 1 byte";
    case AB_EBADCOUNT: return "iterations and repeats must be at least 1";
    case AB_ESTACK: return "the allocation does not fit in the stack headroom of this thread";
    case AB_ENOMEM: return "the allocator returned no memory";
    case AB_EUNAVAILABLE: return "this build cannot make the strategy";
    case AB_ESYS: return "a system call (clock_gettime, getrusage, pthread_getattr_np) failed";
    case AB_ETHREAD: return "no worker thread with the requested stack size could be created";
    case AB_EINTR: return "interrupted: the batches measured before the stop are kept";
    case AB_EKERNEL: return "no user kernel is loaded, or it could not be loaded";
    default: return "unknown status code";
    }
}

/* ---- what the stack guard counts ------------------------------------------------------------ */

/* The compiler reserves more than `size` bytes per alloca (gcc x86-64: (size + 23) & ~15), and
 * a loop of allocas keeps every reservation, so the guard counts reservations, not sizes.  They
 * are measured, not assumed: two allocas in one frame start `reserve(size)` bytes apart, so
 * ab_loop_alloca(size, 2) spans reserve(size) + size.  The reservation of `size + PERIOD`
 * being PERIOD more than that of `size` (alignment rounding) is checked for every measured
 * size; if it does not hold, every size is charged the largest overhead seen plus PERIOD. */
#define RESERVE_PERIOD 64 /* a multiple of every alignment in use (16; ASan's redzones: 32) */

static size_t reserve_table[RESERVE_PERIOD + 1]; /* [s]: reservation of s bytes, 1 <= s */
static size_t reserve_slack;                     /* 0 when periodic, else the fallback charge */
static pthread_once_t reserve_once = PTHREAD_ONCE_INIT;

static size_t alloca_step(size_t size)
{
    return ab_loop_alloca(size, 2) - size;
}

static void measure_reserve(void)
{
    size_t worst = 0;
    int periodic = 1;
    for (size_t s = 1; s <= RESERVE_PERIOD; s++) {
        reserve_table[s] = alloca_step(s);
        periodic &= alloca_step(s + RESERVE_PERIOD) == reserve_table[s] + RESERVE_PERIOD
                    && alloca_step(s + 4 * RESERVE_PERIOD) == reserve_table[s] + 4 * RESERVE_PERIOD;
        worst = reserve_table[s] - s > worst ? reserve_table[s] - s : worst;
    }
    reserve_slack = periodic ? 0 : worst + RESERVE_PERIOD;
}

/* Bytes one alloca of `size` (>= 1) bytes moves the stack pointer; SIZE_MAX on overflow. */
static size_t reserve(size_t size)
{
    pthread_once(&reserve_once, measure_reserve);
    size_t base = (size - 1) % RESERVE_PERIOD + 1;
    size_t extra = reserve_slack ? reserve_slack : reserve_table[base] - base;
    return size > SIZE_MAX - extra ? SIZE_MAX : size + extra;
}

size_t ab_stack_need(int strategy, size_t size, uint32_t count)
{
    if (size == 0 || count == 0)
        return 0;
    size_t one = reserve(size), need;
    if (strategy != AB_ALLOCA)
        return one;
    return __builtin_mul_overflow(one, (size_t)count, &need) ? SIZE_MAX : need;
}

size_t ab_stack_largest(int strategy, uint32_t count, size_t headroom)
{
    size_t low = 0, high = headroom; /* need(low) fits; a need is never below its size */
    if (count == 0 || !ab_stack_fits(ab_stack_need(strategy, 1, count), headroom))
        return 0;
    low = 1;
    while (low < high) {
        size_t mid = low + (high - low + 1) / 2;
        if (ab_stack_fits(ab_stack_need(strategy, mid, count), headroom))
            low = mid;
        else
            high = mid - 1;
    }
    return low;
}

/* ---- aborting a run ------------------------------------------------------------------------ */

/* Set by a signal handler or by another thread (Python's Ctrl-C watcher), read by the running
 * one: a lock-free atomic, which is both async-signal-safe and free of data races (a volatile
 * sig_atomic_t only covers the signal handler of the same thread). */
static atomic_int abort_requested;
static atomic_int never_requested; /* what an unwatched run looks at */
static __thread int watching;

void ab_abort(void)
{
    atomic_store_explicit(&abort_requested, 1, memory_order_relaxed);
}

void ab_abort_watch(int on)
{
    watching = on != 0;
    atomic_store_explicit(&abort_requested, 0, memory_order_relaxed);
}

/* The flag an ab_run() started on this thread looks at. */
static atomic_int *abort_flag(void)
{
    return watching ? &abort_requested : &never_requested;
}

static int stop_asked(atomic_int *stop)
{
    return atomic_load_explicit(stop, memory_order_relaxed) != 0;
}

/* Ops between two looks at the abort flag: at most 4096, and no more than 4 MiB of buffers,
 * so that a stop is seen within about a millisecond while the look itself stays outside the
 * op loop (one load per chunk). */
static uint64_t abort_chunk(size_t size)
{
    const size_t bytes = (size_t)4 << 20;
    size_t n = size >= bytes ? 1 : bytes / size;
    return n > 4096 ? 4096 : n;
}

/* ---- the stack's bounds ---------------------------------------------------------------------- */

unsigned long ab_guard_gap_pages(const char *cmdline, unsigned long default_pages)
{
    unsigned long pages = default_pages;
    static const char key[] = "stack_guard_gap=";
    for (const char *p = cmdline; *p;) {
        while (*p == ' ' || *p == '\t' || *p == '\n')
            p++;
        const char *end = p + strcspn(p, " \t\n");
        if (end - p == 2 && p[0] == '-' && p[1] == '-')
            break; /* the rest is init's arguments, not the kernel's */
        if ((size_t)(end - p) >= sizeof key - 1 && strncmp(p, key, sizeof key - 1) == 0) {
            /* simple_strtoul(value, &endptr, 10), kept only when the whole value parsed */
            const char *d = p + sizeof key - 1;
            unsigned long value = 0;
            while (d < end && *d >= '0' && *d <= '9')
                value = value * 10 + (unsigned long)(*d++ - '0');
            if (d == end)
                pages = value;
        }
        p = end;
    }
    return pages;
}

/* The kernel's stack guard gap in bytes: stack_guard_gap= pages from the kernel command line,
 * or the kernel's default, times the page size. */
static uintptr_t kernel_guard_gap(uintptr_t page)
{
    unsigned long pages = AB_KERNEL_GUARD_GAP_PAGES;
    char line[4096];
    FILE *f = fopen("/proc/cmdline", "re");
    if (f != NULL) {
        if (fgets(line, sizeof line, f) != NULL)
            pages = ab_guard_gap_pages(line, pages);
        fclose(f);
    }
    return (uintptr_t)pages * page;
}

/* Lowest usable address of this thread's stack.  pthread_getattr_np reads /proc/self/maps for
 * the main thread (about 100 us), so the answer is cached per thread and recomputed only when
 * RLIMIT_STACK, which moves the main thread's bound, changes. */
static int stack_low(uintptr_t *low)
{
    static __thread uintptr_t cached_low;
    static __thread rlim_t cached_rlimit;
    struct rlimit rl;
    if (getrlimit(RLIMIT_STACK, &rl) != 0)
        return AB_ESYS;
    if (cached_low != 0 && cached_rlimit == rl.rlim_cur) {
        *low = cached_low;
        return AB_OK;
    }

    pthread_attr_t attr;
    void *addr;
    size_t size;
    if (pthread_getattr_np(pthread_self(), &attr) != 0)
        return AB_ESYS;
    int rc = pthread_attr_getstack(&attr, &addr, &size);
    pthread_attr_destroy(&attr);
    if (rc != 0)
        return AB_ESYS;

    const uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
    uintptr_t bound = ((uintptr_t)addr + page - 1) / page * page;
    /* Main thread: glibc stops the stack at RLIMIT_STACK or at the mapping below, whichever is
     * nearer.  In the second case (the page below is mapped) the kernel's guard gap above that
     * mapping also stands in the way. */
    unsigned char resident;
    if (getpid() == ab_gettid() && bound > page
        && mincore((void *)(bound - page), page, &resident) == 0)
        bound += kernel_guard_gap(page);
    cached_low = bound;
    cached_rlimit = rl.rlim_cur;
    *low = bound;
    return AB_OK;
}

/* Headroom below the caller's frame on the current thread, in bytes. */
static AB_NOINLINE int headroom_here(size_t *headroom)
{
    uintptr_t low;
    int rc = stack_low(&low);
    if (rc != AB_OK)
        return rc;
    uintptr_t sp = (uintptr_t)__builtin_frame_address(0);
    *headroom = sp > low ? sp - low : 0;
    return AB_OK;
}

/* A struct timeval in ns. */
static double timeval_ns(const struct timeval *t)
{
    return (double)t->tv_sec * 1e9 + (double)t->tv_usec * 1e3;
}

/* One timed batch of `iterations` ops into *b (switches and CPU time included, retakes not).
 * Returns AB_OK, the first failing op's status, AB_ESYS, or AB_EINTR when `stop` was asked
 * for before the end (the batch is then not recorded). */
static int time_batch(ab_op_loop loop, size_t size, char *fixed, uint64_t iterations,
                      atomic_int *stop, struct ab_batch *b)
{
    const uint64_t chunk = abort_chunk(size);
    struct rusage ru0, ru1;
    struct timespec t0, t1;
    int status = AB_OK;
    if (getrusage(RUSAGE_THREAD, &ru0) != 0 || clock_gettime(CLOCK_MONOTONIC, &t0) != 0)
        return AB_ESYS;
    /* The op loop runs in chunks; the abort flag is read between two chunks only. */
    for (uint64_t done = 0; done < iterations && status == AB_OK;) {
        const uint64_t end = iterations - done > chunk ? done + chunk : iterations;
        status = loop(size, fixed, end - done);
        done = end;
        if (stop_asked(stop) && done < iterations)
            status = AB_EINTR; /* this batch is cut short: it is not recorded */
    }
    if (clock_gettime(CLOCK_MONOTONIC, &t1) != 0 || getrusage(RUSAGE_THREAD, &ru1) != 0)
        status = status == AB_OK ? AB_ESYS : status;
    if (status != AB_OK)
        return status;
    const double n = (double)iterations;
    b->ns_per_op = ab_ns_between(&t0, &t1) / n;
    b->minflt_per_op = (double)(ru1.ru_minflt - ru0.ru_minflt) / n;
    b->majflt_per_op = (double)(ru1.ru_majflt - ru0.ru_majflt) / n;
    b->cpu_ns_per_op = (timeval_ns(&ru1.ru_utime) + timeval_ns(&ru1.ru_stime)
                        - timeval_ns(&ru0.ru_utime) - timeval_ns(&ru0.ru_stime)) / n;
    b->switches = (uint32_t)(ru1.ru_nivcsw - ru0.ru_nivcsw);
    return AB_OK;
}

static int run_here(int strategy, int touch, size_t size, uint64_t iterations, uint32_t repeats,
                    uint32_t max_retakes, struct ab_batch *batches, atomic_int *stop)
{
    const ab_op_loop loop = ab_op_loops[strategy][touch];
    if (loop == NULL)
        return AB_EUNAVAILABLE;
    if (ab_strategy_uses_stack(strategy)) {
        size_t headroom;
        int rc = headroom_here(&headroom);
        if (rc != AB_OK)
            return rc;
        /* Checked before the first alloca: past the headroom it would be a SIGSEGV. */
        if (!ab_stack_fits(touch_need(ab_stack_need(strategy, size, 1), touch), headroom))
            return AB_ESTACK;
    }

    /* The fixed buffer comes from mmap, not malloc, so that measuring it leaves the malloc
     * state (glibc's adaptive mmap threshold, the tcache) exactly as the other kernels left it. */
    char *fixed = NULL;
    if (strategy == AB_FIXED) {
        fixed = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (fixed == MAP_FAILED)
            return AB_ENOMEM;
        memset(fixed, 0x5A, size); /* fault its pages in now, outside every timed batch */
    }

    int status = AB_OK;
    uint32_t r = 0;
    for (; r < repeats; r++) {
        /* A preempted batch timed another task too: it is taken again, a bounded number of
         * times, so that a busy machine costs time rather than figures. */
        uint32_t retakes = 0;
        for (;;) {
            status = stop_asked(stop) ? AB_EINTR
                                      : time_batch(loop, size, fixed, iterations, stop,
                                                   &batches[r]);
            if (status != AB_OK || batches[r].switches == 0 || retakes >= max_retakes)
                break;
            retakes++;
        }
        if (status != AB_OK)
            break;
        batches[r].retakes = retakes;
    }
    if (status == AB_EINTR) /* the batch cut short and those never started */
        for (; r < repeats; r++)
            batches[r] = (struct ab_batch){NAN, NAN, NAN, NAN, 0, 0};
    if (fixed != NULL)
        munmap(fixed, size);
    return status;
}

/* ---- running on a worker thread with a stack of a chosen size ------------------------------ */

int ab_thread_attr(pthread_attr_t *attr, size_t stack_size)
{
    if (pthread_attr_init(attr) != 0)
        return AB_ETHREAD;
    if (stack_size == 0)
        return AB_OK;
    const size_t page = (size_t)sysconf(_SC_PAGESIZE);
    if (stack_size < (size_t)PTHREAD_STACK_MIN)
        stack_size = (size_t)PTHREAD_STACK_MIN;
    if (stack_size > SIZE_MAX - page
        || pthread_attr_setstacksize(attr, (stack_size + page - 1) / page * page) != 0) {
        pthread_attr_destroy(attr);
        return AB_ETHREAD;
    }
    return AB_OK;
}

int ab_thread_run(size_t stack_size, void *(*fn)(void *), void *arg)
{
    pthread_attr_t attr;
    pthread_t thread;
    if (ab_thread_attr(&attr, stack_size) != AB_OK)
        return AB_ETHREAD;
    int rc = pthread_create(&thread, &attr, fn, arg);
    pthread_attr_destroy(&attr);
    return rc != 0 || pthread_join(thread, NULL) != 0 ? AB_ETHREAD : AB_OK;
}

static int loop_here(int strategy, size_t size, uint32_t count, size_t *span)
{
    size_t headroom;
    int rc = headroom_here(&headroom);
    if (rc != AB_OK)
        return rc;
    /* alloca keeps all `count` reservations until return; a VLA only one at a time. */
    if (!ab_stack_fits(ab_stack_need(strategy, size, count), headroom))
        return AB_ESTACK;
    *span = strategy == AB_ALLOCA ? ab_loop_alloca(size, count) : ab_loop_vla(size, count);
    return AB_OK;
}

enum job_kind { JOB_RUN, JOB_HEADROOM, JOB_LOOP };

struct job {
    enum job_kind kind;
    int strategy, touch;
    size_t size;
    uint64_t iterations; /* JOB_LOOP: the loop count */
    uint32_t repeats, max_retakes;
    struct ab_batch *batches;
    size_t *out; /* JOB_HEADROOM: the headroom; JOB_LOOP: the span */
    int status;
    atomic_int *stop; /* JOB_RUN: the abort flag of the thread that asked */
};

static void *job_main(void *arg)
{
    struct job *job = arg;
    switch (job->kind) {
    case JOB_HEADROOM:
        job->status = headroom_here(job->out);
        break;
    case JOB_LOOP:
        job->status = loop_here(job->strategy, job->size, (uint32_t)job->iterations, job->out);
        break;
    default:
        job->status = run_here(job->strategy, job->touch, job->size, job->iterations,
                               job->repeats, job->max_retakes, job->batches, job->stop);
    }
    return NULL;
}

static int run_on_thread(size_t stack_size, struct job *job)
{
    int rc = ab_thread_run(stack_size, job_main, job);
    return rc != AB_OK ? rc : job->status;
}

int ab_stack_headroom(size_t stack_size, size_t *headroom)
{
    if (stack_size == 0)
        return headroom_here(headroom);
    struct job job = {.kind = JOB_HEADROOM, .out = headroom};
    return run_on_thread(stack_size, &job);
}

int ab_stack_loop(int strategy, size_t size, uint32_t count, size_t stack_size, size_t *span)
{
    if (strategy != AB_ALLOCA && strategy != AB_VLA)
        return AB_EBADSTRATEGY;
    if (size == 0)
        return AB_EBADSIZE;
    if (count == 0)
        return AB_EBADCOUNT;
    if (stack_size == 0)
        return loop_here(strategy, size, count, span);
    struct job job = {.kind = JOB_LOOP, .strategy = strategy, .size = size,
                      .iterations = count, .out = span};
    return run_on_thread(stack_size, &job);
}

int ab_run(int strategy, int touch, size_t size, uint64_t iterations, uint32_t repeats,
           size_t stack_size, uint32_t max_retakes, struct ab_batch *batches)
{
    if (strategy < 0 || strategy >= AB_N_STRATEGIES)
        return AB_EBADSTRATEGY;
    if (touch < 0 || touch >= AB_N_TOUCHES)
        return AB_EBADTOUCH;
    if (size == 0)
        return AB_EBADSIZE;
    if (iterations == 0 || repeats == 0)
        return AB_EBADCOUNT;
    if (touch == AB_TOUCH_KERNEL && ab_kernel_work == NULL)
        return AB_EKERNEL;
    if (stack_size == 0)
        return run_here(strategy, touch, size, iterations, repeats, max_retakes, batches,
                        abort_flag());
    struct job job = {JOB_RUN, strategy, touch, size, iterations, repeats, max_retakes,
                      batches, NULL, AB_OK, abort_flag()};
    return run_on_thread(stack_size, &job);
}

/* ---- ops per batch ---------------------------------------------------------------------------- */

/* One calibration batch; its ns per op at least 0.01, so that a batch the clock cannot resolve
 * still scales. */
static int timed(ab_batch_fn batch, void *ctx, uint64_t n, double *ns)
{
    int rc = batch(ctx, n, ns);
    *ns = *ns > 0.01 ? *ns : 0.01;
    return rc;
}

/* Ops that last about target_ns at ns_per_op each, within 1..max. */
static uint64_t ops_for(double target_ns, double ns_per_op, uint64_t max)
{
    double scaled = target_ns / ns_per_op + 0.5;
    return scaled < 1 ? 1 : scaled > (double)max ? max : (uint64_t)scaled;
}

int ab_calibrate(ab_batch_fn batch, void *ctx, double target_ns, uint64_t max, uint64_t *out)
{
    double ns = 0;
    uint64_t n = 1;
    int rc = timed(batch, ctx, 1, &ns); /* thrown away: the first op may be cold */
    if (rc == AB_OK)
        rc = timed(batch, ctx, n, &ns);
    while (rc == AB_OK && ns * (double)n < target_ns / 10 && n < max) {
        double ops = target_ns / 10 / ns; /* up to 1e21: cast only what fits */
        uint64_t want = ops < (double)max ? (uint64_t)ops + 1 : max;
        uint64_t grow = want > 2 * n ? want : 2 * n;
        n = grow < 100 * n ? grow : 100 * n;
        n = n < max ? n : max;
        rc = timed(batch, ctx, n, &ns);
    }
    /* Checked once more at a quarter of the target (as long as a warm-up batch: in the
     * runner, this check is the cell's warm-up), then scaled to the whole target. */
    if (rc == AB_OK)
        rc = timed(batch, ctx, ops_for(target_ns / 4, ns, max), &ns);
    *out = ops_for(target_ns, ns, max);
    return rc;
}
