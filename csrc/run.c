/* Timing, page-fault counting, the stack guard and the worker thread. */
#define _GNU_SOURCE
#include <limits.h>
#include <pthread.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "ab_compat.h"
#include "kernels.h"

/* The kernel refuses to grow the main stack within stack_guard_gap (256 pages by default) of
 * the mapping below it; glibc's reported bounds do not account for that gap. */
#define AB_KERNEL_GUARD_GAP (256 * 4096)

static const char *const strategy_names[AB_N_STRATEGIES] = {
    "baseline", "fixed", "alloca", "vla", "malloc", "calloc", "mmap", "alloca_probed", "vla_probed",
};
static const char *const touch_names[AB_N_TOUCHES] = {"none", "first", "pages", "full"};

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
    return strategy >= 0 && strategy < AB_N_STRATEGIES && ab_ops[strategy] != NULL;
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
    default: return "unknown status code";
    }
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
    if (getpid() == gettid() && bound > page
        && mincore((void *)(bound - page), page, &resident) == 0)
        bound += AB_KERNEL_GUARD_GAP;
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

static double elapsed_ns(const struct timespec *t0, const struct timespec *t1)
{
    return (double)(t1->tv_sec - t0->tv_sec) * 1e9 + (double)(t1->tv_nsec - t0->tv_nsec);
}

static int run_here(int strategy, int touch, size_t size, uint64_t iterations, uint32_t repeats,
                    double *ns_per_op, double *minflt_per_op, double *majflt_per_op)
{
    const ab_op op = ab_ops[strategy];
    if (op == NULL)
        return AB_EUNAVAILABLE;
    if (ab_strategy_uses_stack(strategy)) {
        size_t headroom;
        int rc = headroom_here(&headroom);
        if (rc != AB_OK)
            return rc;
        /* Checked before the first alloca: past the headroom it would be a SIGSEGV. */
        if (size > headroom || headroom - size < AB_STACK_MARGIN)
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
    for (uint32_t r = 0; r < repeats && status == AB_OK; r++) {
        struct rusage ru0, ru1;
        struct timespec t0, t1;
        if (getrusage(RUSAGE_THREAD, &ru0) != 0 || clock_gettime(CLOCK_MONOTONIC, &t0) != 0) {
            status = AB_ESYS;
            break;
        }
        for (uint64_t i = 0; i < iterations; i++) {
            status = op(size, touch, fixed);
            if (status != AB_OK)
                break;
        }
        if (clock_gettime(CLOCK_MONOTONIC, &t1) != 0 || getrusage(RUSAGE_THREAD, &ru1) != 0)
            status = status == AB_OK ? AB_ESYS : status;
        const double n = (double)iterations;
        ns_per_op[r] = elapsed_ns(&t0, &t1) / n;
        minflt_per_op[r] = (double)(ru1.ru_minflt - ru0.ru_minflt) / n;
        majflt_per_op[r] = (double)(ru1.ru_majflt - ru0.ru_majflt) / n;
    }
    if (fixed != NULL)
        munmap(fixed, size);
    return status;
}

/* ---- running on a worker thread with a stack of a chosen size ------------------------------ */

static int loop_here(int strategy, size_t size, uint32_t count, size_t *span)
{
    size_t headroom;
    int rc = headroom_here(&headroom);
    if (rc != AB_OK)
        return rc;
    /* alloca keeps all `count` buffers until return; a VLA only one at a time. */
    size_t need = size;
    if (strategy == AB_ALLOCA && __builtin_mul_overflow(size, (size_t)count, &need))
        return AB_ESTACK;
    if (need > headroom || headroom - need < AB_STACK_MARGIN)
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
    uint32_t repeats;
    double *ns_per_op, *minflt_per_op, *majflt_per_op;
    size_t *out; /* JOB_HEADROOM: the headroom; JOB_LOOP: the span */
    int status;
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
                               job->repeats, job->ns_per_op, job->minflt_per_op,
                               job->majflt_per_op);
    }
    return NULL;
}

static int run_on_thread(size_t stack_size, struct job *job)
{
    const size_t page = (size_t)sysconf(_SC_PAGESIZE);
    if (stack_size < (size_t)PTHREAD_STACK_MIN)
        stack_size = (size_t)PTHREAD_STACK_MIN;
    if (stack_size > SIZE_MAX - page)
        return AB_ETHREAD;
    stack_size = (stack_size + page - 1) / page * page;

    pthread_attr_t attr;
    pthread_t thread;
    if (pthread_attr_init(&attr) != 0)
        return AB_ETHREAD;
    int rc = pthread_attr_setstacksize(&attr, stack_size);
    if (rc == 0)
        rc = pthread_create(&thread, &attr, job_main, job);
    pthread_attr_destroy(&attr);
    if (rc != 0)
        return AB_ETHREAD;
    if (pthread_join(thread, NULL) != 0)
        return AB_ETHREAD;
    return job->status;
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
           size_t stack_size, double *ns_per_op, double *minflt_per_op, double *majflt_per_op)
{
    if (strategy < 0 || strategy >= AB_N_STRATEGIES)
        return AB_EBADSTRATEGY;
    if (touch < 0 || touch >= AB_N_TOUCHES)
        return AB_EBADTOUCH;
    if (size == 0)
        return AB_EBADSIZE;
    if (iterations == 0 || repeats == 0)
        return AB_EBADCOUNT;
    if (stack_size == 0)
        return run_here(strategy, touch, size, iterations, repeats, ns_per_op, minflt_per_op,
                        majflt_per_op);
    struct job job = {JOB_RUN, strategy, touch, size, iterations, repeats,
                      ns_per_op, minflt_per_op, majflt_per_op, NULL, AB_OK};
    return run_on_thread(stack_size, &job);
}
