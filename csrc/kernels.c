/* The kernels: one op of each strategy.  Each is a separate noinline function so that an
 * alloca or VLA is released when it returns, exactly as in a user's helper function. */
#define _GNU_SOURCE
#include <alloca.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "ab_compat.h"
#include "ab_touch.h"
#include "kernels.h"

/* One kernel per strategy and touch mode, each written out by KERNELS(name, mode) with the mode
 * a constant: touch_buffer's switch folds away, so an op does what a hand-written one does, with
 * no dispatch inside it (a switch on a run-time touch mode cost malloc+free of 64 B 0.5-0.7 ns:
 * compares, and callee-saved registers pushed to keep size and touch across the malloc call). */

/* A batch: `n` ops of one kernel in a loop that calls it directly, as a hand-written benchmark
 * does.  One indirect call per op (through a table) cost 0.5 ns more per op than a direct one
 * on a Sapphire Rapids VM, and its latency overlapped the op's own work: an alloca or VLA
 * looked free (baseline and vla both 1.1 ns against 0.54 and 0.80 in a plain C program).
 * Returns 0, or the first failing op's status. */
#define OP_LOOP(op)                                                                         \
    AB_NOINLINE static int loop_##op(size_t size, char *fixed, uint64_t n)                 \
    {                                                                                       \
        for (uint64_t i = 0; i < n; i++) {                                                  \
            int rc = op(size, fixed);                                                       \
            if (rc != 0)                                                                    \
                return rc;                                                                  \
        }                                                                                   \
        return 0;                                                                           \
    }

#if AB_HAVE_PROBED
#define KERNELS_PROBED(name, mode)                                                             \
    AB_NOINLINE AB_PROBED static int op_alloca_probed_##name(size_t size, char *fixed)         \
    {                                                                                          \
        (void)fixed;                                                                           \
        char *p = alloca(size);                                                                \
        touch_buffer(p, size, mode);                                                           \
        return 0;                                                                              \
    }                                                                                          \
    OP_LOOP(op_alloca_probed_##name)                                                           \
    AB_NOINLINE AB_PROBED static int op_vla_probed_##name(size_t size, char *fixed)            \
    {                                                                                          \
        (void)fixed;                                                                           \
        char buf[size];                                                                        \
        touch_buffer(buf, size, mode);                                                         \
        return 0;                                                                              \
    }                                                                                          \
    OP_LOOP(op_vla_probed_##name)
#else
#define KERNELS_PROBED(name, mode)
#endif

#define KERNELS(name, mode)                                                                    \
    AB_NOINLINE static int op_baseline_##name(size_t size, char *fixed)                        \
    {                                                                                          \
        char local;                                                                            \
        (void)size; (void)fixed;                                                               \
        ab_escape(&local);                                                                     \
        return 0;                                                                              \
    }                                                                                          \
    OP_LOOP(op_baseline_##name)                                                                \
    AB_NOINLINE static int op_fixed_##name(size_t size, char *fixed)                           \
    {                                                                                          \
        touch_buffer(fixed, size, mode);                                                       \
        return 0;                                                                              \
    }                                                                                          \
    OP_LOOP(op_fixed_##name)                                                                   \
    AB_NOINLINE static int op_alloca_##name(size_t size, char *fixed)                          \
    {                                                                                          \
        (void)fixed;                                                                           \
        char *p = alloca(size);                                                                \
        touch_buffer(p, size, mode);                                                           \
        return 0;                                                                              \
    }                                                                                          \
    OP_LOOP(op_alloca_##name)                                                                  \
    AB_NOINLINE static int op_vla_##name(size_t size, char *fixed)                             \
    {                                                                                          \
        (void)fixed;                                                                           \
        char buf[size];                                                                        \
        touch_buffer(buf, size, mode);                                                         \
        return 0;                                                                              \
    }                                                                                          \
    OP_LOOP(op_vla_##name)                                                                     \
    AB_NOINLINE static int op_malloc_##name(size_t size, char *fixed)                          \
    {                                                                                          \
        (void)fixed;                                                                           \
        char *p = malloc(size);                                                                \
        if (p == NULL)                                                                         \
            return AB_ENOMEM;                                                                  \
        touch_buffer(p, size, mode);                                                           \
        free(p);                                                                               \
        return 0;                                                                              \
    }                                                                                          \
    OP_LOOP(op_malloc_##name)                                                                  \
    AB_NOINLINE static int op_calloc_##name(size_t size, char *fixed)                          \
    {                                                                                          \
        (void)fixed;                                                                           \
        char *p = calloc(1, size);                                                             \
        if (p == NULL)                                                                         \
            return AB_ENOMEM;                                                                  \
        touch_buffer(p, size, mode);                                                           \
        free(p);                                                                               \
        return 0;                                                                              \
    }                                                                                          \
    OP_LOOP(op_calloc_##name)                                                                  \
    AB_NOINLINE static int op_mmap_##name(size_t size, char *fixed)                            \
    {                                                                                          \
        (void)fixed;                                                                           \
        char *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0); \
        if (p == MAP_FAILED)                                                                   \
            return AB_ENOMEM;                                                                  \
        touch_buffer(p, size, mode);                                                           \
        munmap(p, size);                                                                       \
        return 0;                                                                              \
    }                                                                                          \
    OP_LOOP(op_mmap_##name)                                                                    \
    KERNELS_PROBED(name, mode)

KERNELS(none, AB_TOUCH_NONE)
KERNELS(first, AB_TOUCH_FIRST)
KERNELS(pages, AB_TOUCH_PAGES)
KERNELS(full, AB_TOUCH_FULL)
KERNELS(kernel, AB_TOUCH_KERNEL)

/* The loops record the lowest and highest address each buffer covered; the escape keeps every
 * allocation real although only the first byte is written. */
AB_NOINLINE size_t ab_loop_alloca(size_t size, uint32_t count)
{
    uintptr_t low = UINTPTR_MAX, high = 0;
    for (uint32_t i = 0; i < count; i++) {
        char *p = alloca(size);
        p[0] = 1;
        ab_escape(p);
        low = (uintptr_t)p < low ? (uintptr_t)p : low;
        high = (uintptr_t)p + size > high ? (uintptr_t)p + size : high;
    }
    return count ? high - low : 0;
}

AB_NOINLINE size_t ab_loop_vla(size_t size, uint32_t count)
{
    uintptr_t low = UINTPTR_MAX, high = 0;
    for (uint32_t i = 0; i < count; i++) {
        char buf[size]; /* released at the end of every iteration */
        buf[0] = 1;
        ab_escape(buf);
        low = (uintptr_t)buf < low ? (uintptr_t)buf : low;
        high = (uintptr_t)buf + size > high ? (uintptr_t)buf + size : high;
    }
    return count ? high - low : 0;
}

#define ROW(prefix, strategy)                                                               \
    {[AB_TOUCH_NONE] = prefix##strategy##_none, [AB_TOUCH_FIRST] = prefix##strategy##_first, \
     [AB_TOUCH_PAGES] = prefix##strategy##_pages, [AB_TOUCH_FULL] = prefix##strategy##_full, \
     [AB_TOUCH_KERNEL] = prefix##strategy##_kernel}

const ab_op ab_ops[AB_N_STRATEGIES][AB_N_TOUCHES] = {
    [AB_BASELINE] = ROW(op_, baseline),
    [AB_FIXED] = ROW(op_, fixed),
    [AB_ALLOCA] = ROW(op_, alloca),
    [AB_VLA] = ROW(op_, vla),
    [AB_MALLOC] = ROW(op_, malloc),
    [AB_CALLOC] = ROW(op_, calloc),
    [AB_MMAP] = ROW(op_, mmap),
#if AB_HAVE_PROBED
    [AB_ALLOCA_PROBED] = ROW(op_, alloca_probed),
    [AB_VLA_PROBED] = ROW(op_, vla_probed),
#endif
};

const ab_op_loop ab_op_loops[AB_N_STRATEGIES][AB_N_TOUCHES] = {
    [AB_BASELINE] = ROW(loop_op_, baseline),
    [AB_FIXED] = ROW(loop_op_, fixed),
    [AB_ALLOCA] = ROW(loop_op_, alloca),
    [AB_VLA] = ROW(loop_op_, vla),
    [AB_MALLOC] = ROW(loop_op_, malloc),
    [AB_CALLOC] = ROW(loop_op_, calloc),
    [AB_MMAP] = ROW(loop_op_, mmap),
#if AB_HAVE_PROBED
    [AB_ALLOCA_PROBED] = ROW(loop_op_, alloca_probed),
    [AB_VLA_PROBED] = ROW(loop_op_, vla_probed),
#endif
};
