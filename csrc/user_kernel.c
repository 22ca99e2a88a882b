/* The user's kernel: loading it, measuring its stack, and the pointer touch mode
 * AB_TOUCH_KERNEL calls (ab_touch.h).  Built into the extension and the runner; only the
 * runner's cells load a kernel (a crash then costs a cell, never the interpreter). */
#define _GNU_SOURCE
#include <alloca.h>
#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

#include "ab_compat.h"
#include "alloca_bench.h"
#include "user_kernel.h"

ab_kernel_fn ab_kernel_work;
size_t ab_kernel_stack;

static int copy_field(char *dst, size_t cap, const char *value)
{
    size_t n = strlen(value);
    if (n == 0 || n >= cap)
        return -1;
    memcpy(dst, value, n + 1);
    return 1;
}

int ab_kernel_field(const char *key, const char *value, struct ab_kernel_spec *spec)
{
    if (strcmp(key, "kernel") == 0)
        return copy_field(spec->path, sizeof spec->path, value);
    if (strcmp(key, "function") == 0)
        return copy_field(spec->function, sizeof spec->function, value);
    return 0;
}

/* Fill `depth` bytes just below this call's frame with `byte`; the address of the lowest, as
 * an integer that the compiler cannot trace back to the alloca (gcc turns a returned address of
 * a local into NULL). */
static AB_NOINLINE uintptr_t paint(size_t depth, unsigned char byte)
{
    char *p = alloca(depth);
    memset(p, byte, depth);
    uintptr_t at = (uintptr_t)p;
    __asm__ volatile("" : "+r"(at) : : "memory");
    return at;
}

/* Bytes below this frame that work(buf, n) wrote: paint the stack it is about to use, call
 * it, and find the lowest byte that is no longer the paint.  Reaching the bottom counts as
 * `depth`.  The reads below the stack pointer are of this thread's own mapped stack. */
static AB_NOINLINE size_t used_below(ab_kernel_fn work, char *buf, size_t n, size_t depth,
                                     unsigned char byte)
{
    const volatile unsigned char *top = __builtin_frame_address(0);
    const volatile unsigned char *p = (const volatile unsigned char *)paint(depth, byte);
    work(buf, n);
    while (p < top && *p == byte)
        p++;
    return (size_t)(top - p);
}

int ab_kernel_load(const struct ab_kernel_spec *spec, size_t size, size_t headroom, char *err,
                   size_t errlen)
{
    void *library = dlopen(spec->path, RTLD_NOW | RTLD_LOCAL);
    if (library == NULL) {
        snprintf(err, errlen, "cannot load the kernel: %s", dlerror());
        return AB_EKERNEL;
    }
    dlerror();
    ab_kernel_fn work = (ab_kernel_fn)dlsym(library, spec->function);
    if (work == NULL) {
        const char *why = dlerror();
        snprintf(err, errlen, "the kernel %s has no function %s%s%s", spec->path,
                 spec->function, why ? ": " : "", why ? why : "");
        return AB_EKERNEL;
    }
    char *buf = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (buf == MAP_FAILED) {
        snprintf(err, errlen, "kernel: no memory for its %zu-byte trial buffer", size);
        return AB_ENOMEM;
    }
    size_t depth = headroom / 2 < AB_KERNEL_STACK_PAINT ? headroom / 2 : AB_KERNEL_STACK_PAINT;
    /* Two paints: a kernel that happens to write one of them back is caught by the other. */
    size_t a = used_below(work, buf, size, depth, 0xCD);
    size_t b = used_below(work, buf, size, depth, 0x32);
    munmap(buf, size);
    ab_kernel_stack = a > b ? a : b;
    ab_kernel_work = work;
    return AB_OK;
}
