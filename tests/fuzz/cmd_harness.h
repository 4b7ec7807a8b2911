/* cmd_harness.h - lets a fuzz target include a command's source file to
 * reach its static option table, option callback and record parsers,
 * without changing cmd/ and without the command ending the process.
 *
 *   #include "cmd_harness.h"
 *   #include "../../cmd/NAME.c"
 *
 * A command in a folder of its own (cmd/NAME/) is included file by file,
 * main.c first: its files keep their static names distinct for this.
 *
 * The command's main() becomes a static fz_cmd_main() (never called).  The exiting
 * helpers the command calls (lm_usage_error, lm_opt_double, lm_opt_int,
 * lm_opt_choice, lm_die, lm_die_hint, exit) become local copies that keep
 * the message and longjmp back to fz_parse() instead of exiting; the copies
 * of lm_opt_* follow lib/core/cli.c.  fz_parse() feeds NUL-separated
 * arguments to lm_cli_parse_r() with the command's table and callback.
 *
 * Option parsing runs once per process in the commands, so what a usage
 * error leaves allocated is not a leak: LeakSanitizer is paused around it.
 */
#ifndef LMKIT_FUZZ_CMD_HARNESS_H
#define LMKIT_FUZZ_CMD_HARNESS_H

/* Only the parsers are reached: the commands' CUDA paths stay out, so the
 * targets link without the kernels library (as `make fuzz` builds them). */
#undef HAVE_CUDA

#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/cli.h"
#include "core/diag.h"

void __lsan_disable(void) __attribute__((weak));
void __lsan_enable(void) __attribute__((weak));

static jmp_buf fz_jb;
static int fz_armed;
static lm_buf fz_msg;

__attribute__((unused, noreturn, format(printf, 1, 0))) static void fz_vfail(const char *fmt, va_list ap)
{
    if (!fz_armed)
        abort(); /* an exit outside option parsing: the target expects none */
    lm_buf_reset(&fz_msg);
    char line[1024];
    vsnprintf(line, sizeof line, fmt, ap);
    lm_buf_adds(&fz_msg, line[0] ? line : "(empty message)");
    longjmp(fz_jb, 1);
}

__attribute__((unused, noreturn, format(printf, 2, 3))) static void fz_usage_error(const lm_cmd *cmd,
                                                                                   const char *fmt, ...)
{
    (void)cmd;
    va_list ap;
    va_start(ap, fmt);
    fz_vfail(fmt, ap);
}

__attribute__((unused, noreturn, format(printf, 2, 3))) static void fz_die(int status, const char *fmt, ...)
{
    (void)status;
    va_list ap;
    va_start(ap, fmt);
    fz_vfail(fmt, ap);
}

__attribute__((unused, noreturn, format(printf, 3, 4))) static void fz_die_hint(int status, const char *hint,
                                                                                const char *fmt, ...)
{
    (void)status, (void)hint;
    va_list ap;
    va_start(ap, fmt);
    fz_vfail(fmt, ap);
}

__attribute__((unused, noreturn)) static void fz_exit(int status)
{
    if (!fz_armed)
        abort();
    lm_buf_reset(&fz_msg);
    lm_buf_adds(&fz_msg, status ? "exit (failure)" : "exit (success)");
    longjmp(fz_jb, 1);
}

__attribute__((unused)) static double fz_opt_double(const lm_cmd *cmd, const char *opt, const char *arg,
                                                    double lo, int lo_open, double hi, int hi_open)
{
    double v;
    if (lm_parse_double(arg, &v) < 0)
        fz_usage_error(cmd, "invalid --%s '%s': a number is expected", opt, arg);
    if (v < lo || (lo_open && v == lo) || v > hi || (hi_open && v == hi))
        fz_usage_error(cmd, "invalid --%s '%s': out of range", opt, arg);
    return v;
}

__attribute__((unused)) static int64_t fz_opt_int(const lm_cmd *cmd, const char *opt, const char *arg,
                                                  int64_t lo, int64_t hi)
{
    char *end = NULL;
    errno = 0;
    long long v = (arg && *arg && !strchr(" \t\n", arg[0])) ? strtoll(arg, &end, 10) : 0;
    if (!arg || !*arg || strchr(" \t\n", arg[0]) || *end || errno == ERANGE)
        fz_usage_error(cmd, "invalid --%s '%s': a whole number is expected", opt, arg ? arg : "");
    if (v < lo || v > hi)
        fz_usage_error(cmd, "invalid --%s '%s': out of range", opt, arg);
    return v;
}

__attribute__((unused)) static int fz_opt_choice(const lm_cmd *cmd, const char *opt, const char *arg,
                                                 const char *const *choices)
{
    lm_buf m = {0};
    int i = lm_parse_choice(cmd, opt, arg, choices, &m);
    if (i < 0) {
        /* the message is copied before m is freed: fz_usage_error does not return */
        char text[320];
        snprintf(text, sizeof text, "%s", m.p ? m.p : "not a choice");
        lm_buf_free(&m);
        fz_usage_error(cmd, "%s", text);
    }
    lm_buf_free(&m);
    return i;
}

/* Parses data as NUL-separated arguments (at most 32) against cmd with the
 * callback fn.  Returns lm_cli_parse_r's result, or -2 for a usage error
 * raised from the callback.  Aborts when an error comes without a message
 * or the first operand's index is out of range. */
__attribute__((unused)) static int fz_parse(const lm_cmd *cmd, lm_opt_fn fn, void *ctx, const uint8_t *data,
                                            size_t size)
{
    static FILE *devnull;
    if (!devnull && !(devnull = fopen("/dev/null", "w")))
        abort();
    char *copy = malloc(size + 1);
    if (!copy)
        abort();
    memcpy(copy, data, size);
    copy[size] = '\0';
    char *argv[34];
    int argc = 0;
    argv[argc++] = (char *)cmd->name;
    for (char *p = copy, *end = copy + size; p < end && argc < 33; p += strlen(p) + 1)
        argv[argc++] = p;
    argv[argc] = NULL;
    static lm_common c;
    static lm_buf msg;
    lm_buf_reset(&msg);
    volatile int oi = 0, rc;
    if (__lsan_disable)
        __lsan_disable();
    fz_armed = 1;
    if (setjmp(fz_jb) == 0) {
        int o = 0;
        rc = lm_cli_parse_r(cmd, argc, argv, &c, fn, ctx, &o, devnull, &msg);
        oi = o;
    } else {
        rc = -2;
        if (fz_msg.n == 0)
            abort();
    }
    fz_armed = 0;
    if (__lsan_enable)
        __lsan_enable();
    if (rc == -1 && msg.n == 0)
        abort();
    if (rc == 0 && (oi < 1 || oi > argc))
        abort();
    free(copy);
    return rc;
}

#define lm_usage_error fz_usage_error
#define lm_opt_double fz_opt_double
#define lm_opt_int fz_opt_int
#define lm_opt_choice fz_opt_choice
#define lm_die fz_die
#define lm_die_hint fz_die_hint
#define exit fz_exit
/* main becomes an unused static function, which the compiler drops with
 * everything only it reaches (model loading, the CUDA encoder): the targets
 * link with the plain library even in a CUDA build. */
#pragma GCC diagnostic ignored "-Wunused-function"
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wold-style-declaration"
#endif
#define main static fz_cmd_main

#endif
