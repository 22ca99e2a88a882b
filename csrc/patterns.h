/* Internal to the runner: cells run by a team of threads (threads=, pattern=) and cells whose
 * ops take their sizes from a seeded distribution (dist=).  Not part of the public API.
 *
 * Plan fields (runner.h) of such a cell, all optional; a cell with none of them runs through
 * ab_run() as before:
 *   threads=N        N >= 1 worker threads, thread i pinned to the i-th CPU of the process's
 *                    affinity mask (round robin), meeting at a barrier before every batch; each
 *                    runs the whole batch and reports its own ns/op, and the team's span (first
 *                    start to last end) is sent with them (one SAMPLE record carries the N
 *                    samples of a round, thread 0 first)
 *   pattern=same     each thread frees what it allocated, op by op (the kernels of kernels.c)
 *   (under cross and hold, baseline passes a pointer to a static byte through the same rings or
 *   window without allocating: the pattern's own cost; fixed runs as in `same`; stack
 *   strategies refuse cross and hold with AB_EUNAVAILABLE)
 *   pattern=cross    thread k allocates and touches, pushes the block into ring k, pops a block
 *                    from ring k-1 (mod N) and frees it: with N >= 2 every free is of a block
 *                    another thread allocated (one thread: its own, one op later)
 *   pattern=hold     each thread keeps a FIFO window of `window=` (default 64) live blocks: every
 *                    op allocates and touches one and frees the oldest
 *   dist=uniform|loguniform low=L seed=S
 *                    op i of every thread takes size table[i mod AB_SIZE_TABLE] between L and
 *                    the cell's size, the table drawn by splitmix64 from S (alloca_bench/
 *                    sizes.py draws the same table, value for value) */
#ifndef AB_PATTERNS_H
#define AB_PATTERNS_H

#include <stddef.h>
#include <stdint.h>

#include "ab_cell.h"
#include "runner_wire.h"

#define AB_MAX_THREADS 64
#define AB_SIZE_TABLE 4096      /* sizes of a distribution, reused cyclically */
#define AB_RING_SLOTS 64        /* blocks in flight between two threads (pattern=cross) */
#define AB_HOLD_WINDOW_MAX 4096 /* largest window= of pattern=hold */
#define AB_HOLD_WINDOW_DEFAULT 64

/* splitmix64: the same sequence on every machine, whatever its libc's rand() (the size table
 * here, the heap ageing of runner_cell.c). */
uint64_t ab_next_random(uint64_t *state);

/* One plan field of a team cell: 1 when `key` is one (and its value good), 0 when `key` is not a
 * team field, -1 when its value is bad. */
int ab_team_field(const char *key, const char *value, struct ab_team_spec *team);

/* Whether the cell runs in a team (any of threads=, pattern=, dist= given): asked once per cell
 * (runner_cell.c picks its table of plain or team ops; runner.c whether to unpin it). */
int ab_team_wanted(const struct ab_cell *cell);

/* Start the cell's team: draw the size table, create its threads (each with the cell's
 * stack_size when > 0), check the stack guard on each, and with a distribution run one
 * untimed pass over the table.  Returns AB_OK or a status. */
int ab_team_start(const struct ab_cell *cell);

/* Run one batch of `n` ops on every thread of the team, started together at a barrier.  Writes
 * the mean over the threads of ns/op and faults/op to *mean (for calibration and warm-up) and
 * keeps each thread's own for ab_team_send().  Returns AB_OK or the first failing status. */
int ab_team_batch(uint64_t n, struct ab_sample *mean);

/* Bytes of stack below the frames of the team's threads when they started (the least of
 * them), as the guard saw it; for a stack strategy after ab_team_start(), else undefined. */
size_t ab_team_headroom(void);

/* Send the last batch's samples, one per thread, as one SAMPLE record.  Returns 0 or -1. */
int ab_team_send(int fd, uint32_t cell, uint32_t round);

/* JSON fields (no braces) of the team: "threads", "pattern", "cpus" (CPUs this process may run
 * on), "size_sequence": {"count", "sum", "head"} (the size table's fingerprint) or null. */
void ab_team_json(struct ab_json *j, const struct ab_cell *cell);

#endif /* AB_PATTERNS_H */
