/* Internal to the runner executable (runner.c, runner_io.c, runner_cell.c, patterns.c): the
 * plan, one cell's process, and the JSON/record writers.  Not part of the public API.
 *
 * The plan is text that Python writes on the runner's stdin, one directive a line, each a word
 * followed by key=value fields (no spaces inside values); unknown keys are refused, so newer
 * fields (threads=, pattern=) can be added without guessing:
 *   alloca-bench-plan 1
 *   options setup_parallel=2 pin=1      (optional: cells preparing at once; one CPU for all)
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

#include "ab_framing.h"
#include "patterns.h"
#include "user_kernel.h"

#define AB_PATH_MAX 1024

/* glibc >= 2.33 has mallinfo2() (size_t fields); elsewhere no heap statistics are recorded. */
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 33))
#define AB_HAVE_MALLINFO2 1
#else
#define AB_HAVE_MALLINFO2 0
#endif

enum ab_heap { AB_HEAP_FRESH = 0, AB_HEAP_AGED = 1 };

struct ab_cell {
    uint32_t id;
    int strategy, touch;
    size_t size;
    uint64_t iterations;   /* 0: calibrate */
    int heap;              /* enum ab_heap */
    uint32_t warmup;       /* discarded batches before the first timed one */
    double target_ns;      /* calibration target per batch */
    size_t stack_size;     /* > 0: run on one worker thread with this stack */
    uint64_t timeout_ms;   /* a cell silent this long (plus 20 x its longest answer) hangs */
    char expect[AB_PATH_MAX];   /* library that must serve malloc ("" = no check) */
    char preload[AB_PATH_MAX];  /* LD_PRELOAD of the cell's process ("" = none) */
    char tunables[AB_PATH_MAX]; /* GLIBC_TUNABLES of the cell's process ("" = none) */
    struct ab_team_spec team;   /* threads=, pattern=, dist=: see patterns.h */
    struct ab_kernel_spec kernel; /* kernel=, function=: see user_kernel.h */
    uint64_t report_stack; /* 1: the CELL record says the main thread's stack mapping before
                              the first op (stack_start) and after the warm-up (stack) */
    /* parent-side state */
    int fd;                /* socket to the cell's process, -1 when not running */
    pid_t pid;
    double longest_ms;     /* its longest answer so far */
};

/* A plan field's unsigned decimal integer, at most `max`: 0 and *out, or -1 (no digits, a sign,
 * trailing text, or above max) with *out untouched. */
int ab_parse_u64(const char *text, uint64_t max, uint64_t *out);

/* Parse one "cell ..." line (NUL-terminated, without the newline) into *cell.  Returns 0, or -1
 * with a message naming the field in `err` (size `errlen`). */
int ab_parse_cell(const char *line, struct ab_cell *cell, char *err, size_t errlen);

/* A growing text buffer for one JSON record, on the stack: no malloc in the runner's parent. */
struct ab_json {
    char text[8192];
    size_t len;
};
void ab_json_raw(struct ab_json *j, const char *text);
void ab_json_key(struct ab_json *j, const char *key);      /* "key": (with a comma if needed) */
void ab_json_str(struct ab_json *j, const char *value);    /* a JSON string, or null */
void ab_json_num(struct ab_json *j, double value);         /* %.17g, or null when not finite */

/* Write all `len` bytes, retrying short writes and EINTR.  Returns 0 or -1. */
int ab_write_all(int fd, const void *data, size_t len);
/* Read exactly `len` bytes.  Returns 1, 0 at a clean EOF before any byte, -1 on error. */
int ab_read_all(int fd, void *data, size_t len);
/* One record: header + payload.  Returns 0 or -1. */
int ab_send(int fd, uint32_t type, const void *payload, uint32_t length);
/* From now on, records sent to `fd` (-1: none) are buffered until ab_flush_output(). */
void ab_buffer_output(int fd);
/* Write the buffered records.  Returns 0 or -1. */
int ab_flush_output(void);
/* A FAILED record for `cell`; `headroom` (bytes of stack left, for AB_ESTACK) when >= 0. */
int ab_send_failed(int fd, uint32_t cell, int status, const char *reason, long long headroom);

/* Which library serves malloc in this process and its version, as JSON fields (no braces):
 * "malloc_library": ..., "version": ..., "glibc_version": ... */
void ab_probe_json(struct ab_json *j);

/* The cell's process: check the allocator, age the heap, record mallinfo2, calibrate, warm up,
 * send a CELL record on `fd`, then answer each round number read from `fd` with one SAMPLE
 * record until EOF.  Any failure is one FAILED record.  Returns the process's exit status. */
int ab_cell_main(int fd, struct ab_cell *cell);

/* splitmix64: the same sequence on every machine, whatever its libc's rand(). */
uint64_t ab_next_random(uint64_t *state);

/* The ageing workload of heap="aged" (documented in docs/how-it-measures.md, "Heap states"). */
void ab_age_heap(void);

#endif /* AB_RUNNER_H */
