/* Internal to the runner executable (runner.c, runner_plan.c, runner_cell.c): the plan, its
 * parser and one cell's process.  Not part of the public API.
 *
 * The plan is text that Python writes on the runner's stdin, one directive a line, each a word
 * followed by key=value fields (no spaces inside values); unknown keys are refused, so newer
 * fields (threads=, pattern=) can be added without guessing:
 *   alloca-bench-plan 1
 *   options setup_parallel=2 pin=1 [cpus=0,2]   (optional: cells preparing at once; one CPU
 *                                                for all; the CPUs the runner starts on)
 *   cell id=0 strategy=4 touch=0 size=64 iterations=0 heap=fresh warmup=1 target_ns=2000000
 *        stack_size=0 timeout_ms=30000 [expect=/lib/libjemalloc.so.2] [preload=/lib/...]
 *        [tunables=glibc.malloc....] [report_stack=1] [threads=2 pattern=cross window=64 dist=loguniform
 *        low=16 seed=1]                          (team cells: patterns.h)
 *        [kernel=/path/libk.so function=work]   (touch=4, the user's kernel: user_kernel.h)
 *   round index=0 cells=3,0,2,1
 *   end
 * iterations=0 means "calibrate to target_ns per batch".  Cells run in the order each round
 * lists them; each cell runs in its own process (see runner.c). */
#ifndef AB_RUNNER_H
#define AB_RUNNER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "ab_cell.h"
#include "runner_wire.h"

/* glibc >= 2.33 has mallinfo2() (size_t fields); elsewhere no heap statistics are recorded. */
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 33))
#define AB_HAVE_MALLINFO2 1
#else
#define AB_HAVE_MALLINFO2 0
#endif

/* Parse one "cell ..." line (NUL-terminated, without the newline) into *cell.  Returns 0, or -1
 * with a message naming the field in `err` (size `errlen`). */
int ab_parse_cell(const char *line, struct ab_cell *cell, char *err, size_t errlen);

/* Which library serves malloc in this process and its version, as JSON fields (no braces):
 * "malloc_library": ..., "version": ..., "glibc_version": ... */
void ab_probe_json(struct ab_json *j);

/* The cell's process: check the allocator, age the heap, record mallinfo2, calibrate, warm up,
 * send a CELL record on `fd`, then answer each round number read from `fd` with one SAMPLE
 * record until EOF.  Any failure is one FAILED record.  Returns the process's exit status. */
int ab_cell_main(int fd, struct ab_cell *cell);

/* The ageing workload of heap="aged" (documented in docs/how-it-measures.md, "Heap states"). */
void ab_age_heap(void);

#endif /* AB_RUNNER_H */
