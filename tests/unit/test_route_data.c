/* test_route_data.c - route records, prices and importers: parsing, error
 * messages naming the field, RouteLLM CSV and best-route-llm converters. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/fs.h"
#include "route/data.h"
#include "route/import.h"
#include "route/decide.h"
#include "route/eval.h"
#include "route/features.h"
#include "route/router.h"
#include "route/select.h"
#include "tap.h"

static route_models M;

/* parse a record from text; returns rc and leaves the message in err */
static int parse(const char *txt, route_record *r, char *err)
{
    json_error_t je;
    json_t *j = json_loads(txt, 0, &je);
    if (!j) {
        snprintf(err, 256, "bad test json: %s", je.text);
        return -2;
    }
    int rc = route_record_parse(r, j, &M, err, 256);
    json_decref(j);
    return rc;
}

static void expect_err(const char *txt, const char *want, const char *what)
{
    route_record r;
    char err[256] = "";
    int rc = parse(txt, &r, err);
    ok(rc == -1 && strstr(err, want) != NULL, "%s -> \"%s\"", what, err);
    if (rc == 0)
        route_record_free(&r, &M);
}

/* A record error as a route_err: member, key, hint and message. */
static void expect_rerr(const char *txt, int need_resp, const char *member, const char *key, const char *hint,
                        const char *msg)
{
    json_t *j = json_loads(txt, 0, NULL);
    route_record r;
    route_err e;
    int rc = j ? route_record_parse_e(&r, j, &M, need_resp, &e) : -2;
    ok(rc == -1 && strcmp(e.member, member) == 0 && strcmp(e.key, key) == 0 && strcmp(e.hint, hint) == 0 &&
           strcmp(e.msg, msg) == 0 && !e.whole,
       "route_err for %s: member '%s' key '%s' msg '%s' hint '%s'", msg, rc == -1 ? e.member : "",
       rc == -1 ? e.key : "", rc == -1 ? e.msg : "", rc == -1 ? e.hint : "");
    if (rc == 0)
        route_record_free(&r, &M);
    json_decref(j);
}

static void test_route_err(void)
{
    static const char tok[] = "token counts are whole numbers >= 0";
    static const char prices[] = "add the model to the prices file (--prices) or drop it from the record";
    expect_rerr("{\"id\":\"a\",\"prompt_tokens\":-1,\"responses\":{}}", 1, "prompt_tokens", "", tok,
                "prompt_tokens: token count must be >= 0, got -1");
    expect_rerr("{\"id\":\"a\"}", 0, "prompt_tokens", "", tok, "prompt_tokens: missing");
    expect_rerr("{\"id\":\"a\",\"prompt_tokens\":1,\"prompt_tokens_by_model\":{\"x.y\":1}}", 0,
                "prompt_tokens_by_model", "x.y", prices,
                "prompt_tokens_by_model.x.y: model 'x.y' is not in the prices file");
    expect_rerr("{\"id\":\"a\",\"prompt_tokens\":1,\"features\":[1,null]}", 0, "features", "", "",
                "features[1]: expected a finite number");
    expect_rerr("{\"id\":\"a\",\"prompt_tokens\":1,\"responses\":{\"mistral-7b\":[]}}", 1, "responses",
                "mistral-7b",
                "give at least one {\"score\",\"output_tokens\"} sample per model, or leave the model out",
                "responses.mistral-7b: empty list of samples");
    expect_rerr("{\"id\":\"a\",\"prompt_tokens\":1,\"responses\":{\"mistral-7b\":[{\"score\":1}]}}", 1,
                "responses", "mistral-7b", tok, "responses.mistral-7b[0].output_tokens: missing");
    expect_rerr("{\"id\":\"a\",\"prompt_tokens\":1,\"responses\":{\"mistral-7b\":[{\"score\":1,\"output_"
                "tokens\":1}]}}",
                1, "responses", "", "every record needs samples of the reference model (see --reference)",
                "responses: reference model 'gpt-4o' is missing");
    expect_rerr("{\"id\":\"a\",\"prompt_tokens\":1,\"responses\":{\"tokenizer\":[{\"score\":\"x\"}]}}", 1,
                "responses", "tokenizer", prices,
                "responses.tokenizer: model 'tokenizer' is not in the prices file");

    /* prices: the hint depends on the problem, not on its wording */
    route_models m2;
    route_err e;
    size_t off;
    static const char dup[] =
        "{\"a\":{\"in\":1,\"out\":1,\"reference\":true},\"b\":{\"in\":1,\"out\":1,\"in\":2}}";
    ok(route_models_parse_e(&m2, dup, strlen(dup), NULL, &off, &e) == -1 &&
           strcmp(e.hint, "give each model one entry, and each field once per entry") == 0 && off == 59,
       "prices duplicate key: hint '%s', offset %zu", e.hint, off);
    static const char nonum[] =
        "{\"a\":{\"in\":1,\"out\":1,\"reference\":true},\"b\":{\"in\":\"x\",\"out\":1}}";
    ok(route_models_parse_e(&m2, nonum, strlen(nonum), NULL, &off, &e) == -1 && off == ROUTE_NOPOS &&
           strncmp(e.hint, "e.g. {", 6) == 0 &&
           strcmp(e.msg, "prices: model 'b': \"in_per_mtok\" must be a number") == 0,
       "prices bad field: '%s', hint '%s'", e.msg, e.hint);

    /* CSV: line, column and hint apart from the message */
    json_t **recs;
    size_t nr;
    static const char csv[] = "prompt,a,b\nx,True,False\ny,True,perhaps\n";
    ok(route_import_routellm_csv_e(csv, strlen(csv), "t", 1, NULL, 0, &recs, &nr, &e) == -1 && e.line == 3 &&
           e.col == 0 && strcmp(e.msg, "column 'b': expected True or False, got 'perhaps'") == 0 &&
           strncmp(e.hint, "RouteLLM CSVs", 13) == 0,
       "csv error at line %zu col %zu: '%s'", e.line, e.col, e.msg);
    static const char csv2[] = "prompt,a,a\n";
    ok(route_import_routellm_csv_e(csv2, strlen(csv2), "t", 1, NULL, 0, &recs, &nr, &e) == -1 &&
           e.line == 1 && e.col == 10 && strcmp(e.hint, "rename or drop one of the two columns") == 0,
       "csv repeated column at %zu:%zu, hint '%s'", e.line, e.col, e.hint);

    /* best-route stage records: the member is the model, the key its field */
    json_t *st = json_loads("{\"id\":\"q\",\"gpt-3.5\":{\"armoRM_scores\":[1,\"x\"]}}", 0, NULL);
    ok(st && !route_import_stage_e(st, NULL, 0, &e) && strcmp(e.member, "gpt-3.5") == 0 &&
           strcmp(e.key, "armoRM_scores") == 0 &&
           strcmp(e.msg, "gpt-3.5.armoRM_scores[1]: expected a number") == 0,
       "stage error names member '%s' and key '%s'", e.member, e.key);
    json_decref(st);
}

/* route_select: best-of-n over raw samples and its errors. */
static void test_select(void)
{
    json_t *resp = json_loads(
        "{\"m\":[{\"score\":0.1,\"proxy\":0.5,\"output_tokens\":3},"
        "{\"score\":0.9,\"proxy\":0.7,\"output_tokens\":4},"
        "{\"score\":0.2,\"proxy\":0.7,\"output_tokens\":5}],"
        "\"o\":[{\"score\":0.3,\"output_tokens\":1},{\"score\":0.8,\"output_tokens\":2}],"
        "\"mix\":[{\"score\":1,\"output_tokens\":1},{\"score\":0,\"proxy\":1,\"output_tokens\":2}]}",
        0, NULL);
    route_selection s;
    route_err e;
    ok(route_select(&s, resp, "m", 0, ROUTE_SELECT_AUTO, &e) == 0 && s.n == 3 && s.index == 1 && !s.oracle &&
           s.score == 0.9 && s.proxy == 0.7 && s.out_tokens == 4,
       "proxy best-of-3: index %zu, first of the tied proxies", s.index);
    ok(route_select(&s, resp, "m", 1, ROUTE_SELECT_AUTO, &e) == 0 && s.n == 1 && s.index == 0, "best-of-1");
    ok(route_select(&s, resp, "m", 0, ROUTE_SELECT_ORACLE, &e) == 0 && s.index == 1 && s.oracle, "oracle");
    ok(route_select(&s, resp, "o", 0, ROUTE_SELECT_AUTO, &e) == 0 && s.index == 1 && s.oracle &&
           isnan(s.proxy),
       "no proxy at all: by true score, proxy NaN");
    ok(route_select(&s, resp, "o", 0, ROUTE_SELECT_PROXY, &e) == -1 &&
           strcmp(e.msg, "responses.o[0]: no \"proxy\" for --selector proxy") == 0 &&
           strcmp(e.key, "o") == 0 && e.hint[0] && !e.whole,
       "--selector proxy without proxies: '%s'", e.msg);
    ok(route_select(&s, resp, "mix", 0, ROUTE_SELECT_AUTO, &e) == -1 &&
           strcmp(e.msg, "responses.mix[0]: no \"proxy\", but responses.mix[1] has one") == 0,
       "a mix is refused: '%s'", e.msg);
    ok(route_select(&s, resp, "mix", 1, ROUTE_SELECT_AUTO, &e) == 0 && s.oracle,
       "the first sample alone has none");
    ok(route_select(&s, resp, "m", 4, ROUTE_SELECT_AUTO, &e) == -1 && e.whole &&
           strcmp(e.msg, "responses.m has 3 samples, best-of-4 needs 4") == 0,
       "too few samples: '%s'", e.msg);
    ok(route_select(&s, resp, "zz", 0, ROUTE_SELECT_AUTO, &e) == -1 && e.whole &&
           strcmp(e.msg, "responses.zz: missing") == 0 && strcmp(e.member, "responses") == 0,
       "missing model: '%s'", e.msg);
    json_decref(resp);
    resp = json_loads(
        "{\"m\":[{\"score\":1,\"output_tokens\":1}],\"bad\":[{\"score\":1,\"output_tokens\":-1}]}", 0, NULL);
    ok(route_select(&s, resp, "m", 0, ROUTE_SELECT_AUTO, &e) == -1 && strcmp(e.key, "bad") == 0 &&
           strcmp(e.hint, "token counts are whole numbers >= 0") == 0,
       "every model's samples are checked: '%s'", e.msg);
    json_decref(resp);
}

/* match_prob: {"MODEL:N": p} into head order, with its errors. */
static void test_match_prob(void)
{
    static const char *const bad[][2] = {
        {"{\"mistral-7b\":0.5}", "match_prob: key 'mistral-7b' is not MODEL:N"},
        {"{\"x:1\":0.5}", "match_prob: model 'x' is not in the prices file"},
        {"{\"gpt-4o:1\":0.5}", "match_prob: 'gpt-4o:1' is the reference model"},
        {"{\"mistral-7b:3\":0.5}", "match_prob: 'mistral-7b:3' has n above --n-max 2"},
        {"{\"mistral-7b:0\":0.5}", "match_prob: key 'mistral-7b:0' is not MODEL:N"},
        {"{\"mistral-7b:1\":\"x\"}", "match_prob: 'mistral-7b:1' must be a number"},
        {"{\"mistral-7b:1\":1.5}", "match_prob: 'mistral-7b:1' must lie in [0, 1], got 1.5"},
    };
    double pred[4];
    route_err e;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        json_t *o = json_loads(bad[i][0], 0, NULL);
        int rc = route_match_prob_parse(o, &M, 2, pred, &e);
        ok(rc == -1 && strcmp(e.msg, bad[i][1]) == 0 && strcmp(e.member, "match_prob") == 0 && !e.whole &&
               e.at_value == (i == 6),
           "match_prob %s refused: %s", bad[i][0], rc == -1 ? e.msg : "(accepted)");
        json_decref(o);
    }
    json_t *o = json_loads("{\"mistral-7b:2\":0.25,\"llama-31-8b:1\":1}", 0, NULL);
    for (size_t h = 0; h < 4; h++)
        pred[h] = NAN;
    ok(route_match_prob_parse(o, &M, 2, pred, &e) == 0 && pred[0] == 1 && isnan(pred[1]) && isnan(pred[2]) &&
           pred[3] == 0.25,
       "match_prob lands in head order (small model * n_max + n - 1)");
    json_decref(o);
}

/* route_csr_append grows its arrays by doubling, not row by row: appending
 * 1000 rows reallocates rowptr and idx/val a logarithmic number of times,
 * and the rows read back as appended. */
static void test_csr_growth(void)
{
    route_csr X = {0};
    size_t grow_rows = 0, grow_nz = 0, last_rc = 0, last_nc = 0, bad = 0;
    for (uint32_t r = 0; r < 1000; r++) {
        uint32_t idx[3] = {r, r + 1, r + 2};
        float val[3] = {(float)r, 0.5f, -1.0f};
        size_t nnz = r % 4 == 3 ? 0 : 1 + r % 3; /* some empty rows */
        route_csr_append(&X, idx, val, nnz);
        grow_rows += X.row_cap != last_rc;
        grow_nz += X.nz_cap != last_nc;
        last_rc = X.row_cap;
        last_nc = X.nz_cap;
    }
    for (size_t r = 0; r < X.rows; r++) {
        size_t nnz = r % 4 == 3 ? 0 : 1 + r % 3;
        bad += X.rowptr[r + 1] - X.rowptr[r] != nnz;
        for (size_t k = 0; k < nnz && !bad; k++)
            bad += X.idx[X.rowptr[r] + k] != r + k || X.val[X.rowptr[r]] != (float)r;
    }
    ok(X.rows == 1000 && X.rowptr[0] == 0 && !bad, "csr: 1000 rows read back as appended");
    ok(grow_rows <= 9 && grow_nz <= 10 && X.row_cap >= 1001 && X.row_cap < 2 * 1001,
       "csr: amortised growth (%zu reallocations of rowptr, %zu of idx/val)", grow_rows, grow_nz);
    route_csr_free(&X);
}

/* The algorithmic parts of route apply, eval and import: realised costs,
 * a loaded router's head map, the train/test partition, the exclude list. */
static void test_moved(void)
{
    route_err e;
    /* realised costs: head (s, n) pays for the first n samples */
    json_t *j = json_loads(
        "{\"id\":\"c\",\"prompt_tokens\":1000,\"responses\":{"
        "\"gpt-4o\":[{\"score\":1,\"output_tokens\":10}],"
        "\"llama-31-8b\":[{\"score\":1,\"output_tokens\":100},{\"score\":0,\"output_tokens\":200}],"
        "\"mistral-7b\":[{\"score\":1,\"output_tokens\":50}]}}",
        0, NULL);
    route_record r;
    ok(route_record_parse_e(&r, j, &M, 1, &e) == 0, "cost record parses");
    double cost[4], ref;
    route_costs_realised(&M, &r, 2, cost, &ref);
    is_near(cost[0], (1000 * 0.3 + 100 * 0.61) / 1e6, 1e-15, "llama n=1 pays for its first sample");
    is_near(cost[1], (1000 * 0.3 + 300 * 0.61) / 1e6, 1e-15, "llama n=2 pays for both");
    is_near(cost[2], (1000 * 0.25 + 50 * 0.25) / 1e6, 1e-15, "mistral n=1");
    ok(isnan(cost[3]), "mistral n=2: one sample only, NaN");
    is_near(ref, (1000 * 5 + 10 * 15) / 1e6, 1e-15, "reference: its first sample");
    route_record_free(&r, &M);
    json_decref(j);

    /* a router's heads onto the prices table */
    route_router R;
    route_feat_cfg fc;
    route_feat_cfg_default(&fc);
    fc.hash_dim = 16;
    const char *small[] = {"mistral-7b"};
    double avg[] = {7, NAN};
    char err[256];
    ok(route_router_init(&R, ROUTE_LINEAR, &fc, 4, 2, 1, small, "gpt-4o", avg, err, sizeof err) == 0,
       "router for the map: %s", err);
    size_t rmap[2] = {99, 99};
    const char *missing = NULL;
    double ref_avg = M.avg_out[M.ref];
    ok(route_router_map(&R, &M, rmap, &missing) == 0 && rmap[0] == 2 && rmap[1] == 3 && M.avg_out[2] == 7 &&
           M.avg_out[M.ref] == ref_avg,
       "router heads map to (mistral, n) = 2, 3 (%zu, %zu); its finite avg_out replaces the table's", rmap[0],
       rmap[1]);
    route_router_free(&R);
    const char *nope[] = {"nope"};
    ok(route_router_init(&R, ROUTE_LINEAR, &fc, 4, 2, 1, nope, "gpt-4o", NULL, err, sizeof err) == 0 &&
           route_router_map(&R, &M, rmap, &missing) == -1 && missing && strcmp(missing, "nope") == 0,
       "a router model not in the table is named");
    route_router_free(&R);

    /* the partition: a test file, or the seeded split */
    route_eval_item all[10], test[3];
    memset(all, 0, sizeof all);
    memset(test, 0, sizeof test);
    route_eval_item *tr[10], *te[13];
    size_t ntr, nte;
    route_eval_partition(all, 10, 1, test, 3, 0.2, 1, tr, &ntr, te, &nte);
    ok(ntr == 10 && nte == 3 && tr[9] == &all[9] && te[0] == &test[0],
       "with a test file: all train, the file tests");
    route_eval_partition(all, 10, 1, NULL, 0, 0.2, 1, tr, &ntr, te, &nte);
    ok(ntr == 10 && nte == 0, "an empty test file stays a test file");
    route_eval_partition(all, 10, 0, NULL, 0, 0.2, 1, tr, &ntr, te, &nte);
    ok(ntr == 8 && nte == 2, "seeded split: 2 of 10 test");
    int seen[10] = {0};
    for (size_t i = 0; i < ntr; i++)
        seen[tr[i] - all]++;
    for (size_t i = 0; i < nte; i++)
        seen[te[i] - all]++;
    int once = 1;
    for (size_t i = 0; i < 10; i++)
        once &= seen[i] == 1;
    ok(once, "every record lands in one part exactly once");

    /* the exclude list */
    static const char ex[] =
        "{\"eval_prompt\":\"b\"}\n\n{\"prompt\":\"a\"}\n{\"eval_prompt\":\"c\",\"prompt\":1}";
    char **v;
    size_t n;
    ok(route_import_exclude(ex, strlen(ex), &v, &n, &e) == 0 && n == 3 && strcmp(v[0], "a") == 0 &&
           strcmp(v[1], "b") == 0 && strcmp(v[2], "c") == 0,
       "exclude list: sorted, blank lines skipped");
    route_import_exclude_free(v, n);
    static const char bad[] = "{\"eval_prompt\":\"b\"}\n{\"eval_prompt\":3,\"prompt\":\"x\"}\n";
    ok(route_import_exclude(bad, strlen(bad), &v, &n, &e) == -1 && e.line == 2 &&
           strcmp(e.msg, "expected {\"eval_prompt\": \"...\"} or {\"prompt\": \"...\"}") == 0,
       "exclude list: line %zu refused", e.line);
}

int main(void)
{
    char err[512];
    size_t len;
    char *txt = lm_read_file("testdata/route/prices.json", &len, err, sizeof err);
    ok(txt != NULL, "read prices fixture");
    ok(route_models_parse(&M, txt, len, NULL, err, sizeof err) == 0, "prices parse: %s", err);
    free(txt);
    is_int(M.n, 3, "three models");
    is_str(M.name[M.ref], "gpt-4o", "reference from \"reference\": true");
    is_near(M.avg_out[1], 298.33180625, 1e-12, "avg_out_tokens kept");
    is_int(route_models_n_small(&M), 2, "two small models");
    is_int(route_models_small(&M, 0), 1, "small 0 -> table 1");

    /* other price shapes and errors */
    route_models m2;
    const char *arr =
        "[{\"model\":\"a\",\"in\":1,\"out\":2},{\"model\":\"b\",\"in_per_mtok\":3,\"out_per_mtok\":4}]";
    ok(route_models_parse(&m2, arr, strlen(arr), "b", err, sizeof err) == 0 && m2.ref == 1 &&
           m2.out_price[0] == 2,
       "array form with --reference");
    route_models_free(&m2);
    const char *jl =
        "{\"model\":\"a\",\"in\":1,\"out\":2,\"reference\":true}\n\n{\"model\":\"b\",\"in\":1,\"out\":2}\n";
    ok(route_models_parse(&m2, jl, strlen(jl), NULL, err, sizeof err) == 0 && m2.ref == 0,
       "JSON Lines form: %s", err);
    route_models_free(&m2);
    const char *bad1 = "{\"a\":{\"in\":1,\"out\":-2},\"b\":{\"in\":1,\"out\":1}}";
    ok(route_models_parse(&m2, bad1, strlen(bad1), "a", err, sizeof err) == -1 && strstr(err, "'a'") &&
           strstr(err, "out_per_mtok"),
       "negative price: %s", err);
    const char *bad2 = "{\"a\":{\"in\":1,\"out\":2},\"b\":{\"in\":1,\"out\":1}}";
    ok(route_models_parse(&m2, bad2, strlen(bad2), "zz", err, sizeof err) == -1 && strstr(err, "'zz'"),
       "unknown reference: %s", err);
    ok(route_models_parse(&m2, bad2, strlen(bad2), NULL, err, sizeof err) == -1 &&
           strstr(err, "no reference"),
       "no reference: %s", err);

    /* a good record */
    route_record r;
    const char *good = "{\"id\":\"q1\",\"prompt\":\"hi\",\"prompt_tokens\":12,\"features\":[0.5,1],"
                       "\"responses\":{\"gpt-4o\":[{\"score\":0.2,\"proxy\":1,\"output_tokens\":100}],"
                       "\"llama-31-8b\":[{\"score\":0.1,\"proxy\":0.5,\"output_tokens\":50},"
                       "{\"score\":0.3,\"proxy\":0.7,\"output_tokens\":70}]}}";
    ok(parse(good, &r, err) == 0, "good record parses: %s", err);
    is_int(r.n_samples[1], 2, "two llama samples");
    is_int(r.n_samples[2], 0, "mistral absent");
    ok(r.has_proxy, "proxy present");
    is_near(r.samples[1][1].out_tokens, 70, 0, "output tokens");
    is_near(r.prompt_tokens[2], 12, 0, "prompt tokens for every model");
    is_int(r.n_features, 2, "features");
    route_record_free(&r, &M);

    expect_err("{\"id\":\"q\",\"prompt_tokens\":1,\"responses\":{\"llama-31-8b\":[{\"score\":1,\"output_"
               "tokens\":1}]}}",
               "reference model 'gpt-4o' is missing", "missing reference");
    expect_err("{\"id\":\"q\",\"prompt_tokens\":-3,\"responses\":{}}", "prompt_tokens",
               "negative prompt tokens");
    expect_err(
        "{\"id\":\"q\",\"prompt_tokens\":1,\"responses\":{\"gpt-4o\":[{\"score\":1,\"output_tokens\":-1}]}}",
        "responses.gpt-4o[0].output_tokens: token count must be >= 0", "negative output tokens");
    expect_err("{\"id\":\"q\",\"prompt_tokens\":1,\"responses\":{\"gpt-4o\":[]}}",
               "responses.gpt-4o: empty list of samples", "empty responses");
    expect_err("{\"id\":\"q\",\"prompt_tokens\":1,\"responses\":{\"gpt-4o\":[{\"score\":\"high\",\"output_"
               "tokens\":1}]}}",
               "responses.gpt-4o[0].score: expected a number", "non-numeric score");
    expect_err("{\"id\":\"q\",\"prompt_tokens\":1,\"responses\":{\"gpt-4o\":[{\"score\":1,\"output_tokens\":"
               "1}],\"foo\":[{\"score\":1,\"output_tokens\":1}]}}",
               "model 'foo' is not in the prices file", "unknown model");
    expect_err("{\"id\":\"q\",\"prompt_tokens\":1,\"responses\":{\"gpt-4o\":[{\"score\":1,\"proxy\":1,"
               "\"output_tokens\":1},{\"score\":1,\"output_tokens\":1}]}}",
               "some samples but not all", "partial proxy");
    expect_err("{\"prompt_tokens\":1,\"responses\":{}}", "id:", "missing id");
    expect_err("{\"id\":\"q\",\"prompt_tokens\":1}", "responses: missing", "missing responses");

    /* RouteLLM CSV */
    txt = lm_read_file("testdata/route/routellm_small.csv", &len, err, sizeof err);
    json_t **recs;
    size_t nr;
    ok(route_import_routellm_csv(txt, len, "mmlu", 5, NULL, 0, &recs, &nr, err, sizeof err) == 0,
       "csv import: %s", err);
    is_int(nr, 3, "three rows");
    if (nr == 3) {
        is_str(json_string_value(json_object_get(recs[1], "prompt")),
               "A \"quoted\" question\nAnswer:", "doubled quotes and newline in a field");
        json_t *gpt = json_object_get(json_object_get(recs[1], "responses"), "gpt-4-1106-preview");
        is_near(json_number_value(json_object_get(json_array_get(gpt, 0), "score")), 1, 0, "True -> 1");
        is_str(json_string_value(json_object_get(recs[2], "id")), "mmlu/2", "row id");
    }
    for (size_t i = 0; i < nr; i++)
        json_decref(recs[i]);
    free(recs);
    const char *excl[] = {"plain prompt"};
    ok(route_import_routellm_csv(txt, len, "mmlu", 5, excl, 1, &recs, &nr, err, sizeof err) == 0 && nr == 2,
       "exclude list drops a prompt");
    for (size_t i = 0; i < nr; i++)
        json_decref(recs[i]);
    free(recs);
    free(txt);
    const char *badcsv = "prompt,a,b\nx,True,True\ny,True,maybe\n";
    ok(route_import_routellm_csv(badcsv, strlen(badcsv), "t", 5, NULL, 0, &recs, &nr, err, sizeof err) ==
               -1 &&
           strstr(err, "line 3") && strstr(err, "'b'"),
       "bad boolean names line and column: %s", err);
    const char *badcsv2 = "prompt,a,b\n\"x\ny\",True\n";
    ok(route_import_routellm_csv(badcsv2, strlen(badcsv2), "t", 5, NULL, 0, &recs, &nr, err, sizeof err) ==
               -1 &&
           strstr(err, "line 2") && strstr(err, "expected 3 fields"),
       "short row: %s", err);
    const char *badcsv3 = "prompt,a,b\nz,True,True\n\"open,True,True\n";
    ok(route_import_routellm_csv(badcsv3, strlen(badcsv3), "t", 5, NULL, 0, &recs, &nr, err, sizeof err) ==
               -1 &&
           strstr(err, "line 3") && strstr(err, "unterminated"),
       "unterminated quote: %s", err);

    /* best-route-llm stage record -> route record -> parse */
    txt = lm_read_file("testdata/route/stage.jsonl", &len, err, sizeof err);
    json_error_t je;
    json_t *st = json_loads(txt, 0, &je);
    free(txt);
    json_t *conv = route_import_stage(st, NULL, 0, err, sizeof err);
    ok(conv != NULL, "stage import: %s", err);
    route_record r2;
    ok(conv && route_record_parse(&r2, conv, &M, err, sizeof err) == 0, "converted record parses: %s", err);
    if (conv) {
        is_near(r2.prompt_tokens[1], 10, 0, "per-model prompt tokens");
        is_near(r2.samples[1][1].proxy, 0.9, 0, "ourRM_scores -> proxy");
        route_record_free(&r2, &M);
    }
    json_decref(conv);
    json_object_del(json_object_get(st, "llama-31-8b"), "token_num_responses");
    conv = route_import_stage(st, NULL, 0, err, sizeof err);
    ok(!conv && strstr(err, "llama-31-8b.token_num_responses"), "stage error names the field: %s", err);
    json_decref(st);

    /* router-file candidates -> labels */
    txt = lm_read_file("testdata/route/candidates.jsonl", &len, err, sizeof err);
    json_t *row = json_loads(txt, 0, &je);
    free(txt);
    route_labels l;
    route_labels_alloc(&l, 2 * 2);
    double pt;
    ok(route_import_candidates(row, &M, 2, 0.0, &l, &pt, err, sizeof err) == 0, "candidates: %s", err);
    is_near(l.match[0], 6.0 / 16, 1e-12, "bo1 soft label by hand (6/16)");
    is_near(l.match[1], 13.0 / 16, 1e-12, "bo2 soft label by hand (13/16)");
    ok(isnan(l.match[2]), "mistral absent -> NaN");
    is_near(pt, 11, 0, "reference prompt tokens");
    is_near(l.draw_tokens[1], 200, 0, "first draw tokens");
    route_labels_free(&l);
    json_decref(row);

    /* a query about to be routed needs no responses; given ones are checked */
    {
        route_record q;
        json_t *j = json_loads("{\"id\":\"q\",\"prompt\":\"hi\",\"prompt_tokens\":7}", 0, NULL);
        ok(route_query_parse(&q, j, &M, err, sizeof err) == 0, "query without responses: %s", err);
        is_near(q.prompt_tokens[0], 7, 0, "query prompt tokens");
        ok(q.n_samples[M.ref] == 0, "query has no samples");
        route_record_free(&q, &M);
        json_decref(j);
        j = json_loads("{\"id\":\"q\",\"prompt_tokens\":7,\"responses\":{\"nosuch\":[]}}", 0, NULL);
        ok(route_query_parse(&q, j, &M, err, sizeof err) == -1 && strstr(err, "not in the prices file"),
           "query responses are still checked: %s", err);
        json_decref(j);
        j = json_loads("{\"id\":\"q\",\"prompt_tokens\":7}", 0, NULL);
        ok(route_record_parse(&q, j, &M, err, sizeof err) == -1 && strstr(err, "responses"),
           "a training record needs responses: %s", err);
        json_decref(j);
    }

    /* prices: duplicate keys, models listed twice and an empty file, with positions */
    {
        size_t off;
        const char *dup = "{\"a\":{\"in\":1,\"out\":1,\"reference\":true},\n\"b\":{\"in\":1,\"out\":1},\"b\":"
                          "{\"in\":2,\"out\":2}}";
        ok(route_models_parse_at(&m2, dup, strlen(dup), NULL, &off, err, sizeof err) == -1 &&
               strstr(err, "duplicate key \"b\"") && off == (size_t)(strstr(dup, "\"b\":{\"in\":2") - dup),
           "duplicate model key at the second key: %s", err);
        const char *dup2 =
            "{\"a\":{\"in\":1,\"in\":3,\"out\":1,\"reference\":true},\"b\":{\"in\":1,\"out\":1}}";
        ok(route_models_parse(&m2, dup2, strlen(dup2), NULL, err, sizeof err) == -1 &&
               strstr(err, "duplicate key \"in\""),
           "duplicate field: %s", err);
        const char *twice =
            "[{\"model\":\"a\",\"in\":1,\"out\":1,\"reference\":true},{\"model\":\"b\",\"in\":1,\"out\":1},"
            " {\"model\" : \"b\",\"in\":1,\"out\":1}]";
        ok(route_models_parse_at(&m2, twice, strlen(twice), NULL, &off, err, sizeof err) == -1 &&
               strstr(err, "model 'b' is listed twice") &&
               off == (size_t)(strstr(twice, ": \"b\"") + 2 - twice),
           "array form: a model listed twice, at its \"model\" value: %s", err);
        ok(route_models_parse_at(&m2, " \n\t", 3, NULL, &off, err, sizeof err) == -1 &&
               strstr(err, "the file is empty") && off == 0,
           "empty prices: %s", err);
        ok(route_models_parse_at(&m2, bad2, strlen(bad2), "zz", &off, err, sizeof err) == -1 &&
               off == ROUTE_NOPOS,
           "no position for an unknown reference");
    }

    /* responses checked without a prices table, with route_record_parse's messages */
    {
        const char *cases[][2] = {
            {"{\"m\":[{\"score\":\"1\",\"output_tokens\":1}]}", "responses.m[0].score: expected a number"},
            {"{\"m\":[{\"score\":1,\"output_tokens\":1}],\"x\":[{\"score\":1,\"output_tokens\":-2}]}",
             "responses.x[0].output_tokens: token count must be >= 0"},
            {"{\"m\":[{\"score\":1}]}", "responses.m[0].output_tokens: missing"},
            {"{\"m\":[{\"score\":1,\"proxy\":\"p\",\"output_tokens\":1}]}",
             "responses.m[0].proxy: expected a number"},
            {"{\"m\":[]}", "responses.m: empty list of samples"},
            {"{\"m\":3}", "responses.m: expected an array"},
        };
        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
            json_t *j = json_loads(cases[i][0], 0, NULL);
            ok(route_responses_check(j, err, sizeof err) == -1 && strstr(err, cases[i][1]),
               "responses check: %s", err);
            json_decref(j);
        }
        json_t *j = json_loads("{\"m\":[{\"score\":1,\"proxy\":null,\"output_tokens\":0}]}", 0, NULL);
        ok(route_responses_check(j, err, sizeof err) == 0, "good responses: %s", err);
        json_decref(j);
    }

    /* CSV: bytes a record cannot hold, repeated column names */
    {
        json_t **recs;
        size_t nr;
        const char *bad[][2] = {
            {"prompt,a,b\nx\xff,True,False\n", "line 2:2: invalid UTF-8 in column 'prompt'"},
            {"prompt,a,b\n\"x\ny\0\",True,False\n", "line 3:2: NUL byte in column 'prompt'"},
            {"prompt,a,b\n\0\n", "line 2:1: NUL byte in column 'prompt'"},
            {"prompt,a\xc3,b\n", "line 1:9: invalid UTF-8 in the header (column 2)"},
            {"prompt,a,b,a\nx,True,True,True\n", "line 1:12: column 'a' appears twice (columns 2 and 4)"},
        };
        for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
            size_t n = strlen(bad[i][0]);
            if (i == 1)
                n = 26;
            if (i == 2)
                n = 13;
            ok(route_import_routellm_csv(bad[i][0], n, "t", 1, NULL, 0, &recs, &nr, err, sizeof err) == -1 &&
                   strcmp(err, bad[i][1]) == 0,
               "csv refuses: %s", err);
        }
    }

    test_route_err();
    test_select();
    test_csr_growth();
    test_match_prob();
    test_moved();
    route_models_free(&M);
    return tap_done();
}
