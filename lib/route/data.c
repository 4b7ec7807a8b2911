/* data.c - parsing and checking of route records and prices (see data.h).
 *
 * Parses the input formats of route(1), "Data format".  Does not do I/O.
 */
#include "route/data.h"

#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/buf.h"
#include "core/diag.h"
#include "core/json.h"

void route_models_free(route_models *m)
{
    if (!m)
        return;
    if (m->name)
        for (size_t i = 0; i < m->n; i++)
            free(m->name[i]);
    free(m->name);
    free(m->in_price);
    free(m->out_price);
    free(m->avg_out);
    memset(m, 0, sizeof *m);
}

static void models_alloc(route_models *m, size_t n)
{
    memset(m, 0, sizeof *m);
    m->name = lm_xcalloc(n, sizeof *m->name);
    m->in_price = lm_xcalloc(n, sizeof(double));
    m->out_price = lm_xcalloc(n, sizeof(double));
    m->avg_out = lm_xcalloc(n, sizeof(double));
    for (size_t i = 0; i < n; i++)
        m->avg_out[i] = NAN;
}

int route_models_init(route_models *m, size_t n, const char *const *names, const double *in_price,
                      const double *out_price, size_t ref, char *err, size_t errlen)
{
    if (n < 2 || ref >= n) {
        lm_seterr(err, errlen, "prices: need a reference and at least one other model");
        return -1;
    }
    models_alloc(m, n);
    m->n = n;
    m->ref = ref;
    for (size_t i = 0; i < n; i++) {
        for (size_t k = 0; k < i; k++)
            if (strcmp(names[k], names[i]) == 0) {
                lm_seterr(err, errlen, "prices: model '%s' is listed twice", names[i]);
                route_models_free(m);
                return -1;
            }
        m->name[i] = lm_xstrdup(names[i]);
        m->in_price[i] = in_price[i];
        m->out_price[i] = out_price[i];
    }
    return 0;
}

long route_models_find(const route_models *m, const char *name)
{
    for (size_t i = 0; i < m->n; i++)
        if (strcmp(m->name[i], name) == 0)
            return (long)i;
    return -1;
}

size_t route_models_n_small(const route_models *m)
{
    return m->n - 1;
}

size_t route_models_small(const route_models *m, size_t s)
{
    return s < m->ref ? s : s + 1;
}

void route_err_set(route_err *e, const char *member, const char *key, const char *fmt, ...)
{
    memset(e, 0, sizeof *e);
    snprintf(e->member, sizeof e->member, "%s", member ? member : "");
    snprintf(e->key, sizeof e->key, "%s", key ? key : "");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->msg, sizeof e->msg, fmt, ap);
    va_end(ap);
}

void route_err_hint(route_err *e, const char *hint)
{
    snprintf(e->hint, sizeof e->hint, "%s", hint);
}

static const char PRICES_HINT[] =
    "e.g. {\"gpt-4o\": {\"in_per_mtok\": 5, \"out_per_mtok\": 15, \"reference\": true}, ...}";
static const char PRICES_DUP_HINT[] = "give each model one entry, and each field once per entry";

/* Reads a non-negative finite price field; key2 is an accepted alias. */
static int get_price(const json_t *o, const char *key, const char *key2, const char *model, double *out,
                     route_err *e)
{
    const json_t *v = json_object_get(o, key);
    if (!v && key2)
        v = json_object_get(o, key2);
    if (!v) {
        route_err_set(e, NULL, NULL, "prices: model '%s': missing \"%s\"", model, key);
        return -1;
    }
    if (!json_is_number(v)) {
        route_err_set(e, NULL, NULL, "prices: model '%s': \"%s\" must be a number", model, key);
        return -1;
    }
    double x = json_number_value(v);
    if (!isfinite(x) || x < 0) {
        route_err_set(e, NULL, NULL, "prices: model '%s': \"%s\" must be >= 0", model, key);
        return -1;
    }
    *out = x;
    return 0;
}

/* One entry of a prices file while parsing; at/alen: the entry's text in
 * the file (JSON Lines and array forms), ROUTE_NOPOS when unknown. */
typedef struct {
    const char *name;
    double in, out, avg;
    int isref;
    size_t at, alen;
} price_ent;

typedef struct {
    price_ent *e;
    size_t n, cap;
} price_list;

static int plist_add(price_list *p, const char *name, const json_t *o, route_err *e)
{
    if (!json_is_object(o)) {
        route_err_set(e, NULL, NULL, "prices: model '%s': expected an object", name);
        return -1;
    }
    lm_grow(p->e, p->cap, p->n + 1);
    price_ent *x = &p->e[p->n];
    x->name = name;
    x->at = ROUTE_NOPOS;
    x->alen = 0;
    if (get_price(o, "in_per_mtok", "in", name, &x->in, e) ||
        get_price(o, "out_per_mtok", "out", name, &x->out, e))
        return -1;
    x->avg = NAN;
    const json_t *a = json_object_get(o, "avg_out_tokens");
    if (a) {
        if (!json_is_number(a) || json_number_value(a) < 0) {
            route_err_set(e, NULL, NULL, "prices: model '%s': \"avg_out_tokens\" must be a number >= 0",
                          name);
            return -1;
        }
        x->avg = json_number_value(a);
    }
    x->isref = json_is_true(json_object_get(o, "reference"));
    p->n++;
    return 0;
}

static int plist_add_entry(price_list *p, const json_t *o, route_err *e)
{
    const json_t *nm = json_object_get(o, "model");
    if (!json_is_string(nm)) {
        route_err_set(e, NULL, NULL, "prices: entry %zu: missing \"model\" (a string)", p->n + 1);
        return -1;
    }
    return plist_add(p, json_string_value(nm), o, e);
}

/* Records where the elements of the top-level JSON array in text lie (text
 * is valid JSON): element i starts at p->e[i].at and spans p->e[i].alen
 * bytes.  Elements beyond p->n are ignored. */
static void array_spans(price_list *p, const char *t, size_t len)
{
    size_t i = 0, k = 0, cur = ROUTE_NOPOS;
    int depth = 0, in_str = 0;
    while (i < len && t[i] != '[')
        i++;
    for (; i < len; i++) {
        char c = t[i];
        if (in_str) {
            if (c == '\\')
                i++;
            else if (c == '"')
                in_str = 0;
            continue;
        }
        if (depth == 1 && cur == ROUTE_NOPOS && c != ' ' && c != '\t' && c != '\r' && c != '\n' && c != ',' &&
            c != ']')
            cur = i;
        if (c == '"') {
            in_str = 1;
        } else if (c == '[' || c == '{') {
            depth++;
        } else if ((c == ',' && depth == 1) || ((c == ']' || c == '}') && --depth == 0)) {
            if (cur != ROUTE_NOPOS && k < p->n) {
                p->e[k].at = cur;
                p->e[k].alen = i - cur;
            }
            k++;
            cur = ROUTE_NOPOS;
            if (depth == 0)
                break;
        }
    }
}

/* Offset of entry i's "model" value, else of the entry, else ROUTE_NOPOS. */
static size_t model_pos(const price_list *p, size_t i, const char *text)
{
    if (p->e[i].at == ROUTE_NOPOS)
        return ROUTE_NOPOS;
    lm_jscan sc = {0};
    lm_jerr je;
    size_t pos = p->e[i].at;
    if (lm_json_scan_object(&sc, text + p->e[i].at, p->e[i].alen, &je) == 0) {
        const lm_member *mm = lm_jscan_get(&sc, "model");
        if (mm)
            pos = p->e[i].at + mm->vpos;
    }
    lm_jscan_free(&sc);
    return pos;
}

/* The JSON the strict scanner refuses (duplicate keys, for one), at base. */
static int prices_strict(const char *text, size_t len, size_t base, size_t *err_off, route_err *e)
{
    lm_jerr sj;
    if (lm_json_validate(text, len, &sj) == 0)
        return 0;
    route_err_set(e, NULL, NULL, "prices: %s", sj.msg);
    if (sj.dup)
        route_err_hint(e, PRICES_DUP_HINT);
    *err_off = base + sj.pos;
    return -1;
}

/* One document: {"m": {...}, ...}, [{"model": ...}, ...] or one JSON Lines
 * entry {"model": ...}. */
static int prices_doc(price_list *p, const json_t *doc, const char *text, size_t len, route_err *e)
{
    if (json_is_object(doc) && json_object_get(doc, "model"))
        return plist_add_entry(p, doc, e);
    if (json_is_object(doc)) {
        const char *k;
        json_t *v;
        json_object_foreach((json_t *)doc, k, v)
        {
            if (plist_add(p, k, v, e))
                return -1;
        }
        return 0;
    }
    if (json_is_array(doc)) {
        size_t i;
        json_t *v;
        json_array_foreach(doc, i, v)
        {
            if (!json_is_object(v)) {
                route_err_set(e, NULL, NULL, "prices: entry %zu: expected an object", i + 1);
                return -1;
            }
            if (plist_add_entry(p, v, e))
                return -1;
        }
        array_spans(p, text, len);
        return 0;
    }
    route_err_set(e, NULL, NULL, "prices: expected an object, an array or JSON Lines");
    return -1;
}

/* JSON Lines: one entry per non-blank line.  The parsed lines are kept in
 * *lines (the entries' names point into them). */
static int prices_lines(price_list *p, const char *text, size_t len, json_t ***lines, size_t *n_lines,
                        size_t *err_off, route_err *e)
{
    const char *s = text, *end = text + len;
    size_t lineno = 0, cap = 0;
    while (s < end) {
        const char *nl = memchr(s, '\n', (size_t)(end - s));
        const char *le = nl ? nl : end;
        lineno++;
        const char *t = s;
        while (t < le && (*t == ' ' || *t == '\t' || *t == '\r'))
            t++;
        if (t < le) {
            json_error_t je;
            json_t *o = json_loadb(s, (size_t)(le - s), 0, &je);
            if (!o || !json_is_object(o)) {
                route_err_set(e, NULL, NULL, "prices: line %zu: %s", lineno,
                              o ? "expected an object" : je.text);
                json_decref(o);
                return -1;
            }
            if (prices_strict(s, (size_t)(le - s), (size_t)(s - text), err_off, e) < 0) {
                json_decref(o);
                return -1;
            }
            lm_grow(*lines, cap, *n_lines + 1);
            (*lines)[(*n_lines)++] = o;
            if (plist_add_entry(p, o, e)) {
                char tmp[512];
                snprintf(tmp, sizeof tmp, "%s", e->msg);
                route_err_set(e, NULL, NULL, "line %zu: %s", lineno, tmp);
                return -1;
            }
            p->e[p->n - 1].at = (size_t)(s - text);
            p->e[p->n - 1].alen = (size_t)(le - s);
        }
        s = le + 1;
    }
    return 0;
}

/* The reference: the one named, else the one entry marked so.  -1 if none. */
static long prices_reference(const price_list *p, const char *reference, route_err *e)
{
    long ref = -1;
    if (reference) {
        for (size_t i = 0; i < p->n; i++)
            if (strcmp(p->e[i].name, reference) == 0)
                ref = (long)i;
        if (ref < 0)
            route_err_set(e, NULL, NULL, "prices: reference model '%s' has no price entry", reference);
        return ref;
    }
    for (size_t i = 0; i < p->n; i++)
        if (p->e[i].isref) {
            if (ref >= 0) {
                route_err_set(e, NULL, NULL, "prices: more than one entry says \"reference\": true");
                return -1;
            }
            ref = (long)i;
        }
    if (ref < 0)
        route_err_set(e, NULL, NULL,
                      "prices: no reference model (give one, or mark an entry \"reference\": true)");
    return ref;
}

/* The table from the checked entries. */
static void prices_table(route_models *m, const price_list *p, size_t ref)
{
    models_alloc(m, p->n);
    m->n = p->n;
    m->ref = ref;
    for (size_t i = 0; i < p->n; i++) {
        m->name[i] = lm_xstrdup(p->e[i].name);
        m->in_price[i] = p->e[i].in;
        m->out_price[i] = p->e[i].out;
        m->avg_out[i] = p->e[i].avg;
    }
}

int route_models_parse(route_models *m, const char *text, size_t len, const char *reference, char *err,
                       size_t errlen)
{
    return route_models_parse_at(m, text, len, reference, NULL, err, errlen);
}

int route_models_parse_at(route_models *m, const char *text, size_t len, const char *reference,
                          size_t *err_off, char *err, size_t errlen)
{
    route_err e;
    int rc = route_models_parse_e(m, text, len, reference, err_off, &e);
    if (rc < 0)
        lm_seterr(err, errlen, "%s", e.msg);
    return rc;
}

int route_models_parse_e(route_models *m, const char *text, size_t len, const char *reference,
                         size_t *err_off, route_err *e)
{
    memset(m, 0, sizeof *m);
    price_list p = {0};
    json_t *doc = NULL, **lines = NULL;
    size_t n_lines = 0, off_dummy;
    int rc = -1;
    if (!err_off)
        err_off = &off_dummy;
    *err_off = ROUTE_NOPOS;

    size_t nb = 0;
    while (nb < len && (text[nb] == ' ' || text[nb] == '\t' || text[nb] == '\r' || text[nb] == '\n'))
        nb++;
    if (nb == len) {
        route_err_set(e, NULL, NULL, "prices: the file is empty");
        *err_off = 0;
        goto done;
    }
    doc = json_loadb(text, len, 0, NULL);
    if (doc && (prices_strict(text, len, 0, err_off, e) < 0 || prices_doc(&p, doc, text, len, e) < 0))
        goto done;
    if (!doc && prices_lines(&p, text, len, &lines, &n_lines, err_off, e) < 0)
        goto done;
    for (size_t i = 1; i < p.n; i++)
        for (size_t k = 0; k < i; k++)
            if (strcmp(p.e[k].name, p.e[i].name) == 0) {
                route_err_set(e, NULL, NULL, "prices: model '%s' is listed twice", p.e[i].name);
                route_err_hint(e, PRICES_DUP_HINT);
                *err_off = model_pos(&p, i, text);
                goto done;
            }
    long ref = prices_reference(&p, reference, e);
    if (ref < 0)
        goto done;
    if (p.n < 2) {
        route_err_set(e, NULL, NULL, "prices: need the reference and at least one other model");
        goto done;
    }
    prices_table(m, &p, (size_t)ref);
    rc = 0;
done:
    if (rc < 0 && !e->hint[0])
        route_err_hint(e, PRICES_HINT);
    free(p.e);
    for (size_t i = 0; i < n_lines; i++)
        json_decref(lines[i]);
    free(lines);
    json_decref(doc);
    return rc;
}

void route_record_free(route_record *r, const route_models *m)
{
    if (!r)
        return;
    free(r->id);
    free(r->prompt);
    free(r->prompt_tokens);
    free(r->features);
    if (r->samples)
        for (size_t i = 0; i < m->n; i++)
            free(r->samples[i]);
    free(r->samples);
    free(r->n_samples);
    memset(r, 0, sizeof *r);
}

static const char HINT_PRICES[] = "add the model to the prices file (--prices) or drop it from the record";
static const char HINT_REF[] = "every record needs samples of the reference model (see --reference)";
static const char HINT_EMPTY[] =
    "give at least one {\"score\",\"output_tokens\"} sample per model, or leave the model out";
static const char HINT_TOKENS[] = "token counts are whole numbers >= 0";

/* A token count at field (in member/key); its errors carry the token hint. */
static int get_tokens(const json_t *v, const char *member, const char *key, const char *field, double *out,
                      route_err *e)
{
    if (!json_is_number(v)) {
        route_err_set(e, member, key, "%s: expected a number of tokens", field);
        route_err_hint(e, HINT_TOKENS);
        return -1;
    }
    double x = json_number_value(v);
    if (!isfinite(x) || x < 0) {
        route_err_set(e, member, key, "%s: token count must be >= 0, got %g", field, x);
        route_err_hint(e, HINT_TOKENS);
        return -1;
    }
    *out = x;
    return 0;
}

/* Sample i of model k; a missing or null "proxy" leaves s->proxy NaN. */
static int sample_parse(const json_t *o, const char *k, size_t i, route_sample *s, route_err *e)
{
    char field[256];
    if (!json_is_object(o)) {
        route_err_set(e, "responses", k, "responses.%s[%zu]: expected an object", k, i);
        return -1;
    }
    const json_t *sc = json_object_get(o, "score");
    if (!sc) {
        route_err_set(e, "responses", k, "responses.%s[%zu].score: missing", k, i);
        return -1;
    }
    if (!json_is_number(sc) || !isfinite(json_number_value(sc))) {
        route_err_set(e, "responses", k, "responses.%s[%zu].score: expected a number", k, i);
        return -1;
    }
    s->score = json_number_value(sc);
    const json_t *px = json_object_get(o, "proxy");
    if (px && !json_is_null(px)) {
        if (!json_is_number(px) || !isfinite(json_number_value(px))) {
            route_err_set(e, "responses", k, "responses.%s[%zu].proxy: expected a number", k, i);
            return -1;
        }
        s->proxy = json_number_value(px);
    } else {
        s->proxy = NAN;
    }
    const json_t *ot = json_object_get(o, "output_tokens");
    snprintf(field, sizeof field, "responses.%s[%zu].output_tokens", k, i);
    if (!ot) {
        route_err_set(e, "responses", k, "%s: missing", field);
        route_err_hint(e, HINT_TOKENS);
        return -1;
    }
    return get_tokens(ot, "responses", k, field, &s->out_tokens, e);
}

/* The samples of one model: a non-empty array of valid samples. */
static int samples_check(const json_t *v, const char *k, route_err *e)
{
    if (!json_is_array(v)) {
        route_err_set(e, "responses", k, "responses.%s: expected an array of samples", k);
        return -1;
    }
    if (json_array_size(v) == 0) {
        route_err_set(e, "responses", k, "responses.%s: empty list of samples", k);
        route_err_hint(e, HINT_EMPTY);
        return -1;
    }
    return 0;
}

static void no_responses(route_err *e)
{
    route_err_set(e, "responses", NULL, "responses: missing or not an object of model -> samples");
}

int route_responses_check_e(const json_t *resp, route_err *e)
{
    if (!json_is_object(resp)) {
        no_responses(e);
        return -1;
    }
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)resp, k, v)
    {
        if (samples_check(v, k, e))
            return -1;
        for (size_t i = 0; i < json_array_size(v); i++) {
            route_sample s;
            if (sample_parse(json_array_get(v, i), k, i, &s, e))
                return -1;
        }
    }
    return 0;
}

int route_responses_check(const json_t *resp, char *err, size_t errlen)
{
    route_err e;
    int rc = route_responses_check_e(resp, &e);
    if (rc < 0)
        lm_seterr(err, errlen, "%s", e.msg);
    return rc;
}

/* "id" (a string or an integer) and the per-model arrays. */
static int record_id(route_record *r, const json_t *j, const route_models *m, route_err *e)
{
    const json_t *id = json_object_get(j, "id");
    char idbuf[64];
    if (json_is_string(id)) {
        r->id = lm_xstrdup(json_string_value(id));
    } else if (json_is_integer(id)) {
        snprintf(idbuf, sizeof idbuf, "%lld", (long long)json_integer_value(id));
        r->id = lm_xstrdup(idbuf);
    } else {
        route_err_set(e, "id", NULL, "id: missing or not a string");
        return -1;
    }
    r->prompt_tokens = lm_xcalloc(m->n, sizeof(double));
    r->n_samples = lm_xcalloc(m->n, sizeof(size_t));
    r->samples = lm_xcalloc(m->n, sizeof *r->samples);
    return 0;
}

static int record_prompt(route_record *r, const json_t *j, route_err *e)
{
    const json_t *pr = json_object_get(j, "prompt");
    if (!pr || json_is_null(pr))
        return 0;
    if (!json_is_string(pr)) {
        route_err_set(e, "prompt", NULL, "prompt: expected a string");
        return -1;
    }
    r->prompt = lm_xstrdup(json_string_value(pr));
    return 0;
}

/* "prompt_tokens", then the per-model overrides "prompt_tokens_by_model". */
static int record_prompt_tokens(route_record *r, const json_t *j, const route_models *m, route_err *e)
{
    double pt;
    const json_t *ptj = json_object_get(j, "prompt_tokens");
    if (!ptj) {
        route_err_set(e, "prompt_tokens", NULL, "prompt_tokens: missing");
        route_err_hint(e, HINT_TOKENS);
        return -1;
    }
    if (get_tokens(ptj, "prompt_tokens", NULL, "prompt_tokens", &pt, e))
        return -1;
    for (size_t i = 0; i < m->n; i++)
        r->prompt_tokens[i] = pt;
    const json_t *ptm = json_object_get(j, "prompt_tokens_by_model");
    if (!ptm)
        return 0;
    if (!json_is_object(ptm)) {
        route_err_set(e, "prompt_tokens_by_model", NULL, "prompt_tokens_by_model: expected an object");
        route_err_hint(e, HINT_TOKENS);
        return -1;
    }
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)ptm, k, v)
    {
        char field[256];
        long mi = route_models_find(m, k);
        snprintf(field, sizeof field, "prompt_tokens_by_model.%s", k);
        if (mi < 0) {
            route_err_set(e, "prompt_tokens_by_model", k, "%s: model '%s' is not in the prices file", field,
                          k);
            route_err_hint(e, HINT_PRICES);
            return -1;
        }
        if (get_tokens(v, "prompt_tokens_by_model", k, field, &r->prompt_tokens[mi], e))
            return -1;
    }
    return 0;
}

static int record_features(route_record *r, const json_t *j, route_err *e)
{
    const json_t *fe = json_object_get(j, "features");
    if (!fe || json_is_null(fe))
        return 0;
    if (!json_is_array(fe)) {
        route_err_set(e, "features", NULL, "features: expected an array of numbers");
        return -1;
    }
    r->n_features = json_array_size(fe);
    r->features = lm_xmalloc(lm_xmul(r->n_features, sizeof(double)));
    for (size_t i = 0; i < r->n_features; i++) {
        const json_t *v = json_array_get(fe, i);
        if (!json_is_number(v) || !isfinite(json_number_value(v))) {
            route_err_set(e, "features", NULL, "features[%zu]: expected a finite number", i);
            return -1;
        }
        r->features[i] = json_number_value(v);
    }
    return 0;
}

/* "responses": the samples of each model, the reference present, and a
 * proxy for every sample or for none. */
static int record_responses(route_record *r, const json_t *resp, const route_models *m, route_err *e)
{
    if (!json_is_object(resp)) {
        no_responses(e);
        return -1;
    }
    int any_proxy = 0, all_proxy = 1;
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)resp, k, v)
    {
        long mi = route_models_find(m, k);
        if (mi < 0) {
            route_err_set(e, "responses", k, "responses.%s: model '%s' is not in the prices file", k, k);
            route_err_hint(e, HINT_PRICES);
            return -1;
        }
        if (samples_check(v, k, e))
            return -1;
        size_t ns = json_array_size(v);
        route_sample *s = lm_xcalloc(ns, sizeof *s);
        r->samples[mi] = s;
        r->n_samples[mi] = ns;
        for (size_t i = 0; i < ns; i++) {
            if (sample_parse(json_array_get(v, i), k, i, &s[i], e))
                return -1;
            if (isnan(s[i].proxy))
                all_proxy = 0;
            else
                any_proxy = 1;
        }
    }
    if (!r->n_samples[m->ref]) {
        route_err_set(e, "responses", NULL, "responses: reference model '%s' is missing", m->name[m->ref]);
        route_err_hint(e, HINT_REF);
        return -1;
    }
    if (any_proxy && !all_proxy) {
        route_err_set(e, "responses", NULL,
                      "responses: \"proxy\" is given for some samples but not all "
                      "(give it for every sample, or for none)");
        return -1;
    }
    r->has_proxy = any_proxy && all_proxy;
    return 0;
}

int route_record_parse_e(route_record *r, const json_t *j, const route_models *m, int need_responses,
                         route_err *e)
{
    memset(r, 0, sizeof *r);
    if (!json_is_object(j)) {
        route_err_set(e, "record", NULL, "record: expected a JSON object");
        return -1;
    }
    if (record_id(r, j, m, e) || record_prompt(r, j, e) || record_prompt_tokens(r, j, m, e) ||
        record_features(r, j, e))
        goto fail;
    r->synthetic = json_is_true(json_object_get(j, "synthetic"));
    const json_t *resp = json_object_get(j, "responses");
    if (!resp && !need_responses)
        return 0;
    if (record_responses(r, resp, m, e))
        goto fail;
    return 0;
fail:
    route_record_free(r, m);
    return -1;
}

int route_record_parse(route_record *r, const json_t *j, const route_models *m, char *err, size_t errlen)
{
    route_err e;
    int rc = route_record_parse_e(r, j, m, 1, &e);
    if (rc < 0)
        lm_seterr(err, errlen, "%s", e.msg);
    return rc;
}

int route_query_parse(route_record *r, const json_t *j, const route_models *m, char *err, size_t errlen)
{
    route_err e;
    int rc = route_record_parse_e(r, j, m, 0, &e);
    if (rc < 0)
        lm_seterr(err, errlen, "%s", e.msg);
    return rc;
}

/* "MODEL:N" -> the table index of MODEL (-1 when not in the table) and N (0
 * when the key has no valid N).  Returns -1 when the key has no colon. */
static int match_key(const char *k, const route_models *m, long *mi, int64_t *n, char *name, size_t cap)
{
    const char *colon = strrchr(k, ':');
    *mi = -1;
    *n = 0;
    if (!colon)
        return -1;
    if ((size_t)(colon - k) < cap) {
        memcpy(name, k, (size_t)(colon - k));
        name[colon - k] = '\0';
        *mi = route_models_find(m, name);
        char *end;
        *n = strtoll(colon + 1, &end, 10);
        if (*end || end == colon + 1)
            *n = 0;
    }
    return 0;
}

int route_match_prob_parse(const json_t *o, const route_models *m, size_t n_max, double *pred, route_err *e)
{
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)o, k, v)
    {
        char name[256];
        long mi;
        int64_t n;
        if (match_key(k, m, &mi, &n, name, sizeof name) < 0 || n < 1) {
            route_err_set(e, "match_prob", NULL, "match_prob: key '%s' is not MODEL:N", k);
            return -1;
        }
        if (mi < 0) {
            route_err_set(e, "match_prob", NULL, "match_prob: model '%s' is not in the prices file", name);
            return -1;
        }
        if ((size_t)mi == m->ref) {
            route_err_set(e, "match_prob", NULL, "match_prob: '%s' is the reference model", k);
            route_err_hint(e, "give probabilities for the small models only");
            return -1;
        }
        if ((size_t)n > n_max) {
            route_err_set(e, "match_prob", NULL, "match_prob: '%s' has n above --n-max %zu", k, n_max);
            return -1;
        }
        if (!json_is_number(v) || !isfinite(json_number_value(v))) {
            route_err_set(e, "match_prob", NULL, "match_prob: '%s' must be a number", k);
            return -1;
        }
        double p = json_number_value(v);
        if (p < 0 || p > 1) {
            char num[40];
            num[lm_fmt_double(num, p)] = '\0';
            route_err_set(e, "match_prob", k, "match_prob: '%s' must lie in [0, 1], got %s", k, num);
            e->at_value = 1;
            route_err_hint(e, "a match probability is a number from 0 to 1");
            return -1;
        }
        size_t s = (size_t)mi < m->ref ? (size_t)mi : (size_t)mi - 1;
        pred[s * n_max + (size_t)n - 1] = p;
    }
    return 0;
}

void route_models_fit_avg_out(route_models *m, const route_record *recs, size_t n_recs)
{
    for (size_t i = 0; i < m->n; i++) {
        double sum = 0;
        size_t cnt = 0;
        for (size_t q = 0; q < n_recs; q++)
            for (size_t s = 0; s < recs[q].n_samples[i]; s++) {
                sum += recs[q].samples[i][s].out_tokens;
                cnt++;
            }
        if (cnt)
            m->avg_out[i] = sum / (double)cnt;
    }
}
