/* jsonl.c - the shared JSON Lines record loop (see jsonl.h). */
#include "jsonl.h"

#include <errno.h>
#include <sched.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "diag.h"
#include "fs.h"
#include "utf8.h"

#define BATCH_RECORDS 512
#define BATCH_BYTES (8u << 20)

const lm_member *lm_rec_get(const lm_record *r, const char *key)
{
    return lm_jscan_get(&r->scan, key);
}

static void vset(lm_buf *b, const char *fmt, va_list ap)
{
    char tmp[512];
    vsnprintf(tmp, sizeof tmp, fmt, ap);
    lm_buf_reset(b);
    lm_buf_adds(b, tmp);
}

void lm_rerr_set(lm_rerr *e, size_t pos, const char *fmt, ...)
{
    va_list ap;
    e->pos = pos;
    va_start(ap, fmt);
    vset(&e->msg, fmt, ap);
    va_end(ap);
}

void lm_rerr_hint(lm_rerr *e, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vset(&e->hint, fmt, ap);
    va_end(ap);
}

void lm_rerr_free(lm_rerr *e)
{
    lm_buf_free(&e->msg);
    lm_buf_free(&e->hint);
}

/* ---- output records ---- */

void lm_out_reset(lm_out *o)
{
    o->nf = 0;
    lm_buf_reset(&o->keys);
    lm_buf_reset(&o->vals);
    lm_buf_reset(&o->queued);
    o->open_key = (size_t)-1;
    o->standalone = 0;
    o->suppress = 0;
}

void lm_out_text(lm_out *o, const char *s, size_t n)
{
    lm_buf_add(&o->queued, s, n);
    o->suppress = 1;
}

void lm_out_push(lm_out *o, const lm_record *in)
{
    lm_out_render(o, in, &o->queued);
    o->nf = 0;
    lm_buf_reset(&o->keys);
    lm_buf_reset(&o->vals);
}

void lm_out_free(lm_out *o)
{
    free(o->f);
    lm_buf_free(&o->keys);
    lm_buf_free(&o->vals);
    lm_buf_free(&o->queued);
    memset(o, 0, sizeof *o);
}

static size_t field_for(lm_out *o, const char *key)
{
    size_t kl = strlen(key);
    for (size_t i = 0; i < o->nf; i++)
        if (o->f[i].klen == kl && memcmp(o->keys.p + o->f[i].koff, key, kl) == 0)
            return i; /* setting a field twice keeps the last value */
    lm_grow(o->f, o->capf, o->nf + 1);
    o->f[o->nf] = (struct lm_outf){o->keys.n, kl, 0, 0};
    lm_buf_add(&o->keys, key, kl);
    return o->nf++;
}

void lm_out_raw(lm_out *o, const char *key, const char *json, size_t len)
{
    size_t i = field_for(o, key);
    o->f[i].voff = o->vals.n;
    lm_buf_add(&o->vals, json, len);
    o->f[i].vlen = len;
}

void lm_out_num(lm_out *o, const char *key, double v)
{
    char t[40];
    lm_out_raw(o, key, t, lm_fmt_double(t, v));
}

void lm_out_int(lm_out *o, const char *key, int64_t v)
{
    char t[32];
    int n = snprintf(t, sizeof t, "%lld", (long long)v);
    lm_out_raw(o, key, t, (size_t)n);
}

void lm_out_strn(lm_out *o, const char *key, const char *s, size_t n)
{
    lm_buf *b = lm_out_begin(o, key);
    lm_buf_add_jstr(b, s, n);
    lm_out_end(o);
}

void lm_out_str(lm_out *o, const char *key, const char *s)
{
    lm_out_strn(o, key, s, strlen(s));
}

void lm_out_bool(lm_out *o, const char *key, int v)
{
    lm_out_raw(o, key, v ? "true" : "false", v ? 4 : 5);
}

void lm_out_null(lm_out *o, const char *key)
{
    lm_out_raw(o, key, "null", 4);
}

lm_buf *lm_out_begin(lm_out *o, const char *key)
{
    size_t i = field_for(o, key);
    o->f[i].voff = o->vals.n;
    o->open_key = i;
    return &o->vals;
}

void lm_out_end(lm_out *o)
{
    size_t i = o->open_key;
    o->f[i].vlen = o->vals.n - o->f[i].voff;
    o->open_key = (size_t)-1;
}

static void add_field(lm_buf *dst, const lm_out *o, size_t i)
{
    lm_buf_add_jstr(dst, o->keys.p + o->f[i].koff, o->f[i].klen);
    lm_buf_addc(dst, ':');
    lm_buf_add(dst, o->vals.p + o->f[i].voff, o->f[i].vlen);
}

void lm_out_render(const lm_out *o, const lm_record *in, lm_buf *dst)
{
    if (!in || o->standalone) {
        lm_buf_addc(dst, '{');
        for (size_t i = 0; i < o->nf; i++) {
            if (i)
                lm_buf_addc(dst, ',');
            add_field(dst, o, i);
        }
        lm_buf_adds(dst, "}\n");
        return;
    }
    /* Mark which fields replace an existing member. */
    unsigned char small[64];
    unsigned char *used = o->nf <= sizeof small ? small : lm_xcalloc(o->nf, 1);
    memset(used, 0, o->nf);
    size_t pos = 0;
    for (size_t k = 0; k < in->scan.n; k++) {
        const lm_member *m = &in->scan.m[k];
        for (size_t i = 0; i < o->nf; i++) {
            if (!used[i] && o->f[i].klen == m->klen &&
                memcmp(o->keys.p + o->f[i].koff, m->key, m->klen) == 0) {
                lm_buf_add(dst, in->text + pos, m->vpos - pos);
                lm_buf_add(dst, o->vals.p + o->f[i].voff, o->f[i].vlen);
                pos = m->vpos + m->vlen;
                used[i] = 1;
                break;
            }
        }
    }
    size_t close = in->scan.close;
    lm_buf_add(dst, in->text + pos, close - pos);
    int comma = in->scan.n > 0;
    for (size_t i = 0; i < o->nf; i++) {
        if (used[i])
            continue;
        if (comma)
            lm_buf_addc(dst, ',');
        comma = 1;
        add_field(dst, o, i);
    }
    lm_buf_add(dst, in->text + close, in->len - close);
    lm_buf_addc(dst, '\n');
    if (used != small)
        free(used);
}

/* ---- reporting ---- */

void lm_report(const lm_record *in, const lm_rerr *e)
{
    fflush(stdout);
    if (e->pos != LM_NOPOS && e->pos <= in->len)
        fprintf(stderr, "%s: %s:%llu:%zu: %s\n", lm_prog, in->file, (unsigned long long)in->lineno,
                lm_utf8_column(in->text, e->pos), e->msg.p ? e->msg.p : "bad record");
    else
        fprintf(stderr, "%s: %s:%llu: %s\n", lm_prog, in->file, (unsigned long long)in->lineno,
                e->msg.p ? e->msg.p : "bad record");
    if (e->hint.n)
        fprintf(stderr, "hint: %s\n", e->hint.p);
}

static int flush_each(const lm_common *c)
{
    static int tty = -1;
    if (tty < 0)
        tty = isatty(STDOUT_FILENO);
    return c->unbuffered || tty;
}

static void write_out(const lm_common *c, const char *p, size_t n)
{
    if (n && fwrite(p, 1, n, stdout) != n)
        lm_close_stdout();
    if (flush_each(c) && fflush(stdout) != 0)
        lm_close_stdout();
    if (ferror(stdout))
        lm_close_stdout();
}

void lm_emit(const lm_common *c, const lm_out *o, const lm_record *in)
{
    lm_buf b = {0};
    lm_out_render(o, in, &b);
    write_out(c, b.p, b.n);
    lm_buf_free(&b);
}

/* ---- the loop ---- */

typedef struct {
    char *line; /* getline buffer */
    size_t cap;
    lm_record rec;
    lm_out out;
    lm_rerr err;
    lm_buf rendered;
    int status;       /* LM_REC_* or -1: not in this shard */
    atomic_int phase; /* PH_*: how far its processing went (read on OOM) */
} slot;

/* A record's progress through a batch, for the out-of-memory hook. */
enum { PH_IDLE, PH_RUN, PH_PREPARED, PH_DONE, PH_FAILED };

/* What the out-of-memory hook needs to write the finished records. */
typedef struct {
    lm_loop *L;
    slot *sl;
    size_t nb;
    atomic_int active; /* records are being processed */
    atomic_int taken;  /* a thread is reporting */
} oom_ctx;

static _Thread_local slot *cur_slot; /* the record this thread works on */

typedef struct {
    FILE *fp;
    const char *name;
    uint64_t lineno;
} src;

static int is_blank(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r')
            return 0;
    return 1;
}

static void errors_record(FILE *fp, const lm_record *in, const lm_rerr *e)
{
    lm_buf b = {0};
    lm_buf_adds(&b, "{\"file\":");
    lm_buf_add_jstr(&b, in->file, strlen(in->file));
    lm_buf_printf(&b, ",\"line\":%llu", (unsigned long long)in->lineno);
    if (e->pos != LM_NOPOS && e->pos <= in->len)
        lm_buf_printf(&b, ",\"col\":%zu", lm_utf8_column(in->text, e->pos));
    lm_buf_adds(&b, ",\"error\":");
    lm_buf_add_jstr(&b, e->msg.p ? e->msg.p : "", e->msg.n);
    lm_buf_adds(&b, ",\"raw\":");
    lm_buf_add_jstr(&b, in->text, in->len);
    lm_buf_adds(&b, "}\n");
    fwrite(b.p, 1, b.n, fp);
    lm_buf_free(&b);
}

/* Parses the record's line; 0, or -1 with the slot marked bad. */
static int scan(slot *s)
{
    lm_record *r = &s->rec;
    lm_jerr je;
    lm_out_reset(&s->out);
    s->err.pos = LM_NOPOS;
    lm_buf_reset(&s->err.msg);
    lm_buf_reset(&s->err.hint);
    lm_buf_reset(&s->rendered);
    r->state = NULL;
    if (lm_json_scan_object(&r->scan, r->text, r->len, &je) < 0) {
        lm_rerr_set(&s->err, je.pos, "%s", je.msg);
        if (strstr(je.msg, "UTF-8"))
            lm_rerr_hint(&s->err, "the input must be UTF-8; convert it, e.g. with iconv -f LATIN1 -t UTF-8");
        else if (strstr(je.msg, "NUL byte in the line"))
            lm_rerr_hint(&s->err, "NUL bytes between characters mean UTF-16 input; convert it, e.g. with "
                                  "iconv -f UTF-16 -t UTF-8");
        else
            lm_rerr_hint(&s->err, "each line must hold one JSON object, e.g. {\"key\": \"value\"}");
        s->status = LM_REC_BAD;
        return -1;
    }
    return 0;
}

/* The command's record function and the rendering of its output. */
static void finish(lm_loop *L, slot *s)
{
    lm_record *r = &s->rec;
    s->status = L->fn(L->ctx, r, &s->out, &s->err);
    if (s->status == LM_REC_OK) {
        if (s->out.queued.n)
            lm_buf_add(&s->rendered, s->out.queued.p, s->out.queued.n);
        if (!s->out.suppress)
            lm_out_render(&s->out, r, &s->rendered);
    }
}

/* First (or only) step of a record: parse, then prepare when the command
 * gathers, else the record function. */
static void process(lm_loop *L, slot *s)
{
    cur_slot = s;
    atomic_store(&s->phase, PH_RUN);
    int ph = PH_DONE;
    if (scan(s)) {
    } else if (L->prepare) {
        s->status = L->prepare(L->ctx, &s->rec, &s->err);
        if (s->status == LM_REC_OK)
            ph = PH_PREPARED;
    } else {
        finish(L, s);
    }
    atomic_store(&s->phase, ph);
    cur_slot = NULL;
}

/* The second step of a gathering command's record. */
static void finish_prepared(lm_loop *L, slot *s)
{
    cur_slot = s;
    atomic_store(&s->phase, PH_RUN);
    finish(L, s);
    atomic_store(&s->phase, PH_DONE);
    cur_slot = NULL;
}

/* Writes a processed record (or reports it); returns 1 when the loop must
 * stop after it. */
static int write_slot(lm_loop *L, slot *s, FILE *errs, int *status)
{
    const lm_common *c = L->common;
    L->n_read++;
    if (s->status == LM_REC_OK) {
        write_out(c, s->rendered.p, s->rendered.n);
        return 0;
    }
    if (s->status == LM_REC_BAD) {
        L->n_bad++;
        lm_report(&s->rec, &s->err);
        if (errs)
            errors_record(errs, &s->rec, &s->err);
        *status = LM_EXIT_DATA;
        return !c->keep_going;
    }
    fflush(stdout);
    lm_warn("%s", s->err.msg.p ? s->err.msg.p : "internal error");
    if (s->err.hint.n)
        lm_hint("%s", s->err.hint.p);
    *status = LM_EXIT_USAGE;
    return 1;
}

/* Out of memory while a batch is processed: write, in order, the records
 * finished before the first one that is not, and say where the loop stopped
 * (the allocation wrapper then reports the failure and exits 2).  A thread
 * that runs out while another reports waits for the exit. */
static void on_oom(void *arg)
{
    oom_ctx *x = arg;
    slot *me = cur_slot;
    if (me)
        atomic_store(&me->phase, PH_FAILED);
    if (atomic_exchange(&x->taken, 1))
        for (;;)
            pause();
    if (!atomic_load(&x->active))
        return;
    int status = 0;
    for (size_t i = 0; i < x->nb; i++) {
        slot *s = &x->sl[i];
        int ph;
        /* a record still running on another thread is waited for (not when
         * this thread is a helper of that record's own work) */
        for (int tries = 0; me && (ph = atomic_load(&s->phase)) == PH_RUN && tries < 30000; tries++)
            usleep(1000);
        ph = atomic_load(&s->phase);
        if (s->status < 0 && ph != PH_RUN)
            continue;
        if (ph != PH_DONE) {
            fflush(stdout);
            fprintf(stderr, "%s: %s:%llu: out of memory while processing %s%s\n", lm_prog, s->rec.file,
                    (unsigned long long)s->rec.lineno,
                    ph == PH_PREPARED ? "the batch of records that starts here" : "this record",
                    i ? "; the records before it were written" : "");
            return;
        }
        if (write_slot(x->L, s, NULL, &status))
            return;
    }
}

static void progress(const lm_loop *L, int force_end)
{
    static double last;
    double now = lm_clock();
    if (!force_end && now - last < 0.5)
        return;
    last = now;
    fprintf(stderr, "\r%s: %llu records", lm_prog, (unsigned long long)L->n_read);
    if (L->n_bad)
        fprintf(stderr, ", %llu rejected", (unsigned long long)L->n_bad);
    if (force_end)
        fputc('\n', stderr);
    fflush(stderr);
}

/* The inputs and where reading stands. */
typedef struct {
    src *in;
    int n, fi;      /* inputs, the one being read */
    uint64_t index; /* records read so far (blank lines skipped) */
    int err;        /* errno of a line that could not be read */
    const char *err_file;
    uint64_t err_line;
} reader;

static void close_inputs(src *in, int from, int to)
{
    for (int j = from; j < to; j++)
        if (in[j].fp && in[j].fp != stdin)
            fclose(in[j].fp);
}

/* Opens every input first, so that failures surface before any output:
 * 0, or LM_EXIT_DATA after a message (nothing left open). */
static int open_inputs(reader *rd, int nfiles, char **files)
{
    rd->in = lm_xcalloc((size_t)nfiles, sizeof *rd->in);
    rd->n = nfiles;
    int nstdin = 0;
    for (int i = 0; i < nfiles; i++) {
        src *f = &rd->in[i];
        if (strcmp(files[i], "-") == 0) {
            f->fp = stdin;
            f->name = "<stdin>";
            if (++nstdin > 1)
                lm_die(LM_EXIT_USAGE, "standard input ('-') named more than once");
            if (lm_stdin_closed()) {
                lm_warn("cannot read standard input: %s", strerror(EBADF));
                lm_hint("give the input as a file operand, or redirect standard input from one");
                f->fp = NULL;
                close_inputs(rd->in, 0, i);
                free(rd->in);
                return LM_EXIT_DATA;
            }
        } else {
            f->fp = fopen(files[i], "r");
            f->name = files[i];
            if (!f->fp) {
                int e = errno;
                lm_warn("cannot open '%s': %s", files[i], strerror(e));
                close_inputs(rd->in, 0, i);
                free(rd->in);
                return LM_EXIT_DATA;
            }
        }
    }
    return 0;
}

/* Reads up to `batch` records (and BATCH_BYTES) into sl: the number read.
 * Blank lines are skipped, a UTF-8 byte order mark at the start of a file
 * and the line end dropped; records outside --shard are marked skipped.  A
 * line that cannot be read ends the batch with rd->err set. */
static size_t fill_batch(reader *rd, const lm_common *c, slot *sl, size_t batch)
{
    size_t nb = 0, bytes = 0;
    while (!rd->err && nb < batch && bytes < BATCH_BYTES && rd->fi < rd->n) {
        slot *s = &sl[nb];
        src *f = &rd->in[rd->fi];
        errno = 0;
        ssize_t got = getline(&s->line, &s->cap, f->fp);
        if (got < 0) {
            /* end of file only when the stream says so: getline also fails
             * without setting the error flag when a line does not fit in
             * memory */
            if (ferror(f->fp) || !feof(f->fp)) {
                rd->err = errno ? errno : EIO;
                rd->err_file = f->name;
                rd->err_line = f->lineno + 1;
                break;
            }
            if (f->fp != stdin)
                fclose(f->fp);
            f->fp = NULL;
            rd->fi++;
            continue;
        }
        f->lineno++;
        size_t n = (size_t)got;
        if (n && s->line[n - 1] == '\n')
            n--;
        if (n && s->line[n - 1] == '\r')
            n--;
        char *text = s->line;
        if (f->lineno == 1 && n >= 3 && memcmp(text, "\xef\xbb\xbf", 3) == 0) {
            text += 3;
            n -= 3;
        }
        if (is_blank(text, n))
            continue;
        s->rec.file = f->name;
        s->rec.lineno = f->lineno;
        s->rec.index = rd->index++;
        s->rec.text = text;
        s->rec.len = n;
        s->status = (c->shard_n > 1 && s->rec.index % c->shard_n != c->shard_k) ? -1 : LM_REC_OK;
        bytes += n;
        nb++;
    }
    return nb;
}

/* Processes the batch: each record (on threads when parallel: an inactive
 * region leaves nested parallelism in the record function free), then for
 * commands that gather, the gather over the prepared records and their
 * finish. */
static void run_batch(lm_loop *L, slot *sl, size_t nb, lm_record **recs, int parallel, oom_ctx *ox)
{
    ox->nb = nb;
    for (size_t i = 0; i < nb; i++)
        atomic_store(&sl[i].phase, sl[i].status < 0 ? PH_DONE : PH_IDLE);
    atomic_store(&ox->active, 1);
#pragma omp parallel for schedule(dynamic, 1) if (parallel && nb > 1)
    for (size_t i = 0; i < nb; i++)
        if (sl[i].status >= 0)
            process(L, &sl[i]);
    if (L->prepare) {
        size_t ng = 0;
        for (size_t i = 0; i < nb; i++)
            if (sl[i].status == LM_REC_OK)
                recs[ng++] = &sl[i].rec;
        if (L->gather && ng)
            L->gather(L->ctx, recs, ng);
#pragma omp parallel for schedule(dynamic, 1) if (parallel && ng > 1)
        for (size_t i = 0; i < nb; i++)
            if (sl[i].status == LM_REC_OK)
                finish_prepared(L, &sl[i]);
    }
    atomic_store(&ox->active, 0);
}

/* The line that could not be read, after the records before it: the exit
 * status it makes. */
static int report_read_error(const reader *rd, int status)
{
    fflush(stdout);
    if (rd->err == ENOMEM) {
        fprintf(stderr, "%s: %s:%llu: line too long for the memory available\n", lm_prog, rd->err_file,
                (unsigned long long)rd->err_line);
        lm_hint("free memory, or split the record; the records before it were written");
        return LM_EXIT_USAGE;
    }
    fprintf(stderr, "%s: %s:%llu: cannot read the line: %s\n", lm_prog, rd->err_file,
            (unsigned long long)rd->err_line, strerror(rd->err));
    return status == LM_EXIT_USAGE ? status : LM_EXIT_DATA;
}

static void free_slots(slot *sl, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(sl[i].line);
        lm_jscan_free(&sl[i].rec.scan);
        lm_out_free(&sl[i].out);
        lm_rerr_free(&sl[i].err);
        lm_buf_free(&sl[i].rendered);
    }
    free(sl);
}

int lm_loop_run(lm_loop *L, int nfiles, char **files)
{
    const lm_common *c = L->common;
    char *dash[] = {"-"};
    if (nfiles == 0) {
        nfiles = 1;
        files = dash;
    }
    reader rd = {0};
    if (open_inputs(&rd, nfiles, files) != 0)
        return LM_EXIT_DATA;
    lm_atomic errs = {0};
    int have_errs = 0;
    if (c->errors_path) {
        char msg[512];
        if (lm_atomic_open(&errs, c->errors_path, msg, sizeof msg) < 0)
            lm_die(LM_EXIT_USAGE, "--errors: %s", msg);
        have_errs = 1;
    }
    int show_progress = !c->quiet && (c->progress == 1 || (c->progress < 0 && isatty(STDERR_FILENO)));
    int parallel = L->parallel && !c->unbuffered && !isatty(STDIN_FILENO);
    size_t batch = parallel ? BATCH_RECORDS : 1;
    slot *sl = lm_xcalloc(batch, sizeof *sl);
    lm_record **recs = L->prepare ? lm_xcalloc(batch, sizeof *recs) : NULL;
    int status = LM_EXIT_OK, stop = 0;
    L->n_read = L->n_bad = 0;
    oom_ctx ox = {.L = L, .sl = sl};
    lm_set_oom_hook(on_oom, &ox);

    /* read a batch, process it, write it in order */
    while (!stop && rd.fi < rd.n) {
        size_t nb = fill_batch(&rd, c, sl, batch);
        run_batch(L, sl, nb, recs, parallel, &ox);
        for (size_t i = 0; i < nb && !stop; i++)
            if (sl[i].status >= 0 && write_slot(L, &sl[i], have_errs ? errs.fp : NULL, &status))
                stop = 1;
        if (rd.err && !stop) {
            status = report_read_error(&rd, status);
            stop = 1;
        }
        if (show_progress)
            progress(L, 0);
    }
    lm_set_oom_hook(NULL, NULL);
    if (show_progress)
        progress(L, 1);
    close_inputs(rd.in, rd.fi, rd.n);
    if (c->keep_going && L->n_bad)
        lm_warn("%llu of %llu records rejected", (unsigned long long)L->n_bad, (unsigned long long)L->n_read);
    if (have_errs) {
        char msg[512];
        if (lm_atomic_commit(&errs, msg, sizeof msg) < 0) {
            lm_warn("--errors: %s", msg);
            status = LM_EXIT_USAGE;
        }
    }
    free_slots(sl, batch);
    free(recs);
    free(rd.in);
    fflush(stdout);
    if (ferror(stdout))
        lm_close_stdout();
    return status;
}
