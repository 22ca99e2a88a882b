/* Which shared object holds a symbol, and the version an allocator library reports about
 * itself: one home for the runner's probe and for the extension (alloca_bench.mallocs asks
 * it about the library serving malloc in the Python process). */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ab_util.h"
#include "alloca_bench.h"

const char *ab_library_of(const void *address)
{
    Dl_info info;
    if (address == NULL || dladdr(address, &info) == 0 || info.dli_fname == NULL)
        return NULL;
    return info.dli_fname;
}

int ab_same_file(const char *a, const char *b)
{
    char ra[PATH_MAX], rb[PATH_MAX]; /* realpath() may write PATH_MAX bytes */
    return a && b && realpath(a, ra) && realpath(b, rb) && strcmp(ra, rb) == 0;
}

/* `name` from the library `path` itself, not from a dependency it links (dlsym through a
 * handle also searches those: a custom allocator would otherwise report glibc's version). */
static void *own_symbol(void *handle, const char *path, const char *name)
{
    void *sym = dlsym(handle, name);
    return ab_same_file(ab_library_of(sym), path) ? sym : NULL;
}

int ab_library_version(const char *path, char *out, size_t outlen)
{
    if (outlen == 0)
        return 0;
    out[0] = '\0';
    void *h = path ? dlopen(path, RTLD_NOW | RTLD_NOLOAD) : NULL;
    if (h == NULL)
        return 0;
    void *f;
    if ((f = own_symbol(h, path, "mallctl")) || (f = own_symbol(h, path, "je_mallctl"))) {
        const char *v = NULL;
        size_t len = sizeof v;
        int (*mallctl)(const char *, void *, size_t *, void *, size_t) = f;
        if (mallctl("version", &v, &len, NULL, 0) == 0 && v)
            snprintf(out, outlen, "%s", v);
    } else if ((f = own_symbol(h, path, "tc_version"))) {
        const char *(*tc_version)(int *, int *, const char **) = f;
        const char *v = tc_version(NULL, NULL, NULL); /* "gperftools 2.10" */
        if (v)
            snprintf(out, outlen, "%s", v);
    } else if ((f = own_symbol(h, path, "mi_version"))) {
        int (*mi_version)(void) = f;
        int n = mi_version(); /* MI_MALLOC_VERSION: 209 is 2.0.9 */
        snprintf(out, outlen, "%d.%d.%d", n / 100, n / 10 % 10, n % 10);
    } else if ((f = own_symbol(h, path, "gnu_get_libc_version"))) {
        const char *(*glibc)(void) = f;
        snprintf(out, outlen, "%s", glibc());
    }
    dlclose(h);
    return out[0] != '\0';
}
