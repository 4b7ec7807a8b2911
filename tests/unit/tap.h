/* tap.h - a minimal Test Anything Protocol producer for lmkit's C unit tests.
 *
 * Each tests/unit/test_*.c is one program: call the checks below, then
 * return tap_done().  Output is TAP version 13 on stdout; the exit status is
 * nonzero when any check failed.  Diagnostics go to stdout as '# ' lines so
 * that a TAP consumer shows them next to the failing check.
 */
#ifndef LMKIT_TAP_H
#define LMKIT_TAP_H

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static int tap_n_, tap_fail_;

static int tap_ok_(int cond, const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    tap_n_++;
    printf("%s %d - ", cond ? "ok" : "not ok", tap_n_);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
    if (!cond) {
        tap_fail_++;
        printf("#   failed at %s:%d\n", file, line);
    }
    fflush(stdout);
    return cond;
}

#define ok(cond, ...) tap_ok_(!!(cond), __FILE__, __LINE__, __VA_ARGS__)

/* |got - want| <= tol (both may be +-inf, which compare equal to themselves). */
#define is_near(got, want, tol, ...)                                    \
    do {                                                                \
        double g_ = (got), w_ = (want), t_ = (tol);                     \
        int c_ = (g_ == w_) || fabs(g_ - w_) <= t_;                     \
        if (!tap_ok_(c_, __FILE__, __LINE__, __VA_ARGS__))              \
            printf("#   got %.17g, want %.17g (tol %g)\n", g_, w_, t_); \
    } while (0)

#define is_int(got, want, ...)                                   \
    do {                                                         \
        long long g_ = (long long)(got), w_ = (long long)(want); \
        if (!tap_ok_(g_ == w_, __FILE__, __LINE__, __VA_ARGS__)) \
            printf("#   got %lld, want %lld\n", g_, w_);         \
    } while (0)

#define is_str(got, want, ...)                                                                    \
    do {                                                                                          \
        const char *g_ = (got), *w_ = (want);                                                     \
        int c_ = g_ && w_ && strcmp(g_, w_) == 0;                                                 \
        if (!tap_ok_(c_, __FILE__, __LINE__, __VA_ARGS__))                                        \
            printf("#   got  \"%s\"\n#   want \"%s\"\n", g_ ? g_ : "(null)", w_ ? w_ : "(null)"); \
    } while (0)

#define diag(...) (printf("# "), printf(__VA_ARGS__), printf("\n"))

static int tap_done(void)
{
    printf("1..%d\n", tap_n_);
    if (tap_fail_)
        printf("# %d of %d checks failed\n", tap_fail_, tap_n_);
    return tap_fail_ ? 1 : 0;
}

#endif
