/* The runner's plan cell lines and the allocator probe (JSON and records: runner_wire.c).
 * Nothing here calls malloc: the runner's parent keeps its heap as a fresh program's. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ab_util.h"
#include "alloca_bench.h"
#include "patterns.h"
#include "runner.h"

/* ---- plan lines ----------------------------------------------------------------------------- */

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
            bad = ab_parse_u64(value, SIZE_MAX, &v),
            cell->stack_size = v > 0 && v < AB_MIN_STACK_SIZE ? AB_MIN_STACK_SIZE : (size_t)v;
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
