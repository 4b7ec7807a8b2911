/* fuzz_route_csv.c - fuzz target for the RouteLLM CSV importer
 * (lib/route/import.c, route_import_routellm_csv).
 *
 * Input: arbitrary bytes taken as a whole CSV text, imported with and
 * without an exclude list.  The importer must either reject the text with a
 * non-empty message naming a line, or return records that are JSON objects
 * with an "id" string, a "prompt" string and a "responses" object whose
 * samples have scores of 0 or 1 and output tokens >= 0; every record must
 * survive a JSON round trip.  Any violation aborts.
 */
#include <jansson.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "route/import.h"

static void check_records(json_t **recs, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        json_t *r = recs[i];
        if (!json_is_object(r) || !json_is_string(json_object_get(r, "id")))
            abort();
        json_t *resp = json_object_get(r, "responses");
        if (!json_is_object(resp))
            abort();
        /* a prompt or model name that could not be represented is an error,
         * never a record without it */
        if (!json_is_string(json_object_get(r, "prompt")) || json_object_size(resp) < 1)
            abort();
        const char *model;
        json_t *samples;
        json_object_foreach(resp, model, samples)
        {
            if (!json_is_array(samples) || json_array_size(samples) == 0)
                abort();
            for (size_t k = 0; k < json_array_size(samples); k++) {
                json_t *s = json_array_get(samples, k);
                double score = json_number_value(json_object_get(s, "score"));
                double tok = json_number_value(json_object_get(s, "output_tokens"));
                if ((score != 0 && score != 1) || !(tok >= 0) || !isfinite(tok))
                    abort();
            }
        }
        char *text = json_dumps(r, JSON_COMPACT);
        if (!text)
            abort();
        json_error_t je;
        json_t *back = json_loads(text, JSON_REJECT_DUPLICATES, &je);
        if (!back || !json_equal(back, r))
            abort();
        json_decref(back);
        free(text);
        json_decref(r);
    }
    free(recs);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const exclude[] = {"", "A", "plain prompt", "x"};
    for (int pass = 0; pass < 2; pass++) {
        json_t **recs = NULL;
        size_t n = 0;
        char err[512];
        err[0] = 0;
        int rc = route_import_routellm_csv((const char *)data, size, "fz", pass ? 0 : 5,
                                           pass ? exclude : NULL, pass ? 4 : 0, &recs, &n, err, sizeof err);
        if (rc != 0) {
            if (rc != -1 || !err[0])
                abort();
            continue;
        }
        check_records(recs, n);
    }
    return 0;
}
