/* Internal: the table of kernels that run.c times.  Not part of the public API. */
#ifndef AB_KERNELS_H
#define AB_KERNELS_H

#include "alloca_bench.h"

/* One op: get `size` bytes, touch them as the kernel's touch mode says, give them back.
 * `fixed` is the caller's preallocated buffer (AB_FIXED only).  Returns 0, or AB_ENOMEM when
 * the allocator failed. */
typedef int (*ab_op)(size_t size, char *fixed);

/* Indexed by strategy, then touch mode; NULL where this build cannot make the strategy. */
extern const ab_op ab_ops[AB_N_STRATEGIES][AB_N_TOUCHES];

/* `n` ops of one kernel, called directly in a loop (no indirect call per op).  Returns 0, or
 * the first failing op's status. */
typedef int (*ab_op_loop)(size_t size, char *fixed, uint64_t n);

/* The batch loop of each entry of ab_ops, at the same place. */
extern const ab_op_loop ab_op_loops[AB_N_STRATEGIES][AB_N_TOUCHES];

/* `count` allocations of `size` bytes in one loop in one frame; returns the bytes of stack they
 * spanned together (see ab_stack_loop). */
size_t ab_loop_alloca(size_t size, uint32_t count);
size_t ab_loop_vla(size_t size, uint32_t count);

#endif /* AB_KERNELS_H */
