/* cli.c - option tables, getopt_long, help, version and completions. */
#include "cli.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <locale.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "diag.h"
#include "fs.h"

enum {
    ID_HELP = 'h',
    ID_VERSION = 'V',
    ID_QUIET = 'q',
    ID_THREADS = 0x1000,
    ID_SEED,
    ID_DEVICE,
    ID_KEEP_GOING,
    ID_ERRORS,
    ID_UNBUFFERED,
    ID_PROGRESS,
    ID_SHARD,
    ID_FIELD,
    ID_GENERATE,
};

static const lm_opt common_opts[] = {
    {"threads", 0, "N", "use N threads (default: one per processor)", NULL, ID_THREADS},
    {"seed", 0, "N", "seed for every random choice (default 0)", NULL, ID_SEED},
    {"device", 0, "DEV", "compute on auto, cpu or cuda (default auto)", "choice:auto cpu cuda", ID_DEVICE},
    {"keep-going", 0, NULL, "skip bad records, report them, exit 1 at the end", NULL, ID_KEEP_GOING},
    {"errors", 0, "FILE", "write rejected records to FILE as JSON Lines", "outfile", ID_ERRORS},
    {"unbuffered", 0, NULL, "flush output after every record", NULL, ID_UNBUFFERED},
    {"progress", 0, NULL, "show progress on stderr even when it is not a terminal", NULL, ID_PROGRESS},
    {"quiet", 'q', NULL, "no progress and no notes on stderr", NULL, ID_QUIET},
    {"shard", 0, "K/N", "process only records whose index is K modulo N", NULL, ID_SHARD},
    {"field", 0, "NAME", "read the input text from field NAME", NULL, ID_FIELD},
    {"help", 'h', NULL, "display this help and exit", NULL, ID_HELP},
    {"version", 'V', NULL, "output version information and exit", NULL, ID_VERSION},
    {0},
};

static int common_wanted(const lm_cmd *cmd, int id)
{
    switch (id) {
    case ID_THREADS: return !!(cmd->common & LM_OPT_THREADS);
    case ID_SEED: return !!(cmd->common & LM_OPT_SEED);
    case ID_DEVICE: return !!(cmd->common & LM_OPT_DEVICE);
    case ID_KEEP_GOING:
    case ID_ERRORS:
    case ID_UNBUFFERED:
    case ID_PROGRESS:
    case ID_QUIET:
    case ID_SHARD: return !!(cmd->common & LM_OPT_RECORDS);
    case ID_FIELD: return !!(cmd->common & LM_OPT_FIELD);
    default: return 1;
    }
}

/* Iterates over every option of cmd: its own, then the wanted common ones. */
static const lm_opt *opt_at(const lm_cmd *cmd, size_t *it)
{
    for (;;) {
        size_t i = *it;
        size_t nown = 0;
        while (cmd->opts && cmd->opts[nown].name)
            nown++;
        if (i < nown) {
            (*it)++;
            return &cmd->opts[i];
        }
        size_t j = i - nown;
        if (!common_opts[j].name)
            return NULL;
        (*it)++;
        if (common_wanted(cmd, common_opts[j].id))
            return &common_opts[j];
    }
}

/* An option naming a file to read ("file") or to write ("outfile"). */
static int is_file_opt(const lm_opt *o)
{
    return o->complete && (strcmp(o->complete, "file") == 0 || strcmp(o->complete, "outfile") == 0);
}

static void fix_std_fds(void)
{
    for (int fd = 0; fd <= 2; fd++) {
        if (fcntl(fd, F_GETFD) < 0 && errno == EBADF) {
            if (fd == STDIN_FILENO)
                lm_stdin_mark_closed(); /* reading "-" is then an error, not empty input */
            /* read-only on purpose: output to a closed stdout must still fail */
            int nfd = open("/dev/null", O_RDONLY);
            if (nfd >= 0 && nfd != fd) {
                dup2(nfd, fd);
                close(nfd);
            }
        }
    }
}

/* jansson's allocations follow the allocation rule of diag.h */
static void *json_xmalloc(size_t n)
{
    return lm_xmalloc_(n, "jansson", 0);
}

void lm_cli_init(const char *prog)
{
    const char *slash = strrchr(prog, '/');
    lm_prog = slash ? slash + 1 : prog;
    setlocale(LC_ALL, "");
    setlocale(LC_NUMERIC, "C");
    signal(SIGPIPE, SIG_DFL);
    json_set_alloc_funcs(json_xmalloc, free);
    fix_std_fds();
    atexit(lm_close_stdout);
}

void lm_close_stdout(void)
{
    static int done;
    if (done)
        return;
    done = 1;
    int bad = fflush(stdout) != 0 || ferror(stdout);
    int e = errno;
    if (fclose(stdout) != 0 && !bad) {
        bad = 1;
        e = errno;
    }
    if (bad) {
        if (e == EPIPE)
            _exit(LM_EXIT_USAGE);
        fprintf(stderr, "%s: write error: %s\n", lm_prog, e ? strerror(e) : "unknown error");
        _exit(LM_EXIT_USAGE);
    }
}

/* ---- help ---- */

static size_t opt_label(const lm_opt *o, char *buf, size_t n)
{
    int k;
    if (o->short_name)
        k = snprintf(buf, n, "  -%c, --%s%s%s", o->short_name, o->name, o->arg ? "=" : "",
                     o->arg ? o->arg : "");
    else
        k = snprintf(buf, n, "      --%s%s%s", o->name, o->arg ? "=" : "", o->arg ? o->arg : "");
    return k < 0 ? 0 : (size_t)k;
}

/* --help fits 80 columns: text is broken at spaces into lines of at most
 * HELP_WIDTH columns (a word longer than that stands alone).  Columns are
 * counted in characters (UTF-8 continuation bytes do not count). */
#define HELP_WIDTH 80
#define HELP_COL 30

static size_t columns(const char *s, size_t n)
{
    size_t c = 0;
    for (size_t i = 0; i < n; i++)
        c += ((unsigned char)s[i] & 0xC0) != 0x80;
    return c;
}

/* Writes the n bytes of text wrapped: the cursor is at column `col` (what
 * the caller printed on the first line), continuation lines start with
 * `indent` spaces; ends with a newline. */
static void put_wrapped(FILE *out, const char *text, size_t n, size_t col, size_t indent)
{
    size_t i = 0;
    int first = 1;
    while (i < n) {
        while (i < n && text[i] == ' ')
            i++;
        if (i >= n)
            break;
        size_t j = i;
        while (j < n && text[j] != ' ')
            j++;
        size_t w = columns(text + i, j - i);
        if (!first && col + 1 + w > HELP_WIDTH) {
            fprintf(out, "\n%*s", (int)indent, "");
            col = indent;
            first = 1;
        }
        if (!first) {
            fputc(' ', out);
            col++;
        }
        fwrite(text + i, 1, j - i, out);
        col += w;
        first = 0;
        i = j;
    }
    fputc('\n', out);
}

/* A label and its text in two columns: the text at column HELP_COL, or on
 * the next line when the label reaches it. */
static void put_item(FILE *out, const char *label, const char *text)
{
    size_t k = strlen(label);
    if (k >= HELP_COL)
        fprintf(out, "%s\n%*s", label, HELP_COL, "");
    else
        fprintf(out, "%s%*s", label, (int)(HELP_COL - k), "");
    put_wrapped(out, text, strlen(text), HELP_COL, HELP_COL);
}

static void print_opt(FILE *out, const lm_opt *o)
{
    char label[128];
    opt_label(o, label, sizeof label);
    put_item(out, label, o->help);
}

/* A description or epilog: lines that start with a non-space character and
 * follow each other form a paragraph, refilled to HELP_WIDTH; blank lines
 * stay; an indented line (an example, a list item) keeps its indentation and
 * is only broken if it is too long, its continuation indented 4 more. */
static void put_text(FILE *out, const char *text)
{
    const char *p = text;
    while (*p) {
        const char *e = strchr(p, '\n');
        if (!e)
            e = p + strlen(p);
        if (e == p) {
            fputc('\n', out);
        } else if (*p == ' ') {
            size_t ind = strspn(p, " ");
            if (ind > (size_t)(e - p))
                ind = (size_t)(e - p);
            fprintf(out, "%*s", (int)ind, "");
            put_wrapped(out, p + ind, (size_t)(e - p) - ind, ind, ind + 4);
        } else {
            /* gather the paragraph into one buffer with single spaces */
            const char *q = e;
            while (*q == '\n' && q[1] && q[1] != '\n' && q[1] != ' ') {
                const char *r = strchr(q + 1, '\n');
                q = r ? r : q + 1 + strlen(q + 1);
            }
            size_t len = (size_t)(q - p);
            char *buf = lm_xmalloc(len + 1);
            for (size_t i = 0; i < len; i++)
                buf[i] = p[i] == '\n' ? ' ' : p[i];
            put_wrapped(out, buf, len, 0, 0);
            free(buf);
            e = q;
        }
        p = *e ? e + 1 : e;
    }
}

void lm_cli_help(const lm_cmd *cmd, FILE *out)
{
    fprintf(out, "Usage: %s ", cmd->name);
    const char *usage = cmd->usage ? cmd->usage : "[OPTION]...";
    put_wrapped(out, usage, strlen(usage), strlen("Usage: ") + strlen(cmd->name) + 1,
                strlen("Usage: ") + strlen(cmd->name) + 1);
    put_wrapped(out, cmd->summary, strlen(cmd->summary), 0, 0);
    if (cmd->description) {
        fputc('\n', out);
        put_text(out, cmd->description);
    }
    if (cmd->subs) {
        fprintf(out, "\nCommands:\n");
        for (const lm_cmd *const *s = cmd->subs; *s; s++) {
            const char *sp = strrchr((*s)->name, ' ');
            char label[64];
            snprintf(label, sizeof label, "  %s", sp ? sp + 1 : (*s)->name);
            put_item(out, label, (*s)->summary);
        }
    }
    int own = cmd->opts && cmd->opts[0].name;
    if (own) {
        fprintf(out, "\nOptions:\n");
        for (const lm_opt *o = cmd->opts; o->name; o++)
            print_opt(out, o);
    }
    fprintf(out, "\n%s:\n", own ? "Common options" : "Options");
    for (const lm_opt *o = common_opts; o->name; o++)
        if (common_wanted(cmd, o->id)) {
            if (o->id == ID_FIELD && cmd->field_default) {
                lm_opt f = *o;
                char h[160];
                snprintf(h, sizeof h, "%s (default %s)", o->help, cmd->field_default);
                f.help = h;
                print_opt(out, &f);
            } else {
                print_opt(out, o);
            }
        }
    if (cmd->epilog) {
        fputc('\n', out);
        put_text(out, cmd->epilog);
    }
    fprintf(out, "\nFull documentation: man %.*s\n", (int)strcspn(cmd->name, " "), cmd->name);
}

void lm_cli_version(const lm_cmd *cmd, FILE *out)
{
    char name[64];
    snprintf(name, sizeof name, "%.*s", (int)strcspn(cmd->name, " "), cmd->name);
    fprintf(out, "%s (lmkit) %s\n", name, LMKIT_VERSION);
    fprintf(out, "features:");
#ifdef _OPENMP
    fprintf(out, " openmp");
#endif
#ifdef HAVE_OPENBLAS
    fprintf(out, " openblas");
#endif
#ifdef HAVE_CUDA
    fprintf(out, " cuda");
#endif
    fprintf(out, "\n");
}

/* ---- completions ---- */

static void shq(FILE *out, const char *s)
{
    /* single-quoted shell word */
    fputc('\'', out);
    for (; *s; s++) {
        if (*s == '\'')
            fputs("'\\''", out);
        else
            fputc(*s, out);
    }
    fputc('\'', out);
}

static const char *short_name_of(const lm_cmd *c)
{
    const char *sp = strrchr(c->name, ' ');
    return sp ? sp + 1 : c->name;
}

static void fn_name(char *buf, size_t n, const char *name)
{
    snprintf(buf, n, "_lmkit_%s", name);
    for (char *p = buf; *p; p++)
        if (*p == '-' || *p == ' ')
            *p = '_';
}

static void bash_case(const lm_cmd *cmd, FILE *out, const char *ind)
{
    size_t it = 0;
    const lm_opt *o;
    fprintf(out, "%scase $prev in\n", ind);
    while ((o = opt_at(cmd, &it))) {
        if (!o->arg)
            continue;
        fprintf(out, "%s    --%s", ind, o->name);
        if (o->short_name)
            fprintf(out, "|-%c", o->short_name);
        if (o->complete && strncmp(o->complete, "choice:", 7) == 0)
            fprintf(out, ") COMPREPLY=($(compgen -W '%s' -- \"$cur\")); return ;;\n", o->complete + 7);
        else if (is_file_opt(o))
            fprintf(out, ") COMPREPLY=($(compgen -f -- \"$cur\")); return ;;\n");
        else if (o->complete && strcmp(o->complete, "dir") == 0)
            fprintf(out, ") COMPREPLY=($(compgen -d -- \"$cur\")); return ;;\n");
        else
            fprintf(out, ") return ;;\n");
    }
    fprintf(out, "%sesac\n", ind);
    fprintf(out, "%sif [[ $cur == -* ]]; then\n%s    COMPREPLY=($(compgen -W '", ind, ind);
    it = 0;
    int first = 1;
    while ((o = opt_at(cmd, &it))) {
        fprintf(out, "%s--%s", first ? "" : " ", o->name);
        first = 0;
        if (o->short_name)
            fprintf(out, " -%c", o->short_name);
    }
    fprintf(out, "' -- \"$cur\"))\n%s    return\n%sfi\n", ind, ind);
    fprintf(out, "%sCOMPREPLY=($(compgen -f -- \"$cur\"))\n", ind);
}

static void gen_bash(const lm_cmd *cmd, FILE *out)
{
    char fn[96];
    fn_name(fn, sizeof fn, cmd->name);
    fprintf(out, "# bash completion for %s (lmkit) -- generated by '%s --generate=complete-bash'\n",
            cmd->name, cmd->name);
    fprintf(out, "%s()\n{\n    local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]}\n", fn);
    if (cmd->subs) {
        fprintf(out, "    if [[ $COMP_CWORD -eq 1 ]]; then\n        COMPREPLY=($(compgen -W '");
        for (const lm_cmd *const *s = cmd->subs; *s; s++)
            fprintf(out, "%s ", short_name_of(*s));
        fprintf(out, "--help --version' -- \"$cur\"))\n        return\n    fi\n");
        fprintf(out, "    case ${COMP_WORDS[1]} in\n");
        for (const lm_cmd *const *s = cmd->subs; *s; s++) {
            fprintf(out, "    %s)\n", short_name_of(*s));
            bash_case(*s, out, "        ");
            fprintf(out, "        ;;\n");
        }
        fprintf(out, "    esac\n");
    } else {
        bash_case(cmd, out, "    ");
    }
    fprintf(out, "}\ncomplete -F %s %s\n", fn, cmd->name);
}

static void zsh_escape(FILE *out, const char *s)
{
    for (; *s; s++) {
        if (*s == '\'')
            fputs("'\\''", out);
        else if (*s == '[' || *s == ']' || *s == ':' || *s == '\\')
            fprintf(out, "\\%c", *s);
        else
            fputc(*s, out);
    }
}

static void zsh_args(const lm_cmd *cmd, FILE *out, const char *ind)
{
    size_t it = 0;
    const lm_opt *o;
    fprintf(out, "%s_arguments -s -S \\\n", ind);
    while ((o = opt_at(cmd, &it))) {
        const char *action = "";
        char act[256];
        if (o->arg) {
            if (o->complete && strncmp(o->complete, "choice:", 7) == 0) {
                snprintf(act, sizeof act, ":%s:(%s)", o->arg, o->complete + 7);
                action = act;
            } else if (is_file_opt(o)) {
                snprintf(act, sizeof act, ":%s:_files", o->arg);
                action = act;
            } else if (o->complete && strcmp(o->complete, "dir") == 0) {
                snprintf(act, sizeof act, ":%s:_files -/", o->arg);
                action = act;
            } else {
                snprintf(act, sizeof act, ":%s: ", o->arg);
                action = act;
            }
        }
        if (o->short_name) {
            fprintf(out, "%s  '(-%c --%s)'{-%c,--%s%s}'[", ind, o->short_name, o->name, o->short_name,
                    o->name, o->arg ? "=" : "");
        } else {
            fprintf(out, "%s  '--%s%s[", ind, o->name, o->arg ? "=" : "");
        }
        zsh_escape(out, o->help);
        fprintf(out, "]");
        zsh_escape(out, action);
        fprintf(out, "' \\\n");
    }
    fprintf(out, "%s  '*:file:_files'\n", ind);
}

static void gen_zsh(const lm_cmd *cmd, FILE *out)
{
    char fn[96];
    fn_name(fn, sizeof fn, cmd->name);
    fprintf(out,
            "#compdef %s\n# zsh completion for %s (lmkit) -- generated by '%s --generate=complete-zsh'\n\n",
            cmd->name, cmd->name, cmd->name);
    fprintf(out, "%s() {\n", fn);
    if (cmd->subs) {
        fprintf(out, "    local curcontext=$curcontext state line\n");
        fprintf(out, "    _arguments -C '1:command:->cmds' '*::arg:->args'\n");
        fprintf(out, "    case $state in\n    cmds)\n        local -a cmds\n        cmds=(\n");
        for (const lm_cmd *const *s = cmd->subs; *s; s++) {
            fprintf(out, "            '%s:", short_name_of(*s));
            zsh_escape(out, (*s)->summary);
            fprintf(out, "'\n");
        }
        fprintf(out, "        )\n        _describe command cmds ;;\n    args)\n        case $line[1] in\n");
        for (const lm_cmd *const *s = cmd->subs; *s; s++) {
            fprintf(out, "        %s)\n", short_name_of(*s));
            zsh_args(*s, out, "            ");
            fprintf(out, "            ;;\n");
        }
        fprintf(out, "        esac ;;\n    esac\n");
    } else {
        zsh_args(cmd, out, "    ");
    }
    fprintf(out, "}\n\n%s \"$@\"\n", fn);
}

static void fish_opts(const lm_cmd *cmd, FILE *out, const char *cond)
{
    size_t it = 0;
    const lm_opt *o;
    while ((o = opt_at(cmd, &it))) {
        fprintf(out, "complete -c %.*s", (int)strcspn(cmd->name, " "), cmd->name);
        if (cond)
            fprintf(out, " -n %s", cond);
        if (o->short_name)
            fprintf(out, " -s %c", o->short_name);
        fprintf(out, " -l %s", o->name);
        if (o->arg) {
            if (o->complete && strncmp(o->complete, "choice:", 7) == 0) {
                fprintf(out, " -x -a ");
                shq(out, o->complete + 7);
            } else if (is_file_opt(o) || (o->complete && strcmp(o->complete, "dir") == 0)) {
                fprintf(out, " -r -F");
            } else {
                fprintf(out, " -x");
            }
        }
        fprintf(out, " -d ");
        shq(out, o->help);
        fputc('\n', out);
    }
}

static void gen_fish(const lm_cmd *cmd, FILE *out)
{
    fprintf(out, "# fish completion for %s (lmkit) -- generated by '%s --generate=complete-fish'\n",
            cmd->name, cmd->name);
    if (cmd->subs) {
        for (const lm_cmd *const *s = cmd->subs; *s; s++) {
            fprintf(out, "complete -c %s -n __fish_use_subcommand -f -a %s -d ", cmd->name,
                    short_name_of(*s));
            shq(out, (*s)->summary);
            fputc('\n', out);
        }
        for (const lm_cmd *const *s = cmd->subs; *s; s++) {
            char cond[128];
            snprintf(cond, sizeof cond, "'__fish_seen_subcommand_from %s'", short_name_of(*s));
            fish_opts(*s, out, cond);
        }
    } else {
        fish_opts(cmd, out, NULL);
    }
}

static void gen_options(const lm_cmd *cmd, FILE *out)
{
    size_t it = 0;
    const lm_opt *o;
    while ((o = opt_at(cmd, &it))) {
        fprintf(out, "--%s", o->name);
        if (o->short_name)
            fprintf(out, " -%c", o->short_name);
        fputc('\n', out);
    }
    if (cmd->subs)
        for (const lm_cmd *const *s = cmd->subs; *s; s++)
            gen_options(*s, out);
}

int lm_cli_generate(const lm_cmd *cmd, const char *kind, FILE *out)
{
    if (strcmp(kind, "complete-bash") == 0)
        gen_bash(cmd, out);
    else if (strcmp(kind, "complete-zsh") == 0)
        gen_zsh(cmd, out);
    else if (strcmp(kind, "complete-fish") == 0)
        gen_fish(cmd, out);
    else if (strcmp(kind, "options") == 0)
        gen_options(cmd, out);
    else
        return -1;
    return 0;
}

/* ---- value parsing ---- */

int lm_parse_double(const char *arg, double *out)
{
    char *end;
    if (!arg || !*arg || strchr(" \t\n", arg[0]))
        return -1;
    errno = 0;
    double v = strtod(arg, &end);
    if (*end || errno == ERANGE || isnan(v) || isinf(v))
        return -1;
    *out = v;
    return 0;
}

int lm_parse_u64(const char *arg, uint64_t *out)
{
    char *end;
    if (!arg || !*arg || arg[0] < '0' || arg[0] > '9')
        return -1;
    errno = 0;
    unsigned long long v = strtoull(arg, &end, 10);
    if (*end || errno == ERANGE)
        return -1;
    *out = v;
    return 0;
}

int lm_parse_shard(const char *arg, uint64_t *k, uint64_t *n, lm_buf *msg)
{
    const char *slash = arg ? strchr(arg, '/') : NULL;
    char kb[32];
    if (!slash || (size_t)(slash - arg) >= sizeof kb) {
        lm_buf_printf(msg, "invalid --shard '%s': expected K/N, for example 0/4", arg ? arg : "");
        return -1;
    }
    memcpy(kb, arg, (size_t)(slash - arg));
    kb[slash - arg] = '\0';
    if (lm_parse_u64(kb, k) < 0 || lm_parse_u64(slash + 1, n) < 0 || *n == 0) {
        lm_buf_printf(msg, "invalid --shard '%s': expected K/N with whole numbers and N >= 1", arg);
        return -1;
    }
    if (*k >= *n) {
        lm_buf_printf(msg, "invalid --shard '%s': K must be below N (shards are 0 to N-1)", arg);
        return -1;
    }
    return 0;
}

void lm_usage_error(const lm_cmd *cmd, const char *fmt, ...)
{
    va_list ap;
    fflush(stdout);
    fprintf(stderr, "%s: ", lm_prog);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nTry '%s --help' for more information.\n", cmd->name);
    exit(LM_EXIT_USAGE);
}

double lm_opt_double(const lm_cmd *cmd, const char *opt, const char *arg, double lo, int lo_open, double hi,
                     int hi_open)
{
    double v;
    if (lm_parse_double(arg, &v) < 0)
        lm_usage_error(cmd, "invalid --%s '%s': a number is expected", opt, arg);
    if (v < lo || (lo_open && v == lo) || v > hi || (hi_open && v == hi))
        lm_usage_error(cmd, "invalid --%s '%s': must lie in %c%g, %g%c", opt, arg, lo_open ? '(' : '[', lo,
                       hi, hi_open ? ')' : ']');
    return v;
}

int64_t lm_opt_int(const lm_cmd *cmd, const char *opt, const char *arg, int64_t lo, int64_t hi)
{
    char *end;
    errno = 0;
    long long v = (arg && *arg && !strchr(" \t\n", arg[0])) ? strtoll(arg, &end, 10) : 0;
    if (!arg || !*arg || strchr(" \t\n", arg[0]) || *end || errno == ERANGE)
        lm_usage_error(cmd, "invalid --%s '%s': a whole number is expected", opt, arg ? arg : "");
    if (v < lo || v > hi)
        lm_usage_error(cmd, "invalid --%s '%s': must lie in [%lld, %lld]", opt, arg, (long long)lo,
                       (long long)hi);
    return v;
}

/* The "choice:a b c" list of option `opt` in cmd's own table, or NULL. */
static const char *table_choices(const lm_cmd *cmd, const char *opt)
{
    for (const lm_opt *o = cmd->opts; o && o->name; o++)
        if (strcmp(o->name, opt) == 0 && o->complete && strncmp(o->complete, "choice:", 7) == 0)
            return o->complete + 7;
    return NULL;
}

int lm_parse_choice(const lm_cmd *cmd, const char *opt, const char *arg, const char *const *choices,
                    lm_buf *msg)
{
    char list[256] = "";
    if (!choices) {
        const char *t = table_choices(cmd, opt);
        if (!t) {
            lm_buf_printf(msg, "--%s has no choice list in %s's option table", opt, cmd->name);
            return -1;
        }
        size_t alen = strlen(arg);
        int i = 0;
        for (const char *p = t; *p; i++) {
            size_t n = strcspn(p, " ");
            if (n == alen && n > 0 && strncmp(p, arg, n) == 0)
                return i;
            p += n;
            p += strspn(p, " ");
        }
        for (const char *p = t; *p;) {
            size_t n = strcspn(p, " "), k = strlen(list);
            snprintf(list + k, sizeof list - k, "%s%.*s", k ? ", " : "", (int)n, p);
            p += n;
            p += strspn(p, " ");
        }
    } else {
        for (int i = 0; choices[i]; i++)
            if (strcmp(arg, choices[i]) == 0)
                return i;
        for (int i = 0; choices[i]; i++) {
            if (i)
                strncat(list, ", ", sizeof list - strlen(list) - 1);
            strncat(list, choices[i], sizeof list - strlen(list) - 1);
        }
    }
    lm_buf_printf(msg, "invalid --%s '%s': choose one of %s", opt, arg, list);
    return -1;
}

int lm_opt_choice(const lm_cmd *cmd, const char *opt, const char *arg, const char *const *choices)
{
    lm_buf msg = {0};
    int i = lm_parse_choice(cmd, opt, arg, choices, &msg);
    if (i < 0)
        lm_usage_error(cmd, "%s", msg.p);
    lm_buf_free(&msg);
    return i;
}

int lm_cli_threads(const lm_common *c)
{
#ifdef _OPENMP
    if (c->threads > 0)
        omp_set_num_threads(c->threads);
    return omp_get_max_threads();
#else
    (void)c;
    return 1;
#endif
}

/* ---- parsing ---- */

/* Keeps the path given to a file option (the last one of each option). */
static void note_file(const lm_cmd *cmd, lm_common *c, int id, const char *arg)
{
    size_t it = 0;
    const lm_opt *o;
    while ((o = opt_at(cmd, &it)))
        if (o->id == id)
            break;
    if (!o || !o->arg || !is_file_opt(o))
        return;
    int i = 0;
    while (i < c->nfiles && c->files[i].opt != o)
        i++;
    if (i == LM_MAX_FILE_OPTS)
        return;
    c->files[i].opt = o;
    c->files[i].path = arg;
    if (i == c->nfiles)
        c->nfiles++;
}

/* Before any work: every output can be written, and none replaces an input
 * (an operand, standard input, a file option) or another output. */
static void check_files(const lm_common *c, int nops, char **ops)
{
    char msg[512];
    for (int i = 0; i < c->nfiles; i++) {
        const lm_opt *o = c->files[i].opt;
        const char *out = c->files[i].path;
        if (strcmp(o->complete, "outfile") != 0)
            continue;
        if (lm_out_check(out, msg, sizeof msg) < 0)
            lm_die_hint(LM_EXIT_USAGE, "name a file in an existing folder that you may write to", "--%s: %s",
                        o->name, msg);
        for (int j = 0; j <= nops; j++) {
            const char *in = j < nops ? ops[j] : "-";
            if (j == nops && nops > 0)
                break; /* standard input is read only when no file is named */
            if (lm_out_replaces(out, in))
                lm_die_hint(LM_EXIT_USAGE, "write the output to another file",
                            "--%s '%s' is also an input (%s): writing it would destroy it", o->name, out,
                            strcmp(in, "-") == 0 ? "standard input" : in);
        }
        for (int j = 0; j < c->nfiles; j++) {
            const lm_opt *p = c->files[j].opt;
            int p_out = strcmp(p->complete, "outfile") == 0;
            if (j == i || (p_out && j < i))
                continue;
            if (p_out ? lm_out_same(out, c->files[j].path) : lm_out_replaces(out, c->files[j].path))
                lm_die_hint(LM_EXIT_USAGE, "give each output a file of its own",
                            "--%s '%s' names the same file as --%s '%s'", o->name, out, p->name,
                            c->files[j].path);
        }
    }
}

/* getopt_long's tables for cmd's options and the hidden --generate. */
static void build_getopt(const lm_cmd *cmd, struct option **lo_out, char **short_out)
{
    size_t nopt = 0, it = 0;
    while (opt_at(cmd, &it))
        nopt++;
    struct option *lo = lm_xcalloc(nopt + 2, sizeof *lo);
    char *shortopts = lm_xcalloc(2 * nopt + 4, 1);
    size_t ns = 0, k = 0;
    shortopts[ns++] = ':';
    it = 0;
    const lm_opt *o;
    while ((o = opt_at(cmd, &it))) {
        lo[k++] = (struct option){o->name, o->arg ? required_argument : no_argument, NULL, o->id};
        if (o->short_name) {
            shortopts[ns++] = o->short_name;
            if (o->arg)
                shortopts[ns++] = ':';
        }
    }
    lo[k++] = (struct option){"generate", required_argument, NULL, ID_GENERATE};
    *lo_out = lo;
    *short_out = shortopts;
}

/* The message for getopt's ':' (missing argument) or '?' (unknown). */
static void getopt_error(int ch, char **argv, lm_buf *msg)
{
    const char *a = argv[optind - 1];
    if (ch == ':') {
        if (optopt && optopt < 256 && !(a[0] == '-' && a[1] == '-'))
            lm_buf_printf(msg, "option requires an argument -- '%c'", optopt);
        else
            lm_buf_printf(msg, "option '%s' requires an argument", a);
    } else if (a && a[0] == '-' && a[1] == '-') {
        if (strchr(a, '='))
            lm_buf_printf(msg, "unrecognized option '%.*s', or it takes no argument",
                          (int)(strchr(a, '=') - a), a);
        else
            lm_buf_printf(msg, "unrecognized option '%s'", a);
    } else if (optopt > 32 && optopt < 127) {
        lm_buf_printf(msg, "invalid option -- '%c'", optopt);
    } else {
        lm_buf_printf(msg, "invalid option '%s'", a ? a : "");
    }
}

#define NOT_COMMON INT_MIN

/* A common option (or --help, --version, --generate): 0 when taken, 1/2/3
 * for help/version/generate printed, -1 with a message, NOT_COMMON for an
 * option of the command's own. */
static int common_option(const lm_cmd *cmd, lm_common *c, int ch, const char *arg, FILE *out, lm_buf *msg)
{
    switch (ch) {
    case ID_HELP: lm_cli_help(cmd, out); return 1;
    case ID_VERSION: lm_cli_version(cmd, out); return 2;
    case ID_GENERATE:
        if (lm_cli_generate(cmd, arg, out) < 0) {
            lm_buf_printf(msg,
                          "invalid --generate '%s': choose complete-bash, complete-zsh, "
                          "complete-fish or options",
                          arg);
            return -1;
        }
        return 3;
    case ID_THREADS: {
        uint64_t v;
        if (lm_parse_u64(arg, &v) < 0 || v > 4096) {
            lm_buf_printf(
                msg, "invalid --threads '%s': a whole number from 0 (automatic) to 4096 is expected", arg);
            return -1;
        }
        c->threads = (int)v;
        return 0;
    }
    case ID_SEED:
        if (lm_parse_u64(arg, &c->seed) < 0) {
            lm_buf_printf(
                msg, "invalid --seed '%s': a whole number from 0 to 18446744073709551615 is expected", arg);
            return -1;
        }
        c->seed_set = 1;
        return 0;
    case ID_DEVICE:
        if (strcmp(arg, "auto") == 0)
            c->device = LM_DEVICE_AUTO;
        else if (strcmp(arg, "cpu") == 0)
            c->device = LM_DEVICE_CPU;
        else if (strcmp(arg, "cuda") == 0)
            c->device = LM_DEVICE_CUDA;
        else {
            lm_buf_printf(msg, "invalid --device '%s': choose one of auto, cpu, cuda", arg);
            return -1;
        }
        return 0;
    case ID_KEEP_GOING: c->keep_going = 1; return 0;
    case ID_ERRORS: c->errors_path = arg; return 0;
    case ID_UNBUFFERED: c->unbuffered = 1; return 0;
    case ID_PROGRESS:
        c->progress = 1;
        c->quiet = 0;
        return 0;
    case ID_QUIET:
        c->quiet = 1;
        c->progress = 0;
        return 0;
    case ID_SHARD: return lm_parse_shard(arg, &c->shard_k, &c->shard_n, msg) < 0 ? -1 : 0;
    case ID_FIELD:
        if (!*arg) {
            lm_buf_printf(msg, "invalid --field '': a field name is expected");
            return -1;
        }
        c->field = arg;
        return 0;
    }
    return NOT_COMMON;
}

/* A short option's character becomes the id of its table entry. */
static int short_to_id(const lm_cmd *cmd, int ch)
{
    if (ch > 0 && ch < 256 && ch != ':' && ch != '?') {
        size_t it = 0;
        const lm_opt *so;
        while ((so = opt_at(cmd, &it)))
            if (so->short_name == ch)
                return so->id;
    }
    return ch;
}

int lm_cli_parse_r(const lm_cmd *cmd, int argc, char **argv, lm_common *c, lm_opt_fn fn, void *ctx,
                   int *optind_out, FILE *out, lm_buf *msg)
{
    memset(c, 0, sizeof *c);
    c->progress = -1;
    c->shard_n = 1;
    c->field = cmd->field_default;
    struct option *lo;
    char *shortopts;
    build_getopt(cmd, &lo, &shortopts);
    int rc = 0;
    optind = 0; /* full reinitialisation of getopt in glibc */
    opterr = 0;
    int ch;
    while (rc == 0 && (ch = getopt_long(argc, argv, shortopts, lo, NULL)) != -1) {
        const char *arg = optarg;
        ch = short_to_id(cmd, ch);
        note_file(cmd, c, ch, arg);
        if (ch == ':' || ch == '?') {
            getopt_error(ch, argv, msg);
            rc = -1;
            break;
        }
        rc = common_option(cmd, c, ch, arg, out, msg);
        if (rc != NOT_COMMON)
            continue;
        rc = 0;
        if (fn && fn(ctx, ch, arg) != 0) {
            if (!msg->n)
                lm_buf_printf(msg, "invalid option value");
            rc = -1;
        }
    }
    if (rc == 0)
        *optind_out = optind;
    free(lo);
    free(shortopts);
    return rc;
}

int lm_cli_parse(const lm_cmd *cmd, int argc, char **argv, lm_common *c, lm_opt_fn fn, void *ctx)
{
    lm_buf msg = {0};
    int oi = 0;
    int rc = lm_cli_parse_r(cmd, argc, argv, c, fn, ctx, &oi, stdout, &msg);
    if (rc > 0)
        exit(LM_EXIT_OK);
    if (rc < 0)
        lm_usage_error(cmd, "%s", msg.p ? msg.p : "usage error");
    lm_buf_free(&msg);
    check_files(c, argc - oi, argv + oi);
    return oi;
}
