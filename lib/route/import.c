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
static int csv_row(const char *s, size_t len, size_t *pos, size_t *line, row_t *row,
                   char *err, size_t errlen)
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
                    lm_seterr(err, errlen, "line %zu: unterminated quoted field", start_line);
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
                            lm_seterr(err, errlen, "line %zu: text after a closing quote", *line);
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
            if (bl + 2 > bc) {
                bc = bc ? 2 * bc : 256;
                char *nb = realloc(buf, bc);
                if (!nb) {
                    free(buf);
                    lm_seterr(err, errlen, "out of memory");
                    return -1;
                }
                buf = nb;
            }
            buf[bl++] = c;
        }
        if (row->n == row->cap) {
            size_t cap = row->cap ? 2 * row->cap : 8;
            char **nf = realloc(row->f, cap * sizeof *nf);
            if (nf)
                row->f = nf;
            size_t *na = realloc(row->at, cap * sizeof *na);
            if (na)
                row->at = na;
            size_t *ne = realloc(row->end, cap * sizeof *ne);
            if (ne)
                row->end = ne;
            if (!nf || !na || !ne) {
                free(buf);
                lm_seterr(err, errlen, "out of memory");
                return -1;
            }
            row->cap = cap;
        }
        char *fld = malloc(bl + 1);
        if (!fld) {
            free(buf);
            lm_seterr(err, errlen, "out of memory");
            return -1;
        }
        if (bl)
            memcpy(fld, buf, bl);
        fld[bl] = 0;
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
 * checking the header itself).  Returns 0, or -1 with "line L:C: ...". */
static int check_bytes(const char *s, const row_t *row, const row_t *hdr, size_t row_line,
                       char *err, size_t errlen)
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
            lm_seterr(err, errlen, "line %zu:%zu: %s in the header (column %zu)", line, col, what, i + 1);
        else if (i < hdr->n && hdr->f[i][0])
            lm_seterr(err, errlen, "line %zu:%zu: %s in column '%.80s'", line, col, what, hdr->f[i]);
        else
            lm_seterr(err, errlen, "line %zu:%zu: %s in column %zu", line, col, what, i + 1);
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

int route_import_routellm_csv(const char *text, size_t len, const char *id_prefix,
                              double out_tokens, const char *const *exclude,
                              size_t n_exclude, json_t ***recs, size_t *n_recs,
                              char *err, size_t errlen)
{
    *recs = NULL;
    *n_recs = 0;
    row_t hdr = {0}, row = {0};
    size_t pos = 0, line = 1;
    json_t **out = NULL;
    size_t n = 0, cap = 0;
    size_t *model_col = NULL, *resp_col = NULL, nm = 0, prompt_col = (size_t)-1;
    int rc = -1;
    if (len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0)
        pos = 3;
    int k = csv_row(text, len, &pos, &line, &hdr, err, errlen);
    if (k <= 0) {
        if (k == 0)
            lm_seterr(err, errlen, "line 1: empty file, expected a header 'prompt,<model>,...'");
        goto done;
    }
    if (check_bytes(text, &hdr, NULL, 1, err, errlen) < 0)
        goto done;
    for (size_t i = 1; i < hdr.n; i++)
        for (size_t j = 0; j < i && hdr.f[i][0]; j++)
            if (strcmp(hdr.f[i], hdr.f[j]) == 0) {
                size_t l, c;
                text_pos(text, hdr.at[0], 1, hdr.at[i], &l, &c);
                lm_seterr(err, errlen, "line %zu:%zu: column '%.80s' appears twice (columns %zu and %zu)", l, c,
                          hdr.f[i], j + 1, i + 1);
                goto done;
            }
    model_col = malloc(hdr.n * sizeof(size_t));
    resp_col = malloc(hdr.n * sizeof(size_t));
    if (!model_col || !resp_col) {
        lm_seterr(err, errlen, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < hdr.n; i++) {
        if (strcmp(hdr.f[i], "prompt") == 0)
            prompt_col = i;
        else if (!ends_with(hdr.f[i], "_response") && hdr.f[i][0])
            model_col[nm++] = i;
    }
    if (prompt_col == (size_t)-1) {
        lm_seterr(err, errlen, "line 1: no 'prompt' column in the header");
        goto done;
    }
    if (nm < 2) {
        lm_seterr(err, errlen, "line 1: need at least two model columns, found %zu", nm);
        goto done;
    }
    for (size_t j = 0; j < nm; j++) {
        resp_col[j] = (size_t)-1;
        char want[1024];
        snprintf(want, sizeof want, "%s_response", hdr.f[model_col[j]]);
        for (size_t i = 0; i < hdr.n; i++)
            if (strcmp(hdr.f[i], want) == 0)
                resp_col[j] = i;
    }
    for (size_t rowno = 0;; rowno++) {
        size_t row_line = line;
        k = csv_row(text, len, &pos, &line, &row, err, errlen);
        if (k < 0)
            goto done;
        if (k == 0)
            break;
        if (check_bytes(text, &row, &hdr, row_line, err, errlen) < 0)
            goto done;
        if (row.n == 1 && row.f[0][0] == 0) { /* blank line */
            rowno--;
            continue;
        }
        if (row.n != hdr.n) {
            lm_seterr(err, errlen, "line %zu: expected %zu fields, got %zu", row_line, hdr.n, row.n);
            goto done;
        }
        const char *prompt = row.f[prompt_col];
        if (exclude && n_exclude &&
            bsearch(&prompt, exclude, n_exclude, sizeof *exclude, str_cmp))
            continue;
        json_t *rec = json_object(), *resp = json_object();
        if (!rec || !resp) {
            json_decref(rec);
            json_decref(resp);
            lm_seterr(err, errlen, "out of memory");
            goto done;
        }
        char id[256];
        snprintf(id, sizeof id, "%s/%zu", id_prefix ? id_prefix : "row", rowno);
        json_object_set_new(rec, "id", json_string(id));
        json_object_set_new(rec, "prompt", json_string(prompt));
        json_object_set_new(rec, "prompt_tokens", json_real(approx_tokens(prompt)));
        json_object_set_new(rec, "approx_tokens", json_true());
        for (size_t j = 0; j < nm; j++) {
            const char *v = row.f[model_col[j]];
            double sc;
            if (strcmp(v, "True") == 0 || strcmp(v, "true") == 0 || strcmp(v, "1") == 0)
                sc = 1;
            else if (strcmp(v, "False") == 0 || strcmp(v, "false") == 0 || strcmp(v, "0") == 0)
                sc = 0;
            else {
                json_decref(rec);
                json_decref(resp);
                lm_seterr(err, errlen, "line %zu: column '%s': expected True or False, got '%.40s'",
                       row_line, hdr.f[model_col[j]], v);
                goto done;
            }
            double ot = resp_col[j] != (size_t)-1 ? approx_tokens(row.f[resp_col[j]]) : out_tokens;
            json_t *arr = json_pack("[{s:f,s:f}]", "score", sc, "output_tokens", ot);
            if (!arr) {
                json_decref(rec);
                json_decref(resp);
                lm_seterr(err, errlen, "out of memory");
                goto done;
            }
            json_object_set_new(resp, hdr.f[model_col[j]], arr);
        }
        json_object_set_new(rec, "responses", resp);
        if (n == cap) {
            cap = cap ? 2 * cap : 256;
            json_t **no = realloc(out, cap * sizeof *no);
            if (!no) {
                json_decref(rec);
                lm_seterr(err, errlen, "out of memory");
                goto done;
            }
            out = no;
        }
        out[n++] = rec;
    }
    rc = 0;
done:
    row_free(&hdr);
    row_free(&row);
    free(model_col);
    free(resp_col);
    if (rc) {
        for (size_t i = 0; i < n; i++)
            json_decref(out[i]);
        free(out);
    } else {
        *recs = out;
        *n_recs = n;
    }
    return rc;
}

/* ---- best-route-llm stage files ----------------------------------------- */

static int num_array(const json_t *a, const char *model, const char *key, size_t want,
                     char *err, size_t errlen)
{
    if (!json_is_array(a)) {
        lm_seterr(err, errlen, "%s.%s: missing or not an array", model, key);
        return -1;
    }
    if (want && json_array_size(a) != want) {
        lm_seterr(err, errlen, "%s.%s: %zu values, expected %zu", model, key,
               json_array_size(a), want);
        return -1;
    }
    for (size_t i = 0; i < json_array_size(a); i++)
        if (!json_is_number(json_array_get(a, i))) {
            lm_seterr(err, errlen, "%s.%s[%zu]: expected a number", model, key, i);
            return -1;
        }
    return 0;
}

json_t *route_import_stage(const json_t *in, const char *const *models, size_t n_models,
                           char *err, size_t errlen)
{
    if (!json_is_object(in)) {
        lm_seterr(err, errlen, "record: expected a JSON object");
        return NULL;
    }
    const json_t *id = json_object_get(in, "id"), *pr = json_object_get(in, "prompt");
    if (!json_is_string(id)) {
        lm_seterr(err, errlen, "id: missing or not a string");
        return NULL;
    }
    json_t *rec = json_object(), *resp = json_object(), *ptm = json_object();
    if (!rec || !resp || !ptm)
        goto oom;
    json_object_set(rec, "id", (json_t *)id);
    if (json_is_string(pr))
        json_object_set(rec, "prompt", (json_t *)pr);
    double pt0 = -1;
    const char *key;
    json_t *val;
    size_t taken = 0;
    json_object_foreach((json_t *)in, key, val) {
        if (!json_is_object(val))
            continue;
        if (models) {
            size_t i;
            for (i = 0; i < n_models; i++)
                if (strcmp(models[i], key) == 0)
                    break;
            if (i == n_models)
                continue;
        } else if (!json_object_get(val, "armoRM_scores")) {
            continue;
        }
        const json_t *sc = json_object_get(val, "armoRM_scores");
        if (!sc) {
            lm_seterr(err, errlen, "%s.armoRM_scores: missing (run the ArmoRM scoring stage first)", key);
            goto fail;
        }
        if (num_array(sc, key, "armoRM_scores", 0, err, errlen))
            goto fail;
        size_t ns = json_array_size(sc);
        if (!ns) {
            lm_seterr(err, errlen, "%s.armoRM_scores: empty", key);
            goto fail;
        }
        const json_t *tk = json_object_get(val, "token_num_responses");
        if (!tk) {
            lm_seterr(err, errlen, "%s.token_num_responses: missing (run the token counting stage first)", key);
            goto fail;
        }
        if (num_array(tk, key, "token_num_responses", ns, err, errlen))
            goto fail;
        const json_t *px = json_object_get(val, "ourRM_scores");
        if (px && num_array(px, key, "ourRM_scores", ns, err, errlen))
            goto fail;
        const json_t *tp = json_object_get(val, "token_num_prompt");
        if (!json_is_number(tp) || json_number_value(tp) < 0) {
            lm_seterr(err, errlen, "%s.token_num_prompt: missing or not a number >= 0", key);
            goto fail;
        }
        if (pt0 < 0)
            pt0 = json_number_value(tp);
        json_object_set_new(ptm, key, json_real(json_number_value(tp)));
        json_t *arr = json_array();
        if (!arr)
            goto oom;
        for (size_t i = 0; i < ns; i++) {
            double t = json_number_value(json_array_get(tk, i));
            if (t < 0) {
                json_decref(arr);
                lm_seterr(err, errlen, "%s.token_num_responses[%zu]: negative", key, i);
                goto fail;
            }
            json_t *e = px ? json_pack("{s:f,s:f,s:f}", "score",
                                       json_number_value(json_array_get(sc, i)), "proxy",
                                       json_number_value(json_array_get(px, i)),
                                       "output_tokens", t)
                           : json_pack("{s:f,s:f}", "score",
                                       json_number_value(json_array_get(sc, i)),
                                       "output_tokens", t);
            if (!e || json_array_append_new(arr, e)) {
                json_decref(arr);
                goto oom;
            }
        }
        json_object_set_new(resp, key, arr);
        taken++;
    }
    if (models && taken != n_models) {
        for (size_t i = 0; i < n_models; i++)
            if (!json_object_get(resp, models[i])) {
                lm_seterr(err, errlen, "%s: model missing from the record", models[i]);
                goto fail;
            }
    }
    if (!taken) {
        lm_seterr(err, errlen, "record: no model objects with \"armoRM_scores\"");
        goto fail;
    }
    json_object_set_new(rec, "prompt_tokens", json_real(pt0));
    json_object_set_new(rec, "prompt_tokens_by_model", ptm);
    json_object_set_new(rec, "responses", resp);
    return rec;
oom:
    lm_seterr(err, errlen, "out of memory");
fail:
    json_decref(rec);
    json_decref(resp);
    json_decref(ptm);
    return NULL;
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

int route_import_candidates(const json_t *row, const route_models *m, size_t n_max,
                            double match_t, route_labels *l, double *prompt_tokens,
                            char *err, size_t errlen)
{
    enum { CAP = 64 };
    size_t H = (m->n - 1) * n_max;
    if (l->n_heads != H) {
        lm_seterr(err, errlen, "candidates: label buffer has %zu heads, need %zu", l->n_heads, H);
        return -1;
    }
    double *draws = malloc((H + 1) * CAP * sizeof(double));
    size_t *nd = calloc(H + 1, sizeof(size_t));
    if (!draws || !nd) {
        free(draws);
        free(nd);
        lm_seterr(err, errlen, "out of memory");
        return -1;
    }
    int rc = -1;
    const json_t *cands = json_object_get(row, "candidates");
    if (!json_is_array(cands)) {
        lm_seterr(err, errlen, "candidates: missing or not an array");
        goto done;
    }
    for (size_t h = 0; h < H; h++)
        l->match[h] = l->draw_score[h] = l->draw_tokens[h] = l->mean_score[h] =
            l->mean_tokens[h] = NAN;
    l->selector_oracle = 0;
    *prompt_tokens = NAN;
    for (size_t i = 0; i < json_array_size(cands); i++) {
        const json_t *c = json_array_get(cands, i);
        const char *name = json_string_value(json_object_get(c, "model"));
        if (!name) {
            lm_seterr(err, errlen, "candidates[%zu].model: missing or not a string", i);
            goto done;
        }
        const char *tag = strstr(name, "_ourRM_bo");
        char *e = NULL;
        long n = tag ? strtol(tag + 9, &e, 10) : 0;
        if (!tag || !e || *e || n < 1) {
            lm_seterr(err, errlen, "candidates[%zu].model: '%s' is not '<model>_ourRM_bo<n>'", i, name);
            goto done;
        }
        char mname[512];
        snprintf(mname, sizeof mname, "%.*s", (int)(tag - name), name);
        long mi = route_models_find(m, mname);
        if (mi < 0) {
            lm_seterr(err, errlen, "candidates[%zu].model: model '%s' is not in the prices file", i, mname);
            goto done;
        }
        size_t slot;
        if ((size_t)mi == m->ref) {
            if (n != 1) {
                lm_seterr(err, errlen, "candidates[%zu].model: the reference must be bo1", i);
                goto done;
            }
            slot = H;
            const json_t *tp = json_object_get(c, "token_num_prompt");
            if (json_is_number(tp))
                *prompt_tokens = json_number_value(tp);
        } else {
            if ((size_t)n > n_max) {
                lm_seterr(err, errlen, "candidates[%zu].model: n = %ld exceeds n_max = %zu", i, n, n_max);
                goto done;
            }
            size_t s = (size_t)mi < m->ref ? (size_t)mi : (size_t)mi - 1;
            slot = s * n_max + (size_t)n - 1;
        }
        const json_t *sc = json_object_get(json_object_get(c, "scores"), "armoRM_scores");
        long k = scalar_or_array(sc, draws + slot * CAP, CAP);
        if (k < 0) {
            lm_seterr(err, errlen, "candidates[%zu].scores.armoRM_scores: expected a number or an array of numbers", i);
            goto done;
        }
        nd[slot] = (size_t)k;
        double tok[CAP];
        long kt = scalar_or_array(json_object_get(c, "token_num_responses"), tok, CAP);
        if (kt < 0) {
            lm_seterr(err, errlen, "candidates[%zu].token_num_responses: expected a number or an array of numbers", i);
            goto done;
        }
        double ts = 0;
        for (long j = 0; j < kt; j++)
            ts += tok[j];
        double *sv = draws + slot * CAP, ss = 0;
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
