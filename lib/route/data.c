/* data.c - parsing and checking of route records and prices (see data.h).
 *
 * Implements route spec §10 input formats.  Does not do I/O.
 */
#include "route/data.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

static int models_alloc(route_models *m, size_t n)
{
    memset(m, 0, sizeof *m);
    m->name = calloc(n ? n : 1, sizeof *m->name);
    m->in_price = calloc(n ? n : 1, sizeof(double));
    m->out_price = calloc(n ? n : 1, sizeof(double));
    m->avg_out = calloc(n ? n : 1, sizeof(double));
    if (!m->name || !m->in_price || !m->out_price || !m->avg_out) {
        route_models_free(m);
        return -1;
    }
    for (size_t i = 0; i < n; i++)
        m->avg_out[i] = NAN;
    return 0;
}

int route_models_init(route_models *m, size_t n, const char *const *names,
                      const double *in_price, const double *out_price,
                      size_t ref, char *err, size_t errlen)
{
    if (n < 2 || ref >= n) {
        lm_seterr(err, errlen, "prices: need a reference and at least one other model");
        return -1;
    }
    if (models_alloc(m, n)) {
        lm_seterr(err, errlen, "out of memory");
        return -1;
    }
    m->n = n;
    m->ref = ref;
    for (size_t i = 0; i < n; i++) {
        for (size_t k = 0; k < i; k++)
            if (strcmp(names[k], names[i]) == 0) {
                lm_seterr(err, errlen, "prices: model '%s' is listed twice", names[i]);
                route_models_free(m);
                return -1;
            }
        m->name[i] = strdup(names[i]);
        if (!m->name[i]) {
            lm_seterr(err, errlen, "out of memory");
            route_models_free(m);
            return -1;
        }
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

/* Reads a non-negative finite price field; key2 is an accepted alias. */
static int get_price(const json_t *o, const char *key, const char *key2,
                     const char *model, double *out, char *err, size_t errlen)
{
    const json_t *v = json_object_get(o, key);
    if (!v && key2)
        v = json_object_get(o, key2);
    if (!v) {
        lm_seterr(err, errlen, "prices: model '%s': missing \"%s\"", model, key);
        return -1;
    }
    if (!json_is_number(v)) {
        lm_seterr(err, errlen, "prices: model '%s': \"%s\" must be a number", model, key);
        return -1;
    }
    double x = json_number_value(v);
    if (!isfinite(x) || x < 0) {
        lm_seterr(err, errlen, "prices: model '%s': \"%s\" must be >= 0", model, key);
        return -1;
    }
    *out = x;
    return 0;
}

/* Collects entries into parallel arrays while parsing; at/alen: the
 * entry's text in the file (JSON Lines and array forms). */
typedef struct {
    size_t n, cap;
    const char **name;
    double *in, *out, *avg;
    int *isref;
    size_t *at, *alen;
} price_list;

static int plist_add(price_list *p, const char *name, const json_t *o,
                     char *err, size_t errlen)
{
    if (!json_is_object(o)) {
        lm_seterr(err, errlen, "prices: model '%s': expected an object", name);
        return -1;
    }
    if (p->n == p->cap) {
        size_t cap = p->cap ? 2 * p->cap : 8;
        const char **nn = realloc(p->name, cap * sizeof *nn);
        if (nn)
            p->name = nn;
        double *a = realloc(p->in, cap * sizeof *a);
        if (a)
            p->in = a;
        double *b = realloc(p->out, cap * sizeof *b);
        if (b)
            p->out = b;
        double *c = realloc(p->avg, cap * sizeof *c);
        if (c)
            p->avg = c;
        int *d = realloc(p->isref, cap * sizeof *d);
        if (d)
            p->isref = d;
        size_t *e = realloc(p->at, cap * sizeof *e);
        if (e)
            p->at = e;
        size_t *f = realloc(p->alen, cap * sizeof *f);
        if (f)
            p->alen = f;
        if (!nn || !a || !b || !c || !d || !e || !f) {
            lm_seterr(err, errlen, "out of memory");
            return -1;
        }
        p->cap = cap;
    }
    size_t i = p->n;
    p->name[i] = name;
    p->at[i] = ROUTE_NOPOS;
    p->alen[i] = 0;
    if (get_price(o, "in_per_mtok", "in", name, &p->in[i], err, errlen) ||
        get_price(o, "out_per_mtok", "out", name, &p->out[i], err, errlen))
        return -1;
    p->avg[i] = NAN;
    const json_t *a = json_object_get(o, "avg_out_tokens");
    if (a) {
        if (!json_is_number(a) || json_number_value(a) < 0) {
            lm_seterr(err, errlen, "prices: model '%s': \"avg_out_tokens\" must be a number >= 0", name);
            return -1;
        }
        p->avg[i] = json_number_value(a);
    }
    p->isref[i] = json_is_true(json_object_get(o, "reference"));
    p->n++;
    return 0;
}

static int plist_add_entry(price_list *p, const json_t *o, char *err, size_t errlen)
{
    const json_t *nm = json_object_get(o, "model");
    if (!json_is_string(nm)) {
        lm_seterr(err, errlen, "prices: entry %zu: missing \"model\" (a string)", p->n + 1);
        return -1;
    }
    return plist_add(p, json_string_value(nm), o, err, errlen);
}

/* Records where the elements of the top-level JSON array in text lie (text
 * is valid JSON): element i starts at p->at[i] and spans p->alen[i] bytes.
 * Elements beyond p->n are ignored. */
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
        if (depth == 1 && cur == ROUTE_NOPOS && c != ' ' && c != '\t' && c != '\r' && c != '\n' &&
            c != ',' && c != ']')
            cur = i;
        if (c == '"') {
            in_str = 1;
        } else if (c == '[' || c == '{') {
            depth++;
        } else if ((c == ',' && depth == 1) || ((c == ']' || c == '}') && --depth == 0)) {
            if (cur != ROUTE_NOPOS && k < p->n) {
                p->at[k] = cur;
                p->alen[k] = i - cur;
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
    if (p->at[i] == ROUTE_NOPOS)
        return ROUTE_NOPOS;
    lm_jscan sc = {0};
    lm_jerr je;
    size_t pos = p->at[i];
    if (lm_json_scan_object(&sc, text + p->at[i], p->alen[i], &je) == 0) {
        const lm_member *mm = lm_jscan_get(&sc, "model");
        if (mm)
            pos = p->at[i] + mm->vpos;
    }
    lm_jscan_free(&sc);
    return pos;
}

int route_models_parse(route_models *m, const char *text, size_t len,
                       const char *reference, char *err, size_t errlen)
{
    return route_models_parse_at(m, text, len, reference, NULL, err, errlen);
}

int route_models_parse_at(route_models *m, const char *text, size_t len,
                          const char *reference, size_t *err_off, char *err, size_t errlen)
{
    memset(m, 0, sizeof *m);
    price_list p = {0};
    json_t *doc = NULL, **lines = NULL;
    size_t n_lines = 0;
    int rc = -1;
    json_error_t je;
    lm_jerr sj;
    size_t off_dummy;
    if (!err_off)
        err_off = &off_dummy;
    *err_off = ROUTE_NOPOS;

    size_t nb = 0;
    while (nb < len && (text[nb] == ' ' || text[nb] == '\t' || text[nb] == '\r' || text[nb] == '\n'))
        nb++;
    if (nb == len) {
        lm_seterr(err, errlen, "prices: the file is empty");
        *err_off = 0;
        goto done;
    }
    doc = json_loadb(text, len, 0, &je);
    if (doc && lm_json_validate(text, len, &sj) < 0) {
        lm_seterr(err, errlen, "prices: %s", sj.msg);
        *err_off = sj.pos;
        goto done;
    }
    if (doc && json_is_object(doc) && json_object_get(doc, "model")) {
        /* a single JSON Lines entry */
        if (plist_add_entry(&p, doc, err, errlen))
            goto done;
    } else if (doc && json_is_object(doc)) {
        const char *k;
        json_t *v;
        json_object_foreach(doc, k, v) {
            if (plist_add(&p, k, v, err, errlen))
                goto done;
        }
    } else if (doc && json_is_array(doc)) {
        size_t i;
        json_t *v;
        json_array_foreach(doc, i, v) {
            if (!json_is_object(v)) {
                lm_seterr(err, errlen, "prices: entry %zu: expected an object", i + 1);
                goto done;
            }
            if (plist_add_entry(&p, v, err, errlen))
                goto done;
        }
        array_spans(&p, text, len);
    } else if (!doc) {
        /* JSON Lines: one entry per non-blank line */
        const char *s = text, *end = text + len;
        size_t lineno = 0;
        while (s < end) {
            const char *nl = memchr(s, '\n', (size_t)(end - s));
            const char *e = nl ? nl : end;
            lineno++;
            const char *t = s;
            while (t < e && (*t == ' ' || *t == '\t' || *t == '\r'))
                t++;
            if (t < e) {
                json_t *o = json_loadb(s, (size_t)(e - s), 0, &je);
                if (!o || !json_is_object(o)) {
                    lm_seterr(err, errlen, "prices: line %zu: %s", lineno,
                           o ? "expected an object" : je.text);
                    json_decref(o);
                    goto done;
                }
                if (lm_json_validate(s, (size_t)(e - s), &sj) < 0) {
                    json_decref(o);
                    lm_seterr(err, errlen, "prices: %s", sj.msg);
                    *err_off = (size_t)(s - text) + sj.pos;
                    goto done;
                }
                json_t **nl2 = realloc(lines, (n_lines + 1) * sizeof *lines);
                if (!nl2) {
                    json_decref(o);
                    lm_seterr(err, errlen, "out of memory");
                    goto done;
                }
                lines = nl2;
                lines[n_lines++] = o;
                if (plist_add_entry(&p, o, err, errlen)) {
                    char tmp[512];
                    snprintf(tmp, sizeof tmp, "%s", err);
                    lm_seterr(err, errlen, "line %zu: %s", lineno, tmp);
                    goto done;
                }
                p.at[p.n - 1] = (size_t)(s - text);
                p.alen[p.n - 1] = (size_t)(e - s);
            }
            s = e + 1;
        }
    } else {
        lm_seterr(err, errlen, "prices: expected an object, an array or JSON Lines");
        goto done;
    }

    for (size_t i = 1; i < p.n; i++)
        for (size_t k = 0; k < i; k++)
            if (strcmp(p.name[k], p.name[i]) == 0) {
                lm_seterr(err, errlen, "prices: model '%s' is listed twice", p.name[i]);
                *err_off = model_pos(&p, i, text);
                goto done;
            }
    long ref = -1;
    if (reference) {
        for (size_t i = 0; i < p.n; i++)
            if (strcmp(p.name[i], reference) == 0)
                ref = (long)i;
        if (ref < 0) {
            lm_seterr(err, errlen, "prices: reference model '%s' has no price entry", reference);
            goto done;
        }
    } else {
        for (size_t i = 0; i < p.n; i++)
            if (p.isref[i]) {
                if (ref >= 0) {
                    lm_seterr(err, errlen, "prices: more than one entry says \"reference\": true");
                    goto done;
                }
                ref = (long)i;
            }
        if (ref < 0) {
            lm_seterr(err, errlen, "prices: no reference model (give one, or mark an entry \"reference\": true)");
            goto done;
        }
    }
    if (p.n < 2) {
        lm_seterr(err, errlen, "prices: need the reference and at least one other model");
        goto done;
    }
    if (route_models_init(m, p.n, p.name, p.in, p.out, (size_t)ref, err, errlen))
        goto done;
    for (size_t i = 0; i < p.n; i++)
        m->avg_out[i] = p.avg[i];
    rc = 0;
done:
    free(p.name);
    free(p.in);
    free(p.out);
    free(p.avg);
    free(p.isref);
    free(p.at);
    free(p.alen);
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

static int get_tokens(const json_t *v, const char *field, double *out,
                      char *err, size_t errlen)
{
    if (!json_is_number(v)) {
        lm_seterr(err, errlen, "%s: expected a number of tokens", field);
        return -1;
    }
    double x = json_number_value(v);
    if (!isfinite(x) || x < 0) {
        lm_seterr(err, errlen, "%s: token count must be >= 0, got %g", field, x);
        return -1;
    }
    *out = x;
    return 0;
}

/* Sample i of model k; a missing or null "proxy" leaves s->proxy NaN. */
static int sample_parse(const json_t *o, const char *k, size_t i, route_sample *s, char *err,
                        size_t errlen)
{
    char field[256];
    if (!json_is_object(o)) {
        lm_seterr(err, errlen, "responses.%s[%zu]: expected an object", k, i);
        return -1;
    }
    const json_t *sc = json_object_get(o, "score");
    if (!sc) {
        lm_seterr(err, errlen, "responses.%s[%zu].score: missing", k, i);
        return -1;
    }
    if (!json_is_number(sc) || !isfinite(json_number_value(sc))) {
        lm_seterr(err, errlen, "responses.%s[%zu].score: expected a number", k, i);
        return -1;
    }
    s->score = json_number_value(sc);
    const json_t *px = json_object_get(o, "proxy");
    if (px && !json_is_null(px)) {
        if (!json_is_number(px) || !isfinite(json_number_value(px))) {
            lm_seterr(err, errlen, "responses.%s[%zu].proxy: expected a number", k, i);
            return -1;
        }
        s->proxy = json_number_value(px);
    } else {
        s->proxy = NAN;
    }
    const json_t *ot = json_object_get(o, "output_tokens");
    snprintf(field, sizeof field, "responses.%s[%zu].output_tokens", k, i);
    if (!ot) {
        lm_seterr(err, errlen, "%s: missing", field);
        return -1;
    }
    return get_tokens(ot, field, &s->out_tokens, err, errlen);
}

/* The samples of one model: a non-empty array of valid samples. */
static int samples_check(const json_t *v, const char *k, char *err, size_t errlen)
{
    if (!json_is_array(v)) {
        lm_seterr(err, errlen, "responses.%s: expected an array of samples", k);
        return -1;
    }
    if (json_array_size(v) == 0) {
        lm_seterr(err, errlen, "responses.%s: empty list of samples", k);
        return -1;
    }
    return 0;
}

int route_responses_check(const json_t *resp, char *err, size_t errlen)
{
    if (!json_is_object(resp)) {
        lm_seterr(err, errlen, "responses: missing or not an object of model -> samples");
        return -1;
    }
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)resp, k, v) {
        if (samples_check(v, k, err, errlen))
            return -1;
        for (size_t i = 0; i < json_array_size(v); i++) {
            route_sample s;
            if (sample_parse(json_array_get(v, i), k, i, &s, err, errlen))
                return -1;
        }
    }
    return 0;
}

static int record_parse(route_record *r, const json_t *j, const route_models *m,
                        int need_responses, char *err, size_t errlen)
{
    memset(r, 0, sizeof *r);
    char field[256];
    if (!json_is_object(j)) {
        lm_seterr(err, errlen, "record: expected a JSON object");
        return -1;
    }
    const json_t *id = json_object_get(j, "id");
    char idbuf[64];
    if (json_is_string(id)) {
        r->id = strdup(json_string_value(id));
    } else if (json_is_integer(id)) {
        snprintf(idbuf, sizeof idbuf, "%lld", (long long)json_integer_value(id));
        r->id = strdup(idbuf);
    } else {
        lm_seterr(err, errlen, "id: missing or not a string");
        return -1;
    }
    r->prompt_tokens = calloc(m->n, sizeof(double));
    r->n_samples = calloc(m->n, sizeof(size_t));
    r->samples = calloc(m->n, sizeof *r->samples);
    if (!r->id || !r->prompt_tokens || !r->n_samples || !r->samples) {
        lm_seterr(err, errlen, "out of memory");
        goto fail;
    }
    const json_t *pr = json_object_get(j, "prompt");
    if (pr && !json_is_null(pr)) {
        if (!json_is_string(pr)) {
            lm_seterr(err, errlen, "prompt: expected a string");
            goto fail;
        }
        r->prompt = strdup(json_string_value(pr));
        if (!r->prompt) {
            lm_seterr(err, errlen, "out of memory");
            goto fail;
        }
    }
    double pt;
    const json_t *ptj = json_object_get(j, "prompt_tokens");
    if (!ptj) {
        lm_seterr(err, errlen, "prompt_tokens: missing");
        goto fail;
    }
    if (get_tokens(ptj, "prompt_tokens", &pt, err, errlen))
        goto fail;
    for (size_t i = 0; i < m->n; i++)
        r->prompt_tokens[i] = pt;
    const json_t *ptm = json_object_get(j, "prompt_tokens_by_model");
    if (ptm) {
        const char *k;
        json_t *v;
        if (!json_is_object(ptm)) {
            lm_seterr(err, errlen, "prompt_tokens_by_model: expected an object");
            goto fail;
        }
        json_object_foreach((json_t *)ptm, k, v) {
            long mi = route_models_find(m, k);
            snprintf(field, sizeof field, "prompt_tokens_by_model.%s", k);
            if (mi < 0) {
                lm_seterr(err, errlen, "%s: model '%s' is not in the prices file", field, k);
                goto fail;
            }
            if (get_tokens(v, field, &r->prompt_tokens[mi], err, errlen))
                goto fail;
        }
    }
    const json_t *fe = json_object_get(j, "features");
    if (fe && !json_is_null(fe)) {
        if (!json_is_array(fe)) {
            lm_seterr(err, errlen, "features: expected an array of numbers");
            goto fail;
        }
        r->n_features = json_array_size(fe);
        r->features = malloc((r->n_features ? r->n_features : 1) * sizeof(double));
        if (!r->features) {
            lm_seterr(err, errlen, "out of memory");
            goto fail;
        }
        for (size_t i = 0; i < r->n_features; i++) {
            const json_t *v = json_array_get(fe, i);
            if (!json_is_number(v) || !isfinite(json_number_value(v))) {
                lm_seterr(err, errlen, "features[%zu]: expected a finite number", i);
                goto fail;
            }
            r->features[i] = json_number_value(v);
        }
    }
    r->synthetic = json_is_true(json_object_get(j, "synthetic"));

    const json_t *resp = json_object_get(j, "responses");
    if (!resp && !need_responses)
        return 0;
    if (!json_is_object(resp)) {
        lm_seterr(err, errlen, "responses: missing or not an object of model -> samples");
        goto fail;
    }
    int any_proxy = 0, all_proxy = 1;
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)resp, k, v) {
        long mi = route_models_find(m, k);
        if (mi < 0) {
            lm_seterr(err, errlen, "responses.%s: model '%s' is not in the prices file", k, k);
            goto fail;
        }
        if (samples_check(v, k, err, errlen))
            goto fail;
        size_t ns = json_array_size(v);
        route_sample *s = calloc(ns, sizeof *s);
        if (!s) {
            lm_seterr(err, errlen, "out of memory");
            goto fail;
        }
        r->samples[mi] = s;
        r->n_samples[mi] = ns;
        for (size_t i = 0; i < ns; i++) {
            if (sample_parse(json_array_get(v, i), k, i, &s[i], err, errlen))
                goto fail;
            if (isnan(s[i].proxy))
                all_proxy = 0;
            else
                any_proxy = 1;
        }
    }
    if (!r->n_samples[m->ref]) {
        lm_seterr(err, errlen, "responses: reference model '%s' is missing", m->name[m->ref]);
        goto fail;
    }
    if (any_proxy && !all_proxy) {
        lm_seterr(err, errlen, "responses: \"proxy\" is given for some samples but not all "
               "(give it for every sample, or for none)");
        goto fail;
    }
    r->has_proxy = any_proxy && all_proxy;
    return 0;
fail:
    route_record_free(r, m);
    return -1;
}

int route_record_parse(route_record *r, const json_t *j,
                       const route_models *m, char *err, size_t errlen)
{
    return record_parse(r, j, m, 1, err, errlen);
}

int route_query_parse(route_record *r, const json_t *j,
                      const route_models *m, char *err, size_t errlen)
{
    return record_parse(r, j, m, 0, err, errlen);
}

void route_models_fit_avg_out(route_models *m, const route_record *recs,
                              size_t n_recs)
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
