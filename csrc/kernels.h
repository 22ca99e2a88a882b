/* Internal: the table of kernels that run.c times.  Not part of the public API. */
#ifndef AB_KERNELS_H
#define AB_KERNELS_H

#include "alloca_bench.h"

/* One op: get `size` bytes, touch them per `touch`, give them back.  `fixed` is the caller's
 * preallocated buffer (AB_FIXED only).  Returns 0, or AB_ENOMEM when the allocator failed. */
typedef int (*ab_op)(size_t size, int touch, char *fixed);

/* Indexed by strategy; NULL where this build cannot make the strategy. */
extern const ab_op ab_ops[AB_N_STRATEGIES];

/* `count` allocations of `size` bytes in one loop in one frame; returns the bytes of stack they
 * spanned together (see ab_stack_loop). */
size_t ab_loop_alloca(size_t size, uint32_t count);
size_t ab_loop_vla(size_t size, uint32_t count);

#endif /* AB_KERNELS_H */
