/* test_jsonl.c - splicing fields into records, byte-for-byte passthrough. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/jsonl.h"
#include "tap.h"

static char *render(const char *line, void (*fill)(lm_out *))
{
    static lm_buf out;
    lm_record r = {.file = "t", .lineno = 1, .text = line, .len = strlen(line)};
    lm_jerr e;
    if (lm_json_scan_object(&r.scan, line, r.len, &e) < 0)
        return NULL;
    lm_out o = {0};
    lm_out_reset(&o);
    fill(&o);
    lm_buf_reset(&out);
    lm_out_render(&o, &r, &out);
    lm_out_free(&o);
    lm_jscan_free(&r.scan);
    return out.p;
}

static void add_eps(lm_out *o)
{
    lm_out_num(o, "eps", 0.1);
    lm_out_bool(o, "ok", 1);
}
static void replace_a(lm_out *o)
{
    lm_out_int(o, "a", 7);
}
static void nested(lm_out *o)
{
    lm_buf *b = lm_out_begin(o, "route");
    lm_buf_adds(b, "{\"model\":");
    lm_buf_add_jstr(b, "m\"1", 3);
    lm_buf_adds(b, "}");
    lm_out_end(o);
    lm_out_str(o, "k\xc3\xa9y", "tab\there");
}

static void set_empty(lm_out *o)
{
    lm_out_int(o, "", 42);
}
static void set_a_empty(lm_out *o)
{
    lm_out_int(o, "a", 42);
    lm_out_int(o, "", 43);
}

/* Input keys holding NUL ("\u0000") are never taken for an owned name that
 * equals their NUL-cut prefix: names the commands own never hold NUL, and
 * every comparison uses the decoded key's full length. */
static void nul_keys(void)
{
    static const char *const lines[] = {"{\"\\u0000\":5}", "{\"a\\u0000b\":1}",
                                        "{\"a\\u0000\":1,\"\\u0000a\":2}"};
    for (size_t i = 0; i < sizeof lines / sizeof *lines; i++) {
        lm_record r = {.file = "t", .lineno = 1, .text = lines[i], .len = strlen(lines[i])};
        lm_jerr e;
        ok(lm_json_scan_object(&r.scan, r.text, r.len, &e) == 0 && r.scan.m[0].klen > strlen(r.scan.m[0].key),
           "%s: scanned, first key decodes to hold NUL", lines[i]);
        ok(lm_rec_get(&r, "") == NULL && lm_rec_get(&r, "a") == NULL && lm_jscan_get(&r.scan, "") == NULL &&
               lm_jscan_get(&r.scan, "a") == NULL,
           "%s: lm_rec_get/lm_jscan_get find neither \"\" nor \"a\"", lines[i]);
        lm_jscan_free(&r.scan);
    }
    is_str(render("{\"\\u0000\":5}", set_empty), "{\"\\u0000\":5,\"\":42}\n",
           "owned \"\" does not replace \"\\u0000\": appended");
    is_str(render("{\"a\\u0000b\":1}", set_a_empty), "{\"a\\u0000b\":1,\"a\":42,\"\":43}\n",
           "owned \"a\" and \"\" do not replace \"a\\u0000b\": appended");
    is_str(render("{\"a\\u0000\":1,\"a\":2,\"\\u0000\":3,\"\":4}", set_a_empty),
           "{\"a\\u0000\":1,\"a\":42,\"\\u0000\":3,\"\":43}\n",
           "beside NUL keys, owned names replace only the members named exactly so");
    const char *line = "{\"a\\u0000\":1,\"a\":2}";
    lm_record r = {.file = "t", .lineno = 1, .text = line, .len = strlen(line)};
    lm_jerr e;
    lm_json_scan_object(&r.scan, line, r.len, &e);
    ok(lm_rec_get(&r, "a") == &r.scan.m[1], "lm_rec_get(\"a\") is the member named exactly \"a\"");
    lm_jscan_free(&r.scan);
}

/* ---- lm_loop with prepare/gather: a command that doubles "n" in batches */

typedef struct {
    int prepared, gathers, gathered, in_order, finished, freed;
} gctx;

static int g_prepare(void *vc, lm_record *in, lm_rerr *err)
{
    gctx *g = vc;
    const lm_member *m = lm_rec_get(in, "n");
    int64_t v;
    if (!m || lm_jint(in->text + m->vpos, m->vlen, &v)) {
        lm_rerr_set(err, LM_NOPOS, "no integer \"n\"");
        return LM_REC_BAD;
    }
    int64_t *st = malloc(sizeof *st);
    *st = v;
    in->state = st;
#pragma omp atomic
    g->prepared++;
    return LM_REC_OK;
}

static void g_gather(void *vc, lm_record *const *recs, size_t n)
{
    gctx *g = vc;
    g->gathers++;
    g->gathered += (int)n;
    for (size_t i = 0; i < n; i++) {
        if (i && recs[i]->index <= recs[i - 1]->index)
            g->in_order = 0;
        *(int64_t *)recs[i]->state *= 2;
    }
}

static int g_fn(void *vc, const lm_record *in, lm_out *out, lm_rerr *err)
{
    gctx *g = vc;
    (void)err;
    int64_t *st = in->state;
    lm_out_int(out, "m", *st);
    free(st);
#pragma omp atomic
    g->finished++;
    return LM_REC_OK;
}

/* Runs the loop over text with stdout sent to a file; returns what it wrote. */
static char *run_loop(lm_loop *L, lm_common *com, const char *text, int *status)
{
    char in[] = "/tmp/lmkit-test-jsonl-in-XXXXXX", out[] = "/tmp/lmkit-test-jsonl-out-XXXXXX";
    int fi = mkstemp(in), fo = mkstemp(out);
    if (fi < 0 || fo < 0 || write(fi, text, strlen(text)) != (ssize_t)strlen(text))
        return NULL;
    close(fi);
    fflush(stdout);
    fflush(stderr);
    /* stdin off a terminal (the loop batches only then), stderr quiet */
    int saved = dup(STDOUT_FILENO), saved_in = dup(STDIN_FILENO), saved_err = dup(STDERR_FILENO);
    int null = open("/dev/null", O_RDWR);
    dup2(null, STDIN_FILENO);
    dup2(null, STDERR_FILENO);
    close(null);
    dup2(fo, STDOUT_FILENO);
    char *files[1] = {in};
    L->common = com;
    *status = lm_loop_run(L, 1, files);
    fflush(stdout);
    fflush(stderr);
    dup2(saved, STDOUT_FILENO);
    dup2(saved_in, STDIN_FILENO);
    dup2(saved_err, STDERR_FILENO);
    close(saved), close(saved_in), close(saved_err);
    static char buf[4096];
    ssize_t k = pread(fo, buf, sizeof buf - 1, 0);
    buf[k > 0 ? k : 0] = 0;
    close(fo);
    unlink(in), unlink(out);
    return buf;
}

static void loop_gather(void)
{
    static const lm_cmd cmd = {.name = "test"};
    const char *text = "{\"n\":1}\n{\"n\":2}\n{\"x\":3}\n\n{\"n\":4}\n{\"n\":5,\"k\":\"v\"}\n";
    for (int unbuf = 0; unbuf < 2; unbuf++) {
        gctx g = {.in_order = 1};
        lm_common com = {.keep_going = 1, .quiet = 1, .unbuffered = unbuf};
        lm_loop L = {
            .cmd = &cmd, .fn = g_fn, .ctx = &g, .parallel = 1, .prepare = g_prepare, .gather = g_gather};
        int st = -1;
        const char *got = run_loop(&L, &com, text, &st);
        is_str(
            got, "{\"n\":1,\"m\":2}\n{\"n\":2,\"m\":4}\n{\"n\":4,\"m\":8}\n{\"n\":5,\"k\":\"v\",\"m\":10}\n",
            "prepare, gather, fn: every good record once, in order (%s)", unbuf ? "unbuffered" : "batched");
        ok(st == 1 && L.n_bad == 1 && L.n_read == 5, "the bad record is counted and the status is 1");
        ok(g.prepared == 4 && g.finished == 4, "fn ran on exactly the prepared records (%d, %d)", g.prepared,
           g.finished);
        if (unbuf)
            ok(g.gathers == 4 && g.gathered == 4, "unbuffered: one gather per good record (%d calls)",
               g.gathers);
        else
            ok(g.gathers == 1 && g.gathered == 4 && g.in_order,
               "batched: one gather over the 4 records, in order");
    }
}

int main(void)
{
    is_str(
        render("{\"x\":0.1,\"id\":18446744073709551615,\"big\":1e400,\"s\":\"\\u00e9\"}", add_eps),
        "{\"x\":0.1,\"id\":18446744073709551615,\"big\":1e400,\"s\":\"\\u00e9\",\"eps\":0.1,\"ok\":true}\n",
        "odd numbers and escapes pass through, fields appended");
    is_str(render("{}", add_eps), "{\"eps\":0.1,\"ok\":true}\n", "empty object");
    is_str(render(" { \"b\" : 1 , \"a\" : [1, 2] } ", replace_a), " { \"b\" : 1 , \"a\" : 7 } \n",
           "replace in place keeps spacing and order");
    is_str(render("{\"z\":null}", nested),
           "{\"z\":null,\"route\":{\"model\":\"m\\\"1\"},\"k\xc3\xa9y\":\"tab\\there\"}\n",
           "nested value and escaped string");
    lm_out o = {0};
    lm_out_reset(&o);
    lm_out_num(&o, "a", 1e-5);
    lm_out_num(&o, "b", 1e21);
    lm_out_num(&o, "c", 2.0 / 3.0);
    lm_out_num(&o, "d", -0.0);
    lm_out_num(&o, "a", 3); /* set twice: last wins, position kept */
    lm_buf b = {0};
    lm_out_render(&o, NULL, &b);
    is_str(b.p, "{\"a\":3,\"b\":1e21,\"c\":0.6666666666666666,\"d\":-0}\n",
           "standalone record, shortest numbers");
    lm_buf_free(&b);
    lm_out_free(&o);
    nul_keys();
    loop_gather();
    return tap_done();
}
