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

AB_NOINLINE static int op_baseline(size_t size, int touch, char *fixed)
{
    char local;
    (void)size; (void)touch; (void)fixed;
    ab_escape(&local);
    return 0;
}

AB_NOINLINE static int op_fixed(size_t size, int touch, char *fixed)
{
    touch_buffer(fixed, size, touch);
    return 0;
}

AB_NOINLINE static int op_alloca(size_t size, int touch, char *fixed)
{
    (void)fixed;
    char *p = alloca(size);
    touch_buffer(p, size, touch);
    return 0;
}

AB_NOINLINE static int op_vla(size_t size, int touch, char *fixed)
{
    (void)fixed;
    char buf[size];
    touch_buffer(buf, size, touch);
    return 0;
}

AB_NOINLINE static int op_malloc(size_t size, int touch, char *fixed)
{
    (void)fixed;
    char *p = malloc(size);
    if (p == NULL)
        return AB_ENOMEM;
    touch_buffer(p, size, touch);
    free(p);
    return 0;
}

AB_NOINLINE static int op_calloc(size_t size, int touch, char *fixed)
{
    (void)fixed;
    char *p = calloc(1, size);
    if (p == NULL)
        return AB_ENOMEM;
    touch_buffer(p, size, touch);
    free(p);
    return 0;
}

AB_NOINLINE static int op_mmap(size_t size, int touch, char *fixed)
{
    (void)fixed;
    char *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return AB_ENOMEM;
    touch_buffer(p, size, touch);
    munmap(p, size);
    return 0;
}

#if AB_HAVE_PROBED
AB_NOINLINE AB_PROBED static int op_alloca_probed(size_t size, int touch, char *fixed)
{
    (void)fixed;
    char *p = alloca(size);
    touch_buffer(p, size, touch);
    return 0;
}

AB_NOINLINE AB_PROBED static int op_vla_probed(size_t size, int touch, char *fixed)
{
    (void)fixed;
    char buf[size];
    touch_buffer(buf, size, touch);
    return 0;
}
#endif

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

const ab_op ab_ops[AB_N_STRATEGIES] = {
    [AB_BASELINE] = op_baseline,
    [AB_FIXED] = op_fixed,
    [AB_ALLOCA] = op_alloca,
    [AB_VLA] = op_vla,
    [AB_MALLOC] = op_malloc,
    [AB_CALLOC] = op_calloc,
    [AB_MMAP] = op_mmap,
#if AB_HAVE_PROBED
    [AB_ALLOCA_PROBED] = op_alloca_probed,
    [AB_VLA_PROBED] = op_vla_probed,
#endif
};
