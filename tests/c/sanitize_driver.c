/* Runs every kernel, touch mode and stack-guard edge of csrc/ once, for a build with
 * -fsanitize=address,undefined (tests/test_sanitize.py compiles and runs it).  Any sanitizer
 * report aborts the program; a wrong status prints what was expected and exits 1.
 *   sanitize_driver          everything (and the parsing of stack_guard_gap=)
 *   sanitize_driver abort    only ab_abort() from another thread (for -fsanitize=thread) */
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ab_util.h"
#include "alloca_bench.h"

static int failures;

static void expect(int got, int want, const char *what, size_t size, size_t stack_size)
{
    if (got != want) {
        printf("FAIL %s size=%zu stack_size=%zu: got %d (%s), want %d (%s)\n", what, size,
               stack_size, got, ab_strerror(got), want, ab_strerror(want));
        failures++;
    }
}

/* Every available strategy x touch mode at sizes around page and alignment boundaries, on
 * this thread and on a worker thread. */
static void kernels(void)
{
    static const size_t sizes[] = {1, 15, 16, 17, 4095, 4096, 4097, 65536, 1 << 20};
    static const size_t stacks[] = {0, 4 << 20};
    struct ab_batch b[2];
    for (int s = 0; s < AB_N_STRATEGIES; s++) {
        int want_unavailable = !ab_strategy_available(s);
        for (int t = 0; t < AB_N_TOUCHES; t++)
            for (size_t z = 0; z < sizeof sizes / sizeof *sizes; z++)
                for (size_t k = 0; k < sizeof stacks / sizeof *stacks; k++) {
                    int rc = ab_run(s, t, sizes[z], 3, 2, stacks[k], AB_MAX_RETAKES, b);
                    /* no user kernel is loaded here */
                    int want = t == AB_TOUCH_KERNEL ? AB_EKERNEL
                               : want_unavailable  ? AB_EUNAVAILABLE : AB_OK;
                    expect(rc, want, ab_strategy_name(s), sizes[z], stacks[k]);
                    if (rc == AB_OK && !(b[0].ns_per_op >= 0 && b[1].ns_per_op >= 0
                                         && b[0].minflt_per_op >= 0 && b[0].cpu_ns_per_op >= 0
                                         && b[1].retakes <= AB_MAX_RETAKES))
                        expect(-100, AB_OK, "figures", sizes[z], stacks[k]);
                }
    }
}

/* The guard's boundary: the largest size it admits runs fully written, one byte more is
 * refused, for every stack strategy and for loops of allocas and VLAs. */
static void guard_edges(void)
{
    static const size_t stacks[] = {0, 1 << 20, 8 << 20};
    struct ab_batch b[1];
    for (size_t k = 0; k < sizeof stacks / sizeof *stacks; k++) {
        size_t headroom;
        expect(ab_stack_headroom(stacks[k], &headroom), AB_OK, "headroom", 0, stacks[k]);
        /* The guard measures its own headroom a few frames deeper: leave it a page. */
        size_t room = headroom - 4096;
        for (int s = 0; s < AB_N_STRATEGIES; s++) {
            if (!ab_strategy_uses_stack(s) || !ab_strategy_available(s))
                continue;
            size_t largest = ab_stack_largest(s, 1, room);
            expect(ab_run(s, AB_TOUCH_FULL, largest, 1, 1, stacks[k], AB_MAX_RETAKES, b),
                   AB_OK, ab_strategy_name(s), largest, stacks[k]);
            expect(ab_run(s, AB_TOUCH_FULL, headroom + 1, 1, 1, stacks[k], AB_MAX_RETAKES, b),
                   AB_ESTACK, ab_strategy_name(s), headroom + 1, stacks[k]);
        }
        static const uint32_t counts[] = {1, 2, 1000, 1000000};
        for (size_t c = 0; c < sizeof counts / sizeof *counts; c++) {
            size_t span, largest = ab_stack_largest(AB_ALLOCA, counts[c], room);
            if (largest > 0) {
                expect(ab_stack_loop(AB_ALLOCA, largest, counts[c], stacks[k], &span), AB_OK,
                       "alloca loop", largest, stacks[k]);
                if (span < largest * counts[c])
                    expect(-100, AB_OK, "alloca loop span", largest, stacks[k]);
            }
            /* One byte more than the headroom allows, even per buffer, is refused. */
            size_t over = headroom / counts[c] + 1;
            expect(ab_stack_loop(AB_ALLOCA, over, counts[c], stacks[k], &span), AB_ESTACK,
                   "alloca loop over", over, stacks[k]);
            expect(ab_stack_loop(AB_VLA, 4096, counts[c], stacks[k], &span), AB_OK,
                   "vla loop", 4096, stacks[k]);
        }
        if (ab_stack_need(AB_ALLOCA, SIZE_MAX / 2, 3) != SIZE_MAX)
            expect(-100, AB_OK, "need overflow", SIZE_MAX / 2, 0);
    }
}

/* Bad arguments come back as statuses, and an abort keeps the batches before it. */
static void statuses(void)
{
    struct ab_batch b[3];
    size_t span;
    expect(ab_run(-1, 0, 64, 1, 1, 0, AB_MAX_RETAKES, b), AB_EBADSTRATEGY, "strategy", 64, 0);
    expect(ab_run(0, AB_N_TOUCHES, 64, 1, 1, 0, AB_MAX_RETAKES, b), AB_EBADTOUCH, "touch", 64,
           0);
    expect(ab_run(AB_MALLOC, 0, 0, 1, 1, 0, AB_MAX_RETAKES, b), AB_EBADSIZE, "size 0", 0, 0);
    expect(ab_run(AB_MALLOC, 0, 64, 0, 1, 0, AB_MAX_RETAKES, b), AB_EBADCOUNT, "count 0", 64,
           0);
    expect(ab_stack_loop(AB_MALLOC, 64, 1, 0, &span), AB_EBADSTRATEGY, "loop strategy", 64, 0);
    expect(ab_run(AB_MALLOC, 0, SIZE_MAX / 2, 1, 1, 0, AB_MAX_RETAKES, b), AB_ENOMEM,
           "malloc of half the address space", SIZE_MAX / 2, 0);
    /* A worker thread's stack: raised to PTHREAD_STACK_MIN, rounded up to whole pages, and one
     * that cannot be had is AB_ETHREAD, never a crash. */
    size_t headroom, page_headroom;
    expect(ab_stack_headroom(1, &headroom), AB_OK, "stack below PTHREAD_STACK_MIN", 0, 1);
    expect(ab_stack_headroom((1 << 20) - 4095, &headroom), AB_OK, "stack off a page", 0,
           (1 << 20) - 4095);
    expect(ab_stack_headroom(1 << 20, &page_headroom), AB_OK, "stack of pages", 0, 1 << 20);
    if (headroom != page_headroom)
        expect(-100, AB_OK, "stack rounded up to whole pages", 0, (1 << 20) - 4095);
    expect(ab_stack_headroom(SIZE_MAX, &headroom), AB_ETHREAD, "stack of SIZE_MAX", 0, SIZE_MAX);
    expect(ab_stack_headroom(SIZE_MAX / 2, &headroom), AB_ETHREAD, "stack of half the address "
           "space", 0, SIZE_MAX / 2);
    ab_abort_watch(1);
    ab_abort();
    expect(ab_run(AB_MALLOC, AB_TOUCH_PAGES, 64, 100, 3, 0, AB_MAX_RETAKES, b), AB_EINTR,
           "aborted run", 64, 0);
    if (!isnan(b[0].ns_per_op) || !isnan(b[2].ns_per_op))
        expect(-100, AB_OK, "aborted batches are NaN", 64, 0);
    ab_abort_watch(0);
    expect(ab_run(AB_MALLOC, AB_TOUCH_PAGES, 64, 100, 3, 0, AB_MAX_RETAKES, b), AB_OK,
           "run after abort", 64, 0);
}

/* stack_guard_gap= as the kernel reads it (mm/mmap.c: simple_strtoul base 10, whole value,
 * each occurrence overriding the one before). */
static void guard_gap_parsing(void)
{
    static const struct { const char *cmdline; unsigned long want; } cases[] = {
        {"", 256},
        {"BOOT_IMAGE=/vmlinuz ro stack_guard_gap=1 quiet\n", 1},
        {"stack_guard_gap=010", 10},                   /* base 10, not octal */
        {"stack_guard_gap=0x10", 256},                 /* not hex: ignored */
        {"stack_guard_gap=12abc", 256},                /* not whole: ignored */
        {"stack_guard_gap=+5", 256},
        {"stack_guard_gap=5 stack_guard_gap=7", 7},    /* the last one counts */
        {"stack_guard_gap=5 stack_guard_gap=x", 5},    /* an ignored one changes nothing */
        {"stack_guard_gap=", 0},                       /* simple_strtoul("") is 0, whole */
        {"xstack_guard_gap=4 foo.stack_guard_gap=4", 256},
        {"stack_guard_gap=3 -- stack_guard_gap=4", 3}, /* after "--": init's arguments */
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        unsigned long got = ab_guard_gap_pages(cases[i].cmdline, 256);
        if (got != cases[i].want) {
            printf("FAIL guard gap of \"%s\": got %lu, want %lu\n", cases[i].cmdline, got,
                   cases[i].want);
            failures++;
        }
    }
}

static void *abort_soon(void *arg)
{
    (void)arg;
    struct timespec pause = {0, 20 * 1000 * 1000};
    nanosleep(&pause, NULL);
    ab_abort();
    return NULL;
}

/* Ctrl-C's path: another thread calls ab_abort() while this one runs a long batch set. */
static void abort_from_another_thread(void)
{
    static struct ab_batch b[100000];
    pthread_t thread;
    ab_abort_watch(1);
    if (pthread_create(&thread, NULL, abort_soon, NULL) != 0) {
        expect(-100, AB_OK, "abort thread", 0, 0);
        return;
    }
    expect(ab_run(AB_MALLOC, AB_TOUCH_FIRST, 64, 100000, 100000, 0, AB_MAX_RETAKES, b),
           AB_EINTR, "run aborted from another thread", 64, 0);
    pthread_join(thread, NULL);
    ab_abort_watch(0);
}

int main(int argc, char **argv)
{
    if (argc == 2 && strcmp(argv[1], "abort") == 0) {
        abort_from_another_thread();
        printf("%s: %d failures\n", failures ? "FAILED" : "clean", failures);
        return failures ? 1 : 0;
    }
    kernels();
    guard_gap_parsing();
    guard_edges();
    statuses();
    abort_from_another_thread();
    printf("%s: %d failures\n", failures ? "FAILED" : "clean", failures);
    return failures ? 1 : 0;
}
