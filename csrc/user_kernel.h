/* Internal: the user's own kernel, a function `void work(char *buf, size_t n)` in a shared
 * library that a cell's process loads (plan fields kernel= and function=, runner.h).  Touch mode
 * AB_TOUCH_KERNEL calls it on the buffer of every op, so every strategy becomes "get n bytes,
 * work(buf, n), give them back", and `fixed` the work alone.  Not part of the public API. */
#ifndef AB_USER_KERNEL_H
#define AB_USER_KERNEL_H

#include <stddef.h>

#define AB_KERNEL_PATH_MAX 1024
#define AB_KERNEL_NAME_MAX 256
/* The deepest stack use of the kernel that ab_kernel_load() can see; a kernel that reaches the
 * bottom of this is charged all of it. */
#define AB_KERNEL_STACK_PAINT (1024 * 1024)

typedef void (*ab_kernel_fn)(char *buf, size_t n);

/* The loaded kernel (NULL until ab_kernel_load() succeeds) and the bytes of stack below its
 * caller's frame that one call of it used when loaded (what the stack guard adds). */
extern ab_kernel_fn ab_kernel_work;
extern size_t ab_kernel_stack;

struct ab_kernel_spec {
    char path[AB_KERNEL_PATH_MAX];     /* shared library ("" = no kernel) */
    char function[AB_KERNEL_NAME_MAX]; /* its symbol */
};

/* One plan field: 1 when `key` is kernel= or function= (and its value fits), 0 when it is not
 * one of them, -1 when its value is bad. */
int ab_kernel_field(const char *key, const char *value, struct ab_kernel_spec *spec);

/* dlopen the library, find the function, call it once on a buffer of `size` bytes (from mmap,
 * not malloc: the heap stays the cell's) and measure the stack that call used (painting below
 * this frame, up to AB_KERNEL_STACK_PAINT or half of `headroom`, the bytes of stack this thread
 * has left: the caller asks ab_stack_headroom(), so this unit calls nothing of run.c).  Run it on
 * the thread whose stack the batches use.  Returns AB_OK, or AB_EKERNEL with dlerror()'s words
 * in `err` (`errlen` bytes), or AB_ENOMEM. */
int ab_kernel_load(const struct ab_kernel_spec *spec, size_t size, size_t headroom, char *err,
                   size_t errlen);

#endif /* AB_USER_KERNEL_H */
