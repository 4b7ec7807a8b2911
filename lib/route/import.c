/* import.c - RouteLLM CSV and best-route-llm JSONL converters (see import.h). */
#include "route/import.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/diag.h"
#include "core/utf8.h"

/* ---- CSV (RFC 4180: quotes, doubled quotes, newlines inside quotes) ------ */

typedef struct {
    char **f;
    size_t *at, *end; /* where each field's text lies in the input (quotes included) */
    size_t n, cap;
} row_t;

static void row_free(row_t *r)
{
    for (size_t i = 0; i < r->n; i++)
        free(r->f[i]);
    free(r->f);
    free(r->at);
    free(r->end);
}

static void row_clear(row_t *r)
{
    for (size_t i = 0; i < r->n; i++)
        free(r->f[i]);
    r->n = 0;
}

/* Parses one row at *pos; *line is advanced by the newlines consumed.
 * Returns 1 on a row, 0 at end of input, -1 on error (message set). */
static int csv_row(const char *s, size_t len, size_t *pos, size_t *line, row_t *row, route_err *e)
{
    row_clear(row);
    size_t p = *pos;
    if (p >= len)
        return 0;
    size_t start_line = *line;
    char *buf = NULL;
    size_t bl = 0, bc = 0;
    for (;;) {
        int quoted = 0;
        bl = 0;
        size_t at = p;
        if (p < len && s[p] == '"') {
            quoted = 1;
            p++;
        }
        for (;;) {
            if (p >= len) {
                if (quoted) {
                    free(buf);
                    route_err_set(e, NULL, NULL, "unterminated quoted field");
                    e->line = start_line;
                    return -1;
                }
                break;
            }
            char c = s[p];
            if (quoted) {
                if (c == '"') {
                    if (p + 1 < len && s[p + 1] == '"') {
                        p += 2;
                        c = '"';
                    } else {
                        p++;
                        quoted = 0;
                        if (p < len && s[p] != ',' && s[p] != '\n' && s[p] != '\r') {
                            free(buf);
                            route_err_set(e, NULL, NULL, "text after a closing quote");
                            e->line = *line;
                            return -1;
                        }
                        continue;
                    }
                } else {
                    if (c == '\n')
                        (*line)++;
                    p++;
                }
            } else {
                if (c == ',' || c == '\n' || c == '\r')
                    break;
                p++;
            }
            lm_grow(buf, bc, bl + 2);
            buf[bl++] = c;
        }
        size_t cf = row->cap, ca = row->cap; /* f, at and end share cap */
        lm_grow(row->f, cf, row->n + 1);
        lm_grow(row->at, ca, row->n + 1);
        lm_grow(row->end, row->cap, row->n + 1);
        char *fld = lm_xstrndup(bl ? buf : "", bl);
        row->at[row->n] = at;
        row->end[row->n] = p;
        row->f[row->n++] = fld;
        if (p < len && s[p] == ',') {
            p++;
            continue;
        }
        if (p < len && s[p] == '\r')
            p++;
        if (p < len && s[p] == '\n')
            p++;
        (*line)++;
        break;
    }
    free(buf);
    *pos = p;
    return 1;
}

/* Physical line and character column of byte offset off; the row holding
 * it starts at offset row_at on line row_line. */
static void text_pos(const char *s, size_t row_at, size_t row_line, size_t off, size_t *line, size_t *col)
{
    size_t ls = row_at;
    *line = row_line;
    for (size_t i = row_at; i < off; i++)
        if (s[i] == '\n') {
            (*line)++;
            ls = i + 1;
        }
    if (ls == 0 && off >= 3 && memcmp(s, "\xEF\xBB\xBF", 3) == 0)
        ls = 3;
    *col = lm_utf8_column(s + ls, off - ls);
}

/* Refuses a NUL byte or invalid UTF-8 in any field of row (records could
 * not hold them).  hdr: the header, to name the column (NULL while
 * checking the header itself).  Returns 0, or -1 with e at line L, column C. */
static int check_bytes(const char *s, const row_t *row, const row_t *hdr, size_t row_line, route_err *e)
{
    for (size_t i = 0; i < row->n; i++) {
        size_t a = row->at[i], b = row->end[i];
        size_t v = a + lm_utf8_valid_prefix(s + a, b - a, 0);
        const char *z = memchr(s + a, 0, b - a);
        size_t zi = z ? (size_t)(z - s) : b;
        if (v == b && zi == b)
            continue;
        size_t off = v < zi ? v : zi, line, col;
        text_pos(s, row->at[0], row_line, off, &line, &col);
        const char *what = v < zi ? "invalid UTF-8" : "NUL byte";
        if (!hdr)
            route_err_set(e, NULL, NULL, "%s in the header (column %zu)", what, i + 1);
        else if (i < hdr->n && hdr->f[i][0])
            route_err_set(e, NULL, NULL, "%s in column '%.80s'", what, hdr->f[i]);
        else
            route_err_set(e, NULL, NULL, "%s in column %zu", what, i + 1);
        e->line = line;
        e->col = col;
        route_err_hint(e, v < zi ? "convert the file to UTF-8 first (iconv -f LATIN1 -t UTF-8, for one)"
                                 : "route records cannot hold NUL characters: remove them from the file");
        return -1;
    }
    return 0;
}

static int str_cmp(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static double approx_tokens(const char *s)
{
    return ceil((double)strlen(s) / 4.0);
}

static size_t ends_with(const char *s, const char *suf)
{
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && strcmp(s + a - b, suf) == 0;
}

/* The columns of a RouteLLM CSV: the prompt, the models and their optional
 * "<model>_response" text. */
typedef struct {
    row_t hdr;
    size_t *model_col, *resp_col, nm, prompt_col;
} csv_cols;

static void cols_free(csv_cols *h)
{
    row_free(&h->hdr);
    free(h->model_col);
    free(h->resp_col);
}

/* Reads and checks the header row at *pos (line 1). */
static int csv_header(csv_cols *h, const char *text, size_t len, size_t *pos, size_t *line, route_err *e)
{
    row_t *hdr = &h->hdr;
    h->prompt_col = (size_t)-1;
    int k = csv_row(text, len, pos, line, hdr, e);
    if (k <= 0) {
        if (k == 0) {
            route_err_set(e, NULL, NULL, "empty file, expected a header 'prompt,<model>,...'");
            e->line = 1;
        }
        return -1;
    }
    if (check_bytes(text, hdr, NULL, 1, e) < 0)
        return -1;
    for (size_t i = 1; i < hdr->n; i++)
        for (size_t j = 0; j < i && hdr->f[i][0]; j++)
            if (strcmp(hdr->f[i], hdr->f[j]) == 0) {
                route_err_set(e, NULL, NULL, "column '%.80s' appears twice (columns %zu and %zu)", hdr->f[i],
                              j + 1, i + 1);
                text_pos(text, hdr->at[0], 1, hdr->at[i], &e->line, &e->col);
                route_err_hint(e, "rename or drop one of the two columns");
                return -1;
            }
    h->model_col = lm_xmalloc(lm_xmul(hdr->n, sizeof(size_t)));
    h->resp_col = lm_xmalloc(lm_xmul(hdr->n, sizeof(size_t)));
    for (size_t i = 0; i < hdr->n; i++) {
        if (strcmp(hdr->f[i], "prompt") == 0)
            h->prompt_col = i;
        else if (!ends_with(hdr->f[i], "_response") && hdr->f[i][0])
            h->model_col[h->nm++] = i;
    }
    if (h->prompt_col == (size_t)-1) {
        route_err_set(e, NULL, NULL, "no 'prompt' column in the header");
        e->line = 1;
        return -1;
    }
    if (h->nm < 2) {
        route_err_set(e, NULL, NULL, "need at least two model columns, found %zu", h->nm);
        e->line = 1;
        return -1;
    }
    for (size_t j = 0; j < h->nm; j++) {
        h->resp_col[j] = (size_t)-1;
        char want[1024];
        snprintf(want, sizeof want, "%s_response", hdr->f[h->model_col[j]]);
        for (size_t i = 0; i < hdr->n; i++)
            if (strcmp(hdr->f[i], want) == 0)
                h->resp_col[j] = i;
    }
    return 0;
}

/* The record of one data row (row_line: where it starts). */
static json_t *csv_record(const csv_cols *h, const row_t *row, size_t row_line, const char *id_prefix,
                          size_t rowno, double out_tokens, route_err *e)
{
    const char *prompt = row->f[h->prompt_col];
    json_t *rec = json_object(), *resp = json_object();
    if (!rec || !resp)
        goto oom;
    char id[256];
    snprintf(id, sizeof id, "%s/%zu", id_prefix ? id_prefix : "row", rowno);
    json_object_set_new(rec, "id", json_string(id));
    json_object_set_new(rec, "prompt", json_string(prompt));
    json_object_set_new(rec, "prompt_tokens", json_real(approx_tokens(prompt)));
    json_object_set_new(rec, "approx_tokens", json_true());
    for (size_t j = 0; j < h->nm; j++) {
        const char *name = h->hdr.f[h->model_col[j]], *v = row->f[h->model_col[j]];
        double sc;
        if (strcmp(v, "True") == 0 || strcmp(v, "true") == 0 || strcmp(v, "1") == 0) {
            sc = 1;
        } else if (strcmp(v, "False") == 0 || strcmp(v, "false") == 0 || strcmp(v, "0") == 0) {
            sc = 0;
        } else {
            json_decref(rec);
            json_decref(resp);
            route_err_set(e, NULL, NULL, "column '%s': expected True or False, got '%.40s'", name, v);
            e->line = row_line;
            return NULL;
        }
        double ot = h->resp_col[j] != (size_t)-1 ? approx_tokens(row->f[h->resp_col[j]]) : out_tokens;
        json_t *arr = json_pack("[{s:f,s:f}]", "score", sc, "output_tokens", ot);
        if (!arr)
            goto oom;
        json_object_set_new(resp, name, arr);
    }
    json_object_set_new(rec, "responses", resp);
    return rec;
oom:
    json_decref(rec);
    json_decref(resp);
    route_err_set(e, NULL, NULL, "out of memory");
    return NULL;
}

int route_import_routellm_csv_e(const char *text, size_t len, const char *id_prefix, double out_tokens,
                                const char *const *exclude, size_t n_exclude, json_t ***recs, size_t *n_recs,
                                route_err *e)
{
    *recs = NULL;
    *n_recs = 0;
    csv_cols h = {0};
    row_t row = {0};
    size_t pos = 0, line = 1;
    json_t **out = NULL;
    size_t n = 0, cap = 0;
    int rc = -1;
    if (len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0)
        pos = 3;
    if (csv_header(&h, text, len, &pos, &line, e) < 0)
        goto done;
    for (size_t rowno = 0;; rowno++) {
        size_t row_line = line;
        int k = csv_row(text, len, &pos, &line, &row, e);
        if (k < 0)
            goto done;
        if (k == 0)
            break;
        if (check_bytes(text, &row, &h.hdr, row_line, e) < 0)
            goto done;
        if (row.n == 1 && row.f[0][0] == 0) { /* blank line */
            rowno--;
            continue;
        }
        if (row.n != h.hdr.n) {
            route_err_set(e, NULL, NULL, "expected %zu fields, got %zu", h.hdr.n, row.n);
            e->line = row_line;
            goto done;
        }
        const char *prompt = row.f[h.prompt_col];
        if (exclude && n_exclude && bsearch(&prompt, exclude, n_exclude, sizeof *exclude, str_cmp))
            continue;
        json_t *rec = csv_record(&h, &row, row_line, id_prefix, rowno, out_tokens, e);
        if (!rec)
            goto done;
        lm_grow(out, cap, n + 1);
        out[n++] = rec;
    }
    rc = 0;
done:
    cols_free(&h);
    row_free(&row);
    if (rc) {
        if (!e->hint[0])
            route_err_hint(e, "RouteLLM CSVs have a header 'prompt,<model>,...' and True/False per model");
        for (size_t i = 0; i < n; i++)
            json_decref(out[i]);
        free(out);
    } else {
        *recs = out;
        *n_recs = n;
    }
    return rc;
}

int route_import_routellm_csv(const char *text, size_t len, const char *id_prefix, double out_tokens,
                              const char *const *exclude, size_t n_exclude, json_t ***recs, size_t *n_recs,
                              char *err, size_t errlen)
{
    route_err e;
    int rc =
        route_import_routellm_csv_e(text, len, id_prefix, out_tokens, exclude, n_exclude, recs, n_recs, &e);
    if (rc < 0 && e.col)
        lm_seterr(err, errlen, "line %zu:%zu: %s", e.line, e.col, e.msg);
    else if (rc < 0 && e.line)
        lm_seterr(err, errlen, "line %zu: %s", e.line, e.msg);
    else if (rc < 0)
        lm_seterr(err, errlen, "%s", e.msg);
    return rc;
}

void route_import_exclude_free(char **v, size_t n)
{
    for (size_t k = 0; k < n; k++)
        free(v[k]);
    free(v);
}

int route_import_exclude(const char *text, size_t len, char ***out, size_t *n, route_err *e)
{
    char **ex = NULL;
    size_t nex = 0, cap = 0, line = 0;
    for (const char *s = text; s < text + len;) {
        const char *nl = memchr(s, '\n', (size_t)(text + len - s));
        const char *le = nl ? nl : text + len;
        line++;
        if (le > s) {
            json_t *o = json_loadb(s, (size_t)(le - s), 0, NULL);
            json_t *p = o ? json_object_get(o, "eval_prompt") : NULL;
            if (!p && o)
                p = json_object_get(o, "prompt");
            if (!json_is_string(p)) {
                json_decref(o);
                route_err_set(e, NULL, NULL, "expected {\"eval_prompt\": \"...\"} or {\"prompt\": \"...\"}");
                e->line = line;
                route_import_exclude_free(ex, nex);
                return -1;
            }
            lm_grow(ex, cap, nex + 1);
            ex[nex++] = lm_xstrdup(json_string_value(p));
            json_decref(o);
        }
        s = le + 1;
    }
    qsort(ex, nex, sizeof *ex, str_cmp);
    *out = ex;
    *n = nex;
    return 0;
}

/* ---- best-route-llm stage files ----------------------------------------- */

static int num_array(const json_t *a, const char *model, const char *key, size_t want, route_err *e)
{
    if (!json_is_array(a)) {
        route_err_set(e, model, key, "%s.%s: missing or not an array", model, key);
        return -1;
    }
    if (want && json_array_size(a) != want) {
        route_err_set(e, model, key, "%s.%s: %zu values, expected %zu", model, key, json_array_size(a), want);
        return -1;
    }
    for (size_t i = 0; i < json_array_size(a); i++)
        if (!json_is_number(json_array_get(a, i))) {
            route_err_set(e, model, key, "%s.%s[%zu]: expected a number", model, key, i);
            return -1;
        }
    return 0;
}

/* Whether key is a model object to take: one of models, or (models NULL)
 * any object with "armoRM_scores". */
static int stage_wanted(const char *key, const json_t *val, const char *const *models, size_t n_models)
{
    if (!json_is_object(val))
        return 0;
    if (!models)
        return json_object_get(val, "armoRM_scores") != NULL;
    for (size_t i = 0; i < n_models; i++)
        if (strcmp(models[i], key) == 0)
            return 1;
    return 0;
}

/* The checked arrays of one model object: scores, token counts, optional
 * proxies (all of one length), and the prompt's token count. */
static int stage_fields(const json_t *val, const char *key, const json_t **sc, const json_t **tk,
                        const json_t **px, double *tp, route_err *e)
{
    *sc = json_object_get(val, "armoRM_scores");
    if (!*sc) {
        route_err_set(e, key, "armoRM_scores",
                      "%s.armoRM_scores: missing (run the ArmoRM scoring stage first)", key);
        return -1;
    }
    if (num_array(*sc, key, "armoRM_scores", 0, e))
        return -1;
    size_t ns = json_array_size(*sc);
    if (!ns) {
        route_err_set(e, key, "armoRM_scores", "%s.armoRM_scores: empty", key);
        return -1;
    }
    *tk = json_object_get(val, "token_num_responses");
    if (!*tk) {
        route_err_set(e, key, "token_num_responses",
                      "%s.token_num_responses: missing (run the token counting stage first)", key);
        return -1;
    }
    if (num_array(*tk, key, "token_num_responses", ns, e))
        return -1;
    *px = json_object_get(val, "ourRM_scores");
    if (*px && num_array(*px, key, "ourRM_scores", ns, e))
        return -1;
    const json_t *t = json_object_get(val, "token_num_prompt");
    if (!json_is_number(t) || json_number_value(t) < 0) {
        route_err_set(e, key, "token_num_prompt", "%s.token_num_prompt: missing or not a number >= 0", key);
        return -1;
    }
    *tp = json_number_value(t);
    return 0;
}

/* The samples of one model object.  NULL with e set (out of memory: no
 * member). */
static json_t *stage_samples(const json_t *sc, const json_t *tk, const json_t *px, const char *key,
                             route_err *e)
{
    json_t *arr = json_array();
    if (!arr)
        goto oom;
    for (size_t i = 0; i < json_array_size(sc); i++) {
        double t = json_number_value(json_array_get(tk, i));
        if (t < 0) {
            json_decref(arr);
            route_err_set(e, key, "token_num_responses", "%s.token_num_responses[%zu]: negative", key, i);
            return NULL;
        }
        json_t *smp = px ? json_pack("{s:f,s:f,s:f}", "score", json_number_value(json_array_get(sc, i)),
                                     "proxy", json_number_value(json_array_get(px, i)), "output_tokens", t)
                         : json_pack("{s:f,s:f}", "score", json_number_value(json_array_get(sc, i)),
                                     "output_tokens", t);
        if (!smp || json_array_append_new(arr, smp)) {
            json_decref(arr);
            goto oom;
        }
    }
    return arr;
oom:
    route_err_set(e, NULL, NULL, "out of memory");
    return NULL;
}

json_t *route_import_stage_e(const json_t *in, const char *const *models, size_t n_models, route_err *e)
{
    if (!json_is_object(in)) {
        route_err_set(e, "record", NULL, "record: expected a JSON object");
        return NULL;
    }
    const json_t *id = json_object_get(in, "id"), *pr = json_object_get(in, "prompt");
    if (!json_is_string(id)) {
        route_err_set(e, "id", NULL, "id: missing or not a string");
        return NULL;
    }
    json_t *rec = json_object(), *resp = json_object(), *ptm = json_object();
    if (!rec || !resp || !ptm) {
        route_err_set(e, NULL, NULL, "out of memory");
        goto fail;
    }
    json_object_set(rec, "id", (json_t *)id);
    if (json_is_string(pr))
        json_object_set(rec, "prompt", (json_t *)pr);
    double pt0 = -1;
    const char *key;
    json_t *val;
    size_t taken = 0;
    json_object_foreach((json_t *)in, key, val)
    {
        if (!stage_wanted(key, val, models, n_models))
            continue;
        const json_t *sc, *tk, *px;
        double tp;
        if (stage_fields(val, key, &sc, &tk, &px, &tp, e))
            goto fail;
        if (pt0 < 0)
            pt0 = tp;
        json_object_set_new(ptm, key, json_real(tp));
        json_t *arr = stage_samples(sc, tk, px, key, e);
        if (!arr)
            goto fail;
        json_object_set_new(resp, key, arr);
        taken++;
    }
    if (models && taken != n_models) {
        for (size_t i = 0; i < n_models; i++)
            if (!json_object_get(resp, models[i])) {
                route_err_set(e, models[i], NULL, "%s: model missing from the record", models[i]);
                goto fail;
            }
    }
    if (!taken) {
        route_err_set(e, "record", NULL, "record: no model objects with \"armoRM_scores\"");
        goto fail;
    }
    json_object_set_new(rec, "prompt_tokens", json_real(pt0));
    json_object_set_new(rec, "prompt_tokens_by_model", ptm);
    json_object_set_new(rec, "responses", resp);
    return rec;
fail:
    json_decref(rec);
    json_decref(resp);
    json_decref(ptm);
    return NULL;
}

json_t *route_import_stage(const json_t *in, const char *const *models, size_t n_models, char *err,
                           size_t errlen)
{
    route_err e;
    json_t *r = route_import_stage_e(in, models, n_models, &e);
    if (!r)
        lm_seterr(err, errlen, "%s", e.msg);
    return r;
}

/* values of a scalar-or-array field into v (at most cap); returns count or -1 */
static long scalar_or_array(const json_t *x, double *v, size_t cap)
{
    if (json_is_number(x)) {
        v[0] = json_number_value(x);
        return 1;
    }
    if (!json_is_array(x) || json_array_size(x) == 0)
        return -1;
    size_t n = json_array_size(x);
    if (n > cap)
        n = cap;
    for (size_t i = 0; i < n; i++) {
        const json_t *e = json_array_get(x, i);
        if (!json_is_number(e))
            return -1;
        v[i] = json_number_value(e);
    }
    return (long)n;
}

enum { CAP = 64 }; /* draws kept per candidate */

/* The label slot of candidate i, "<model>_ourRM_bo<n>": its head, or H for
 * the reference (whose token_num_prompt goes to *prompt_tokens). */
static int cand_slot(const json_t *c, size_t i, const route_models *m, size_t n_max, size_t *slot,
                     double *prompt_tokens, char *err, size_t errlen)
{
    size_t H = (m->n - 1) * n_max;
    const char *name = json_string_value(json_object_get(c, "model"));
    if (!name) {
        lm_seterr(err, errlen, "candidates[%zu].model: missing or not a string", i);
        return -1;
    }
    const char *tag = strstr(name, "_ourRM_bo");
    char *e = NULL;
    long n = tag ? strtol(tag + 9, &e, 10) : 0;
    if (!tag || !e || *e || n < 1) {
        lm_seterr(err, errlen, "candidates[%zu].model: '%s' is not '<model>_ourRM_bo<n>'", i, name);
        return -1;
    }
    char mname[512];
    snprintf(mname, sizeof mname, "%.*s", (int)(tag - name), name);
    long mi = route_models_find(m, mname);
    if (mi < 0) {
        lm_seterr(err, errlen, "candidates[%zu].model: model '%s' is not in the prices file", i, mname);
        return -1;
    }
    if ((size_t)mi == m->ref) {
        if (n != 1) {
            lm_seterr(err, errlen, "candidates[%zu].model: the reference must be bo1", i);
            return -1;
        }
        *slot = H;
        const json_t *tp = json_object_get(c, "token_num_prompt");
        if (json_is_number(tp))
            *prompt_tokens = json_number_value(tp);
        return 0;
    }
    if ((size_t)n > n_max) {
        lm_seterr(err, errlen, "candidates[%zu].model: n = %ld exceeds n_max = %zu", i, n, n_max);
        return -1;
    }
    size_t s = (size_t)mi < m->ref ? (size_t)mi : (size_t)mi - 1;
    *slot = s * n_max + (size_t)n - 1;
    return 0;
}

/* The stored draws of candidate i (scores into sv[CAP], their count into
 * *nd) and its first and mean score and tokens into the labels l. */
static int cand_draws(const json_t *c, size_t i, size_t slot, size_t H, double *sv, size_t *nd,
                      route_labels *l, char *err, size_t errlen)
{
    const json_t *sc = json_object_get(json_object_get(c, "scores"), "armoRM_scores");
    long k = scalar_or_array(sc, sv, CAP);
    if (k < 0) {
        lm_seterr(err, errlen,
                  "candidates[%zu].scores.armoRM_scores: expected a number or an array of numbers", i);
        return -1;
    }
    *nd = (size_t)k;
    double tok[CAP];
    long kt = scalar_or_array(json_object_get(c, "token_num_responses"), tok, CAP);
    if (kt < 0) {
        lm_seterr(err, errlen,
                  "candidates[%zu].token_num_responses: expected a number or an array of numbers", i);
        return -1;
    }
    double ts = 0, ss = 0;
    for (long j = 0; j < kt; j++)
        ts += tok[j];
    for (long j = 0; j < k; j++)
        ss += sv[j];
    if (slot == H) {
        l->ref_score = sv[0];
        l->ref_tokens = tok[0];
        l->ref_mean_score = ss / (double)k;
        l->ref_mean_tokens = ts / (double)kt;
    } else {
        l->draw_score[slot] = sv[0];
        l->draw_tokens[slot] = tok[0];
        l->mean_score[slot] = ss / (double)k;
        l->mean_tokens[slot] = ts / (double)kt;
    }
    return 0;
}

int route_import_candidates(const json_t *row, const route_models *m, size_t n_max, double match_t,
                            route_labels *l, double *prompt_tokens, char *err, size_t errlen)
{
    size_t H = (m->n - 1) * n_max;
    if (l->n_heads != H) {
        lm_seterr(err, errlen, "candidates: label buffer has %zu heads, need %zu", l->n_heads, H);
        return -1;
    }
    double *draws = lm_xmalloc(lm_xmul(H + 1, CAP * sizeof(double)));
    size_t *nd = lm_xcalloc(H + 1, sizeof(size_t));
    int rc = -1;
    const json_t *cands = json_object_get(row, "candidates");
    if (!json_is_array(cands)) {
        lm_seterr(err, errlen, "candidates: missing or not an array");
        goto done;
    }
    for (size_t h = 0; h < H; h++)
        l->match[h] = l->draw_score[h] = l->draw_tokens[h] = l->mean_score[h] = l->mean_tokens[h] = NAN;
    l->selector_oracle = 0;
    *prompt_tokens = NAN;
    for (size_t i = 0; i < json_array_size(cands); i++) {
        const json_t *c = json_array_get(cands, i);
        size_t slot;
        if (cand_slot(c, i, m, n_max, &slot, prompt_tokens, err, errlen) ||
            cand_draws(c, i, slot, H, draws + slot * CAP, &nd[slot], l, err, errlen))
            goto done;
    }
    if (!nd[H]) {
        lm_seterr(err, errlen, "candidates: reference '%s_ourRM_bo1' is missing", m->name[m->ref]);
        goto done;
    }
    for (size_t h = 0; h < H; h++)
        if (nd[h])
            l->match[h] = route_match_prob(draws + h * CAP, nd[h], draws + H * CAP, nd[H], match_t);
    rc = 0;
done:
    free(draws);
    free(nd);
    return rc;
}
