/* The runner's plumbing: plan cell lines, JSON text, records on pipes, the allocator probe.
 * Nothing here calls malloc: the runner's parent keeps its heap as a fresh program's. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ab_util.h"
#include "alloca_bench.h"
#include "runner.h"

/* ---- plan lines ----------------------------------------------------------------------------- */

int ab_parse_u64(const char *text, uint64_t max, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(text, &end, 10);
    if (errno != 0 || end == text || *end != '\0' || text[0] == '-' || v > max)
        return -1;
    *out = v;
    return 0;
}

static int copy_path(char *dst, const char *value)
{
    size_t n = strlen(value);
    if (n >= AB_PATH_MAX)
        return -1;
    memcpy(dst, value, n + 1);
    return 0;
}

int ab_parse_cell(const char *line, struct ab_cell *cell, char *err, size_t errlen)
{
    char buf[4 * AB_PATH_MAX];
    if (strncmp(line, "cell ", 5) != 0 || strlen(line) >= sizeof buf) {
        snprintf(err, errlen, "not a cell line (or longer than %zu bytes)", sizeof buf);
        return -1;
    }
    strcpy(buf, line + 5);
    memset(cell, 0, sizeof *cell);
    cell->fd = -1;
    cell->warmup = 1;
    cell->target_ns = 2e6;
    cell->timeout_ms = 30000;
    unsigned seen = 0;
    char *save = NULL;
    for (char *tok = strtok_r(buf, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
        char *eq = strchr(tok, '=');
        if (eq == NULL) {
            snprintf(err, errlen, "cell field %.40s has no '='", tok);
            return -1;
        }
        *eq = '\0';
        const char *key = tok, *value = eq + 1;
        uint64_t v = 0;
        int bad = 0;
        if (strcmp(key, "id") == 0)
            bad = ab_parse_u64(value, UINT32_MAX, &v), cell->id = (uint32_t)v, seen |= 1;
        else if (strcmp(key, "strategy") == 0)
            bad = ab_parse_u64(value, AB_N_STRATEGIES - 1, &v), cell->strategy = (int)v, seen |= 2;
        else if (strcmp(key, "touch") == 0)
            bad = ab_parse_u64(value, AB_N_TOUCHES - 1, &v), cell->touch = (int)v, seen |= 4;
        else if (strcmp(key, "size") == 0)
            bad = ab_parse_u64(value, SIZE_MAX, &v) || v == 0, cell->size = (size_t)v, seen |= 8;
        else if (strcmp(key, "iterations") == 0)
            bad = ab_parse_u64(value, UINT64_MAX, &v), cell->iterations = v;
        else if (strcmp(key, "warmup") == 0)
            bad = ab_parse_u64(value, UINT32_MAX, &v), cell->warmup = (uint32_t)v;
        else if (strcmp(key, "target_ns") == 0)
            bad = ab_parse_u64(value, UINT64_MAX, &v) || v == 0, cell->target_ns = (double)v;
        else if (strcmp(key, "timeout_ms") == 0)
            bad = ab_parse_u64(value, UINT64_MAX, &v) || v == 0, cell->timeout_ms = v;
        else if (strcmp(key, "stack_size") == 0)
            bad = ab_parse_u64(value, SIZE_MAX, &v), cell->stack_size = (size_t)v;
        else if (strcmp(key, "heap") == 0) {
            bad = strcmp(value, "fresh") != 0 && strcmp(value, "aged") != 0;
            cell->heap = strcmp(value, "aged") == 0 ? AB_HEAP_AGED : AB_HEAP_FRESH;
        } else if (strcmp(key, "expect") == 0)
            bad = copy_path(cell->expect, value);
        else if (strcmp(key, "preload") == 0)
            bad = copy_path(cell->preload, value);
        else if (strcmp(key, "tunables") == 0)
            bad = copy_path(cell->tunables, value);
        else if (strcmp(key, "report_stack") == 0)
            bad = ab_parse_u64(value, 1, &cell->report_stack) != 0;
        else if ((bad = ab_team_field(key, value, &cell->team)) != 0)
            bad = bad < 0; /* threads=, pattern=, window=, dist=, low=, seed= */
        else if ((bad = ab_kernel_field(key, value, &cell->kernel)) != 0)
            bad = bad < 0; /* kernel=, function= */
        else {
            snprintf(err, errlen, "unknown cell field %.40s", key);
            return -1;
        }
        if (bad) {
            snprintf(err, errlen, "bad value for cell field %s: %.80s", key, value);
            return -1;
        }
    }
    if (seen != 15) {
        snprintf(err, errlen, "a cell needs id, strategy, touch and size");
        return -1;
    }
    return 0;
}

/* ---- JSON ----------------------------------------------------------------------------------- */

void ab_json_raw(struct ab_json *j, const char *text)
{
    size_t n = strlen(text), room = sizeof j->text - 1 - j->len;
    n = n < room ? n : room;
    memcpy(j->text + j->len, text, n);
    j->len += n;
    j->text[j->len] = '\0';
}

void ab_json_key(struct ab_json *j, const char *key)
{
    if (j->len > 0 && j->text[j->len - 1] != '{')
        ab_json_raw(j, ", ");
    ab_json_str(j, key);
    ab_json_raw(j, ": ");
}

void ab_json_str(struct ab_json *j, const char *value)
{
    if (value == NULL) {
        ab_json_raw(j, "null");
        return;
    }
    char one[8];
    ab_json_raw(j, "\"");
    for (const unsigned char *p = (const unsigned char *)value; *p; p++) {
        if (*p == '"' || *p == '\\')
            snprintf(one, sizeof one, "\\%c", *p);
        else if (*p < 0x20)
            snprintf(one, sizeof one, "\\u%04x", *p);
        else
            one[0] = (char)*p, one[1] = '\0';
        ab_json_raw(j, one);
    }
    ab_json_raw(j, "\"");
}

void ab_json_num(struct ab_json *j, double value)
{
    char text[40];
    if (!isfinite(value)) {
        ab_json_raw(j, "null");
        return;
    }
    snprintf(text, sizeof text, "%.17g", value);
    ab_json_raw(j, text);
}

/* ---- records -------------------------------------------------------------------------------- */

int ab_write_all(int fd, const void *data, size_t len)
{
    const char *p = data;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

int ab_read_all(int fd, void *data, size_t len)
{
    char *p = data;
    size_t got = 0;
    while (got < len) {
        ssize_t n = read(fd, p + got, len - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -1;
        if (n == 0)
            return got == 0 ? 0 : -1;
        got += (size_t)n;
    }
    return 1;
}

/* The runner's output during the rounds is buffered and flushed once per round: the reader then
 * wakes once a round, not once a batch, and leaves the CPUs to the cells. */
static int buffered_fd = -1;
static char out_buffer[1 << 16];
static size_t out_len;

void ab_buffer_output(int fd)
{
    buffered_fd = fd;
    out_len = 0;
}

int ab_flush_output(void)
{
    int rc = buffered_fd >= 0 && out_len > 0 ? ab_write_all(buffered_fd, out_buffer, out_len) : 0;
    out_len = 0;
    return rc;
}

int ab_send(int fd, uint32_t type, const void *payload, uint32_t length)
{
    if (fd == buffered_fd) {
        struct ab_record_header h = {type, length};
        if (out_len + sizeof h + length > sizeof out_buffer && ab_flush_output() != 0)
            return -1;
        if (sizeof h + length <= sizeof out_buffer) {
            memcpy(out_buffer + out_len, &h, sizeof h);
            if (length)
                memcpy(out_buffer + out_len + sizeof h, payload, length);
            out_len += sizeof h + length;
            return 0;
        }
    }
    /* One write for small records: a reader never sees half a header from a dying writer. */
    char buf[sizeof(struct ab_record_header) + sizeof(struct ab_json)];
    struct ab_record_header h = {type, length};
    if (length > sizeof buf - sizeof h)
        return ab_write_all(fd, &h, sizeof h) || ab_write_all(fd, payload, length) ? -1 : 0;
    memcpy(buf, &h, sizeof h);
    if (length)
        memcpy(buf + sizeof h, payload, length);
    return ab_write_all(fd, buf, sizeof h + length);
}

int ab_send_failed(int fd, uint32_t cell, int status, const char *reason,
                   long long headroom)
{
    struct ab_json j = {.len = 0};
    char num[32];
    ab_json_raw(&j, "{");
    ab_json_key(&j, "cell");
    snprintf(num, sizeof num, "%u", cell);
    ab_json_raw(&j, num);
    ab_json_key(&j, "status");
    snprintf(num, sizeof num, "%d", status);
    ab_json_raw(&j, num);
    ab_json_key(&j, "reason");
    ab_json_str(&j, reason);
    if (headroom >= 0) {
        snprintf(num, sizeof num, "%lld", headroom);
        ab_json_key(&j, "headroom");
        ab_json_raw(&j, num);
    }
    ab_json_raw(&j, "}");
    return ab_send(fd, AB_REC_FAILED, j.text, (uint32_t)j.len);
}

/* ---- which library serves malloc ------------------------------------------------------------ */

void ab_probe_json(struct ab_json *j)
{
    char malloc_lib[AB_PATH_MAX] = "", libc[AB_PATH_MAX] = "", v[256], gv[256];
    const char *m = ab_library_of(dlsym(RTLD_DEFAULT, "malloc"));
    const char *g = ab_library_of(dlsym(RTLD_DEFAULT, "gnu_get_libc_version"));
    if (m)
        snprintf(malloc_lib, sizeof malloc_lib, "%s", m);
    if (g)
        snprintf(libc, sizeof libc, "%s", g);
    ab_library_version(m ? malloc_lib : NULL, v, sizeof v);
    ab_library_version(g ? libc : NULL, gv, sizeof gv);
    ab_json_key(j, "malloc_library");
    ab_json_str(j, m ? malloc_lib : NULL);
    ab_json_key(j, "version");
    ab_json_str(j, v[0] ? v : NULL);
    ab_json_key(j, "glibc_version");
    ab_json_str(j, gv[0] ? gv : NULL);
}
