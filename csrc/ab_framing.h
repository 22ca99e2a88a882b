/* The runner's output framing: what alloca_bench/_runner writes to its output pipe.  Mirrored,
 * constant for constant, by alloca_bench/measuring/_framing.py; change both together.
 *
 * A stream is a sequence of records.  Every record is an 8-byte header, two native-endian
 * uint32 (type, payload length in bytes), followed by the payload:
 *   AB_REC_HELLO   JSON: {"build_info": {...}, "pid", "cpu" (the CPU it and its
 *                  cells are pinned to, -1: none), "stack_headroom", "malloc_library",
 *                  "version", "glibc_version"}            first record of every runner
 *   AB_REC_CELL    JSON: {"cell", "pid", "affinity", "iterations", "calibrated",
 *                  "malloc_library", "mallinfo2": {...} | null, ["kernel_stack"]}  a cell's
 *                  process is ready (affinity: the CPUs it may run on, "0-3,7"; kernel_stack:
 *                  bytes of stack the user's kernel used, touch=kernel only)
 *   AB_REC_SAMPLE  struct ab_sample (binary)                one timed batch; a team cell
 *                  (threads=N) sends N of them in one record, thread 0 first
 *   AB_REC_FAILED  JSON: {"cell", "status", "reason"}     a cell failed; no more samples
 *   AB_REC_DONE    empty                                   the plan ran to its end
 *   AB_REC_BUSY    JSON: {"cell"}                          heartbeat: that cell's process is
 *                  using CPU on a batch (or its preparation) that has not ended yet
 * Samples are binary so that no figure passes through text. */
#ifndef AB_FRAMING_H
#define AB_FRAMING_H

#include <stdint.h>

#define AB_PLAN_MAGIC "alloca-bench-plan 1"

enum {
    AB_REC_HELLO = 1,
    AB_REC_CELL = 2,
    AB_REC_SAMPLE = 3,
    AB_REC_FAILED = 4,
    AB_REC_DONE = 5,
    AB_REC_BUSY = 6,
};

struct ab_record_header {
    uint32_t type;
    uint32_t length; /* payload bytes that follow */
};

/* One timed batch of one cell (of one thread of its team): the per-op means of the batch. */
struct ab_sample {
    uint32_t cell;   /* the cell's id in the plan */
    uint32_t round;  /* the round's index in the plan (global over all processes) */
    double ns_per_op;
    double minflt_per_op;
    double majflt_per_op;
    uint32_t thread;  /* which thread of the cell's team took it (0 without threads=) */
    uint32_t threads; /* threads in the team (1 without threads=) */
    /* Wall time of the whole batch per op of one thread: from the first thread's start to the
     * last one's end (= ns_per_op without threads=).  Threads that did not really run at the
     * same time show here, not in ns_per_op: throughput is threads / span. */
    double span_ns_per_op;
    /* The measuring thread's CPU time per op and its involuntary context switches during the
     * batch (0: not preempted), with the attempts thrown away as preempted before it
     * (struct ab_batch). */
    double cpu_ns_per_op;
    uint32_t switches;
    uint32_t retakes;
};

/* Statuses of FAILED records besides ab_run()'s (alloca_bench.h): the runner's own findings. */
enum {
    AB_STATUS_CELL_LOST = -100,       /* the cell's process died, hung or could not start */
    AB_STATUS_WRONG_ALLOCATOR = -101, /* malloc is not served by the library the cell expects */
};

/* Exit statuses of the runner besides 0 (plan done). */
enum {
    AB_EXIT_USAGE = 2,   /* bad command line */
    AB_EXIT_PLAN = 3,    /* the plan could not be read or parsed: the reason is on stderr */
    AB_EXIT_IO = 4,      /* the output pipe or a cell's socket failed */
};

#endif /* AB_FRAMING_H */
