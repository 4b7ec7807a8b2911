/* diag.c - messages, hints and checked allocation (see diag.h). */
#include "diag.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *lm_prog = "lmkit";

static void vmsg(const char *fmt, va_list ap)
{
    fflush(stdout);
    fprintf(stderr, "%s: ", lm_prog);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
}

void lm_warn(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vmsg(fmt, ap);
    va_end(ap);
}

void lm_hint(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("hint: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

void lm_die(int status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vmsg(fmt, ap);
    va_end(ap);
    exit(status);
}

void lm_die_hint(int status, const char *hint, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vmsg(fmt, ap);
    va_end(ap);
    if (hint)
        fprintf(stderr, "hint: %s\n", hint);
    exit(status);
}

void lm_seterr(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || errlen == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

static void (*oom_hook)(void *);
static void *oom_arg;

void lm_set_oom_hook(void (*fn)(void *arg), void *arg)
{
    oom_hook = fn;
    oom_arg = arg;
}

static _Noreturn void oom(size_t n, const char *file, int line)
{
    if (oom_hook)
        oom_hook(oom_arg);
    if (line > 0)
        lm_die_hint(LM_EXIT_USAGE, "free memory, or process the input in smaller pieces (--shard K/N)",
                    "out of memory allocating %zu bytes (%s:%d)", n, file, line);
    lm_die_hint(LM_EXIT_USAGE, "free memory, or process the input in smaller pieces (--shard K/N)",
                "out of memory allocating %zu bytes (in %s)", n, file);
}

void *lm_xmalloc_(size_t n, const char *file, int line)
{
    void *p = malloc(n ? n : 1);
    if (!p)
        oom(n, file, line);
    return p;
}

void *lm_xcalloc_(size_t n, size_t size, const char *file, int line)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p)
        oom(lm_xmul_(n, size, file, line), file, line);
    return p;
}

void *lm_xrealloc_(void *p, size_t n, const char *file, int line)
{
    void *q = realloc(p, n ? n : 1);
    if (!q)
        oom(n, file, line);
    return q;
}

char *lm_xstrdup_(const char *s, const char *file, int line)
{
    return lm_xstrndup_(s, strlen(s), file, line);
}

char *lm_xstrndup_(const char *s, size_t n, const char *file, int line)
{
    char *p = lm_xmalloc_(n + 1, file, line);
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

size_t lm_xmul_(size_t n, size_t size, const char *file, int line)
{
    if (size && n > SIZE_MAX / size)
        lm_die(LM_EXIT_USAGE, "size overflow: %zu x %zu (%s:%d)", n, size, file, line);
    return n * size;
}
