/* fuzz_route_import.c - fuzz target for the best-route-llm converters
 * (lib/route/import.c): stage records (route_import_stage) and router-file
 * rows (route_import_candidates).
 *
 * Input: arbitrary bytes split into lines; every line that jansson reads as
 * JSON is converted as a stage record (every model, then only "mistral-7b")
 * and as a router-file row against a fixed three-model table with n_max 2.
 * A converter must either fail with a non-empty message, or give a stage
 * record that route_record_parse reads back (as a query) or rejects with a
 * message, and labels in [0, 1] or NaN.  Any violation aborts.
 */
#include <jansson.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "route/data.h"
#include "route/import.h"
#include "route/labels.h"

static route_models M;

static void check_stage(const json_t *j, const char *const *models, size_t nm)
{
    char err[512];
    err[0] = 0;
    json_t *r = route_import_stage(j, models, nm, err, sizeof err);
    if (!r) {
        if (!err[0])
            abort();
        return;
    }
    if (!json_is_object(r))
        abort();
    route_record rec;
    err[0] = 0;
    if (route_query_parse(&rec, r, &M, err, sizeof err) == 0)
        route_record_free(&rec, &M);
    else if (!err[0])
        abort();
    json_decref(r);
}

static void check_candidates(const json_t *j)
{
    route_labels l;
    route_labels_alloc(&l, (M.n - 1) * 2);
    double pt;
    char err[512];
    err[0] = 0;
    if (route_import_candidates(j, &M, 2, 0.0, &l, &pt, err, sizeof err) == 0) {
        for (size_t h = 0; h < l.n_heads; h++)
            if (!isnan(l.match[h]) && !(l.match[h] >= 0 && l.match[h] <= 1))
                abort();
    } else if (!err[0])
        abort();
    route_labels_free(&l);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!M.n) {
        static const char prices[] =
            "{\"gpt-4o\":{\"in\":5,\"out\":15,\"reference\":true},\"llama-31-8b\":{\"in\":0.3,"
            "\"out\":0.6},\"mistral-7b\":{\"in\":0.25,\"out\":0.25}}";
        char err[256];
        if (route_models_parse(&M, prices, sizeof prices - 1, NULL, err, sizeof err) != 0)
            abort();
    }
    static const char *const only[] = {"mistral-7b"};
    const char *p = (const char *)data, *end = p + size;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
        json_error_t je;
        json_t *j = json_loadb(p, n, JSON_REJECT_DUPLICATES, &je);
        if (j) {
            check_stage(j, NULL, 0);
            check_stage(j, only, 1);
            check_candidates(j);
            json_decref(j);
        }
        if (!nl)
            break;
        p = nl + 1;
    }
    return 0;
}
