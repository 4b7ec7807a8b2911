/* synth.c - route synth: seeded synthetic best-of-n records with known
 * ground truth (lib/route/synth.h), and their prices file.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/diag.h"
#include "core/fs.h"
#include "core/json.h"
#include "route.h"

/* clang-format off */
static const lm_opt synth_opts[] = {
    {"queries", 'n', "N", "number of queries (default 1000)", NULL, OPT_QUERIES},
    {"samples", 0, "S", "samples per model and query (default 20)", NULL, OPT_SAMPLES},
    {"tau", 0, "S", "noise of the proxy reward (default 0.02)", NULL, OPT_TAU},
    {"no-proxy", 0, NULL, "leave out proxy scores", NULL, OPT_NO_PROXY},
    {"prices-out", 0, "FILE", "write the generator's prices file to FILE", "outfile", OPT_PRICES_OUT},
    {0},
};
/* clang-format on */

const lm_cmd cmd_synth = {
    "route synth",
    "[OPTION]...",
    "Write seeded synthetic best-of-n records with known ground truth (\"synthetic\": true).",
    NULL,
    NULL,
    synth_opts,
    LM_OPT_THREADS | LM_OPT_SEED,
    NULL,
    NULL};

int synth_opt(void *vc, int id, const char *arg)
{
    ctx_t *c = vc;
    const lm_cmd *k = c->cur;
    switch (id) {
    case OPT_QUERIES: c->queries = (size_t)lm_opt_int(k, "queries", arg, 1, (int64_t)1 << 40); break;
    case OPT_SAMPLES: c->so.n_samples = (size_t)lm_opt_int(k, "samples", arg, 1, 10000); break;
    case OPT_TAU: c->so.tau = lm_opt_double(k, "tau", arg, 0, 0, HUGE_VAL, 0); break;
    case OPT_NO_PROXY: c->so.with_proxy = 0; break;
    case OPT_PRICES_OUT: c->prices_out = arg; break;
    default: return route_opt_shared(c, id, arg);
    }
    return 0;
}

/* --prices-out FILE: the generator's prices, written atomically. */
static void write_prices(const char *path)
{
    char err[512];
    lm_atomic a;
    if (lm_atomic_open(&a, path, err, sizeof err) < 0)
        lm_die(LM_EXIT_USAGE, "%s", err);
    json_t *p = route_synth_prices();
    lm_buf b = {0};
    lm_buf_add_jansson(&b, p);
    lm_buf_addc(&b, '\n');
    fwrite(b.p, 1, b.n, a.fp);
    lm_buf_free(&b);
    json_decref(p);
    if (lm_atomic_commit(&a, err, sizeof err) < 0)
        lm_die(LM_EXIT_USAGE, "%s", err);
}

int run_synth(ctx_t *c, int argc, char **argv)
{
    c->cur = &cmd_synth;
    int oi = lm_cli_parse(&cmd_synth, argc, argv, &c->com, synth_opt, c);
    if (oi < argc)
        lm_usage_error(&cmd_synth, "unexpected operand '%s': synth reads no input", argv[oi]);
    lm_cli_threads(&c->com);
    c->so.seed = c->com.seed;
    if (c->prices_out)
        write_prices(c->prices_out);
    /* records made in parallel, chunk by chunk, written in order */
    const size_t chunk = 2048;
    lm_buf *bufs = lm_xcalloc(chunk, sizeof *bufs);
    for (size_t q0 = 0; q0 < c->queries; q0 += chunk) {
        size_t k = c->queries - q0 < chunk ? c->queries - q0 : chunk;
        int bad = 0;
#pragma omp parallel for schedule(dynamic, 16) reduction(| : bad)
        for (size_t i = 0; i < k; i++) {
            lm_buf_reset(&bufs[i]);
            json_t *r = route_synth_record(&c->so, q0 + i);
            if (!r) {
                bad |= 1;
                continue;
            }
            lm_buf_add_jansson(&bufs[i], r);
            lm_buf_addc(&bufs[i], '\n');
            json_decref(r);
        }
        if (bad)
            lm_die(LM_EXIT_USAGE, "synth: out of memory");
        for (size_t i = 0; i < k; i++)
            if (fwrite(bufs[i].p, 1, bufs[i].n, stdout) != bufs[i].n)
                lm_close_stdout();
    }
    for (size_t i = 0; i < chunk; i++)
        lm_buf_free(&bufs[i]);
    free(bufs);
    return 0;
}
