/* cli.h - one option table per command drives everything user-facing:
 * getopt_long, the --help text, bash/zsh/fish completions and the option
 * list the man-page test checks against.
 *
 * A command declares its own options in an lm_opt table and picks the
 * common options it supports with LM_OPT_* bits; lm_cli_parse() handles the
 * common ones itself and hands the rest to the command's callback.
 * --help prints to stdout and exits 0; --version prints "NAME (lmkit) X.Y.Z"
 * and exits 0; a usage error prints the problem and "Try 'NAME --help' for
 * more information." on stderr and exits 2.  The hidden option
 * --generate=complete-bash|complete-zsh|complete-fish|options prints
 * completions (or the plain option list) from the same table.
 */
#ifndef LMKIT_CORE_CLI_H
#define LMKIT_CORE_CLI_H

#include <stdint.h>
#include <stdio.h>

#include "buf.h"

#ifndef LMKIT_VERSION
#define LMKIT_VERSION "0.1.0"
#endif

/* Common options a command may accept. */
enum {
    LM_OPT_THREADS = 1 << 0, /* --threads N */
    LM_OPT_SEED = 1 << 1,    /* --seed N */
    LM_OPT_DEVICE = 1 << 2,  /* --device auto|cpu|cuda */
    LM_OPT_RECORDS = 1 << 3, /* --keep-going --errors --unbuffered --progress --quiet --shard */
    LM_OPT_FIELD = 1 << 4,   /* --field NAME */
};

#define LM_MAX_FILE_OPTS 16

enum { LM_DEVICE_AUTO, LM_DEVICE_CPU, LM_DEVICE_CUDA };

typedef struct {
    const char *name;     /* long name without dashes */
    char short_name;      /* 0 for none */
    const char *arg;      /* argument name ("N", "FILE"); NULL for a flag */
    const char *help;     /* one line of help */
    const char *complete; /* NULL (free text), "file" (read), "outfile" (written),
                             "dir" or "choice:a b c" */
    int id;               /* passed to the command's handler (>= 256 unless it
                             is the short option's character) */
} lm_opt;

typedef struct lm_cmd {
    const char *name;                 /* "dp-estimate", or "route train" for a subcommand */
    const char *usage;                /* "[OPTION]... [FILE]..." */
    const char *summary;              /* one line */
    const char *description;          /* paragraph(s) after the usage line, or NULL */
    const char *epilog;               /* text after the options, or NULL */
    const lm_opt *opts;               /* the command's own options, ended by {0} */
    unsigned common;                  /* LM_OPT_* bits */
    const char *field_default;        /* default of --field */
    const struct lm_cmd *const *subs; /* subcommands (NULL-ended), or NULL */
} lm_cmd;

typedef struct {
    int threads;   /* 0: the OpenMP default */
    uint64_t seed; /* --seed, default 0 */
    int seed_set;
    int device; /* LM_DEVICE_* */
    int keep_going;
    const char *errors_path;
    int unbuffered;
    int progress; /* -1: only on a terminal; 0 off; 1 on */
    int quiet;
    uint64_t shard_k, shard_n; /* process records with index % n == k */
    const char *field;
    /* the file options given (the last of each): lm_cli_parse checks, before
     * any work, that every "outfile" can be written and replaces no input */
    struct {
        const lm_opt *opt;
        const char *path;
    } files[LM_MAX_FILE_OPTS];
    int nfiles;
} lm_common;

/* Handler for the command's own options: return 0, or call lm_usage_error. */
typedef int (*lm_opt_fn)(void *ctx, int id, const char *arg);

/* Program start: sets lm_prog, LC_ALL from the environment but LC_NUMERIC
 * "C", SIGPIPE to its default, jansson's allocator to the checked one of
 * diag.h, and reopens closed standard descriptors on /dev/null (read-only,
 * so writes to a closed stdout still fail). */
void lm_cli_init(const char *prog);

/* Parses argv; returns the index of the first operand.  Exits 0 after
 * --help/--version/--generate and 2 on a usage error. */
int lm_cli_parse(const lm_cmd *cmd, int argc, char **argv, lm_common *c, lm_opt_fn fn, void *ctx);

/* The same without exiting (for tests and fuzzing).  Returns 0 with *optind
 * set, 1 for --help, 2 for --version, 3 for --generate, or -1 with the
 * message in msg; output for 1-3 goes to out. */
int lm_cli_parse_r(const lm_cmd *cmd, int argc, char **argv, lm_common *c, lm_opt_fn fn, void *ctx,
                   int *optind_out, FILE *out, lm_buf *msg);

_Noreturn void lm_usage_error(const lm_cmd *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Strict option-value parsing; a bad value is a usage error naming --opt.
 * Bounds are inclusive unless the *_open flag is set. */
double lm_opt_double(const lm_cmd *cmd, const char *opt, const char *arg, double lo, int lo_open, double hi,
                     int hi_open);
int64_t lm_opt_int(const lm_cmd *cmd, const char *opt, const char *arg, int64_t lo, int64_t hi);
/* Index of arg in the NULL-ended list choices; with choices NULL, in the
 * option's "choice:a b c" list in cmd's own table (so that the list is
 * written once, where --help and the completions read it). */
int lm_opt_choice(const lm_cmd *cmd, const char *opt, const char *arg, const char *const *choices);

/* Non-exiting parsers behind the above: 0 ok, -1 with a message in msg. */
int lm_parse_double(const char *arg, double *out);
int lm_parse_u64(const char *arg, uint64_t *out);
int lm_parse_shard(const char *arg, uint64_t *k, uint64_t *n, lm_buf *msg);
/* lm_opt_choice's index, or -1 with the message. */
int lm_parse_choice(const lm_cmd *cmd, const char *opt, const char *arg, const char *const *choices,
                    lm_buf *msg);

void lm_cli_help(const lm_cmd *cmd, FILE *out);
void lm_cli_version(const lm_cmd *cmd, FILE *out);
/* kind: complete-bash, complete-zsh, complete-fish, options.  Returns -1 for
 * an unknown kind. */
int lm_cli_generate(const lm_cmd *cmd, const char *kind, FILE *out);

/* Applies --threads to OpenMP and returns the thread count in effect. */
int lm_cli_threads(const lm_common *c);

/* Flushes and closes stdout at exit; a write error is reported and the
 * process exits 2.  Call at the end of main (also registered by init). */
void lm_close_stdout(void);

#endif
