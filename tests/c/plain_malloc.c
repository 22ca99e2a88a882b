/* A plain C program doing the op of the runner's malloc kernel with touch "none": malloc(size)
 * in a noinline function, the pointer escaping, free().  It checks the runner against what a
 * C programmer would write by hand (see interleave.py beside it).
 *
 *   plain_malloc SIZE ITERATIONS REPEATS
 * prints one line per batch: the mean ns per op, after one discarded warm-up batch. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

__attribute__((noinline)) static int op(size_t size)
{
    char *p = malloc(size);
    if (p == NULL)
        return 1;
    __asm__ volatile("" : : "r"(p) : "memory");
    free(p);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: %s SIZE ITERATIONS REPEATS\n", argv[0]);
        return 2;
    }
    size_t size = strtoull(argv[1], NULL, 10);
    unsigned long long n = strtoull(argv[2], NULL, 10);
    int repeats = atoi(argv[3]);
    for (int r = -1; r < repeats; r++) {
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        for (unsigned long long i = 0; i < n; i++)
            if (op(size) != 0)
                return 1;
        clock_gettime(CLOCK_MONOTONIC, &t1);
        double ns = (double)(t1.tv_sec - t0.tv_sec) * 1e9 + (double)(t1.tv_nsec - t0.tv_nsec);
        if (r >= 0)
            printf("%.4f\n", ns / (double)n);
    }
    return 0;
}
