/* select.c - best-of-n selection over raw samples (see select.h). */
#include "route/select.h"

#include <math.h>
#include <stdlib.h>

#include "core/diag.h"
#include "route/decide.h"

static double num_or_nan(const json_t *v)
{
    return json_is_number(v) ? json_number_value(v) : NAN;
}

/* The candidates of model: an array of at least n samples. */
static int candidates(const json_t *resp, const char *model, size_t *n, route_err *e)
{
    const json_t *arr = json_object_get(resp, model);
    size_t ns = json_array_size(arr);
    if (!json_is_array(arr) || ns == 0) {
        route_err_set(e, "responses", model, "responses.%s: %s", model,
                      arr ? "expected a non-empty array of samples" : "missing");
        e->whole = 1;
        return -1;
    }
    if (!*n)
        *n = ns;
    if (*n > ns) {
        route_err_set(e, "responses", model, "responses.%s has %zu samples, best-of-%zu needs %zu", model, ns,
                      *n, *n);
        e->whole = 1;
        return -1;
    }
    return 0;
}

/* By proxy when every candidate has one, by true score when none has (or
 * when asked); never a silent mix.  Returns 1 for the true score, 0 for the
 * proxy, -1 for a mix. */
static int selector(const json_t *arr, const char *model, size_t n, route_selector sel, route_err *e)
{
    size_t with = n, without = n;
    for (size_t i = 0; i < n; i++) {
        if (json_is_number(json_object_get(json_array_get(arr, i), "proxy"))) {
            if (with == n)
                with = i;
        } else if (without == n) {
            without = i;
        }
    }
    int oracle = sel == ROUTE_SELECT_ORACLE || (sel == ROUTE_SELECT_AUTO && with == n);
    if (oracle || without == n)
        return oracle;
    if (sel == ROUTE_SELECT_PROXY)
        route_err_set(e, "responses", model, "responses.%s[%zu]: no \"proxy\" for --selector proxy", model,
                      without);
    else
        route_err_set(e, "responses", model, "responses.%s[%zu]: no \"proxy\", but responses.%s[%zu] has one",
                      model, without, model, with);
    route_err_hint(e, "give every sample a \"proxy\", or select by true score with --selector oracle");
    return -1;
}

int route_select(route_selection *out, const json_t *resp, const char *model, size_t n, route_selector sel,
                 route_err *e)
{
    if (candidates(resp, model, &n, e) < 0 || route_responses_check_e(resp, e) < 0)
        return -1;
    const json_t *arr = json_object_get(resp, model);
    int oracle = selector(arr, model, n, sel, e);
    if (oracle < 0)
        return -1;
    double *key = lm_xmalloc(lm_xmul(n, sizeof(double)));
    for (size_t i = 0; i < n; i++)
        key[i] = json_number_value(json_object_get(json_array_get(arr, i), oracle ? "score" : "proxy"));
    size_t w = route_best_of_n(key, n);
    free(key);
    const json_t *s = json_array_get(arr, w);
    out->n = n;
    out->index = w;
    out->score = num_or_nan(json_object_get(s, "score"));
    out->proxy = num_or_nan(json_object_get(s, "proxy"));
    out->out_tokens = num_or_nan(json_object_get(s, "output_tokens"));
    out->oracle = oracle;
    return 0;
}
