/* One cell's process: the heap state it asks for, calibration, warm-up, then one timed batch
 * per round, each through ab_run(), the extension's own run loop and stack guard. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <sched.h>
#include <malloc.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ab_compat.h"
#include "ab_util.h"
#include "alloca_bench.h"
#include "patterns.h"
#include "runner.h"

/* ---- heap="aged" ---------------------------------------------------------------------------- */

#define AGE_SEED 0xA110CA5EEDULL
#define AGE_FIRST 2000  /* blocks allocated first */
#define AGE_SECOND 1000 /* blocks allocated after the first half-free */

/* 16 B .. 16 KiB, about log-uniform: a power of two 16 << k (k = 0..9, equally likely) plus a
 * uniform part below it, so every size class of a small-object allocator is hit. */
static size_t age_size(uint64_t *state)
{
    size_t low = (size_t)16 << (ab_next_random(state) % 10);
    return low + (size_t)(ab_next_random(state) % low);
}

/* Free `count` of the live blocks, chosen uniformly at random in a seeded order. */
static void free_some(char **blocks, size_t *live, size_t count, uint64_t *state)
{
    for (size_t i = 0; i < count && *live > 0; i++) {
        size_t pick = (size_t)(ab_next_random(state) % *live);
        free(blocks[pick]);
        blocks[pick] = blocks[--*live];
    }
}

static void allocate_some(char **blocks, size_t *live, size_t count, uint64_t *state)
{
    for (size_t i = 0; i < count; i++) {
        size_t size = age_size(state);
        char *p = malloc(size);
        if (p == NULL)
            continue;
        memset(p, 0x33, size < 64 ? size : 64); /* written, as a program's data is */
        ab_escape(p);
        blocks[(*live)++] = p;
    }
}

/* 2000 mallocs, free a random 1000, 1000 more mallocs, free a random 1000: 1000 blocks stay
 * live (about 2.5 MB) for the life of the cell, in a heap with holes of every size class. */
void ab_age_heap(void)
{
    static char *blocks[AGE_FIRST + AGE_SECOND];
    uint64_t state = AGE_SEED;
    size_t live = 0;
    allocate_some(blocks, &live, AGE_FIRST, &state);
    free_some(blocks, &live, AGE_FIRST / 2, &state);
    allocate_some(blocks, &live, AGE_SECOND, &state);
    free_some(blocks, &live, AGE_SECOND, &state);
}

/* ---- what serves malloc --------------------------------------------------------------------- */

/* glibc's malloc statistics, as JSON, where glibc serves malloc; null elsewhere (another
 * allocator's heap is not glibc's arena, so mallinfo2 would describe nothing). */
static void mallinfo_json(struct ab_json *j)
{
    const char *m = ab_library_of(dlsym(RTLD_DEFAULT, "malloc"));
    const char *libc = ab_library_of(dlsym(RTLD_DEFAULT, "gnu_get_libc_version"));
#if AB_HAVE_MALLINFO2
    if (ab_same_file(m, libc)) {
        struct mallinfo2 mi = mallinfo2();
        const struct { const char *key; size_t value; } f[] = {
            {"arena", mi.arena}, {"ordblks", mi.ordblks}, {"smblks", mi.smblks},
            {"hblks", mi.hblks}, {"hblkhd", mi.hblkhd}, {"fsmblks", mi.fsmblks},
            {"uordblks", mi.uordblks}, {"fordblks", mi.fordblks}, {"keepcost", mi.keepcost},
        };
        ab_json_raw(j, "{");
        for (size_t i = 0; i < sizeof f / sizeof f[0]; i++) {
            ab_json_key(j, f[i].key);
            ab_json_num(j, (double)f[i].value);
        }
        ab_json_raw(j, "}");
        return;
    }
#endif
    (void)m, (void)libc;
    ab_json_raw(j, "null");
}

/* Where this process's ops land within a page: the offset of the block malloc hands a heap
 * cell (taken and given back once, as every op does) and of this frame, below which the ops
 * run.  Both differ from process to process (ASLR, heap history); a figure that falls in two
 * states across processes can be set beside them (4 KiB aliasing, alignment). */
static void layout_json(struct ab_json *j, const struct ab_cell *c)
{
    char num[32];
    if (c->strategy == AB_MALLOC || c->strategy == AB_CALLOC) {
        char *p = malloc(c->size);
        snprintf(num, sizeof num, "%lu", (unsigned long)((uintptr_t)p % 4096));
        ab_escape(p);
        free(p);
        ab_json_key(j, "heap_offset");
        ab_json_raw(j, p != NULL ? num : "null");
    }
    snprintf(num, sizeof num, "%lu",
             (unsigned long)((uintptr_t)__builtin_frame_address(0) % 4096));
    ab_json_key(j, "stack_offset");
    ab_json_raw(j, num);
}

/* The value after `key` (in kB) of the first line starting with it, after a line holding
 * `after` (NULL: from the top) in the file `path`, in bytes; NaN when there is none. */
static double proc_bytes(const char *path, const char *after, const char *key)
{
    FILE *f = fopen(path, "r");
    char line[512];
    int found = after == NULL;
    long long kib = -1;
    if (f == NULL)
        return NAN;
    while (kib < 0 && fgets(line, sizeof line, f) != NULL) {
        if (!found)
            found = strstr(line, after) != NULL;
        else if (strncmp(line, key, strlen(key)) == 0
                 && sscanf(line + strlen(key), "%lld", &kib) != 1)
            kib = -1;
    }
    fclose(f);
    return kib < 0 ? NAN : (double)kib * 1024.0;
}

/* The main thread's stack mapping: {"size": VmStk, "rss": Rss of [stack]}, bytes or null. */
static void stack_json(struct ab_json *j)
{
    ab_json_raw(j, "{");
    ab_json_key(j, "size");
    ab_json_num(j, proc_bytes("/proc/self/status", NULL, "VmStk:"));
    ab_json_key(j, "rss");
    ab_json_num(j, proc_bytes("/proc/self/smaps", "[stack]", "Rss:"));
    ab_json_raw(j, "}");
}

/* The CPUs this process may run on, as a JSON string in the kernel's list syntax ("0-3,7"):
 * the cell says it itself, for its pid may be gone by the time its record is read. */
static void affinity_json(struct ab_json *j)
{
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) != 0) {
        ab_json_raw(j, "null");
        return;
    }
    char run[32];
    const char *comma = "";
    ab_json_raw(j, "\"");
    for (int cpu = 0; cpu < CPU_SETSIZE; cpu++) {
        if (!CPU_ISSET(cpu, &set))
            continue;
        int last = cpu;
        while (last + 1 < CPU_SETSIZE && CPU_ISSET(last + 1, &set))
            last++;
        if (last == cpu)
            snprintf(run, sizeof run, "%s%d", comma, cpu);
        else
            snprintf(run, sizeof run, "%s%d-%d", comma, cpu, last);
        ab_json_raw(j, run);
        comma = ",";
        cpu = last;
    }
    ab_json_raw(j, "\"");
}

/* ---- plain or team: chosen once per cell ------------------------------------------------------ */

/* What differs between a plain cell (ab_run() on the serving thread, the extension's own run
 * loop and stack guard) and a team cell (patterns.h); ab_cell_main() picks one table. */
struct cell_ops {
    int (*start)(const struct ab_cell *c);
    /* One batch of n ops: ns/op and faults/op (a team's mean over its threads) into *s. */
    int (*batch)(const struct ab_cell *c, uint64_t n, struct ab_sample *s);
    /* The SAMPLE record of the last batch (a team's: one sample per thread). */
    int (*send)(int fd, const struct ab_cell *c, uint32_t round, const struct ab_sample *s);
    /* Bytes of stack the refused thread(s) had, for a stack guard refusal; 0 when unknown. */
    int (*headroom)(size_t *bytes);
    void (*json)(struct ab_json *j, const struct ab_cell *c); /* more CELL record fields */
    int serve_on_worker; /* stack_size > 0 runs the serving thread with it (a team's own don't) */
};

static int plain_start(const struct ab_cell *c)
{
    (void)c;
    return AB_OK;
}

static int plain_batch(const struct ab_cell *c, uint64_t n, struct ab_sample *s)
{
    if (ab_team_wanted(c))
        return ab_team_batch(n, s); /* the threads' mean; each thread's: ab_team_send() */
    struct ab_batch b;
    /* without warm-up a cell's first batch is cold: a retake of it would be warm */
    int rc = ab_run(c->strategy, c->touch, c->size, n, 1, 0, c->warmup ? AB_MAX_RETAKES : 0, &b);
    s->ns_per_op = b.ns_per_op, s->minflt_per_op = b.minflt_per_op;
    s->majflt_per_op = b.majflt_per_op, s->cpu_ns_per_op = b.cpu_ns_per_op;
    s->switches = b.switches, s->retakes = b.retakes;
    return rc;
}

static int plain_send(int fd, const struct ab_cell *c, uint32_t round, const struct ab_sample *s)
{
    struct ab_sample out = *s;
    out.cell = c->id;
    out.round = round;
    out.thread = 0;
    out.threads = 1;
    out.span_ns_per_op = s->ns_per_op; /* one thread: its span is its own batch */
    return ab_send(fd, AB_REC_SAMPLE, &out, sizeof out);
}

static int plain_headroom(size_t *bytes)
{
    return ab_stack_headroom(0, bytes) == AB_OK;
}

static void plain_json(struct ab_json *j, const struct ab_cell *c)
{
    (void)j, (void)c;
}

static int team_batch(const struct ab_cell *c, uint64_t n, struct ab_sample *s)
{
    (void)c;
    return ab_team_batch(n, s); /* the threads' mean; each thread's: ab_team_send() */
}

static int team_send(int fd, const struct ab_cell *c, uint32_t round, const struct ab_sample *s)
{
    (void)s;
    return ab_team_send(fd, c->id, round);
}

static int team_headroom(size_t *bytes)
{
    *bytes = ab_team_headroom();
    return 1;
}

static const struct cell_ops plain_ops = {plain_start, plain_batch, plain_send, plain_headroom,
                                          plain_json, 1};
static const struct cell_ops team_ops = {ab_team_start, team_batch, team_send, team_headroom,
                                         ab_team_json, 0};

/* ---- calibration and the batches ------------------------------------------------------------ */

struct serve {
    int fd;
    struct ab_cell *cell;
    const struct cell_ops *ops;
    int exit_status;
};

/* One batch of ab_calibrate(): `ctx` is the serve job. */
static int calibration_batch(void *ctx, uint64_t n, double *ns_per_op)
{
    const struct serve *job = ctx;
    struct ab_sample s;
    int rc = job->ops->batch(job->cell, n, &s);
    if (rc == AB_OK)
        *ns_per_op = s.ns_per_op;
    return rc;
}

/* Load the cell's own kernel (touch mode kernel) on the thread that runs its batches, so that
 * the stack it measures is that thread's.  Returns 0, or 1 after a FAILED record. */
static int load_kernel(int fd, const struct ab_cell *c)
{
    char reason[2 * AB_PATH_MAX];
    int rc = AB_EKERNEL;
    size_t headroom;
    if (c->touch != AB_TOUCH_KERNEL)
        return 0;
    if (!c->kernel.path[0] || !c->kernel.function[0])
        snprintf(reason, sizeof reason, "touch mode kernel needs the fields kernel= and "
                 "function=");
    else if ((rc = ab_stack_headroom(0, &headroom)) != AB_OK)
        snprintf(reason, sizeof reason, "kernel: %s", ab_strerror(rc));
    else
        rc = ab_kernel_load(&c->kernel, c->size, headroom, reason, sizeof reason);
    if (rc == AB_OK)
        return 0;
    ab_send_failed(fd, c->id, rc, reason, -1);
    return 1;
}

static int fail(const struct serve *job, int status, const char *what)
{
    char reason[512];
    size_t headroom = 0;
    snprintf(reason, sizeof reason, "%s: %s", what, ab_strerror(status));
    /* A refusal says how much stack the refused thread had, as the extension's StackLimitError
     * does: a team's own threads, else this one. */
    int known = status == AB_ESTACK && job->ops->headroom(&headroom);
    /* With a user kernel, what is left for the buffer: the kernel's own stack set aside. */
    if (known && job->cell->touch == AB_TOUCH_KERNEL)
        headroom = headroom > ab_kernel_stack ? headroom - ab_kernel_stack : 0;
    ab_send_failed(job->fd, job->cell->id, status, reason, known ? (long long)headroom : -1);
    return 1;
}

static int serve(struct serve *job)
{
    const int fd = job->fd;
    struct ab_cell *c = job->cell;
    const struct cell_ops *ops = job->ops;
    const char *lib = c->expect[0] ? ab_library_of(dlsym(RTLD_DEFAULT, "malloc")) : NULL;
    if (c->expect[0] && !ab_same_file(lib, c->expect)) {
        char reason[3 * AB_PATH_MAX];
        snprintf(reason, sizeof reason, "malloc is served by %s, not by %s: LD_PRELOAD=%s did "
                 "not take effect", lib ? lib : "an unknown object", c->expect,
                 getenv("LD_PRELOAD") ? getenv("LD_PRELOAD") : "");
        ab_send_failed(fd, c->id, AB_STATUS_WRONG_ALLOCATOR, reason, -1);
        return 1;
    }
    if (load_kernel(fd, c) != 0)
        return 1;
    if (c->heap == AB_HEAP_AGED)
        ab_age_heap();
    struct ab_json j = {.len = 0};
    char num[64];
    ab_json_raw(&j, "{");
    ab_json_key(&j, "mallinfo2");
    mallinfo_json(&j); /* before the cell's own first op: the heap it starts from */
    if (c->report_stack) { /* and the stack it starts from */
        ab_json_key(&j, "stack_start");
        stack_json(&j);
    }
    layout_json(&j, c);
    int rc = ops->start(c);
    if (rc != AB_OK)
        return fail(job, rc, "threads");

    int calibrated = c->iterations == 0;
    rc = calibrated ? ab_calibrate(calibration_batch, job, c->target_ns, 1000000000ULL,
                                   &c->iterations)
                    : AB_OK;
    if (rc != AB_OK)
        return fail(job, rc, "calibration");
    struct ab_sample s;
    /* Calibration ends with a quarter-length batch, discarded: it is the first warm-up batch.
     * A warm-up batch is a quarter of a timed one: a few ops already fault in the cell's pages
     * and settle its allocator (tcache, glibc's mmap threshold), and every process of a sweep
     * pays for one per cell. */
    for (uint32_t w = calibrated ? 1 : 0; w < c->warmup && rc == AB_OK; w++)
        rc = ops->batch(c, (c->iterations + 3) / 4, &s);
    if (rc != AB_OK)
        return fail(job, rc, "warm-up");

    snprintf(num, sizeof num, "%u", c->id);
    ab_json_key(&j, "cell");
    ab_json_raw(&j, num);
    snprintf(num, sizeof num, "%ld", (long)getpid());
    ab_json_key(&j, "pid");
    ab_json_raw(&j, num);
    ab_json_key(&j, "affinity");
    affinity_json(&j);
    snprintf(num, sizeof num, "%llu", (unsigned long long)c->iterations);
    ab_json_key(&j, "iterations");
    ab_json_raw(&j, num);
    ab_json_key(&j, "calibrated");
    ab_json_raw(&j, calibrated ? "true" : "false");
    ab_probe_json(&j);
    if (c->touch == AB_TOUCH_KERNEL) {
        snprintf(num, sizeof num, "%zu", ab_kernel_stack);
        ab_json_key(&j, "kernel_stack");
        ab_json_raw(&j, num);
    }
    ops->json(&j, c);
    if (c->report_stack) { /* after calibration and warm-up: what their ops left */
        ab_json_key(&j, "stack");
        stack_json(&j);
    }
    ab_json_raw(&j, "}");
    if (ab_send(fd, AB_REC_CELL, j.text, (uint32_t)j.len) != 0)
        return AB_EXIT_IO;

    uint32_t round;
    int got;
    while ((got = ab_read_all(fd, &round, sizeof round)) == 1) {
        /* The runner that sent the round shares this CPU, and this process, just woken, has
         * preempted it before it could go back to sleep in poll(): left so, it would take the
         * CPU back in the middle of the batch (an involuntary switch, a retake, about one
         * batch in four).  Yielding first lets it reach poll(). */
        sched_yield();
        rc = ops->batch(c, c->iterations, &s);
        if (rc != AB_OK)
            return fail(job, rc, "timed batch");
        if (ops->send(fd, c, round, &s) != 0)
            return AB_EXIT_IO;
    }
    return got == 0 ? 0 : AB_EXIT_IO;
}

static void *serve_thread(void *arg)
{
    struct serve *job = arg;
    job->exit_status = serve(job);
    return NULL;
}

int ab_cell_main(int fd, struct ab_cell *c)
{
    struct serve job = {fd, c, ab_team_wanted(c) ? &team_ops : &plain_ops, 0};
    if (c->stack_size == 0 || !job.ops->serve_on_worker)
        return serve(&job);
    /* One worker thread with the requested stack runs every batch of the cell. */
    if (ab_thread_run(c->stack_size, serve_thread, &job) != AB_OK)
        return fail(&job, AB_ETHREAD, "worker thread");
    return job.exit_status;
}
