/* alloca_bench/_runner: the plain C process that measures by default.
 *
 *   _runner --build-info     print the build info (the JSON ab_build_info() returns)
 *   _runner --probe          print {"malloc_library", "version", "glibc_version"} as JSON
 *   _runner --out-fd N       read a plan (runner.h) on stdin, write records (ab_framing.h) to N
 *   _runner --cell FD LINE   internal: one cell's process, re-executed with its LD_PRELOAD or
 *                            GLIBC_TUNABLES, serving the parent on socket FD
 *
 * Each cell runs in its own process, forked from this one before any cell ran: a heap cell
 * starts from the heap of a C program that has just started, whatever the other cells of the
 * sweep are, and keeps its own state from round to round.  A cell with an environment of its
 * own (an allocator to preload, glibc tunables) is re-executed so that the loader applies it.
 * This parent only relays: it sends each cell the number of the round to run, in the order of
 * the plan, and forwards the sample.  It never calls malloc after start-up, so every fork
 * copies the same heap.  SIGINT is ignored here: the Python side owns Ctrl-C and kills the
 * runner, and every cell process dies with its parent (PR_SET_PDEATHSIG).  SIGPIPE is ignored
 * too: a dead cell or a closed output is an error return from write(), handled in place. */
#define _GNU_SOURCE
#include <errno.h>
#include <math.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "alloca_bench.h"
#include "patterns.h"
#include "runner.h"

#define MAX_PAYLOAD (1u << 20)

static int out_fd = -1;
static struct ab_cell *cells;
static size_t n_cells;
static char **cell_lines; /* each cell's plan line, for a re-executed cell */
static char **round_lines; /* the plan's round lines, in order */
static size_t n_rounds;
/* Cells that prepare (calibrate, warm up) at the same time; nothing is timed until all are
 * ready, so only a calibration (which times batches) needs them one at a time. */
static unsigned long setup_parallel = 1;
/* The runner and its cells share one CPU (options pin=1, the default): a cell then starts on
 * the CPU its predecessor just left, instead of waiting for a busy one, and never migrates
 * during a batch.  Team cells (threads=N) get the runner's original CPUs back: the set of
 * options cpus= when the plan gives one, else the CPUs it was started with. */
static unsigned long pin = 1;
static cpu_set_t asked_cpus; /* options cpus=0,2,...; empty: not asked */
static cpu_set_t original_cpus;
static int pinned_cpu = -1;

static int die(int status, const char *fmt, const char *arg)
{
    fprintf(stderr, "alloca_bench runner: ");
    fprintf(stderr, fmt, arg);
    fputc('\n', stderr);
    return status;
}

/* The whole of stdin, NUL-terminated, in anonymous memory (not malloc's heap). */
static char *read_plan(size_t *len)
{
    size_t cap = 1 << 20, used = 0;
    char *buf = mmap(NULL, cap, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (buf == MAP_FAILED)
        return NULL;
    for (;;) {
        if (used + 1 >= cap) {
            char *grown = mremap(buf, cap, 2 * cap, MREMAP_MAYMOVE);
            if (grown == MAP_FAILED)
                return NULL;
            buf = grown, cap *= 2;
        }
        ssize_t n = read(0, buf + used, cap - 1 - used);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return NULL;
        if (n == 0)
            break;
        used += (size_t)n;
    }
    buf[used] = '\0';
    *len = used;
    return buf;
}

static void *anon(size_t bytes)
{
    void *p = mmap(NULL, bytes ? bytes : 1, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

/* "0,2,5" (CPU numbers, each below CPU_SETSIZE) into *set; 0, or -1 when malformed. */
static int parse_cpu_list(const char *text, cpu_set_t *set)
{
    CPU_ZERO(set);
    for (const char *p = text;;) {
        char *end;
        errno = 0;
        unsigned long cpu = strtoul(p, &end, 10);
        if (end == p || errno != 0 || cpu >= CPU_SETSIZE || (*end != ',' && *end != '\0'))
            return -1;
        CPU_SET(cpu, set);
        if (*end == '\0')
            return 0;
        p = end + 1;
    }
}

/* "options setup_parallel=N pin=0|1 [cpus=LIST]": 0, or -1 when malformed. */
static int parse_options(const char *line)
{
    char list[1024], extra;
    int n = sscanf(line, "options setup_parallel=%lu pin=%lu cpus=%1023[0-9,]%c",
                   &setup_parallel, &pin, list, &extra);
    if (n < 2 || setup_parallel == 0 || pin > 1)
        return -1;
    if (n == 2) { /* no cpus=: nothing may follow pin= */
        int at = 0;
        sscanf(line, "options setup_parallel=%*u pin=%*u%n", &at);
        return at > 0 && line[at] == '\0' ? 0 : -1;
    }
    return n == 3 ? parse_cpu_list(list, &asked_cpus) : -1;
}

/* Split the plan into lines, check its magic and end, and parse every cell line. */
static int parse_plan(char *plan)
{
    char err[256];
    size_t lines = 0;
    for (char *p = plan; *p; p++)
        lines += *p == '\n';
    cells = anon((lines + 1) * sizeof *cells);
    cell_lines = anon((lines + 1) * sizeof *cell_lines);
    round_lines = anon((lines + 1) * sizeof *round_lines);
    if (cells == NULL || cell_lines == NULL || round_lines == NULL)
        return die(AB_EXIT_PLAN, "%s", "no memory for the plan");
    int ended = 0;
    char *save = NULL;
    char *line = strtok_r(plan, "\n", &save);
    if (line == NULL || strcmp(line, AB_PLAN_MAGIC) != 0)
        return die(AB_EXIT_PLAN, "the plan must start with '%s'", AB_PLAN_MAGIC);
    /* Blank lines are skipped (strtok_r), and nothing may follow 'end': a plan cut and glued
     * to another must not run the second one's rounds. */
    while ((line = strtok_r(NULL, "\n", &save)) != NULL) {
        if (ended) {
            return die(AB_EXIT_PLAN, "a line after 'end': %.80s", line);
        } else if (strncmp(line, "cell ", 5) == 0) {
            struct ab_cell *c = &cells[n_cells];
            if (ab_parse_cell(line, c, err, sizeof err) != 0)
                return die(AB_EXIT_PLAN, "%s", err);
            if (c->id != n_cells)
                return die(AB_EXIT_PLAN, "%s", "cell ids must be 0, 1, 2, ... in order");
            cell_lines[n_cells++] = line;
        } else if (strncmp(line, "options ", 8) == 0) {
            if (parse_options(line) != 0)
                return die(AB_EXIT_PLAN, "bad options line: %.80s", line);
        } else if (strncmp(line, "round ", 6) == 0) {
            round_lines[n_rounds++] = line; /* parsed when it runs */
        } else if (strcmp(line, "end") == 0) {
            ended = 1;
        } else {
            return die(AB_EXIT_PLAN, "unknown plan line: %.80s", line);
        }
    }
    return ended ? 0 : die(AB_EXIT_PLAN, "%s", "the plan has no 'end' line (truncated?)");
}

/* ---- cell processes -------------------------------------------------------------------------- */

static void reap(struct ab_cell *c, char *reason, size_t len)
{
    int status = 0;
    close(c->fd);
    c->fd = -1;
    if (waitpid(c->pid, &status, 0) < 0)
        snprintf(reason, len, "the cell's process %ld vanished", (long)c->pid);
    else if (WIFSIGNALED(status))
        snprintf(reason, len, "the cell's process %ld was killed by signal %d (%s)",
                 (long)c->pid, WTERMSIG(status), strsignal(WTERMSIG(status)));
    else
        snprintf(reason, len, "the cell's process %ld exited with status %d", (long)c->pid,
                 WEXITSTATUS(status));
}

static double now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

/* CPU time the process `pid` (a child) has used, in ms; -1 when it cannot be read. */
static double cpu_ms(pid_t pid)
{
    clockid_t clock;
    struct timespec t;
    if (clock_getcpuclockid(pid, &clock) != 0 || clock_gettime(clock, &t) != 0)
        return -1;
    return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

/* A BUSY record for cell `c`, written at once (after what is buffered, to keep the order). */
static void send_busy(const struct ab_cell *c)
{
    char text[32];
    int n = snprintf(text, sizeof text, "{\"cell\": %u}", c->id);
    if (ab_send(out_fd, AB_REC_BUSY, text, (uint32_t)n) != 0 || ab_flush_output() != 0)
        _exit(AB_EXIT_IO);
}

/* Wait for cell `c` to answer: 1 when it has, 0 when it hung.  Its allowance is the plan's
 * timeout_ms plus 20 times its longest answer so far.  A cell whose process uses no CPU for
 * that long is hung; so is one that takes that long in all once the length of its batches is
 * known: it calibrated (the batches last about target_ns), warmed up (a warm-up batch is a
 * quarter of a timed one) or answered a timed batch.  Only the first batch of a cell with
 * iterations given and no warm-up has no known length: it may run as long as it keeps working.
 * A user kernel's cell is bounded until its first answer (the CELL record): a kernel that spins
 * in its trial call would otherwise keep its cell "working" forever; the price is that such a
 * cell's warm-up with iterations given must end within the timeout.  Every heartbeat (a quarter of
 * timeout_ms, at most 5 s) that the cell used CPU, a BUSY record tells the client that the
 * runner is not hung. */
static int answered(struct ab_cell *c, double since)
{
    double allowance = (double)c->timeout_ms + 20 * c->longest_ms;
    double heartbeat = fmin(5000.0, fmax(1.0, (double)c->timeout_ms / 4));
    double used = cpu_ms(c->pid), working = since;
    int bounded = used < 0 || c->iterations == 0 ||
                  (c->answers == 0 && c->touch == AB_TOUCH_KERNEL) ||
                  c->answers > (c->warmup > 0 ? 0u : 1u);
    for (;;) {
        double now = now_ms();
        double left = allowance - (now - (bounded ? since : working));
        if (left <= 0)
            return 0;
        left = fmin(left, heartbeat);
        /* The output too: when its reader is gone (POLLERR on a pipe whose read end closed),
         * this runner exits at once, and its cells with it, instead of at the next flush. */
        struct pollfd p[2] = {{.fd = c->fd, .events = POLLIN}, {.fd = out_fd, .events = 0}};
        int rc = poll(p, 2, (int)left + 1);
        if (rc > 0 && p[1].revents != 0)
            _exit(AB_EXIT_IO);
        if (rc > 0 || (rc < 0 && errno != EINTR))
            return 1; /* data, EOF or an error: the read says which */
        double now_used = cpu_ms(c->pid);
        if (rc == 0 && now_used > used) {
            used = now_used, working = now_ms();
            send_busy(c);
        }
    }
}

/* Forward one record from cell `c` to the output; a cell that died, hung or failed is reaped
 * and gets a FAILED record.  Returns 0, or -1 when the output pipe is gone. */
static int relay(struct ab_cell *c)
{
    static char payload[MAX_PAYLOAD];
    struct ab_record_header h;
    char reason[600];
    double since = now_ms();
    if (!answered(c, since)) {
        double waited = now_ms() - since;
        kill(c->pid, SIGKILL);
        char why[80];
        reap(c, why, sizeof why);
        snprintf(reason, sizeof reason, "the cell's process %ld did not answer within %.0f ms "
                 "(hung): killed", (long)c->pid, waited);
        return ab_send_failed(out_fd, c->id, AB_STATUS_CELL_LOST, reason, -1);
    }
    int got = ab_read_all(c->fd, &h, sizeof h);
    if (got == 1 && h.length <= MAX_PAYLOAD && ab_read_all(c->fd, payload, h.length) == 1) {
        double took = now_ms() - since;
        c->longest_ms = took > c->longest_ms ? took : c->longest_ms;
        c->answers++;
        if (ab_send(out_fd, h.type, payload, h.length) != 0)
            return -1;
        if (h.type == AB_REC_FAILED)
            reap(c, reason, sizeof reason);
        return 0;
    }
    reap(c, reason, sizeof reason);
    return ab_send_failed(out_fd, c->id, AB_STATUS_CELL_LOST, reason, -1);
}

static void child_exec(struct ab_cell *c, int fd)
{
    char fd_text[16];
    if (c->preload[0])
        setenv("LD_PRELOAD", c->preload, 1);
    if (c->tunables[0])
        setenv("GLIBC_TUNABLES", c->tunables, 1);
    fcntl(fd, F_SETFD, 0);
    snprintf(fd_text, sizeof fd_text, "%d", fd);
    execl("/proc/self/exe", "alloca_bench_runner", "--cell", fd_text, cell_lines[c->id],
          (char *)NULL);
    ab_send_failed(fd, c->id, AB_STATUS_CELL_LOST, "the runner could not re-execute itself", -1);
    _exit(AB_EXIT_IO);
}

/* Fork the cell's process; it prepares on its own and then sends its CELL record. */
static int start_cell(struct ab_cell *c)
{
    int sv[2];
    pid_t parent = getpid();
    char reason[160];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
        struct rlimit files = {0, 0};
        getrlimit(RLIMIT_NOFILE, &files);
        snprintf(reason, sizeof reason, "socketpair failed: %s (errno %d; RLIMIT_NOFILE %llu, "
                 "every cell holds a socket)", strerror(errno), errno,
                 (unsigned long long)files.rlim_cur);
        return ab_send_failed(out_fd, c->id, AB_STATUS_CELL_LOST, reason, -1);
    }
    pid_t pid = fork();
    if (pid < 0) {
        snprintf(reason, sizeof reason, "fork failed: %s (errno %d)", strerror(errno), errno);
        close(sv[0]), close(sv[1]);
        return ab_send_failed(out_fd, c->id, AB_STATUS_CELL_LOST, reason, -1);
    }
    if (pid == 0) {
        ab_buffer_output(-1);
        if (pinned_cpu >= 0 && ab_team_wanted(c))
            sched_setaffinity(0, sizeof original_cpus, &original_cpus);
        /* Never outlive the runner: without the death signal, or with the runner already
         * gone, this process has nothing to serve. */
        if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent)
            _exit(AB_EXIT_IO);
        close(sv[0]);
        close(out_fd);
        close(0);
        for (size_t i = 0; i < n_cells; i++)
            if (cells[i].fd >= 0)
                close(cells[i].fd);
        if (c->preload[0] || c->tunables[0])
            child_exec(c, sv[1]);
        _exit(ab_cell_main(sv[1], c));
    }
    close(sv[1]);
    c->fd = sv[0];
    c->pid = pid;
    return 0;
}

/* Start every cell, `setup_parallel` preparing at a time, and forward each one's CELL (or
 * FAILED) record in cell order.  Returns 0, or -1 when the output is gone. */
static int start_cells(void)
{
    for (size_t i = 0, ready = 0; ready < n_cells;) {
        if (i < n_cells && i - ready < setup_parallel) {
            if (start_cell(&cells[i++]) != 0)
                return -1;
        } else if (cells[ready++].fd >= 0 && relay(&cells[ready - 1]) != 0) {
            return -1;
        }
    }
    return 0;
}

/* "round index=R cells=a,b,c": one timed batch of each listed cell still running, in order. */
static int run_round(const char *line)
{
    unsigned long round;
    int at = 0;
    if (sscanf(line, "round index=%lu cells=%n", &round, &at) != 1 || at == 0
        || round > UINT32_MAX) /* a sample's round is a uint32: never wrap it */
        return die(AB_EXIT_PLAN, "bad round line: %.80s", line);
    const char *p = line + at;
    while (*p) {
        char *end;
        unsigned long id = strtoul(p, &end, 10);
        if (end == p || id >= n_cells || (*end != ',' && *end != '\0'))
            return die(AB_EXIT_PLAN, "bad cell list in round line: %.80s", line);
        p = *end == ',' ? end + 1 : end;
        struct ab_cell *c = &cells[id];
        if (c->fd < 0)
            continue; /* failed earlier: its reason is already out */
        uint32_t r = (uint32_t)round;
        if (ab_write_all(c->fd, &r, sizeof r) != 0) {
            if (relay(c) != 0) /* it died: say how */
                return AB_EXIT_IO;
            continue;
        }
        if (relay(c) != 0)
            return AB_EXIT_IO;
    }
    return 0;
}

/* With options cpus=: run on that set from now on (the cells inherit it).  0, or -1 when the
 * kernel refuses it (a CPU this process may not use). */
static int take_asked_cpus(void)
{
    if (CPU_COUNT(&asked_cpus) == 0)
        return 0;
    return sched_setaffinity(0, sizeof asked_cpus, &asked_cpus);
}

/* With pin=1: stay on one CPU of those this runner may use: the one it runs on, else (it was
 * not moved yet) the first of them. */
static void pin_to_one_cpu(void)
{
    int cpu = sched_getcpu();
    if (!pin || cpu < 0 || sched_getaffinity(0, sizeof original_cpus, &original_cpus) != 0)
        return;
    if (!CPU_ISSET(cpu, &original_cpus))
        for (cpu = 0; cpu < CPU_SETSIZE && !CPU_ISSET(cpu, &original_cpus); cpu++)
            ;
    if (cpu >= CPU_SETSIZE)
        return;
    if (CPU_COUNT(&original_cpus) == 1) {
        pinned_cpu = cpu;
        return;
    }
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(cpu, &one);
    if (sched_setaffinity(0, sizeof one, &one) == 0)
        pinned_cpu = cpu;
}

static int run_plan(void)
{
    size_t len;
    char *plan = read_plan(&len);
    if (plan == NULL)
        return die(AB_EXIT_PLAN, "%s", "cannot read the plan from stdin");
    /* parse_plan cuts the lines in place (strtok_r) and keeps the round lines for later. */
    int rc = parse_plan(plan);
    if (rc != 0)
        return rc;

    if (take_asked_cpus() != 0)
        return die(AB_EXIT_PLAN, "cannot run on the CPUs of options cpus=: %s", strerror(errno));
    pin_to_one_cpu();
    /* Every cell holds a socket for the whole plan: a sweep of many cells needs more than the
     * usual soft limit of 1024 descriptors, and the hard limit is ours to take. */
    struct rlimit files;
    if (getrlimit(RLIMIT_NOFILE, &files) == 0 && files.rlim_cur < files.rlim_max) {
        files.rlim_cur = files.rlim_max;
        setrlimit(RLIMIT_NOFILE, &files);
    }
    struct ab_json j = {.len = 0};
    char num[32];
    ab_json_raw(&j, "{\"build_info\": ");
    ab_json_raw(&j, ab_build_info());
    snprintf(num, sizeof num, "%ld", (long)getpid());
    ab_json_key(&j, "pid");
    ab_json_raw(&j, num);
    snprintf(num, sizeof num, "%d", pinned_cpu);
    ab_json_key(&j, "cpu");
    ab_json_raw(&j, num);
    size_t headroom = 0; /* of this main thread: the cells' main threads have the same stack */
    snprintf(num, sizeof num, "%zu", ab_stack_headroom(0, &headroom) == AB_OK ? headroom : 0);
    ab_json_key(&j, "stack_headroom");
    ab_json_raw(&j, num);
    ab_probe_json(&j);
    ab_json_raw(&j, "}");
    if (ab_send(out_fd, AB_REC_HELLO, j.text, (uint32_t)j.len) != 0)
        return AB_EXIT_IO;

    /* Unbuffered while the cells prepare: each CELL record shows the client's silence watchdog
     * that the runner is alive, however long the next cell's calibration takes. */
    if (start_cells() != 0)
        return AB_EXIT_IO;
    ab_buffer_output(out_fd);
    for (size_t r = 0; r < n_rounds; r++) {
        if (ab_flush_output() != 0)
            return AB_EXIT_IO;
        if ((rc = run_round(round_lines[r])) != 0)
            return rc;
    }
    char reason[256];
    for (size_t i = 0; i < n_cells; i++)
        if (cells[i].fd >= 0)
            reap(&cells[i], reason, sizeof reason); /* EOF: the cell's process exits */
    return ab_send(out_fd, AB_REC_DONE, NULL, 0) == 0 && ab_flush_output() == 0 ? 0 : AB_EXIT_IO;
}

int main(int argc, char **argv)
{
    signal(SIGINT, SIG_IGN);
    signal(SIGPIPE, SIG_IGN);
    if (argc == 2 && strcmp(argv[1], "--build-info") == 0) {
        printf("%s\n", ab_build_info());
        return 0;
    }
    if (argc == 2 && strcmp(argv[1], "--probe") == 0) {
        struct ab_json j = {.len = 0};
        ab_json_raw(&j, "{");
        ab_probe_json(&j);
        ab_json_raw(&j, "}");
        printf("%s\n", j.text);
        return 0;
    }
    if (argc == 3 && strcmp(argv[1], "--out-fd") == 0) {
        out_fd = atoi(argv[2]);
        if (out_fd < 3 || fcntl(out_fd, F_GETFD) < 0)
            return die(AB_EXIT_USAGE, "--out-fd %s is not an open descriptor above 2", argv[2]);
        dup2(2, 1); /* stray prints from an allocator go to stderr, never into records */
        return run_plan();
    }
    if (argc == 4 && strcmp(argv[1], "--cell") == 0) {
        struct ab_cell c;
        char err[256];
        int fd = atoi(argv[2]);
        if (ab_parse_cell(argv[3], &c, err, sizeof err) != 0)
            return die(AB_EXIT_PLAN, "%s", err);
        c.preload[0] = c.tunables[0] = '\0'; /* applied by the loader already */
        return ab_cell_main(fd, &c);
    }
    return die(AB_EXIT_USAGE, "%s", "usage: _runner --build-info | --probe | --out-fd N");
}
