/* test_route_data.c - route records, prices and importers: parsing, error
 * messages naming the field, RouteLLM CSV and best-route-llm converters. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/fs.h"
#include "route/data.h"
#include "route/import.h"
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
    const char *arr = "[{\"model\":\"a\",\"in\":1,\"out\":2},{\"model\":\"b\",\"in_per_mtok\":3,\"out_per_mtok\":4}]";
    ok(route_models_parse(&m2, arr, strlen(arr), "b", err, sizeof err) == 0 && m2.ref == 1 &&
           m2.out_price[0] == 2, "array form with --reference");
    route_models_free(&m2);
    const char *jl = "{\"model\":\"a\",\"in\":1,\"out\":2,\"reference\":true}\n\n{\"model\":\"b\",\"in\":1,\"out\":2}\n";
    ok(route_models_parse(&m2, jl, strlen(jl), NULL, err, sizeof err) == 0 && m2.ref == 0,
       "JSON Lines form: %s", err);
    route_models_free(&m2);
    const char *bad1 = "{\"a\":{\"in\":1,\"out\":-2},\"b\":{\"in\":1,\"out\":1}}";
    ok(route_models_parse(&m2, bad1, strlen(bad1), "a", err, sizeof err) == -1 &&
           strstr(err, "'a'") && strstr(err, "out_per_mtok"), "negative price: %s", err);
    const char *bad2 = "{\"a\":{\"in\":1,\"out\":2},\"b\":{\"in\":1,\"out\":1}}";
    ok(route_models_parse(&m2, bad2, strlen(bad2), "zz", err, sizeof err) == -1 &&
           strstr(err, "'zz'"), "unknown reference: %s", err);
    ok(route_models_parse(&m2, bad2, strlen(bad2), NULL, err, sizeof err) == -1 &&
           strstr(err, "no reference"), "no reference: %s", err);

    /* a good record */
    route_record r;
    const char *good =
        "{\"id\":\"q1\",\"prompt\":\"hi\",\"prompt_tokens\":12,\"features\":[0.5,1],"
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

    expect_err("{\"id\":\"q\",\"prompt_tokens\":1,\"responses\":{\"llama-31-8b\":[{\"score\":1,\"output_tokens\":1}]}}",
               "reference model 'gpt-4o' is missing", "missing reference");
    expect_err("{\"id\":\"q\",\"prompt_tokens\":-3,\"responses\":{}}", "prompt_tokens", "negative prompt tokens");
    expect_err("{\"id\":\"q\",\"prompt_tokens\":1,\"responses\":{\"gpt-4o\":[{\"score\":1,\"output_tokens\":-1}]}}",
               "responses.gpt-4o[0].output_tokens: token count must be >= 0", "negative output tokens");
    expect_err("{\"id\":\"q\",\"prompt_tokens\":1,\"responses\":{\"gpt-4o\":[]}}",
               "responses.gpt-4o: empty list of samples", "empty responses");
    expect_err("{\"id\":\"q\",\"prompt_tokens\":1,\"responses\":{\"gpt-4o\":[{\"score\":\"high\",\"output_tokens\":1}]}}",
               "responses.gpt-4o[0].score: expected a number", "non-numeric score");
    expect_err("{\"id\":\"q\",\"prompt_tokens\":1,\"responses\":{\"gpt-4o\":[{\"score\":1,\"output_tokens\":1}],\"foo\":[{\"score\":1,\"output_tokens\":1}]}}",
               "model 'foo' is not in the prices file", "unknown model");
    expect_err("{\"id\":\"q\",\"prompt_tokens\":1,\"responses\":{\"gpt-4o\":[{\"score\":1,\"proxy\":1,\"output_tokens\":1},{\"score\":1,\"output_tokens\":1}]}}",
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
        is_str(json_string_value(json_object_get(recs[1], "prompt")), "A \"quoted\" question\nAnswer:",
               "doubled quotes and newline in a field");
        json_t *gpt = json_object_get(json_object_get(recs[1], "responses"), "gpt-4-1106-preview");
        is_near(json_number_value(json_object_get(json_array_get(gpt, 0), "score")), 1, 0, "True -> 1");
        is_str(json_string_value(json_object_get(recs[2], "id")), "mmlu/2", "row id");
    }
    for (size_t i = 0; i < nr; i++)
        json_decref(recs[i]);
    free(recs);
    const char *excl[] = {"plain prompt"};
    ok(route_import_routellm_csv(txt, len, "mmlu", 5, excl, 1, &recs, &nr, err, sizeof err) == 0 &&
           nr == 2, "exclude list drops a prompt");
    for (size_t i = 0; i < nr; i++)
        json_decref(recs[i]);
    free(recs);
    free(txt);
    const char *badcsv = "prompt,a,b\nx,True,True\ny,True,maybe\n";
    ok(route_import_routellm_csv(badcsv, strlen(badcsv), "t", 5, NULL, 0, &recs, &nr, err, sizeof err) == -1 &&
           strstr(err, "line 3") && strstr(err, "'b'"), "bad boolean names line and column: %s", err);
    const char *badcsv2 = "prompt,a,b\n\"x\ny\",True\n";
    ok(route_import_routellm_csv(badcsv2, strlen(badcsv2), "t", 5, NULL, 0, &recs, &nr, err, sizeof err) == -1 &&
           strstr(err, "line 2") && strstr(err, "expected 3 fields"), "short row: %s", err);
    const char *badcsv3 = "prompt,a,b\nz,True,True\n\"open,True,True\n";
    ok(route_import_routellm_csv(badcsv3, strlen(badcsv3), "t", 5, NULL, 0, &recs, &nr, err, sizeof err) == -1 &&
           strstr(err, "line 3") && strstr(err, "unterminated"), "unterminated quote: %s", err);

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
        const char *dup = "{\"a\":{\"in\":1,\"out\":1,\"reference\":true},\n\"b\":{\"in\":1,\"out\":1},\"b\":{\"in\":2,\"out\":2}}";
        ok(route_models_parse_at(&m2, dup, strlen(dup), NULL, &off, err, sizeof err) == -1 &&
               strstr(err, "duplicate key \"b\"") && off == (size_t)(strstr(dup, "\"b\":{\"in\":2") - dup),
           "duplicate model key at the second key: %s", err);
        const char *dup2 = "{\"a\":{\"in\":1,\"in\":3,\"out\":1,\"reference\":true},\"b\":{\"in\":1,\"out\":1}}";
        ok(route_models_parse(&m2, dup2, strlen(dup2), NULL, err, sizeof err) == -1 &&
               strstr(err, "duplicate key \"in\""), "duplicate field: %s", err);
        const char *twice = "[{\"model\":\"a\",\"in\":1,\"out\":1,\"reference\":true},{\"model\":\"b\",\"in\":1,\"out\":1},"
                            " {\"model\" : \"b\",\"in\":1,\"out\":1}]";
        ok(route_models_parse_at(&m2, twice, strlen(twice), NULL, &off, err, sizeof err) == -1 &&
               strstr(err, "model 'b' is listed twice") && off == (size_t)(strstr(twice, ": \"b\"") + 2 - twice),
           "array form: a model listed twice, at its \"model\" value: %s", err);
        ok(route_models_parse_at(&m2, " \n\t", 3, NULL, &off, err, sizeof err) == -1 &&
               strstr(err, "the file is empty") && off == 0, "empty prices: %s", err);
        ok(route_models_parse_at(&m2, bad2, strlen(bad2), "zz", &off, err, sizeof err) == -1 &&
               off == ROUTE_NOPOS, "no position for an unknown reference");
    }

    /* responses checked without a prices table, with route_record_parse's messages */
    {
        const char *cases[][2] = {
            {"{\"m\":[{\"score\":\"1\",\"output_tokens\":1}]}", "responses.m[0].score: expected a number"},
            {"{\"m\":[{\"score\":1,\"output_tokens\":1}],\"x\":[{\"score\":1,\"output_tokens\":-2}]}",
             "responses.x[0].output_tokens: token count must be >= 0"},
            {"{\"m\":[{\"score\":1}]}", "responses.m[0].output_tokens: missing"},
            {"{\"m\":[{\"score\":1,\"proxy\":\"p\",\"output_tokens\":1}]}", "responses.m[0].proxy: expected a number"},
            {"{\"m\":[]}", "responses.m: empty list of samples"},
            {"{\"m\":3}", "responses.m: expected an array"},
        };
        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
            json_t *j = json_loads(cases[i][0], 0, NULL);
            ok(route_responses_check(j, err, sizeof err) == -1 && strstr(err, cases[i][1]), "responses check: %s",
               err);
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
                   strcmp(err, bad[i][1]) == 0, "csv refuses: %s", err);
        }
    }

    route_models_free(&M);
    return tap_done();
}
