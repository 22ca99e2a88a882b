/* Internal: how a kernel writes into its buffer, shared by kernels.c and patterns.c. */
#ifndef AB_TOUCH_H
#define AB_TOUCH_H

#include <stdint.h>
#include <string.h>

#include "ab_compat.h"
#include "alloca_bench.h"
#include "user_kernel.h"

/* Write into the buffer as the touch mode says.  The escape after the writes makes the compiler
 * keep every store: the asm may read the whole buffer. */
static AB_ALWAYS_INLINE void touch_buffer(char *p, size_t size, int touch)
{
    switch (touch) {
    case AB_TOUCH_FIRST:
        p[0] = 1;
        break;
    case AB_TOUCH_PAGES:
        for (size_t i = 0; i < size; i += AB_TOUCH_STRIDE)
            p[i] = 1;
        break;
    case AB_TOUCH_FULL:
        memset(p, 0xA5, size);
        break;
    case AB_TOUCH_KERNEL: /* an indirect call: the compiler cannot see into it */
        ab_kernel_work(p, size);
        break;
    default: /* AB_TOUCH_NONE */
        break;
    }
    ab_escape(p);
}

/* `need` bytes of stack (ab_stack_need) plus what the touch takes below the buffer: the loaded
 * kernel's measured use for AB_TOUCH_KERNEL (the built-in touches' frames fit in
 * AB_STACK_MARGIN).  SIZE_MAX when the sum overflows. */
static inline size_t touch_need(size_t need, int touch)
{
    size_t extra = touch == AB_TOUCH_KERNEL ? ab_kernel_stack : 0;
    return need > SIZE_MAX - extra ? SIZE_MAX : need + extra;
}

#endif /* AB_TOUCH_H */
