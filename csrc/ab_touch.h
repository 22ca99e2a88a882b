/* Internal: how a kernel writes into its buffer, shared by kernels.c and patterns.c. */
#ifndef AB_TOUCH_H
#define AB_TOUCH_H

#include <string.h>

#include "ab_compat.h"
#include "alloca_bench.h"

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
    default: /* AB_TOUCH_NONE */
        break;
    }
    ab_escape(p);
}

#endif /* AB_TOUCH_H */
