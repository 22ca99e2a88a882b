/* Portability and compiler barriers for alloca_bench: the only place with compiler #ifdefs. */
#ifndef AB_COMPAT_H
#define AB_COMPAT_H

#include <stddef.h>
#include <sys/syscall.h>
#include <unistd.h>

/* Keep each kernel a real, separate call: no inlining (alloca would then live until the caller
 * returns), no cloning or IPA specialisation on the size argument. */
#if defined(__GNUC__) && !defined(__clang__)
#define AB_NOINLINE __attribute__((noinline, noipa))
#else
#define AB_NOINLINE __attribute__((noinline))
#endif

#define AB_ALWAYS_INLINE inline __attribute__((always_inline))

/* gcc (8+) can switch stack-clash protection on per function; clang cannot, so the probed
 * strategies only exist when built by gcc.  They are reported unavailable, never faked. */
#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 8
#define AB_HAVE_PROBED 1
#define AB_PROBED __attribute__((optimize("stack-clash-protection")))
#else
#define AB_HAVE_PROBED 0
#define AB_PROBED
#endif

/* The kernel's id of the calling thread.  The gettid() wrapper needs glibc 2.30; the system
 * call works on every Linux libc. */
static inline long ab_gettid(void)
{
    return syscall(SYS_gettid);
}

/* Google Benchmark's DoNotOptimize: the pointer escapes into an asm statement that may read
 * and write all memory, so the allocation and every store before it must really happen. */
static AB_ALWAYS_INLINE void ab_escape(const void *p)
{
    __asm__ volatile("" : : "r"(p) : "memory");
}

#endif /* AB_COMPAT_H */
