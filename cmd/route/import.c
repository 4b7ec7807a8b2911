/* import.c - route import: public routing data (RouteLLM CSVs,
 * best-route-llm JSONL stages) as route records (lib/route/import.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/diag.h"
#include "core/fs.h"
#include "core/json.h"
#include "route/import.h"
#include "route/recio.h"
#include "route.h"

/* clang-format off */
static const lm_opt import_opts[] = {
    {"out-tokens", 0, "N", "routellm: output tokens per answer without a response text (default 1)", NULL, OPT_OUT_TOKENS},
    {"exclude", 0, "FILE", "routellm: drop prompts listed in FILE (contaminated_prompts.jsonl)", "file", OPT_EXCLUDE},
    {0},
};
/* clang-format on */

const lm_cmd cmd_import = {
    "route import",
    "routellm|best-route [OPTION]... FILE...",
    "Convert public routing data (RouteLLM CSVs, best-route-llm JSONL stages) to route records.",
    "routellm: CSVs with a prompt column and True/False per model; token counts are estimated\n"
    "as characters/4 and the records say \"approx_tokens\": true.  best-route: one stage record per\n"
    "line (armoRM_scores, ourRM_scores, token_num_prompt, token_num_responses per model).",
    NULL,
    import_opts,
    LM_OPT_RECORDS,
    NULL,
    NULL};

int import_opt(void *vc, int id, const char *arg)
{
    ctx_t *c = vc;
    switch (id) {
    case OPT_OUT_TOKENS: c->out_tokens = lm_opt_double(c->cur, "out-tokens", arg, 0, 0, 1e9, 0); break;
    case OPT_EXCLUDE: c->exclude_path = arg; break;
    default: return route_opt_shared(c, id, arg);
    }
    return 0;
}

/* best-route: one stage record in, one route record out. */
static int import_stage_rec(void *vc, const lm_record *in, lm_out *out, lm_rerr *err)
{
    (void)vc;
    json_error_t je;
    json_t *j = json_loadb(in->text, in->len, 0, &je);
    if (!j) {
        lm_rerr_set(err, LM_NOPOS, "%s", je.text);
        return LM_REC_BAD;
    }
    route_err e;
    json_t *r = route_import_stage_e(j, NULL, 0, &e);
    json_decref(j);
    if (!r) {
        lm_rerr_set(err, route_err_pos(in, &e), "%s", e.msg);
        return LM_REC_BAD;
    }
    out->standalone = 1;
    const char *k;
    json_t *v;
    lm_buf b = {0};
    json_object_foreach(r, k, v)
    {
        lm_buf_reset(&b);
        lm_buf_add_jansson(&b, v);
        lm_out_raw(out, k, b.p, b.n);
    }
    lm_buf_free(&b);
    json_decref(r);
    return LM_REC_OK;
}

/* --exclude FILE as a list of prompts (or dies). */
static void read_exclude(const char *path, char ***ex, size_t *nex)
{
    char err[512];
    size_t len;
    char *t = lm_read_file(path, &len, err, sizeof err);
    if (!t)
        lm_die(LM_EXIT_DATA, "%s", err);
    route_err e;
    int rc = route_import_exclude(t, len, ex, nex, &e);
    free(t);
    if (rc < 0 && e.line)
        lm_die(LM_EXIT_DATA, "%s:%zu: %s", path, e.line, e.msg);
    if (rc < 0)
        lm_die(LM_EXIT_USAGE, "%s: %s", path, e.msg);
}

/* routellm: every CSV file's records, in order; 0 or LM_EXIT_DATA. */
static int import_routellm(ctx_t *c, int nfiles, char **files, const char *const *ex, size_t nex)
{
    char err[512];
    lm_buf b = {0};
    int st = 0;
    for (int i = 0; i < nfiles; i++) {
        size_t len;
        char *t = lm_read_file(files[i], &len, err, sizeof err);
        if (!t)
            lm_die(LM_EXIT_DATA, "%s", err);
        const char *base = strrchr(files[i], '/');
        base = base ? base + 1 : files[i];
        char prefix[256];
        snprintf(prefix, sizeof prefix, "%.*s", (int)strcspn(base, "."), base);
        json_t **recs = NULL;
        size_t nr = 0;
        route_err e;
        if (route_import_routellm_csv_e(t, len, prefix, c->out_tokens, ex, nex, &recs, &nr, &e) < 0) {
            fflush(stdout);
            if (e.col)
                lm_warn("%s:%zu:%zu: %s", files[i], e.line, e.col, e.msg);
            else if (e.line)
                lm_warn("%s:%zu: %s", files[i], e.line, e.msg);
            else
                lm_warn("%s: %s", files[i], e.msg);
            lm_hint("%s", e.hint);
            free(t);
            st = LM_EXIT_DATA;
            break;
        }
        for (size_t k = 0; k < nr; k++) {
            lm_buf_reset(&b);
            lm_buf_add_jansson(&b, recs[k]);
            lm_buf_addc(&b, '\n');
            fwrite(b.p, 1, b.n, stdout);
            json_decref(recs[k]);
        }
        free(recs);
        free(t);
    }
    lm_buf_free(&b);
    return st;
}

int run_import(ctx_t *c, int argc, char **argv)
{
    c->cur = &cmd_import;
    c->out_tokens = 1;
    int oi = lm_cli_parse(&cmd_import, argc, argv, &c->com, import_opt, c);
    if (oi >= argc)
        lm_usage_error(&cmd_import, "missing format: routellm or best-route");
    const char *fmt = argv[oi++];
    if (strcmp(fmt, "best-route") == 0) {
        lm_loop L = {.cmd = &cmd_import, .common = &c->com, .fn = import_stage_rec, .ctx = c, .parallel = 1};
        return lm_loop_run(&L, argc - oi, argv + oi);
    }
    if (strcmp(fmt, "routellm") != 0)
        lm_usage_error(&cmd_import, "unknown format '%s': choose routellm or best-route", fmt);
    if (oi >= argc)
        lm_usage_error(&cmd_import, "routellm: give the CSV files");
    char **ex = NULL;
    size_t nex = 0;
    if (c->exclude_path)
        read_exclude(c->exclude_path, &ex, &nex);
    int st = import_routellm(c, argc - oi, argv + oi, (const char *const *)ex, nex);
    route_import_exclude_free(ex, nex);
    return st;
}
