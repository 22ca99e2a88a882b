/* The runner's team cells (patterns.h): N threads meeting at a barrier before each batch, the
 * patterns same/cross/hold, and op sizes drawn from a seeded distribution.  One cell per
 * process, so the team is static state; nothing here calls malloc outside the timed ops (the
 * rings, windows and size table are static, the fixed buffers mmap), so the heap a cell starts
 * from is the same as without threads. */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "ab_compat.h"
#include "ab_touch.h"
#include "ab_util.h"
#include "kernels.h"
#include "patterns.h"

/* ---- plan fields ---------------------------------------------------------------------------- */

int ab_team_field(const char *key, const char *value, struct ab_team_spec *t)
{
    uint64_t v = 0;
    if (strcmp(key, "threads") == 0) {
        if (ab_parse_u64(value, AB_MAX_THREADS, &v) || v == 0)
            return -1;
        t->threads = (uint32_t)v;
    } else if (strcmp(key, "pattern") == 0) {
        const char *names[] = {"same", "cross", "hold"};
        int found = -1;
        for (int i = 0; i < 3; i++)
            found = strcmp(value, names[i]) == 0 ? i : found;
        if (found < 0)
            return -1;
        t->pattern = found;
    } else if (strcmp(key, "window") == 0) {
        if (ab_parse_u64(value, AB_HOLD_WINDOW_MAX, &v) || v == 0)
            return -1;
        t->window = (uint32_t)v;
    } else if (strcmp(key, "dist") == 0) {
        if (strcmp(value, "uniform") == 0)
            t->dist = AB_DIST_UNIFORM;
        else if (strcmp(value, "loguniform") == 0)
            t->dist = AB_DIST_LOGUNIFORM;
        else
            return -1;
    } else if (strcmp(key, "low") == 0) {
        if (ab_parse_u64(value, SIZE_MAX, &v) || v == 0)
            return -1;
        t->low = (size_t)v;
    } else if (strcmp(key, "seed") == 0) {
        if (ab_parse_u64(value, UINT64_MAX, &v))
            return -1;
        t->seed = v;
    } else {
        return 0;
    }
    return 1;
}

int ab_team_wanted(const struct ab_cell *c)
{
    return c->team.threads > 0 || c->team.pattern != AB_PATTERN_SAME
        || c->team.dist != AB_DIST_NONE;
}

/* ---- sizes ---------------------------------------------------------------------------------- */

uint64_t ab_next_random(uint64_t *state)
{
    uint64_t z = (*state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

static size_t size_table[AB_SIZE_TABLE];

/* Integers only, so that every machine (and alloca_bench/sizes.py) draws the same sizes.
 * uniform: low + r mod (high - low + 1).  loguniform: by octaves: K octaves [low << k,
 * (low << (k + 1)) - 1], the last one ending at high (K the least with low << K >= high), one
 * chosen uniformly, then a size uniformly inside it: each octave gets the same share of ops. */
static size_t draw_size(const struct ab_team_spec *t, size_t high, uint64_t *state)
{
    size_t low = t->low;
    if (t->dist == AB_DIST_UNIFORM)
        return low + (size_t)(ab_next_random(state) % (uint64_t)(high - low + 1));
    /* low << octaves < high, asked without shifting low past 64 bits (high can be near
     * SIZE_MAX: x86 would wrap the shift and loop forever). */
    unsigned octaves = 0;
    while (octaves < 64 && low <= (high - 1) >> octaves)
        octaves++;
    if (octaves == 0)
        return low;
    unsigned k = (unsigned)(ab_next_random(state) % octaves);
    size_t a = low << k, b = k + 1 == octaves ? high : (low << (k + 1)) - 1;
    return a + (size_t)(ab_next_random(state) % (uint64_t)(b - a + 1));
}

static void fill_sizes(const struct ab_cell *c)
{
    uint64_t state = c->team.seed;
    for (size_t i = 0; i < AB_SIZE_TABLE; i++)
        size_table[i] = c->team.dist == AB_DIST_NONE ? c->size
                                                     : draw_size(&c->team, c->size, &state);
}

/* ---- the ops of cross and hold: an allocation and its free, apart ------------------------- */

struct block {
    char *p;
    size_t size;
};

/* baseline under cross and hold: a pointer to this byte goes through the same rings and windows
 * without any allocation, so its ns/op is the pattern's own cost (what net subtracts). */
static char nothing;

AB_NOINLINE static char *take(int strategy, size_t size, int touch)
{
    char *p;
    if (strategy == AB_BASELINE) {
        ab_escape(&nothing);
        return &nothing;
    }
    if (strategy == AB_MMAP) {
        p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        p = p == MAP_FAILED ? NULL : p;
    } else {
        p = strategy == AB_CALLOC ? calloc(1, size) : malloc(size);
    }
    if (p != NULL)
        touch_buffer(p, size, touch);
    return p;
}

AB_NOINLINE static void give(int strategy, struct block b)
{
    if (strategy == AB_BASELINE)
        ab_escape(b.p);
    else if (strategy == AB_MMAP)
        munmap(b.p, b.size);
    else
        free(b.p);
}

/* ---- the team ------------------------------------------------------------------------------- */

/* A bounded single-producer single-consumer ring of blocks (pattern=cross): ring k is filled by
 * thread k and emptied by thread k + 1 (mod N).  Each side keeps its last view of the other's
 * index on its own cache line and reads the other's line only when the ring looks full (or
 * empty), so a block costs few line transfers besides its own. */
struct ring {
    _Alignas(64) _Atomic uint64_t head; /* written by the producer */
    uint64_t tail_seen;                 /* the producer's last view of tail */
    _Alignas(64) _Atomic uint64_t tail; /* written by the consumer */
    uint64_t head_seen;                 /* the consumer's last view of head */
    _Alignas(64) struct block slot[AB_RING_SLOTS];
};

struct member {
    _Alignas(64) pthread_t thread;
    uint32_t index;
    int status;          /* the stack guard's verdict, then the last batch's */
    size_t headroom;     /* stack strategies: bytes of stack below member_main's frame */
    uint64_t cursor;     /* next index into size_table: the sequence goes on across batches */
    char *fixed;         /* AB_FIXED's buffer (mmap, the largest size) */
    struct block window[AB_HOLD_WINDOW_MAX];
    uint32_t live, oldest;
    struct ab_sample sample;
    struct timespec t0, t1; /* the last batch's start and end */
};

static struct {
    const struct ab_cell *cell;
    uint32_t n;
    pthread_barrier_t start, done;
    uint64_t iterations; /* of the next batch; 0: stop */
    _Atomic int failed;  /* an allocation of pattern=cross failed */
    uint64_t batches;    /* batches started so far */
    _Atomic uint64_t running; /* threads that reached their batch, over all batches */
    struct member member[AB_MAX_THREADS];
    struct ring ring[AB_MAX_THREADS];
} team;

static int has_room(struct ring *r)
{
    uint64_t head = atomic_load_explicit(&r->head, memory_order_relaxed);
    if (head - r->tail_seen < AB_RING_SLOTS)
        return 1;
    r->tail_seen = atomic_load_explicit(&r->tail, memory_order_acquire);
    return head - r->tail_seen < AB_RING_SLOTS;
}

/* Only after has_room(r) said yes (the producer is the only one to fill it). */
static void push(struct ring *r, struct block b)
{
    uint64_t head = atomic_load_explicit(&r->head, memory_order_relaxed);
    r->slot[head % AB_RING_SLOTS] = b;
    atomic_store_explicit(&r->head, head + 1, memory_order_release);
}

static int pop(struct ring *r, struct block *b)
{
    uint64_t tail = atomic_load_explicit(&r->tail, memory_order_relaxed);
    if (tail == r->head_seen) {
        r->head_seen = atomic_load_explicit(&r->head, memory_order_acquire);
        if (tail == r->head_seen)
            return 0;
    }
    *b = r->slot[tail % AB_RING_SLOTS];
    atomic_store_explicit(&r->tail, tail + 1, memory_order_release);
    return 1;
}

static size_t next_size(struct member *m)
{
    return size_table[m->cursor++ % AB_SIZE_TABLE];
}

static int batch_same(struct member *m, int strategy, int touch, uint64_t n)
{
    const ab_op op = ab_ops[strategy][touch];
    for (uint64_t i = 0; i < n; i++) {
        int rc = op(next_size(m), m->fixed);
        if (rc != AB_OK)
            return rc;
    }
    return AB_OK;
}

/* Each thread allocates n blocks into its ring and frees n blocks from the previous thread's,
 * doing whichever it can; every ring is empty again when all threads are done.  A thread that
 * can do neither yields: with more threads than CPUs, the one it waits for must run.  After a
 * failed allocation anywhere, a thread that cannot move stops: the blocks it waits for will
 * never come (the cell fails; its process exits). */
static int batch_cross(struct member *m, int strategy, int touch, uint64_t n)
{
    struct ring *out = &team.ring[m->index], *in = &team.ring[(m->index + team.n - 1) % team.n];
    uint64_t made = 0, freed = 0;
    int rc = AB_OK;
    while (made < n || freed < n) {
        int moved = 0;
        struct block b;
        if (made < n && has_room(out)) {
            b.size = next_size(m);
            b.p = take(strategy, b.size, touch);
            if (b.p == NULL) {
                rc = AB_ENOMEM, made = n;
                atomic_store(&team.failed, 1);
            } else {
                push(out, b), made++, moved = 1;
            }
        }
        if (freed < n && pop(in, &b)) {
            give(strategy, b);
            freed++, moved = 1;
        }
        if (!moved) {
            if (atomic_load(&team.failed))
                return rc == AB_OK ? AB_ENOMEM : rc;
            sched_yield();
        }
    }
    return rc;
}

static int batch_hold(struct member *m, int strategy, int touch, uint64_t n)
{
    const uint32_t window = team.cell->team.window ? team.cell->team.window
                                                   : AB_HOLD_WINDOW_DEFAULT;
    for (uint64_t i = 0; i < n; i++) {
        if (m->live == window) {
            give(strategy, m->window[m->oldest]);
            m->oldest = (m->oldest + 1) % window;
            m->live--;
        }
        struct block b = {NULL, next_size(m)};
        b.p = take(strategy, b.size, touch);
        if (b.p == NULL)
            return AB_ENOMEM;
        m->window[(m->oldest + m->live) % window] = b;
        m->live++;
    }
    return AB_OK;
}

static void run_batch(struct member *m, uint64_t n)
{
    const struct ab_cell *c = team.cell;
    /* fixed has nothing to pass or hold: it runs its op as in `same`. */
    int pattern = c->strategy == AB_FIXED ? AB_PATTERN_SAME : c->team.pattern;
    struct rusage ru0, ru1;
    struct timespec *t0 = &m->t0, *t1 = &m->t1;
    if (getrusage(RUSAGE_THREAD, &ru0) != 0 || clock_gettime(CLOCK_MONOTONIC, t0) != 0) {
        m->status = AB_ESYS;
        return;
    }
    m->status = pattern == AB_PATTERN_CROSS ? batch_cross(m, c->strategy, c->touch, n)
              : pattern == AB_PATTERN_HOLD  ? batch_hold(m, c->strategy, c->touch, n)
                                            : batch_same(m, c->strategy, c->touch, n);
    if (clock_gettime(CLOCK_MONOTONIC, t1) != 0 || getrusage(RUSAGE_THREAD, &ru1) != 0)
        m->status = m->status == AB_OK ? AB_ESYS : m->status;
    m->sample.ns_per_op = ab_ns_between(t0, t1) / (double)n;
    m->sample.minflt_per_op = (double)(ru1.ru_minflt - ru0.ru_minflt) / (double)n;
    m->sample.majflt_per_op = (double)(ru1.ru_majflt - ru0.ru_majflt) / (double)n;
    m->sample.cpu_ns_per_op = ((double)(ru1.ru_utime.tv_sec + ru1.ru_stime.tv_sec
                                        - ru0.ru_utime.tv_sec - ru0.ru_stime.tv_sec) * 1e9
                               + (double)(ru1.ru_utime.tv_usec + ru1.ru_stime.tv_usec
                                          - ru0.ru_utime.tv_usec - ru0.ru_stime.tv_usec) * 1e3)
                              / (double)n;
    m->sample.switches = (uint32_t)(ru1.ru_nivcsw - ru0.ru_nivcsw);
}

static void *member_main(void *arg)
{
    struct member *m = arg;
    const struct ab_cell *c = team.cell;
    if (ab_strategy_uses_stack(c->strategy)) {
        /* Checked before the first alloca, as ab_run() does: past it would be a SIGSEGV. */
        int rc = ab_stack_headroom(0, &m->headroom);
        size_t need = touch_need(ab_stack_need(c->strategy, c->size, 1), c->touch);
        if (rc == AB_OK && !ab_stack_fits(need, m->headroom))
            rc = AB_ESTACK;
        m->status = rc;
    }
    int refused = m->status != AB_OK;
    for (;;) {
        pthread_barrier_wait(&team.start);
        uint64_t n = team.iterations;
        if (n == 0)
            return NULL;
        /* The barrier's wake-ups reach the threads at different times: each one waits here
         * until all of them run, so that the batches start together. */
        uint64_t all = team.batches * team.n;
        if (atomic_fetch_add(&team.running, 1) + 1 < all)
            while (atomic_load(&team.running) < all)
                sched_yield(); /* returns at once when nothing else wants this CPU */
        if (!refused)
            run_batch(m, n);
        pthread_barrier_wait(&team.done);
    }
}

int ab_team_start(const struct ab_cell *c)
{
    if (!ab_strategy_available(c->strategy))
        return AB_EUNAVAILABLE;
    if (c->team.pattern != AB_PATTERN_SAME && ab_strategy_uses_stack(c->strategy))
        return AB_EUNAVAILABLE; /* a stack block cannot outlive its frame nor change thread */
    if (c->team.dist != AB_DIST_NONE && (c->team.low == 0 || c->team.low > c->size))
        return AB_EBADSIZE;
    team.cell = c;
    team.n = c->team.threads ? c->team.threads : 1;
    fill_sizes(c);
    if (pthread_barrier_init(&team.start, NULL, team.n + 1) != 0
        || pthread_barrier_init(&team.done, NULL, team.n + 1) != 0)
        return AB_ETHREAD;
    pthread_attr_t attr; /* every thread's: the cell's stack size, then its own CPU */
    if (ab_thread_attr(&attr, c->stack_size) != AB_OK)
        return AB_ETHREAD;
    int rc = 0;
    /* Thread i is pinned to the i-th CPU of the process's mask (round robin past its end).
     * Unpinned, the barrier's wake-ups tend to put the threads on the waker's CPU, where they
     * run one after the other for longer than a batch: threads that never met. */
    cpu_set_t mask;
    int cpus[CPU_SETSIZE], n_cpus = 0;
    if (sched_getaffinity(0, sizeof mask, &mask) == 0)
        for (int cpu = 0; cpu < CPU_SETSIZE; cpu++)
            if (CPU_ISSET(cpu, &mask))
                cpus[n_cpus++] = cpu;
    for (uint32_t i = 0; i < team.n && rc == 0; i++) {
        struct member *m = &team.member[i];
        m->index = i;
        if (n_cpus > 0) {
            cpu_set_t one;
            CPU_ZERO(&one);
            CPU_SET(cpus[i % (uint32_t)n_cpus], &one);
            rc = pthread_attr_setaffinity_np(&attr, sizeof one, &one);
            if (rc != 0)
                break;
        }
        if (c->strategy == AB_FIXED) {
            m->fixed = mmap(NULL, c->size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                            -1, 0);
            if (m->fixed == MAP_FAILED) {
                pthread_attr_destroy(&attr);
                return AB_ENOMEM;
            }
            memset(m->fixed, 0x5A, c->size); /* its pages faulted in now, outside the batches */
        }
        rc = pthread_create(&m->thread, &attr, member_main, m);
    }
    pthread_attr_destroy(&attr);
    if (rc != 0)
        return AB_ETHREAD; /* a half-made team dies with the cell's process */
    /* One untimed pass over the size table first: the first op of each size class is an
     * allocator's slow path, and calibrating on them would give batches far shorter than the
     * target once the classes are warm. */
    struct ab_sample ignored;
    return c->team.dist != AB_DIST_NONE ? ab_team_batch(AB_SIZE_TABLE, &ignored) : AB_OK;
}

int ab_team_batch(uint64_t n, struct ab_sample *mean)
{
    team.iterations = n;
    team.batches++;
    pthread_barrier_wait(&team.start);
    pthread_barrier_wait(&team.done);
    int status = AB_OK;
    memset(mean, 0, sizeof *mean);
    const struct member *first = &team.member[0], *last = &team.member[0];
    for (uint32_t i = 0; i < team.n; i++) {
        const struct member *m = &team.member[i];
        first = ab_ns_between(&m->t0, &first->t0) > 0 ? m : first;
        last = ab_ns_between(&last->t1, &m->t1) > 0 ? m : last;
        status = status == AB_OK ? m->status : status;
        mean->ns_per_op += m->sample.ns_per_op / team.n;
        mean->minflt_per_op += m->sample.minflt_per_op / team.n;
        mean->majflt_per_op += m->sample.majflt_per_op / team.n;
        mean->cpu_ns_per_op += m->sample.cpu_ns_per_op / team.n;
        mean->switches += m->sample.switches;
    }
    mean->thread = 0;
    mean->threads = team.n;
    mean->span_ns_per_op = ab_ns_between(&first->t0, &last->t1) / (double)n;
    for (uint32_t i = 0; i < team.n; i++)
        team.member[i].sample.span_ns_per_op = mean->span_ns_per_op;
    return status;
}

size_t ab_team_headroom(void)
{
    size_t least = SIZE_MAX;
    for (uint32_t i = 0; i < team.n; i++)
        least = team.member[i].headroom < least ? team.member[i].headroom : least;
    return least;
}

int ab_team_send(int fd, uint32_t cell, uint32_t round)
{
    struct ab_sample out[AB_MAX_THREADS];
    for (uint32_t i = 0; i < team.n; i++) {
        out[i] = team.member[i].sample;
        out[i].cell = cell;
        out[i].round = round;
        out[i].thread = i;
        out[i].threads = team.n;
    }
    return ab_send(fd, AB_REC_SAMPLE, out, (uint32_t)(team.n * sizeof out[0]));
}

void ab_team_json(struct ab_json *j, const struct ab_cell *c)
{
    static const char *const patterns[] = {"same", "cross", "hold"};
    char num[64];
    cpu_set_t cpus;
    snprintf(num, sizeof num, "%u", c->team.threads ? c->team.threads : 1);
    ab_json_key(j, "threads");
    ab_json_raw(j, num);
    ab_json_key(j, "pattern");
    ab_json_str(j, patterns[c->team.pattern]);
    ab_json_key(j, "cpus");
    ab_json_num(j, sched_getaffinity(0, sizeof cpus, &cpus) == 0 ? CPU_COUNT(&cpus) : -1);
    ab_json_key(j, "size_sequence");
    if (c->team.dist == AB_DIST_NONE) {
        ab_json_raw(j, "null");
        return;
    }
    unsigned long long sum = 0;
    for (size_t i = 0; i < AB_SIZE_TABLE; i++)
        sum += size_table[i];
    snprintf(num, sizeof num, "{\"count\": %d, \"sum\": %llu, \"head\": [", AB_SIZE_TABLE, sum);
    ab_json_raw(j, num);
    for (size_t i = 0; i < 8; i++) {
        snprintf(num, sizeof num, "%s%zu", i ? ", " : "", size_table[i]);
        ab_json_raw(j, num);
    }
    ab_json_raw(j, "]}");
}
