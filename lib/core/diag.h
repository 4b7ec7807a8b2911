/* diag.h - diagnostics, exit statuses and checked allocation for lmkit.
 *
 * Messages follow the GNU form "PROG: FILE:LINE:COL: message" on stderr,
 * optionally followed by a "hint: ..." line that tells the user what to do.
 * Exit statuses are shared by every command:
 *   LM_EXIT_OK    0  success
 *   LM_EXIT_DATA  1  bad data: a malformed record, an unreadable input, a
 *                    model, tokenizer or rank file that cannot be read or
 *                    is malformed (named in the message)
 *   LM_EXIT_USAGE 2  usage or system trouble: bad option, write error, no memory
 *
 * Errors: library functions report failure by their return value and a
 * message written with lm_seterr into a caller's (err, errlen) buffer;
 * commands turn that into "PROG: FILE:LINE:COL: message" and an exit status.
 *
 * Allocation (one rule for lib/ and cmd/ alike): host memory comes from
 * lm_xmalloc, lm_xcalloc, lm_xrealloc, lm_xstrdup, lm_xstrndup and lm_grow,
 * with products of sizes taken through lm_xmul; nothing calls malloc,
 * calloc, realloc or strdup directly.  Running out is not an error a caller
 * handles: the wrapper runs the out-of-memory hook (the record loop writes
 * the records finished before the one being worked on and names that
 * record), reports the allocation site and exits 2.  Why this way round:
 * every caller of lib/ is an lmkit command, and all a command can do without
 * memory is say where it stopped and exit; error returns for allocation
 * were paths no test reached, and they hid the record from the message.
 * What the rule does not cover:
 *   - sizes read from input are checked against the input before they are
 *     allocated (a header cannot ask for more than its file holds): that is
 *     bad data, exit 1, not running out;
 *   - the record reader sizes its buffer by the line it is reading and
 *     reports "line too long for the memory available" at that line, since
 *     no record exists yet for the hook to name;
 *   - memory that PCRE2 and OpenBLAS allocate, and device memory
 *     (cudaMalloc): their failures are errors the code returns.  jansson's
 *     allocations go through lm_xmalloc (lm_cli_init sets its allocator),
 *     so they follow the rule; reported as "(in jansson)".
 */
#ifndef LMKIT_CORE_DIAG_H
#define LMKIT_CORE_DIAG_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

enum { LM_EXIT_OK = 0, LM_EXIT_DATA = 1, LM_EXIT_USAGE = 2 };

/* The program name used in every message (set once by lm_cli_init). */
extern const char *lm_prog;

/* "PROG: message\n" on stderr. */
void lm_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* "PROG: message\n" then exit(status). */
_Noreturn void lm_die(int status, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* "PROG: message\nhint: hint\n" then exit(status). hint may be NULL. */
_Noreturn void lm_die_hint(int status, const char *hint, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* "hint: ...\n" on stderr. */
void lm_hint(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Library error reporting: formats a message into a caller's buffer (no
 * output, no exit).  err may be NULL or errlen 0: then nothing is written. */
void lm_seterr(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* A function the allocation wrappers call when memory runs out, before they
 * report it and exit 2 (the record loop uses it to write the records that
 * were finished).  It may not return on threads other than the first to
 * run out.  NULL removes it. */
void lm_set_oom_hook(void (*fn)(void *arg), void *arg);

void *lm_xmalloc_(size_t n, const char *file, int line);
void *lm_xcalloc_(size_t n, size_t size, const char *file, int line);
void *lm_xrealloc_(void *p, size_t n, const char *file, int line);
char *lm_xstrdup_(const char *s, const char *file, int line);
char *lm_xstrndup_(const char *s, size_t n, const char *file, int line);
/* n * size with overflow check (exit 2 on overflow). */
size_t lm_xmul_(size_t n, size_t size, const char *file, int line);

#define lm_xmalloc(n) lm_xmalloc_((n), __FILE__, __LINE__)
#define lm_xcalloc(n, s) lm_xcalloc_((n), (s), __FILE__, __LINE__)
#define lm_xrealloc(p, n) lm_xrealloc_((p), (n), __FILE__, __LINE__)
#define lm_xstrdup(s) lm_xstrdup_((s), __FILE__, __LINE__)
#define lm_xstrndup(s, n) lm_xstrndup_((s), (n), __FILE__, __LINE__)
#define lm_xmul(n, s) lm_xmul_((n), (s), __FILE__, __LINE__)

/* Grow *p (holding *cap elements of size sz) to hold at least need elements,
 * doubling (amortised); a need past SIZE_MAX / 2 is taken as it is, and
 * lm_xmul then reports a byte count that does not fit (exit 2). */
#define lm_grow(p, cap, need)                                                                            \
    do {                                                                                                 \
        if ((need) > (cap)) {                                                                            \
            size_t nc_ = (cap) ? (cap) : 8;                                                              \
            while (nc_ < (need))                                                                         \
                nc_ = nc_ > SIZE_MAX / 2 ? (size_t)(need) : nc_ * 2;                                     \
            (p) = lm_xrealloc_((p), lm_xmul_(nc_, sizeof *(p), __FILE__, __LINE__), __FILE__, __LINE__); \
            (cap) = nc_;                                                                                 \
        }                                                                                                \
    } while (0)

#endif
